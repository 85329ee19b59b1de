/** Term helpers shared by the checks: var collection, walking, copying. */
import type { Body, Expr, RefTerm, Term, VarTerm } from '../syntax/ast.js';

export function isClosure(t: Term): boolean {
  return t.type === 'arraycompr' || t.type === 'setcompr' || t.type === 'objectcompr';
}

/** Direct child terms of a term (comprehension bodies excluded). */
export function childTerms(t: Term): Term[] {
  switch (t.type) {
    case 'ref': return t.terms;
    case 'array': case 'set': return t.items;
    case 'object': return t.entries.flatMap((e) => [e.key, e.value]);
    case 'call': return t.args;
    case 'arraycompr': case 'setcompr': return [t.term];
    case 'objectcompr': return [t.key, t.value];
    default: return [];
  }
}

/** The terms an expression is made of (with-modifier values included, `every` body excluded). */
export function exprTerms(e: Expr): Term[] {
  const own: Term[] = (() => {
    switch (e.kind) {
      case 'term': return [e.term];
      case 'call': return [e.call];
      case 'unify': case 'assign': return [e.lhs, e.rhs];
      case 'some-vars': return e.vars;
      case 'some-in': return [...(e.key ? [e.key] : []), e.value, e.collection];
      case 'every': return [...(e.key ? [e.key] : []), e.value, e.domain];
    }
  })();
  return [...own, ...e.with.map((w) => w.value)];
}

/** Visits every term (pre-order); `fn` returning false stops descent. Comprehension bodies are skipped unless deep. */
export function walkTerm(t: Term, fn: (t: Term) => boolean | void, deep = false): void {
  if (fn(t) === false) return;
  if (t.type === 'call') {
    for (const a of t.args) walkTerm(a, fn, deep);
    return;
  }
  for (const c of childTerms(t)) walkTerm(c, fn, deep);
  if (deep && (t.type === 'arraycompr' || t.type === 'setcompr' || t.type === 'objectcompr')) {
    for (const e of t.body) walkExpr(e, fn, true);
  }
}

export function walkExpr(e: Expr, fn: (t: Term) => boolean | void, deep = false): void {
  for (const t of exprTerms(e)) walkTerm(t, fn, deep);
  if (deep) for (const w of e.with) walkTerm(w.target, fn, deep);
  if (deep && e.kind === 'every') for (const b of e.body) walkExpr(b, fn, true);
}

/** Vars of a term outside comprehensions (call operators and ref heads `data`/`input` included as vars). */
export function termVars(t: Term, out = new Map<string, VarTerm>()): Map<string, VarTerm> {
  walkTerm(t, (x) => {
    if (isClosure(x)) return false;
    if (x.type === 'var' && !out.has(x.name)) out.set(x.name, x);
    return undefined;
  });
  return out;
}

/** All vars of a term including those inside comprehensions. */
export function deepTermVars(t: Term, out = new Map<string, VarTerm>()): Map<string, VarTerm> {
  walkTerm(t, (x) => {
    if (x.type === 'var' && !out.has(x.name)) out.set(x.name, x);
  }, true);
  return out;
}

export function bodyVarsDeep(body: Body, out = new Map<string, VarTerm>()): Map<string, VarTerm> {
  for (const e of body) walkExpr(e, (x) => {
    if (x.type === 'var' && !out.has(x.name)) out.set(x.name, x);
  }, true);
  return out;
}

/** Closures directly inside a term (not nested ones). */
export function closuresOf(t: Term, out: Term[] = []): Term[] {
  walkTerm(t, (x) => {
    if (isClosure(x)) {
      out.push(x);
      return false;
    }
    return undefined;
  });
  return out;
}

/** Dotted form of a ref's leading var/string parts (`data.a.b[x]` → `data.a.b`), and whether the whole ref is ground-string. */
export function refPrefix(ref: RefTerm | Term[]): { path: string; parts: string[]; full: boolean } {
  const terms = Array.isArray(ref) ? ref : ref.terms;
  const parts: string[] = [];
  let full = true;
  for (const [i, t] of terms.entries()) {
    if (i === 0 && t.type === 'var') parts.push(t.name);
    else if (i > 0 && t.type === 'string') parts.push(t.value);
    else {
      full = false;
      break;
    }
  }
  return { path: parts.join('.'), parts, full };
}

/** The printed name of a var (wildcards, renamed `$_N`, print as `_`). */
export function displayVar(name: string): string {
  if (name.startsWith('$_')) return '_';
  return name.endsWith('$local') ? name.slice(0, -'$local'.length) : name;
}

export function isWildcard(name: string): boolean {
  return name.startsWith('$_');
}
