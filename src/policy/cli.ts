/**
 * `tollgate policy build <dir|files…> -e <entrypoint>… -o bundle.tar.gz [--v0-compatible] [--data file.json]`
 * `tollgate policy eval <bundle> [-e <entrypoint>] [--input file.json] [--data file.json]`
 * `tollgate policy test [dir] [-v] [-r regex]`
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadTollgatePolicy } from './load.js';
import { loadPolicyProject, PolicyProjectError } from './project.js';
import { runPolicyTests } from './test-runner.js';
import { BundleError, readBundle, writeBundle } from './bundle.js';
import { formatError } from './rego/check/index.js';
import { compilePolicy } from './rego/codegen/index.js';

export const POLICY_USAGE = `usage:
  tollgate policy build <dir|files…> -e <entrypoint>… -o bundle.tar.gz [--v0-compatible] [--data file.json]
  tollgate policy eval <bundle> [-e <entrypoint>] [--input file.json] [--data file.json]
  tollgate policy test [dir] [-v] [-r regex]   run the test_* rules of a policy directory (default: policy)`;

function fail(msg: string, code = 1): number {
  process.stderr.write(`${msg}\n`);
  return code;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** `*.rego` files below dir, recursively, sorted by path. */
function collectRego(dir: string): string[] {
  const out: string[] = [];
  for (const ent of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) out.push(...collectRego(p));
    else if (ent.isFile() && ent.name.endsWith('.rego')) out.push(p);
  }
  return out;
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${what} ${file}: ${message(e)}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON ${what}: ${message(e)}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Deep merge of objects; `over` wins on non-object conflicts. */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const cur = out[k];
    out[k] = isObject(cur) && isObject(v) ? merge(cur, v) : v;
  }
  return out;
}

async function build(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      entrypoint: { type: 'string', short: 'e', multiple: true },
      output: { type: 'string', short: 'o' },
      'v0-compatible': { type: 'boolean' },
      data: { type: 'string' },
      revision: { type: 'string' },
    },
  });
  const entrypoints = (values.entrypoint ?? []).map((e) => e.replace(/^data[./]/, '').replaceAll('.', '/'));
  if (positionals.length === 0 || entrypoints.length === 0 || values.output === undefined) return fail(POLICY_USAGE, 64);
  const files: string[] = [];
  // A single directory is a policy project: its data files (data.json / data.yaml, placed by directory) go into
  // the bundle and its *_test.rego files stay out, as the gateway builds it.
  let data: Record<string, unknown> = {};
  const only = positionals.length === 1 ? positionals[0]! : undefined;
  if (only !== undefined && statSync(only, { throwIfNoEntry: false })?.isDirectory() === true) {
    let project;
    try {
      project = loadPolicyProject(only, { regoVersion: values['v0-compatible'] === true ? 'v0' : 'v1' });
    } catch (e) {
      return fail(message(e));
    }
    files.push(...project.sources.map((s) => s.file).filter((f) => !f.endsWith('_test.rego')));
    data = project.data;
  } else {
    for (const p of positionals) {
      let st;
      try {
        st = statSync(p);
      } catch {
        return fail(`no such file or directory: ${p}`);
      }
      files.push(...(st.isDirectory() ? collectRego(p) : [p]));
    }
  }
  if (files.length === 0) return fail(`no .rego files found in ${positionals.join(', ')}`);
  const sources = files.map((file) => ({ file, text: readFileSync(file, 'utf8') }));
  if (values.data !== undefined) {
    const extra = readJson(values.data, 'data');
    if (!isObject(extra)) return fail(`${values.data}: data must be a JSON object`);
    data = merge(data, extra);
  }
  const result = compilePolicy(sources, { entrypoints, regoVersion: values['v0-compatible'] === true ? 'v0' : 'v1' });
  if (result.errors !== undefined) {
    for (const e of result.errors) process.stderr.write(`${formatError(e)}\n`);
    return 1;
  }
  const bundle = writeBundle({ wasm: result.wasm, data, entrypoints, ...(values.revision !== undefined ? { revision: values.revision } : {}) });
  writeFileSync(values.output, bundle);
  process.stderr.write(`wrote ${values.output} (${files.length} file${files.length === 1 ? '' : 's'}, entrypoints: ${entrypoints.join(', ')})\n`);
  return 0;
}

