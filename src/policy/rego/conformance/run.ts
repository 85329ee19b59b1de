/**
 * Conformance runner over OPA-format and regorus-format YAML case files: compiles each case with tollgate's
 * compiler, evaluates through @open-policy-agent/opa-wasm, compares. A case the compiler cannot handle fails
 * (or is skipped with a reason); it never passes.
 */
import { join, relative, sep } from 'node:path';
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { RegoMap, RegoSet, type RegoValue } from '../../host/index.js';
import { parseValueText, stringifyExact } from '../../host/json.js';
import { compareRego, regoString } from '../../host/sprintf.js';
import { loadTollgatePolicy } from '../../load.js';
import { compilePolicy } from '../codegen/index.js';
import { readCases, yamlFiles, type RawCase } from './corpus.js';

export type Outcome = 'passed' | 'failed' | 'skipped';

export interface CaseResult {
  /** Stable name: `file [note] #n`, n = how many earlier cases of the file share the note. */
  id: string;
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

/** regorus's `set!:` / `object!:` (typed keys) markers → values as the host reads OPA's value format. */
function regorusValue(v: unknown): RegoValue {
  if (typeof v === 'bigint') return v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(regorusValue);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === 'set!') return new RegoSet((o['set!'] as unknown[]).map(regorusValue));
    if (keys.length === 1 && keys[0] === 'object!') {
      const entries = (o['object!'] as { key: unknown; value: unknown }[]).map((e): [RegoValue, RegoValue] => [regorusValue(e.key), regorusValue(e.value)]);
      return entries.every(([k]) => typeof k === 'string') ? Object.fromEntries(entries) as Record<string, RegoValue> : new RegoMap(entries);
    }
    const out: Record<string, RegoValue> = {};
    for (const k of keys) out[k] = regorusValue(o[k]);
    return out;
  }
  return v as RegoValue;
}

const isPlainObject = (v: RegoValue | undefined): v is Record<string, RegoValue> =>
  v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) && !(v instanceof RegoSet) && !(v instanceof RegoMap);

/** The SDK's internals this runner reads to evaluate with OPA's value format (`opa_eval` format 1). */
interface SdkPolicy {
  wasmInstance: { exports: Record<string, (...a: number[]) => number> };
  mem: { buffer: ArrayBuffer; grow(pages: number): number };
  dataAddr: number;
  dataHeapPtr: number;
  entrypoints: Record<string, number>;
}

/**
 * Evaluates `entrypoint` as the SDK's ABI 1.2 path does (input written at the data heap top), but asks `opa_eval`
 * for OPA's value format, which keeps sets and non-string object keys; returns the parsed result set.
 */
function evaluateValueFormat(policy: LoadedPolicy, input: unknown, entrypoint: string): RegoValue {
  const p = policy as unknown as SdkPolicy;
  const id = p.entrypoints[entrypoint];
  if (id === undefined) throw new Error(`entrypoint ${entrypoint} not found`);
  let inputAddr = 0, len = 0;
  if (input !== undefined) {
    const buf = new TextEncoder().encode(stringifyExact(input as RegoValue));
    len = buf.length;
    const need = p.dataHeapPtr + len - p.mem.buffer.byteLength;
    if (need > 0) p.mem.grow(Math.ceil(need / 65536));
    new Uint8Array(p.mem.buffer).set(buf, p.dataHeapPtr);
    inputAddr = p.dataHeapPtr;
  }
  const addr = (p.wasmInstance.exports.opa_eval as (...a: number[]) => number)(0, id, p.dataAddr, inputAddr, len, p.dataHeapPtr + len, 1);
  const bytes = new Uint8Array(p.mem.buffer);
  let end = addr;
  while (bytes[end] !== 0) end++;
  return parseValueText(new TextDecoder().decode(bytes.subarray(addr, end)), true, true);
}

