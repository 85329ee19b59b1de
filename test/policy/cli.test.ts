import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readBundle } from '../../src/policy/bundle.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/cli.js');

function run(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('dist/cli.js missing: run `npm run build` first');
  dir = mkdtempSync(join(tmpdir(), 'tollgate-policy-cli-'));
  mkdirSync(join(dir, 'policy/lib'), { recursive: true });
  writeFileSync(
    join(dir, 'policy/main.rego'),
    'package example\n\nimport data.lib.helpers\n\ndefault allow := false\n\nallow if {\n  helpers.is_admin(input.user)\n  input.amount <= data.limits.max\n}\n',
  );
  writeFileSync(join(dir, 'policy/lib/helpers.rego'), 'package lib.helpers\n\nis_admin(u) if u in data.admins\n');
  writeFileSync(join(dir, 'policy/README.md'), 'not rego');
  writeFileSync(join(dir, 'data.json'), JSON.stringify({ admins: ['alice'], limits: { max: 100 } }));
  writeFileSync(join(dir, 'alice.json'), JSON.stringify({ user: 'alice', amount: 50 }));
  writeFileSync(join(dir, 'bob.json'), JSON.stringify({ user: 'bob', amount: 50 }));
  writeFileSync(join(dir, 'limits.json'), JSON.stringify({ limits: { max: 10 } }));
});

describe('tollgate policy build / eval', () => {
  it('builds a bundle from a directory and evaluates it', () => {
    const b = run(['policy', 'build', 'policy', '-e', 'example/allow', '-o', 'bundle.tar.gz', '--data', 'data.json'], dir);
    expect(b.stderr).toContain('wrote bundle.tar.gz');
    expect(b.status).toBe(0);
    const bundle = readBundle(readFileSync(join(dir, 'bundle.tar.gz')));
    expect(bundle.entrypoints).toEqual(['example/allow']);
    expect(bundle.data).toEqual({ admins: ['alice'], limits: { max: 100 } });

    const alice = run(['policy', 'eval', 'bundle.tar.gz', '-e', 'example/allow', '--input', 'alice.json'], dir);
    expect(alice.status).toBe(0);
    expect(JSON.parse(alice.stdout)).toEqual([{ result: true }]);
    const bob = run(['policy', 'eval', 'bundle.tar.gz', '-e', 'example/allow', '--input', 'bob.json'], dir);
    expect(bob.status).toBe(0);
    expect(JSON.parse(bob.stdout)).toEqual([{ result: false }]);
    // --data at eval time is merged over the bundle's data
    const limited = run(['policy', 'eval', 'bundle.tar.gz', '-e', 'example/allow', '--input', 'alice.json', '--data', 'limits.json'], dir);
    expect(limited.status).toBe(0);
    expect(JSON.parse(limited.stdout)).toEqual([{ result: false }]);
    // data.example.allow spelling, and an unknown entrypoint
    expect(JSON.parse(run(['policy', 'eval', 'bundle.tar.gz', '-e', 'data.example.allow', '--input', 'alice.json'], dir).stdout)).toEqual([{ result: true }]);
    const unknown = run(['policy', 'eval', 'bundle.tar.gz', '-e', 'example/nope', '--input', 'alice.json'], dir);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('unknown entrypoint example/nope (available: example/allow)');
  });

  it('building twice gives byte-identical bundles', () => {
    expect(run(['policy', 'build', 'policy/lib', 'policy/main.rego', '-e', 'example/allow', '-o', 'a.tar.gz'], dir).status).toBe(0);
    expect(run(['policy', 'build', 'policy/lib', 'policy/main.rego', '-e', 'example/allow', '-o', 'b.tar.gz'], dir).status).toBe(0);
    expect(readFileSync(join(dir, 'a.tar.gz')).equals(readFileSync(join(dir, 'b.tar.gz')))).toBe(true);
  });

  it('compiles v0 syntax with --v0-compatible', () => {
    writeFileSync(join(dir, 'v0.rego'), 'package v0\n\nallow { input.x == 1 }\n');
    expect(run(['policy', 'build', 'v0.rego', '-e', 'v0/allow', '-o', 'v0.tar.gz'], dir).status).toBe(1);
    expect(run(['policy', 'build', 'v0.rego', '-e', 'v0/allow', '-o', 'v0.tar.gz', '--v0-compatible'], dir).status).toBe(0);
    writeFileSync(join(dir, 'x1.json'), '{"x":1}');
    const r = run(['policy', 'eval', 'v0.tar.gz', '-e', 'v0/allow', '--input', 'x1.json'], dir);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{ result: true }]);
  });

  it('prints compile errors as file:row:col: code: message and exits 1', () => {
    mkdirSync(join(dir, 'bad'), { recursive: true });
    writeFileSync(join(dir, 'bad/p.rego'), 'package bad\n\nallow if {\n  x == 1\n}\n');
    const r = run(['policy', 'build', 'bad', '-e', 'bad/allow', '-o', 'bad.tar.gz'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^bad\/p\.rego:4:3: rego_unsafe_var_error: var x is unsafe$/m);
    expect(existsSync(join(dir, 'bad.tar.gz'))).toBe(false);
  });

  it('reports usage and bad bundles', () => {
    expect(run(['policy', 'build', 'policy', '-o', 'x.tar.gz'], dir).status).toBe(64); // no -e
    expect(run(['policy', 'frobnicate'], dir).status).toBe(64);
    expect(run(['policy', 'build', 'policy', '--bogus'], dir).status).toBe(64);
    writeFileSync(join(dir, 'junk.tar.gz'), 'junk');
    const r = run(['policy', 'eval', 'junk.tar.gz', '-e', 'example/allow'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('junk.tar.gz: bundle is not a valid gzip file');
  });
});
