/**
 * Compile-time checks on parsed Rego modules, before planning/code generation (OPA ast/compile.go stages, the
 * subset tollgate needs): module-set assembly and ref resolution, rule grouping, `:=` rules, unknown functions and
 * arity, safety (with body reordering), recursion, and rule conflicts / multiple defaults. Errors carry OPA's codes
 * and `file:row:col` locations.
 */
import type { Body, Location, Module, Rule, Term } from '../syntax/ast.js';
import { builtinArity, VARIADIC } from './builtins.js';
import { Resolver, SHADOW } from './resolve.js';
import { Safety, patternVars, type UnsafeVar } from './safety.js';
import { displayVar, exprTerms, refPrefix, termVars, walkExpr, walkTerm } from './terms.js';

export const REGO_COMPILE_ERROR = 'rego_compile_error';
export const REGO_TYPE_ERROR = 'rego_type_error';
export const REGO_UNSAFE_VAR_ERROR = 'rego_unsafe_var_error';
export const REGO_RECURSION_ERROR = 'rego_recursion_error';
export const REGO_PARSE_ERROR = 'rego_parse_error';

/** One compile error, as OPA's `ast.Error`. */
export interface CompileError {
  code: string;
  /** The message without location/code prefix. */
  message: string;
  location: Location;
}

/** `file:row:col: code: message`, as `opa check` prints it. */
export function formatError(e: CompileError): string {
  return `${e.location.file}:${e.location.row}:${e.location.col}: ${e.code}: ${e.message}`;
}

export type RuleKind = 'complete' | 'partial-set' | 'partial-object' | 'function';

/** Rules sharing one path (OPA's rule tree node), resolved and safety-reordered. */
export interface RuleGroup {
  /** Dotted ground path, `data.pkg.p` (for ref-head rules with var parts, the ground prefix). */
  path: string;
  kind: RuleKind;
  /** Non-default rules in module order; heads have absolute refs, bodies are resolved and reordered for safety. */
  rules: Rule[];
  /** The `default` rule, if any. */
  default?: Rule;
  /** For functions: the number of arguments. */
  arity?: number;
}

/** What the planner needs. */
export interface Program {
  groups: RuleGroup[];
  byPath: Map<string, RuleGroup>;
  /** The query, resolved and reordered, when one was given. */
  query?: Body;
}

export interface CheckOptions {
  /** A query (e.g. `data.test.p = x`) to check along with the modules. */
  query?: Body;
  /** Extra built-ins (name → input arity) the host provides. */
  builtins?: Readonly<Record<string, number>>;
  /** Report at most this many errors (default: all; `opa` stops at 10). */
  maxErrors?: number;
}

export type CheckResult = { ok: true; program: Program } | { ok: false; errors: CompileError[] };

interface Entry { rule: Rule; module: Module; path: string; kind: RuleKind }