/** Compares an expected value with the SDK's JSON result (object keys in any order). */
function matches(want: unknown, got: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(got) && got.length === want.length && want.every((w, i) => matches(w, got[i]));
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object' || Array.isArray(got)) return false;
    const wk = Object.keys(want).sort(), gk = Object.keys(got).sort();
    return wk.length === gk.length && wk.every((k, i) => k === gk[i] && matches((want as Record<string, unknown>)[k], (got as Record<string, unknown>)[k]));
  }
  return canon(want) === canon(got);
}

class SkipCase extends Error {}

const QUERY_PACKAGE = '__tollgate_query__';
const KEYWORDS = new Set(['data', 'input', 'true', 'false', 'null', 'not', 'some', 'with', 'as', 'in', 'every', 'contains', 'if', 'else', 'default', '_']);

/** The variables a query binds: identifiers that are not keywords, call names, or ref parts after a dot. */
function queryVars(query: string): string[] {
  const text = query.replace(/"(?:[^"\\]|\\.)*"|`[^`]*`/g, '""').replace(/[A-Za-z_][\w.]*\s*\(/g, '(');
  const out = new Set<string>();
  for (const m of text.matchAll(/(?<![\w.])[A-Za-z_]\w*/g)) if (!KEYWORDS.has(m[0])) out.add(m[0]);
  return [...out];
}

/**
 * Whether error text `msg` is the error a case wants, as OPA's compliance runner decides: `want_error_code` must
 * be the error's code, `want_error` must occur in its message. The module names in OPA's messages (`test-0.rego:4:`)
 * are the harness's own, so a leading location is not compared. regorus's cases word errors as regorus does, so
 * there any error matches.
 */
function errorMatches(c: RawCase, regorus: boolean, msg: string, codes: string[] = []): boolean {
  if (regorus) return true;
  if (c.want_error_code !== undefined && !codes.includes(c.want_error_code) && !msg.includes(c.want_error_code)) return false;
  const want = c.want_error ?? c.error;
  if (typeof want === 'string' && want !== '') {
    const text = want.replace(/^[^\s:]+\.rego:\d+:\s*/, '');
    if (!msg.includes(text)) return false;
  }
  return true;
}

const show = (v: unknown): string => (v === undefined ? 'undefined' : JSON.stringify(v, (_k, x: unknown) => x));

