/**
 * Conformance runner over OPA-format and regorus-format YAML case files: compiles each case with tollgate's
 * compiler, evaluates through @open-policy-agent/opa-wasm, compares. A case the compiler cannot handle fails
 * (or is skipped with a reason); it never passes.
 */
import { join, relative, sep } from 'node:path';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { compilePolicy } from '../codegen/index.js';
import { readCases, yamlFiles, type RawCase } from './corpus.js';

export type Outcome = 'passed' | 'failed' | 'skipped';

export interface CaseResult {
  file: string;
  note: string;
  category: string;
  outcome: Outcome;
  /** Why it failed/was skipped: expected vs got, or the reason. */
  detail?: string;
}

export interface RunSummary {
  results: CaseResult[];
  passed: number;
  failed: number;
  skipped: number;
  byCategory: Map<string, { passed: number; failed: number; skipped: number }>;
}

/** Category: top-level folder under `opa/` or `regorus/` (or under the given root). */
function categoryOf(root: string, file: string): string {
  const parts = relative(root, file).split(sep);
  const i = parts.findIndex((p) => p === 'opa' || p === 'regorus');
  if (i >= 0) return `${parts[i]}/${parts.length > i + 2 ? parts[i + 1] : '.'}`;
  return parts.length > 1 ? (parts[0] as string) : '.';
}

/** Canonical JSON text (sorted object keys) for structural comparison. */
function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canon(o[k])}`).join(',')}}`;
  }
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v);
  return JSON.stringify(v);
}

function sortedArrays(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedArrays).sort((a, b) => (canon(a) < canon(b) ? -1 : canon(a) > canon(b) ? 1 : 0));
  return v;
}

/** regorus's `set!:` / `object!:` markers → plain JSON as the SDK returns it (sets as sorted arrays). */
function regorusValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(regorusValue);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === 'set!') return { __set: (o['set!'] as unknown[]).map(regorusValue) };
    if (keys.length === 1 && keys[0] === 'object!') throw new SkipCase('object with non-string keys in want_result');
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = regorusValue(o[k]);
    return out;
  }
  return v;
}

/** Compares expected (with `{__set}` markers) and got. */
function matches(want: unknown, got: unknown): boolean {
  if (want !== null && typeof want === 'object' && !Array.isArray(want) && '__set' in want) {
    const items = (want as { __set: unknown[] }).__set;
    if (!Array.isArray(got) || got.length !== items.length) return false;
    const g = [...got];
    return items.every((w) => {
      const i = g.findIndex((x) => matches(w, x));
      if (i < 0) return false;
      g.splice(i, 1);
      return true;
    });
  }
  if (Array.isArray(want)) return Array.isArray(got) && got.length === want.length && want.every((w, i) => matches(w, got[i]));
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object' || Array.isArray(got)) return false;
    const wk = Object.keys(want).sort(), gk = Object.keys(got).sort();
    return wk.length === gk.length && wk.every((k, i) => k === gk[i] && matches((want as Record<string, unknown>)[k], (got as Record<string, unknown>)[k]));
  }
  return canon(want) === canon(got);
}

class SkipCase extends Error {}

const show = (v: unknown): string => (v === undefined ? 'undefined' : JSON.stringify(v, (_k, x: unknown) => x));

