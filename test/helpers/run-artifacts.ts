import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every log line any test gateway writes goes to a file under this folder, and every token or
 * secret a test uses is registered here; scripts/scan-test-logs.mjs (run by `npm test` after vitest) scans all
 * logs of the run for every registered secret.
 */
export const RUN_DIR = join(process.cwd(), '.tollgate', 'test-run');
export const SECRETS_FILE = join(RUN_DIR, 'secrets.txt');

export function logFilePath(name: string): string {
  mkdirSync(RUN_DIR, { recursive: true });
  return join(RUN_DIR, `log-${process.pid}-${name}.jsonl`);
}

export function registerSecret(secret: string): string {
  mkdirSync(RUN_DIR, { recursive: true });
  appendFileSync(SECRETS_FILE, `${JSON.stringify(secret)}\n`);
  return secret;
}

/** A fresh audit directory under the run folder (scanned for secrets after the run like the logs). */
export function auditDirPath(name: string): string {
  const dir = join(RUN_DIR, 'audit', `${process.pid}-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}
