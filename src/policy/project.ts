/**
 * A policy project: a directory of Rego modules (tests included) and data files, laid out as an OPA bundle.
 *
 * - Rego: every `*.rego` below the directory (recursive, sorted by path). `*_test.rego` files are part of the
 *   project; tests live in the packages they test.
 * - Data: every `data.json` / `data.yaml` / `data.yml` below the directory, placed at the data path of its
 *   directory relative to the project (`<dir>/tollgate/limits/data.yaml` → `data.tollgate.limits`), as OPA bundles
 *   do. Files are merged; two files giving a value to the same path (other than two objects, which merge) are an
 *   error naming both files, and so is a file whose root is not an object.
 * - Tests: every rule named `test_*` (OPA's convention), found by parsing the modules; its entrypoint is
 *   `<package path with />/<rule name>` (`tollgate/test_allows_read`).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { formatError, type CompileError } from './rego/check/index.js';
import { compilePolicy, type CompileResult } from './rego/codegen/index.js';
import { parseModule, RegoParseError, type RegoVersion } from './rego/syntax/parser.js';
import type { Module, Term } from './rego/syntax/ast.js';

export interface PolicySource {
  file: string;
  text: string;
}

/** One discovered test rule. */
export interface PolicyTest {
  /** Slash entrypoint below data: `tollgate/test_allows_read`. */
  entrypoint: string;
  /** Dotted name as `opa test` prints it: `data.tollgate.test_allows_read`. */
  name: string;
  /** The file (and line) of the rule's first definition. */
  file: string;
  row: number;
}

export interface PolicyProject {
  /** The project directory, as given. */
  dir: string;
  /** Every `.rego` file (path = dir joined with its relative path), sorted. */
  sources: PolicySource[];
  /** The merged data document. */
  data: Record<string, unknown>;
  /** Entrypoints of the test rules, in file order: `tollgate/test_allows_read`. */
  testEntrypoints: string[];
  /** The test rules with their locations (same order as testEntrypoints). */
  tests: PolicyTest[];
  /** Every file read (Rego and data), sorted, for change detection. */
  files: string[];
}

export interface LoadProjectOptions {
  /** Rego syntax of the modules (default v1). */
  regoVersion?: RegoVersion;
}

/** A problem with the project's files (unreadable file, bad data file, data conflict); the message names the file. */
export class PolicyProjectError extends Error {
  constructor(message: string, readonly file: string) {
    super(message);
    this.name = 'PolicyProjectError';
  }
}

const DATA_FILES = new Set(['data.json', 'data.yaml', 'data.yml']);

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Rego and data files below dir, recursively, each directory's entries sorted by name. */
function walk(dir: string, rego: string[], data: string[]): void {
  for (const ent of readdirSync(dir, { withFileTypes: true }).sort(byName)) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) walk(p, rego, data);
    else if (ent.isFile() && ent.name.endsWith('.rego')) rego.push(p);
    else if (ent.isFile() && DATA_FILES.has(ent.name)) data.push(p);
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new PolicyProjectError(`cannot read ${file}: ${message(e)}`, file);
  }
}

/** Throws on values JSON cannot carry (YAML's .inf/.nan), so the data document is what a JSON bundle could hold. */
function checkJsonValue(v: unknown, file: string, path: string): void {
  if (typeof v === 'number' && !Number.isFinite(v)) throw new PolicyProjectError(`${file}: ${path}: ${v} is not a JSON number`, file);
  if (Array.isArray(v)) v.forEach((x, i) => checkJsonValue(x, file, `${path}[${i}]`));
  else if (isObject(v)) for (const [k, x] of Object.entries(v)) checkJsonValue(x, file, `${path}.${k}`);
  else if (v !== null && !['string', 'number', 'boolean'].includes(typeof v)) throw new PolicyProjectError(`${file}: ${path}: not a JSON value`, file);
}

function parseDataFile(file: string, text: string): Record<string, unknown> {
  let value: unknown;
  if (file.endsWith('.json')) {
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new PolicyProjectError(`${file}: invalid JSON: ${message(e)}`, file);
    }
  } else {
    try {
      // uniqueKeys (the default) rejects duplicate keys; parse() rejects a stream of several documents
      value = parseYaml(text, { uniqueKeys: true, prettyErrors: true });
    } catch (e) {
      throw new PolicyProjectError(`${file}: invalid YAML: ${message(e)}`, file);
    }
  }
  if (!isObject(value)) {
    const kind = value === null || value === undefined ? 'empty' : Array.isArray(value) ? 'an array' : typeof value;
    throw new PolicyProjectError(`${file}: a data file's root must be an object (got ${kind})`, file);
  }
  checkJsonValue(value, file, 'data');
  return value;
}