export function checkModules(modules: Module[], opts: CheckOptions = {}): CheckResult {
  const errors: CompileError[] = [];
  const err = (code: string, message: string, location: Location): void => { errors.push({ code, message, location }); };
  const resolver = new Resolver();

  // --- 1. assemble: rule names per package, resolve refs --------------------------------------------------------
  const pkgRules = new Map<string, Set<string>>();
  for (const m of modules) {
    const p = refPrefix(m.package.path).path;
    const s = pkgRules.get(p) ?? new Set<string>();
    pkgRules.set(p, s);
    for (const r of m.rules) s.add(r.head.name);
  }
  const entries: Entry[] = [];
  for (const m of modules) {
    checkImports(m, err);
    const globals = resolver.globalsFor(m, pkgRules.get(refPrefix(m.package.path).path) ?? new Set());
    for (const r of m.rules) {
      const rule = resolver.rule(r, globals, m.package.path.terms);
      const { kind, path } = classify(rule);
      entries.push({ rule, module: m, path, kind });
    }
  }

  // --- 2. grouping, conflicts, defaults ------------------------------------------------------------------------------
  const byPath = new Map<string, RuleGroup>();
  const groups: RuleGroup[] = [];
  const defaults = new Set<string>();
  for (const e of entries) {
    if (e.module.regoVersion === 'v1' && (e.rule.head.name === 'input' || e.rule.head.name === 'data')) {
      err(REGO_COMPILE_ERROR, `rules must not shadow ${e.rule.head.name} (use a different rule name)`, e.rule.location);
    }
    let g = byPath.get(e.path);
    if (!g) {
      g = { path: e.path, kind: e.kind, rules: [] };
      byPath.set(e.path, g);
      groups.push(g);
    }
    const arity = e.rule.head.args?.length;
    if (g.kind !== e.kind || (e.kind === 'function' && g.arity !== undefined && arity !== g.arity)) {
      err(REGO_TYPE_ERROR, `conflicting rules ${e.path} found`, e.rule.location);
      continue;
    }
    if (arity !== undefined) g.arity = arity;
    if (e.rule.default) {
      const key = headKey(e.rule);
      if (defaults.has(key)) err(REGO_TYPE_ERROR, `multiple default rules ${e.path} found`, e.rule.location);
      defaults.add(key);
      g.default ??= e.rule;
      const bad = e.rule.head.value ? termVars(e.rule.head.value).size > 0 : false;
      if (bad || (e.rule.head.value && hasRefOrCall(e.rule.head.value))) {
        err(REGO_PARSE_ERROR, 'illegal default rule (value cannot contain var)', e.rule.location);
      }
    } else g.rules.push(e.rule);
  }
  // a complete rule/function whose path is a prefix of another rule's path (`p := 1` and `p.q := 2`)
  for (const g of groups) {
    if (g.kind !== 'complete' && g.kind !== 'function') continue;
    const under = groups.filter((o) => o !== g && o.path.startsWith(`${g.path}.`)).map((o) => o.path);
    const first = g.rules[0] ?? g.default;
    if (under.length > 0 && first) err(REGO_TYPE_ERROR, `rule ${g.path} conflicts with [${under.join(' ')}]`, first.location);
  }

  // --- 3. per-rule checks: assignments, functions/arity, safety --------------------------------------------------------
  const versionOf = new Map<Rule, 'v0' | 'v1'>();
  for (const e of entries) versionOf.set(e.rule, e.module.regoVersion);
  const arityFor = (version: 'v0' | 'v1') => (name: string): number | undefined => {
    if (name.startsWith('data.')) return byPath.get(name)?.kind === 'function' ? byPath.get(name)?.arity : undefined;
    return builtinArity(name, version, opts.builtins);
  };
  for (const e of entries) {
    const arityOf = arityFor(e.module.regoVersion);
    for (let r: Rule | undefined = e.rule; r; r = r.else) {
      checkAssignments(r, e.module.regoVersion, err);
      checkCalls(r.body, r.head, arityOf, byPath, err);
      checkRuleSafety(r, new Safety(arityOf), err);
    }
  }
  let query: Body | undefined;
  if (opts.query) {
    const arityOf = arityFor('v1');
    query = resolver.body(opts.query, new Map(), new Set());
    checkBodyAssignments(query, new Set(), 'v1', err);
    checkCalls(query, undefined, arityOf, byPath, err);
    const r = new Safety(arityOf).check(query, new Set(), new Set());
    query = r.body;
    for (const u of r.unsafe) err(REGO_UNSAFE_VAR_ERROR, `var ${u.name} is unsafe`, u.location);
  }

  // --- 4. recursion ---------------------------------------------------------------------------------------------
  checkRecursion(groups, err);

  if (errors.length > 0) {
    errors.sort((a, b) => cmpLoc(a.location, b.location));
    return { ok: false, errors: errors.slice(0, opts.maxErrors ?? errors.length) };
  }
  const program: Program = { groups, byPath };
  if (query) program.query = query;
  return { ok: true, program };
}

function cmpLoc(a: Location, b: Location): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : a.row - b.row || a.col - b.col;
}

