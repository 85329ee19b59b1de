import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { ConfigError, loadConfig, type ConfigIssue, type LoadOptions } from '../../src/config/load.js';

/** A 32-byte HS256 secret. */
export const SECRET_32 = '0123456789abcdef0123456789abcdef';

/** A throwaway directory with files; `cleanup()` removes it (call from afterAll/afterEach). */
export function tempDir(files: Record<string, string> = {}): { dir: string; path: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-config-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Loads text that must be invalid and returns its issues (fails the test if it loads). */
export function issuesOf(text: string, opts: LoadOptions = {}): ConfigIssue[] {
  try {
    loadConfig(text, { env: {}, ...opts });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).errors];
  }
  throw new Error('expected the configuration to be rejected');
}

/** `line:col dotted message` per issue (`-` for an unknown position): compact and exact for assertions. */
export function brief(issues: readonly ConfigIssue[]): string[] {
  return issues.map((i) => `${i.line ?? '-'}:${i.column ?? '-'} ${i.dotted || '(document)'} ${i.message}`);
}

/**
 * A valid minimal document with one public route; tests splice sections into it. Line numbers:
 * `routes:` is line 7 and the first route starts on line 8.
 */
export const MINIMAL = `version: 1
server:
  public: { port: 8080 }
  admin: { port: 9090 }
upstreams:
  orders: { url: "http://127.0.0.1:3001" }
routes:
  - id: health
    match: { path: /health }
    upstream: orders
    auth: false
    risk: low
`;