/** Sets an own property (also for a key like `__proto__`, which plain assignment would turn into a prototype). */
function setOwn(obj: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/**
 * Merges `from` into `into` (both at data path `at`). Two objects merge; any other pair of values at one path is a
 * conflict (OPA's bundle loader does the same). `owners` maps each data path a file placed a value at to that file,
 * so that a conflict names both files.
 */
function mergeData(into: Record<string, unknown>, from: Record<string, unknown>, at: string[], file: string, owners: Map<string, string>): void {
  for (const [k, v] of Object.entries(from)) {
    const p = [...at, k];
    if (!Object.hasOwn(into, k)) {
      setOwn(into, k, v);
      owners.set(p.join('.'), file);
      continue;
    }
    const cur = into[k];
    if (isObject(cur) && isObject(v)) {
      mergeData(cur, v, p, file, owners);
      continue;
    }
    throw new PolicyProjectError(`${file}: data conflict at ${p.join('.')}${ownerNote(owners, p)}`, file);
  }
}

/** ` (also set by <file>)`: the file that placed the value at `p`, at one of its prefixes, or below it. */
function ownerNote(owners: Map<string, string>, p: string[]): string {
  for (let n = p.length; n > 0; n--) {
    const f = owners.get(p.slice(0, n).join('.'));
    if (f !== undefined) return ` (also set by ${f})`;
  }
  const prefix = `${p.join('.')}.`;
  for (const [q, f] of owners) if (q.startsWith(prefix)) return ` (also set by ${f})`;
  return '';
}

/** The file's value wrapped in objects for each directory part: [a, b] + v → {a: {b: v}}. */
function tree(path: string[], value: Record<string, unknown>): Record<string, unknown> {
  let out = value;
  for (let i = path.length - 1; i >= 0; i--) {
    const o: Record<string, unknown> = {};
    setOwn(o, path[i]!, out);
    out = o;
  }
  return out;
}

/** `data.a.b` of a package ref, as the compiler spells packages. */
function packageParts(m: Module): string[] {
  return m.package.path.terms.slice(1).map((t: Term) => (t.type === 'string' ? t.value : t.type === 'var' ? t.name : '?'));
}

/** Test rules of a module: single-value rules (default ones too) named test_* with a plain one-part head; not functions or multi-value rules. */
function discoverTests(m: Module, file: string): PolicyTest[] {
  const pkg = packageParts(m);
  const out: PolicyTest[] = [];
  for (const r of m.rules) {
    const h = r.head;
    if (!h.name.startsWith('test_') || h.kind !== 'single' || h.ref.length !== 1) continue;
    out.push({ entrypoint: [...pkg, h.name].join('/'), name: ['data', ...pkg, h.name].join('.'), file, row: r.location.row });
  }
  return out;
}

/** Reads a policy project (see the module comment). Throws {@link PolicyProjectError} for unreadable or bad files. */
export function loadPolicyProject(dir: string, opts: LoadProjectOptions = {}): PolicyProject {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new PolicyProjectError(`no such directory: ${dir}`, dir);
  }
  if (!st.isDirectory()) throw new PolicyProjectError(`not a directory: ${dir}`, dir);
  const regoFiles: string[] = [];
  const dataFiles: string[] = [];
  walk(dir, regoFiles, dataFiles);

  const sources = regoFiles.map((file) => ({ file, text: readText(file) }));
  const tests: PolicyTest[] = [];
  const seen = new Set<string>();
  for (const s of sources) {
    let m: Module;
    try {
      m = parseModule(s.text, { file: s.file, regoVersion: opts.regoVersion ?? 'v1' });
    } catch (e) {
      // the compile reports the parse error with its location; discovery just skips the module
      if (e instanceof RegoParseError) continue;
      throw e;
    }
    for (const t of discoverTests(m, s.file)) {
      if (seen.has(t.entrypoint)) continue; // a test defined incrementally (several bodies) is one test
      seen.add(t.entrypoint);
      tests.push(t);
    }
  }

  const data: Record<string, unknown> = {};
  const owners = new Map<string, string>();
  // shallower files first, so that a conflict names the deeper (more specific) file
  const ordered = [...dataFiles].sort((a, b) => depth(dir, a) - depth(dir, b) || (a < b ? -1 : a > b ? 1 : 0));
  for (const file of ordered) {
    const rel = relative(dir, file).split(sep);
    rel.pop();
    mergeData(data, tree(rel, parseDataFile(file, readText(file))), ['data'], file, owners);
  }

  return {
    dir,
    sources,
    data,
    testEntrypoints: tests.map((t) => t.entrypoint),
    tests,
    files: [...regoFiles, ...dataFiles].sort(),
  };
}

function depth(dir: string, file: string): number {
  return relative(dir, file).split(sep).length;
}

export interface CompileProjectOptions {
  /** Entrypoint(s) in slash form (`tollgate/decision`); `data.tollgate.decision` is accepted too. */
  entrypoint?: string | string[];
  /**
   * true: compile every module and add every test rule as an entrypoint. false (default): leave `*_test.rego`
   * files out, as a production build should.
   */
  includeTests?: boolean;
  regoVersion?: RegoVersion;
}

/** Normalises `data.a.b` / `a.b` / `a/b` to `a/b`. */
export function toEntrypoint(e: string): string {
  return e.replace(/^data[./]/, '').replaceAll('.', '/');
}

/** Compiles the project; errors carry `file:row:col` locations (format them with {@link formatProjectErrors}). */
export function compilePolicyProject(project: PolicyProject, opts: CompileProjectOptions = {}): CompileResult {
  const eps = (opts.entrypoint === undefined ? [] : Array.isArray(opts.entrypoint) ? opts.entrypoint : [opts.entrypoint]).map(toEntrypoint);
  const includeTests = opts.includeTests === true;
  const entrypoints = [...new Set([...eps, ...(includeTests ? project.testEntrypoints : [])])];
  const sources = includeTests ? project.sources : project.sources.filter((s) => !s.file.endsWith('_test.rego'));
  return compilePolicy(sources, { entrypoints, regoVersion: opts.regoVersion ?? 'v1' });
}

/** `file:row:col: code: message` lines. */
export function formatProjectErrors(errors: CompileError[]): string[] {
  return errors.map(formatError);
}