type Err = (code: string, message: string, location: Location) => void;

/** Whether a term holds a ref or call outside comprehensions. */
function hasRefOrCall(t: Term): boolean {
  let found = false;
  walkTerm(t, (x) => {
    if (x.type === 'arraycompr' || x.type === 'setcompr' || x.type === 'objectcompr') return false;
    if (x.type === 'ref' || x.type === 'call') found = true;
    return undefined;
  });
  return found;
}

/** A rule's full head ref as text (`data.p.q[true]`), to tell apart defaults of different ref-head leaves. */
function headKey(r: Rule): string {
  return r.head.ref.map((t) => (t.type === 'var' ? t.name : t.type === 'string' ? JSON.stringify(t.value) : t.type === 'number' ? t.text : t.type === 'boolean' ? String(t.value) : t.type)).join('/');
}

/** Kind and group path of a resolved rule. */
function classify(rule: Rule): { kind: RuleKind; path: string } {
  const h = rule.head;
  const pre = refPrefix(h.ref);
  if (h.kind === 'function') return { kind: 'function', path: pre.path };
  if (h.kind === 'multi') return { kind: 'partial-set', path: pre.path };
  return { kind: pre.full ? 'complete' : 'partial-object', path: pre.path };
}

/** OPA strict mode (on in v1): duplicate imports ("import must not shadow import …"). */
function checkImports(m: Module, err: Err): void {
  // `rego.v1` implies every future keyword: importing it twice, or with future.keywords, is an error (OPA)
  let v1: Location | undefined;
  let future = false;
  for (const imp of m.imports) {
    const parts = imp.path.terms.map((t) => (t.type === 'var' ? t.name : t.type === 'string' ? t.value : '?'));
    const isV1 = parts.length === 2 && parts[0] === 'rego' && parts[1] === 'v1';
    const isFuture = parts[0] === 'future' && parts[1] === 'keywords';
    if ((isV1 && (v1 || future)) || (isFuture && v1)) err(REGO_PARSE_ERROR, 'this import shadows previous import (rego.v1 implies future.keywords)', imp.location);
    if (isV1) v1 = imp.location;
    if (isFuture) future = true;
  }
  if (m.regoVersion !== 'v1') return;
  const seen = new Map<string, Location>();
  for (const imp of m.imports) {
    const root = imp.path.terms[0];
    if (root.type !== 'var' || (root.name !== 'data' && root.name !== 'input')) continue;
    const last = imp.path.terms[imp.path.terms.length - 1];
    const name = imp.alias ?? (last?.type === 'string' ? last.value : last?.type === 'var' ? last.name : '');
    if (seen.has(name)) err(REGO_COMPILE_ERROR, `import must not shadow import ${name}`, imp.location);
    seen.set(name, imp.location);
  }
}

// --- `:=` -------------------------------------------------------------------------------------------------------

function checkAssignments(r: Rule, version: 'v0' | 'v1', err: Err): void {
  const declared = new Set<string>();
  for (const a of r.head.args ?? []) for (const v of termVars(a).keys()) declared.add(v);
  checkBodyAssignments(r.body, declared, version, err);
}

/**
 * OPA rewriteLocalVars: `var x assigned above` (declared twice by `:=`/`some`), `var x referenced above` (declared
 * after use), `cannot assign to ref`; and, in v1 (OPA strict mode), `input`/`data` must not be shadowed.
 */