async function runCase(c: RawCase, regorus: boolean): Promise<{ outcome: Outcome; detail?: string }> {
  if (c.skip) return { outcome: 'skipped', detail: 'marked skip' };
  const query = (c.query ?? '').trim();
  let entry: string;
  let bindVar: string | undefined;
  const m = /^data((?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?:\s*=\s*([A-Za-z_][A-Za-z0-9_]*))?$/.exec(query);
  if (!m) return { outcome: 'skipped', detail: `query shape not supported by the runner: ${query}` };
  entry = (m[1] as string).slice(1).split('.').join('/');
  bindVar = m[2];
  if (!regorus && !bindVar) return { outcome: 'skipped', detail: `query shape not supported by the runner: ${query}` };
  let input: unknown = c.input;
  if (c.input_term !== undefined) {
    try { input = JSON.parse(c.input_term); } catch { return { outcome: 'skipped', detail: 'input_term is not JSON' }; }
  }
  const modules = (c.modules ?? []).filter((t) => !/^\s*package\s+topdown_test_partial\b/m.test(t));
  const wantErr = c.want_error_code ?? c.want_error ?? c.error;
  const sources = modules.map((text, i) => ({ file: `module-${i}.rego`, text }));
  // OPA's suite is v0; regorus mixes v0 and v1 (its default is v1): try v1 first, then v0 on a parse error
  // OPA's cases ask for strict built-in errors with `strict_error: true`; regorus's are strict unless `strict: false`
  const strict = regorus ? c.strict !== false : c.strict_error === true;
  let compiled = compilePolicy(sources, { entrypoints: [entry], regoVersion: regorus ? 'v1' : 'v0', strictBuiltinErrors: strict });
  if (regorus && compiled.errors?.some((e) => e.code === 'rego_parse_error')) compiled = compilePolicy(sources, { entrypoints: [entry], regoVersion: 'v0', strictBuiltinErrors: strict });
  if (compiled.errors) {
    const e = compiled.errors[0];
    const msg = compiled.errors.map((x) => `${x.code}: ${x.message}`).join('; ');
    if (e && e.code !== 'rego_unsupported_error' && wantErr !== undefined && (c.want_error_code === undefined || compiled.errors.some((x) => x.code === c.want_error_code))) {
      return { outcome: 'passed' };
    }
    return { outcome: 'failed', detail: `compile error: ${msg}` };
  }
  // regorus: `input: {many!: [...]}` evaluates the query once per input, `want_result: {many!: [...]}` per input
  const many = (v: unknown): unknown[] | undefined => (regorus && v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && Array.isArray((v as Record<string, unknown>)['many!']) ? (v as Record<string, unknown[]>)['many!'] : undefined);
  const inputs = many(input);
  if (inputs) {
    const wants = many(c.want_result);
    if (!wants || wants.length !== inputs.length || wantErr !== undefined) return { outcome: 'skipped', detail: 'multiple inputs without one want_result each' };
    for (const [i, inp] of inputs.entries()) {
      const r = await runCase({ ...c, input: inp, want_result: wants[i] }, regorus);
      if (r.outcome !== 'passed') return { outcome: r.outcome, detail: `input ${i}: ${r.detail ?? ''}` };
    }
    return { outcome: 'passed' };
  }
  let got: unknown;
  try {
    const policy = await loadPolicy(compiled.wasm);
    policy.setData((c.data ?? {}) as object);
    got = policy.evaluate(input as object);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (wantErr !== undefined && (c.want_error_code === undefined || msg.includes(c.want_error_code))) return { outcome: 'passed' };
    return { outcome: 'failed', detail: `runtime error: ${msg}${wantErr !== undefined ? ` (want error ${wantErr})` : ''}` };
  }
  if (wantErr !== undefined) {
    // strict built-in errors other than operand type errors are not raised by the compiled policy (it cannot
    // tell which error a built-in met): not a pass, not a wrong result either
    if (c.strict_error) return { outcome: 'skipped', detail: `strict built-in errors are not supported (want error ${wantErr}, got ${show(got)})` };
    return { outcome: 'failed', detail: `want error ${wantErr}, got ${show(got)}` };
  }
  const rs = got as { result: unknown }[];
  const value = rs.length > 0 ? rs[0]?.result : undefined;
  if (regorus) {
    let want: unknown;
    if (c.no_result || c.want_result === '#undefined') want = undefined;
    else want = regorusValue(c.want_result);
    // `query: data.p = x` with `want_result: {x: …}`: the binding of x
    if (bindVar !== undefined) want = want !== null && typeof want === 'object' && !Array.isArray(want) && bindVar in want ? (want as Record<string, unknown>)[bindVar] : undefined;
    if (want === undefined) return value === undefined ? { outcome: 'passed' } : { outcome: 'failed', detail: `expected undefined, got ${show(value)}` };
    const w = c.sort_bindings ? want : want;
    return value !== undefined && matches(w, value) ? { outcome: 'passed' } : { outcome: 'failed', detail: `expected ${show(want)}, got ${show(value)}` };
  }
  const wantList = (c.want_result ?? []) as Record<string, unknown>[];
  if (!Array.isArray(wantList)) return { outcome: 'skipped', detail: 'want_result is not a list' };
  const gotList = value === undefined ? [] : [{ [bindVar as string]: value }];
  const norm = (l: Record<string, unknown>[]): unknown => (c.sort_bindings ? l.map((b) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, sortedArrays(v)]))) : l);
  const a = norm(wantList), b = norm(gotList);
  return matches(a, b) ? { outcome: 'passed' } : { outcome: 'failed', detail: `expected ${show(wantList)}, got ${show(gotList)}` };
}

/** Runs every YAML case file under `root`. */
export async function runConformance(root: string): Promise<RunSummary> {
  const results: CaseResult[] = [];
  for (const file of yamlFiles(root)) {
    const rel = relative(root, file) || file;
    const category = categoryOf(root, file);
    const regorus = file.split(sep).includes('regorus');
    const { cases, yamlErrors } = readCases(file);
    if (yamlErrors.length > 0) {
      results.push({ file: rel, note: '(file)', category, outcome: 'skipped', detail: `YAML error: ${yamlErrors[0]}` });
      continue;
    }
    for (const c of cases) {
      let r: { outcome: Outcome; detail?: string };
      try {
        r = await runCase(c, regorus);
      } catch (e) {
        r = e instanceof SkipCase ? { outcome: 'skipped', detail: e.message } : { outcome: 'failed', detail: `crash: ${e instanceof Error ? e.message : String(e)}` };
      }
      const res: CaseResult = { file: rel, note: c.note ?? '', category, outcome: r.outcome };
      if (r.detail !== undefined) res.detail = r.detail;
      results.push(res);
    }
  }
  const byCategory = new Map<string, { passed: number; failed: number; skipped: number }>();
  for (const r of results) {
    const s = byCategory.get(r.category) ?? { passed: 0, failed: 0, skipped: 0 };
    s[r.outcome]++;
    byCategory.set(r.category, s);
  }
  return {
    results,
    passed: results.filter((r) => r.outcome === 'passed').length,
    failed: results.filter((r) => r.outcome === 'failed').length,
    skipped: results.filter((r) => r.outcome === 'skipped').length,
    byCategory,
  };
}

/** The report: failing cases, per-category counts, then the plain `N passed, N failed, N skipped` line. */
export function formatReport(s: RunSummary, opts: { showSkipped?: boolean } = {}): string {
  const lines: string[] = [];
  for (const r of s.results) {
    if (r.outcome === 'failed' || (opts.showSkipped && r.outcome === 'skipped')) {
      lines.push(`${r.outcome.toUpperCase()} ${r.file} [${r.note}]: ${r.detail ?? ''}`);
    }
  }
  lines.push('', 'per category:');
  for (const [cat, c] of [...s.byCategory].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    lines.push(`  ${cat}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
  }
  lines.push('', `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`);
  return lines.join('\n');
}
