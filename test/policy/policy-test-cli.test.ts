import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/cli.js');

interface Run { status: number | null; stdout: string; stderr: string }

function run(args: string[], cwd: string): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      done({ status: code, stdout, stderr });
    });
  });
}

let dir: string;
function write(p: string, text: string): void {
  mkdirSync(dirname(join(dir, p)), { recursive: true });
  writeFileSync(join(dir, p), text);
}

// Each run that compiles may build the policy runtime (seconds): start them all at once.
const runs: Record<string, Run> = {};
beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error('dist/cli.js missing: run `npm run build` first');
  dir = mkdtempSync(join(tmpdir(), 'tollgate-policy-test-cli-'));
  write('good/pkg/rules.rego', 'package pkg\n\nimport rego.v1\n\nlimit := data.pkg.conf.limit\n\nok(x) if x <= limit\n');
  write('good/pkg/rules_test.rego', 'package pkg\n\nimport rego.v1\n\ntest_under if ok(3)\n\ntest_at if ok(5)\n\ntest_printing if {\n  print("limit is", limit)\n  ok(1)\n}\n');
  write('good/pkg/conf/data.yaml', 'limit: 5\n');
  write('failing/p.rego', 'package p\n\nimport rego.v1\n\ntest_passes if true\n\ntest_fails if 1 == 2\n\ntest_not_true := "yes"\n');
  write('broken/p.rego', 'package p\n\nimport rego.v1\n\ntest_x if {\n  y == 1\n}\n');
  write('notests/p.rego', 'package p\n\nimport rego.v1\n\nallow := true\n');
  write('norego/data.json', '{}');
  write('baddata/p.rego', 'package p\n\nimport rego.v1\n\ntest_x if true\n');
  write('baddata/q/data.yaml', 'a: 1\na: 2\n');
  write('not-a-dir.txt', 'x');
  const all: Record<string, [string[], string]> = {
    shipped: [['policy', 'test', 'policy/'], ROOT],
    shippedDefault: [['policy', 'test'], ROOT],
    goodVerbose: [['policy', 'test', 'good', '-v'], dir],
    filtered: [['policy', 'test', 'good', '-r', 'test_(under|at)$'], dir],
    failing: [['policy', 'test', 'failing'], dir],
    broken: [['policy', 'test', 'broken'], dir],
    notests: [['policy', 'test', 'notests'], dir],
    norego: [['policy', 'test', 'norego'], dir],
    baddata: [['policy', 'test', 'baddata'], dir],
    missing: [['policy', 'test', 'nope'], dir],
    file: [['policy', 'test', 'not-a-dir.txt'], dir],
    twoDirs: [['policy', 'test', 'good', 'failing'], dir],
    badFlag: [['policy', 'test', '--frobnicate'], dir],
    badRegex: [['policy', 'test', 'good', '-r', '('], dir],
  };
  await Promise.all(Object.entries(all).map(async ([k, [args, cwd]]) => { runs[k] = await run(args, cwd); }));
}, 180_000);

const get = (k: string): Run => {
  const r = runs[k];
  if (r === undefined) throw new Error(`no run ${k}`);
  return r;
};

describe('tollgate policy test', () => {
  it('the shipped policy passes (explicit dir and the default dir)', () => {
    for (const k of ['shipped', 'shippedDefault']) {
      const r = get(k);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^data\.tollgate\.test_allows_orders_read: PASS \(\d+(\.\d+)?(µs|ms|s)\)$/m);
      expect(r.stdout).not.toContain('FAIL');
      const m = /^PASS: (\d+)\/(\d+)$/m.exec(r.stdout);
      expect(m?.[1]).toBe(m?.[2]);
      expect(Number(m?.[1])).toBeGreaterThanOrEqual(40);
    }
  });

  it('passes a project with data files and functions; -v shows locations and print output; -r filters', () => {
    const v = get('goodVerbose');
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/^data\.pkg\.test_under: PASS \(.*\) {2}good\/pkg\/rules_test\.rego:5$/m);
    expect(v.stdout).toMatch(/^PASS: 3\/3$/m);
    expect(v.stdout).toMatch(/^data\.pkg\.test_printing: PASS \(.*\) {2}good\/pkg\/rules_test\.rego:9$/m);
    expect(v.stdout).toMatch(/^ {2}good\/pkg\/rules_test\.rego:10: limit is 5$/m);
    // without -v: no locations, no print output; -r runs the matching tests only
    const f = get('filtered');
    expect(f.status).toBe(0);
    expect(f.stdout).toMatch(/^data\.pkg\.test_under: PASS \(\d+(\.\d+)?(µs|ms|s)\)$/m);
    expect(f.stdout).toMatch(/^data\.pkg\.test_at: PASS \(/m);
    expect(f.stdout).toMatch(/^PASS: 2\/2$/m);
    expect(f.stdout).not.toContain('test_printing');
    expect(f.stdout).not.toContain('limit is');
  });

  it('a failing test: FAIL lines, FAIL: k/n, exit 1', () => {
    const r = get('failing');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^data\.p\.test_passes: PASS \(/m);
    expect(r.stdout).toMatch(/^data\.p\.test_fails: FAIL \(.*\)\n {2}undefined$/m);
    expect(r.stdout).toMatch(/^data\.p\.test_not_true: FAIL \(.*\)\n {2}value "yes" \(want true\)$/m);
    expect(r.stdout).toMatch(/^FAIL: 2\/3$/m);
  });

  it('a compile error: file:row:col on stderr, exit 1', () => {
    const r = get('broken');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^broken\/p\.rego:6:3: rego_unsafe_var_error: var y is unsafe$/m);
    expect(r.stdout).toBe('');
  });

  it('no tests, no Rego, bad data: non-zero with a message', () => {
    expect(get('notests').status).toBe(1);
    expect(get('notests').stderr).toContain('no tests found in notests');
    expect(get('norego').status).toBe(1);
    expect(get('norego').stderr).toContain('no .rego files found in norego');
    expect(get('baddata').status).toBe(1);
    expect(get('baddata').stderr).toMatch(/^baddata\/q\/data\.yaml: invalid YAML: Map keys must be unique/m);
  });

  it('usage errors exit 2', () => {
    for (const k of ['missing', 'file', 'twoDirs', 'badFlag', 'badRegex']) {
      expect([k, get(k).status]).toEqual([k, 2]);
    }
    expect(get('missing').stderr).toContain('no such directory: nope');
    expect(get('badFlag').stderr).toContain('tollgate policy test [dir] [-v]');
  });
});