function checkBodyAssignments(body: Body, outer: Set<string>, version: 'v0' | 'v1', err: Err): void {
  const declared = new Set(outer);
  const used = new Set<string>();
  const declare = (v: { name: string; location: Location }): void => {
    const name = displayVar(v.name);
    if (v.name.endsWith(SHADOW)) {
      if (version === 'v1') err(REGO_COMPILE_ERROR, `variables must not shadow ${name} (use a different variable name)`, v.location);
    } else if (v.name.startsWith('$_')) return;
    if (declared.has(v.name)) err(REGO_COMPILE_ERROR, `var ${name} assigned above`, v.location);
    else if (used.has(v.name)) err(REGO_COMPILE_ERROR, `var ${name} referenced above`, v.location);
    declared.add(v.name);
  };
  const use = (t: Term): void => {
    for (const v of termVars(t).keys()) used.add(v);
  };
  for (const e of body) {
    if (e.kind === 'assign') {
      const lhs = e.lhs;
      if (lhs.type === 'ref' || lhs.type === 'call' || (lhs.type !== 'array' && lhs.type !== 'object' && hasRefOrCall(lhs))) {
        err(REGO_COMPILE_ERROR, `cannot assign to ${lhs.type === 'call' ? 'call' : 'ref'}`, e.location);
      }
      for (const n of patternVars(lhs)) {
        const v = termVars(lhs).get(n);
        if (v) declare(v);
      }
      use(e.rhs);
    } else if (e.kind === 'some-vars') {
      for (const v of e.vars) declare(v);
    } else if (e.kind === 'some-in') {
      use(e.collection);
      for (const t of [e.key, e.value]) if (t) for (const n of patternVars(t)) {
        const v = termVars(t).get(n);
        if (v) declare(v);
      }
    } else if (e.kind === 'every') {
      use(e.domain);
    } else {
      for (const t of exprTerms(e)) use(t);
    }
    // nested scopes: comprehensions and every bodies see the outer declarations
    for (const t of exprTerms(e)) {
      walkTerm(t, (x) => {
        if (x.type === 'arraycompr' || x.type === 'setcompr' || x.type === 'objectcompr') {
          checkBodyAssignments(x.body, declared, version, err);
          return false;
        }
        return undefined;
      });
    }
    if (e.kind === 'every') {
      const inner = new Set(declared);
      for (const t of [e.key, e.value]) if (t) for (const v of termVars(t).keys()) inner.add(v);
      checkBodyAssignments(e.body, inner, version, err);
    }
  }
}

// --- functions ------------------------------------------------------------------------------------------------

function checkCalls(body: Body, head: Rule['head'] | undefined, arityOf: (n: string) => number | undefined, byPath: Map<string, RuleGroup>, err: Err): void {
  const visitCall = (call: Extract<Term, { type: 'call' }>, asExpr: boolean): void => {
    const arity = arityOf(call.name);
    if (arity === undefined) {
      if (!call.name.startsWith('data.') || byPath.get(call.name)?.kind !== 'function') {
        err(REGO_TYPE_ERROR, `undefined function ${call.name}`, call.location);
      }
      return;
    }
    if (arity === VARIADIC) return;
    const max = asExpr ? arity + 1 : arity;
    if (call.args.length > max) err(REGO_TYPE_ERROR, `${call.name}: too many arguments`, call.location);
    else if (call.args.length < arity) err(REGO_TYPE_ERROR, `${call.name}: too few arguments`, call.location);
  };
  /** Calls in a term; comprehension bodies are visited as bodies (their call expressions may have an output arg). */
  const visitTerm = (t: Term, top: Term | undefined): void => {
    walkTerm(t, (x) => {
      if (x.type === 'call') visitCall(x, x === top);
      if (x.type === 'arraycompr' || x.type === 'setcompr' || x.type === 'objectcompr') {
        visitBody(x.body);
        for (const h of x.type === 'objectcompr' ? [x.key, x.value] : [x.term]) visitTerm(h, undefined);
        return false;
      }
      return undefined;
    });
  };
  const visitBody = (b: Body): void => {
    for (const e of b) {
      const top = e.kind === 'call' ? e.call : undefined;
      for (const t of exprTerms(e)) {
        // `with f as mock`: a function name as the value is not a call
        visitTerm(t, top);
      }
      if (e.kind === 'every') visitBody(e.body);
    }
  };
  visitBody(body);
  if (head) for (const t of [head.key, head.value, ...(head.ref.slice(1))]) if (t) visitTerm(t, undefined);
}

// --- safety ------------------------------------------------------------------------------------------------------