async function evaluate(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      entrypoint: { type: 'string', short: 'e' },
      input: { type: 'string', short: 'i' },
      data: { type: 'string' },
    },
  });
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) return fail(POLICY_USAGE, 64);
  let bundle;
  try {
    bundle = readBundle(readFileSync(file));
  } catch (e) {
    return fail(`${file}: ${message(e)}`);
  }
  for (const n of bundle.notes) process.stderr.write(`note: ${n}\n`);
  let data: Record<string, unknown> = bundle.data;
  if (values.data !== undefined) {
    const extraData = readJson(values.data, 'data');
    if (!isObject(extraData)) return fail(`${values.data}: data must be a JSON object`);
    data = merge(data, extraData);
  }
  const input = values.input !== undefined ? readJson(values.input, 'input') : undefined;
  let policy;
  try {
    policy = await loadTollgatePolicy(bundle.wasm, { print: (line) => process.stderr.write(`${line}\n`) });
  } catch (e) {
    return fail(`${file}: cannot load policy.wasm: ${message(e)}`);
  }
  const available = Object.keys(policy.entrypoints as Record<string, number>);
  const ep = values.entrypoint?.replace(/^data[./]/, '').replaceAll('.', '/') ?? bundle.entrypoints[0] ?? available[0];
  if (ep === undefined) return fail(`${file}: the policy has no entrypoints`);
  if (!available.includes(ep)) return fail(`${file}: unknown entrypoint ${ep} (available: ${available.join(', ') || 'none'})`);
  try {
    policy.setData(data);
    const rs: unknown = policy.evaluate(input, ep);
    process.stdout.write(`${JSON.stringify(rs, null, 2)}\n`);
  } catch (e) {
    return fail(`evaluation error: ${message(e)}`);
  }
  return 0;
}

/** Milliseconds as `opa test` prints durations. */
function duration(ms: number): string {
  return ms < 1 ? `${Math.round(ms * 1000)}µs` : ms < 1000 ? `${ms.toFixed(1)}ms` : `${(ms / 1000).toFixed(2)}s`;
}

/**
 * `tollgate policy test [dir] [-v] [-r regex]`: one `PASS`/`FAIL` line per test, then `PASS: n/n` or `FAIL: k/n`.
 * -v adds each test's location and its print() output. Exit 0 when every test passes; 1 when one fails, the
 * project does not load or compile, or there are no tests; 2 on usage errors (also a missing directory).
 */
async function test(argv: string[]): Promise<number> {
  let values: { verbose?: boolean; run?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { verbose: { type: 'boolean', short: 'v' }, run: { type: 'string', short: 'r' } },
    }));
  } catch (e) {
    return fail(`${message(e)}\n${POLICY_USAGE}`, 2);
  }
  if (positionals.length > 1) return fail(POLICY_USAGE, 2);
  const dir = positionals[0] ?? 'policy';
  let st;
  try {
    st = statSync(dir);
  } catch {
    return fail(`no such directory: ${dir}\n${POLICY_USAGE}`, 2);
  }
  if (!st.isDirectory()) return fail(`not a directory: ${dir}\n${POLICY_USAGE}`, 2);
  let filter: RegExp | undefined;
  if (values.run !== undefined) {
    try {
      filter = new RegExp(values.run);
    } catch (e) {
      return fail(`-r: ${message(e)}`, 2);
    }
  }
  const verbose = values.verbose === true;
  let project;
  try {
    project = loadPolicyProject(dir);
  } catch (e) {
    if (e instanceof PolicyProjectError) return fail(e.message);
    throw e;
  }
  if (project.sources.length === 0) return fail(`no .rego files found in ${dir}`);
  const run = await runPolicyTests(project, filter ? { filter } : {});
  if (run.errors.length > 0) {
    for (const e of run.errors) process.stderr.write(`${e}\n`);
    return 1;
  }
  if (run.results.length === 0) {
    return fail(filter ? `no tests in ${dir} match ${values.run}` : `no tests found in ${dir} (test rules are named test_*)`);
  }
  const out: string[] = [];
  if (verbose) out.push(`${dir}:`);
  for (const r of run.results) {
    out.push(`${r.name}: ${r.pass ? 'PASS' : 'FAIL'} (${duration(r.ms)})${verbose && r.file ? `  ${r.file}` : ''}`);
    if (!r.pass && r.error !== undefined) out.push(`  ${r.error}`);
    if ((verbose || !r.pass) && r.output) for (const line of r.output) out.push(`  ${line}`);
  }
  out.push('-'.repeat(80));
  const total = run.results.length;
  out.push(run.failed === 0 ? `PASS: ${run.passed}/${total}` : `FAIL: ${run.failed}/${total}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return run.failed === 0 ? 0 : 1;
}

export async function policyCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'build':
        return await build(rest);
      case 'eval':
        return await evaluate(rest);
      case 'test':
        return await test(rest);
      default:
        return fail(POLICY_USAGE, 64);
    }
  } catch (e) {
    if (String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) return fail(`${message(e)}\n${POLICY_USAGE}`, 64);
    if (e instanceof BundleError || e instanceof Error) return fail(message(e));
    throw e;
  }
}
