/**
 * Runs a policy project's Rego unit tests, as `opa test` does: every `test_*` rule is evaluated with no input
 * against the project's data; a test passes iff its value is exactly `true` (undefined, false, any other value or
 * an evaluation error fail).
 */
import { performance } from 'node:perf_hooks';
import { loadTollgatePolicy, type LoadOptions } from './load.js';
import { compilePolicyProject, formatProjectErrors, type PolicyProject } from './project.js';

export interface PolicyTestResult {
  /** `data.tollgate.test_allows_read`. */
  name: string;
  /** `file:row` of the rule. */
  file?: string;
  pass: boolean;
  /** Why it failed: `undefined`, `false`, the value it had, or the evaluation error. */
  error?: string;
  /** Lines the test printed with `print()`. */
  output?: string[];
  ms: number;
}

export interface PolicyTestRun {
  results: PolicyTestResult[];
  passed: number;
  failed: number;
  /** Errors of the run itself (compile errors as `file:row:col: code: message`, load errors); [] when it ran. */
  errors: string[];
}

export interface RunTestsOptions {
  /** Only tests whose name (`data.pkg.test_x`) matches. */
  filter?: RegExp;
  /** Clock for `time.now_ns()` (default: the wall clock). */
  now?: LoadOptions['now'];
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function describe(rs: unknown): string {
  if (!Array.isArray(rs) || rs.length === 0) return 'undefined';
  const v = (rs[0] as { result?: unknown }).result;
  if (v === false) return 'false';
  return `value ${JSON.stringify(v)} (want true)`;
}

export async function runPolicyTests(project: PolicyProject, opts: RunTestsOptions = {}): Promise<PolicyTestRun> {
  const tests = project.tests.filter((t) => opts.filter === undefined || opts.filter.test(t.name));
  const run: PolicyTestRun = { results: [], passed: 0, failed: 0, errors: [] };
  if (tests.length === 0) return run;

  let compiled;
  try {
    compiled = compilePolicyProject(project, { includeTests: true });
  } catch (e) {
    run.errors.push(`compile failed: ${message(e)}`);
    return run;
  }
  if (compiled.errors !== undefined) {
    run.errors.push(...formatProjectErrors(compiled.errors));
    return run;
  }

  let printed: string[] = [];
  const loadOpts: LoadOptions = { print: (line) => printed.push(line), ...(opts.now ? { now: opts.now } : {}) };
  const module = compiled.wasm;
  let policy;
  try {
    policy = await loadTollgatePolicy(module, loadOpts);
    policy.setData(project.data);
  } catch (e) {
    run.errors.push(`cannot load the compiled policy: ${message(e)}`);
    return run;
  }

  for (const t of tests) {
    printed = [];
    const start = performance.now();
    let pass = false;
    let error: string | undefined;
    try {
      const rs: unknown = policy.evaluate(undefined, t.entrypoint);
      pass = Array.isArray(rs) && rs.length === 1 && (rs[0] as { result?: unknown }).result === true;
      if (!pass) error = describe(rs);
    } catch (e) {
      error = message(e);
      // an aborted evaluation may leave the instance's heap in any state: reload for the next test
      try {
        policy = await loadTollgatePolicy(module, loadOpts);
        policy.setData(project.data);
      } catch (e2) {
        run.errors.push(`cannot reload the compiled policy: ${message(e2)}`);
      }
    }
    const ms = performance.now() - start;
    run.results.push({
      name: t.name,
      file: `${t.file}:${t.row}`,
      pass,
      ...(error !== undefined ? { error } : {}),
      ...(printed.length > 0 ? { output: printed } : {}),
      ms,
    });
    if (pass) run.passed++;
    else run.failed++;
    if (run.errors.length > 0) break;
  }
  return run;
}