function checkRuleSafety(r: Rule, safety: Safety, err: Err): void {
  const args = new Set<string>();
  for (const a of r.head.args ?? []) for (const v of termVars(a).keys()) args.add(v);
  const res = safety.check(r.body, args, new Set());
  r.body = res.body;
  const unsafe: UnsafeVar[] = [...res.unsafe];
  const h = r.head;
  const headTerms = [...h.ref.slice(1), ...(h.key ? [h.key] : []), ...(h.value ? [h.value] : [])];
  // OPA moves calls and refs out of the head into the body (rewriteExprTermsInHead), so `f(x) := o[_] == x` iterates
  const headSafe = new Set(res.safe);
  for (const t of headTerms) for (const v of safety.outputs({ type: 'expr', kind: 'term', term: t, negated: false, with: [], location: t.location }, headSafe)) headSafe.add(v);
  const headUnsafe = safety.headVars(headTerms, headSafe, headSafe);
  // head vars that the body declares but never binds are reported at the body (OPA reports them once)
  const seen = new Set(unsafe.map((u) => u.name));
  for (const u of headUnsafe) if (!seen.has(u.name)) unsafe.push(u);
  for (const u of unsafe) err(REGO_UNSAFE_VAR_ERROR, `var ${u.name} is unsafe`, u.location);
}

// --- recursion -------------------------------------------------------------------------------------------------

function checkRecursion(groups: RuleGroup[], err: Err): void {
  const deps = new Map<string, string[]>();
  const pathsOf = (t: Term): string[] => {
    const out: string[] = [];
    const refs: [string, boolean][] = [];
    walkTerm(t, (x) => {
      if (x.type === 'ref' && x.terms[0].type === 'var' && x.terms[0].name === 'data') {
        const pre = refPrefix(x);
        // `data.a[2]`: a non-string ground key cannot name a package or rule below data.a
        const next = x.terms[pre.parts.length];
        const any = pre.full || (next !== undefined && next.type !== 'number' && next.type !== 'boolean' && next.type !== 'null');
        refs.push([pre.path, any]);
      }
      if (x.type === 'call' && x.name.startsWith('data.')) refs.push([x.name, false]);
    }, true);
    for (const [p, below] of refs) for (const g of groups) {
      if (g.path === p || p.startsWith(`${g.path}.`) || (below && g.path.startsWith(`${p}.`))) out.push(g.path);
    }
    return out;
  };
  for (const g of groups) {
    const d = new Set<string>();
    const rules = [...g.rules, ...(g.default ? [g.default] : [])];
    for (const r0 of rules) {
      for (let r: Rule | undefined = r0; r; r = r.else) {
        const h = r.head;
        for (const t of [...h.ref.slice(1), ...(h.key ? [h.key] : []), ...(h.value ? [h.value] : [])]) for (const p of pathsOf(t)) d.add(p);
        for (const e of r.body) {
          for (const t of exprTerms(e)) for (const p of pathsOf(t)) d.add(p);
          if (e.kind === 'every') for (const b of e.body) walkExpr(b, (x) => { for (const p of pathsOf(x)) d.add(p); return false; });
        }
      }
    }
    deps.set(g.path, [...d]);
  }
  const reported = new Set<string>();
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (p: string): void => {
    state.set(p, 1);
    stack.push(p);
    for (const q of deps.get(p) ?? []) {
      if (state.get(q) === 1) {
        const cycle = [...stack.slice(stack.indexOf(q)), q];
        const key = [...new Set(cycle)].sort().join(',');
        if (!reported.has(key)) {
          reported.add(key);
          const g = groups.find((x) => x.path === q);
          const loc = (g?.rules[0] ?? g?.default)?.location;
          if (loc) err(REGO_RECURSION_ERROR, `rule ${q} is recursive: ${cycle.join(' -> ')}`, loc);
        }
      } else if (!state.has(q)) visit(q);
    }
    stack.pop();
    state.set(p, 2);
  };
  for (const g of groups) if (!state.has(g.path)) visit(g.path);
}