async function runCase(c: RawCase, regorus: boolean): Promise<{ outcome: Outcome; detail?: string }> {
  if (c.skip) return { outcome: 'skipped', detail: 'marked skip' };
  let query = (c.query ?? '').trim();
  // an input term JSON cannot carry (a Rego set) reaches the policy through `with input as`, since the SDK's input
  // is JSON
  let input: unknown = c.input;
  if (c.input_term !== undefined) {
    try {
      input = JSON.parse(c.input_term);
    } catch {
      if (regorus || /\bwith\b|;|\n/.test(query)) return { outcome: 'skipped', detail: 'input_term is not JSON' };
      query = `${query} with input as ${c.input_term}`;
      input = undefined;
    }
  }
  let entry: string;
  let bindVar: string | undefined;
  /** OPA queries other than `data.a.b = x` become a rule collecting the bindings (`results[{"x": x}] { query }`). */
  let queryModule: string | undefined;
  const m = /^data((?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?:\s*=\s*([A-Za-z_][A-Za-z0-9_]*))?$/.exec(query);
  if (m && (regorus || m[2] !== undefined)) {
    entry = (m[1] as string).slice(1).split('.').join('/');
    bindVar = m[2];
  } else if (query !== '' && !/\bdata\b(?![.[])/.test(query)) {
    const vars = queryVars(query);
    const bindings = `{${vars.map((v) => `${JSON.stringify(v)}: ${v}`).join(', ')}}`;
    if (regorus && vars.length === 0 && !/;|\n/.test(query) && !/(^|[^=!<>:])=(?!=)/.test(query)) {
      // regorus: a single expression's value is the result
      queryModule = `package ${QUERY_PACKAGE}\nimport rego.v1\n\nvalue := __x if {\n__x := (${query})\n}\n`;
      entry = `${QUERY_PACKAGE}/value`;
    } else {
      queryModule = regorus
        ? `package ${QUERY_PACKAGE}\nimport rego.v1\n\nresults contains ${bindings} if {\n${query}\n}\n`
        : `package ${QUERY_PACKAGE}\n\nresults[${bindings}] {\n${query}\n}\n`;
      entry = `${QUERY_PACKAGE}/results`;
    }
  } else {
    return { outcome: 'skipped', detail: `query shape not supported by the runner: ${query}` };
  }
  const modules = (c.modules ?? []).filter((t) => !/^\s*package\s+topdown_test_partial\b/m.test(t));
  const wantErr = c.want_error_code ?? c.want_error ?? c.error;
  // regorus's want_prints name modules rego_0, rego_1, …
  const sources = modules.map((text, i) => ({ file: regorus ? `rego_${i}` : `module-${i}.rego`, text }));
  if (queryModule !== undefined) sources.push({ file: 'query.rego', text: queryModule });
  // OPA's suite is v0; regorus mixes v0 and v1 (its default is v1): try v1 first, then v0 on a parse error
  // OPA's cases ask for strict built-in errors with `strict_error: true`; regorus's are strict unless `strict: false`
  const strict = regorus ? c.strict !== false : c.strict_error === true;
  let compiled = compilePolicy(sources, { entrypoints: [entry], regoVersion: regorus ? 'v1' : 'v0', strictBuiltinErrors: strict });
  if (regorus && compiled.errors?.some((e) => e.code === 'rego_parse_error')) compiled = compilePolicy(sources, { entrypoints: [entry], regoVersion: 'v0', strictBuiltinErrors: strict });
  if (compiled.errors) {
    const e = compiled.errors[0];
    const msg = compiled.errors.map((x) => `${x.code}: ${x.message}`).join('; ');
    if (e && e.code !== 'rego_unsupported_error' && wantErr !== undefined && errorMatches(c, regorus, msg, compiled.errors.map((x) => x.code))) {
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
  const prints: string[] = [];
  try {
    const policy = await loadTollgatePolicy(compiled.wasm, { print: (line) => prints.push(line) });
    // regorus files are read with exact big integers: hand data over as JSON text
    policy.setData(regorus ? (new TextEncoder().encode(stringifyExact((c.data ?? {}) as RegoValue)).buffer as ArrayBuffer) : (c.data ?? {}) as object);
    // regorus's expectations tell sets from arrays and type object keys: read the result in OPA's value format
    got = regorus ? evaluateValueFormat(policy, input, entry) : policy.evaluate(input as object);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (wantErr !== undefined && errorMatches(c, regorus, msg)) return { outcome: 'passed' };
    return { outcome: 'failed', detail: `runtime error: ${msg}${wantErr !== undefined ? ` (want error ${wantErr})` : ''}` };
  }
  if (wantErr !== undefined) {
    // strict built-in errors other than operand type errors are not raised by the compiled policy (it cannot
    // tell which error a built-in met): not a pass, not a wrong result either
    if (c.strict_error) return { outcome: 'skipped', detail: `strict built-in errors are not supported (want error ${wantErr}, got ${show(got)})` };
    return { outcome: 'failed', detail: `want error ${wantErr}, got ${show(got)}` };
  }
  if (Array.isArray(c.want_prints) && show(prints) !== show(c.want_prints)) {
    return { outcome: 'failed', detail: `expected prints ${show(c.want_prints)}, got ${show(prints)}` };
  }
  if (regorus) {
    // the result set is a set in OPA's value format
    const rs = got instanceof RegoSet ? got.items : (got as RegoValue[]);
    const first = rs[0] as { result?: RegoValue } | undefined;
    const value = first?.result;
    let want: RegoValue | undefined;
    if (c.no_result || c.want_result === '#undefined') want = undefined;
    else want = regorusValue(c.want_result);
    // `query: data.p = x` with `want_result: {x: …}`: the binding of x
    if (bindVar !== undefined) want = isPlainObject(want) && bindVar in want ? want[bindVar] : undefined;
    const same = (a: RegoValue, b: RegoValue): boolean => compareRego(a, b) === 0;
    if (entry === `${QUERY_PACKAGE}/results`) {
      // bindings of a query with variables: regorus wants the one binding object (or no result)
      const all = value instanceof RegoSet ? value.items : [];
      if (want === undefined) return all.length === 0 ? { outcome: 'passed' } : { outcome: 'failed', detail: `expected no result, got ${regoString(value ?? null)}` };
      return all.length === 1 && same(want, all[0] as RegoValue) ? { outcome: 'passed' } : { outcome: 'failed', detail: `expected ${regoString(want)}, got ${regoString(value ?? null)}` };
    }
    if (want === undefined) return value === undefined ? { outcome: 'passed' } : { outcome: 'failed', detail: `expected undefined, got ${regoString(value)}` };
    return value !== undefined && same(want, value) ? { outcome: 'passed' } : { outcome: 'failed', detail: `expected ${regoString(want)}, got ${value === undefined ? 'undefined' : regoString(value)}` };
  }
  const rs = got as { result: unknown }[];
  const value = rs.length > 0 ? rs[0]?.result : undefined;
  {
  }
  const wantList = (c.want_result ?? []) as Record<string, unknown>[];
  if (!Array.isArray(wantList)) return { outcome: 'skipped', detail: 'want_result is not a list' };
  const gotList = queryModule !== undefined ? (value ?? []) as Record<string, unknown>[] : value === undefined ? [] : [{ [bindVar as string]: value }];
  const norm = (l: Record<string, unknown>[]): Record<string, unknown>[] => (c.sort_bindings ? l.map((b) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, sortedArrays(v)]))) : l);
  // bindings collected by a rule come back as a set: compare them without their order
  const order = (l: Record<string, unknown>[]): unknown => (queryModule !== undefined ? [...l].sort((x, y) => (canon(x) < canon(y) ? -1 : canon(x) > canon(y) ? 1 : 0)) : l);
  const a = order(norm(wantList)), b = order(norm(gotList));
  return matches(a, b) ? { outcome: 'passed' } : { outcome: 'failed', detail: `expected ${show(wantList)}, got ${show(gotList)}` };
}

/** Runs every YAML case file under `root`. */
export async function runConformance(root: string): Promise<RunSummary> {
  const results: CaseResult[] = [];
  for (const file of yamlFiles(root)) {
    const rel = relative(root, file) || file;
    const category = categoryOf(root, file);
    const regorus = file.split(sep).includes('regorus');
    const { cases, yamlErrors } = readCases(file, { bigInts: regorus });
    if (yamlErrors.length > 0) {
      results.push({ id: `${rel} [(file)] #0`, file: rel, note: '(file)', category, outcome: 'skipped', detail: `YAML error: ${yamlErrors[0]}` });
      continue;
    }
    const seen = new Map<string, number>();
    for (const c of cases) {
      const note = c.note ?? '';
      const n = seen.get(note) ?? 0;
      seen.set(note, n + 1);
      let r: { outcome: Outcome; detail?: string };
      try {
        r = await runCase(c, regorus);
      } catch (e) {
        r = e instanceof SkipCase ? { outcome: 'skipped', detail: e.message } : { outcome: 'failed', detail: `crash: ${e instanceof Error ? e.message : String(e)}` };
      }
      const res: CaseResult = { id: `${rel} [${note}] #${n}`, file: rel, note, category, outcome: r.outcome };
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
