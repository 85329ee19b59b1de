/**
 * OPA's safety analysis and body reordering (ast/compile.go `reorderBodyForSafety`, `reorderBodyForClosures`,
 * `outputVarsForExpr`): an expression can run once every var it reads is safe (bound); it then binds its output
 * vars (unification with a ground side, ref iteration `xs[i]`, a call's output argument, `some x in xs`). Exprs are
 * placed in source order whenever ready; what can never become ready yields `var x is unsafe`.
 */
import type { Body, Expr, Location, Term, VarTerm } from '../syntax/ast.js';
import { closuresOf, deepTermVars, displayVar, exprTerms, isClosure, isWildcard, termVars, walkTerm } from './terms.js';

export interface UnsafeVar { name: string; location: Location }

/** Resolves a call's built-in/user-function input arity, or undefined when unknown. */
export type ArityOf = (name: string) => number | undefined;

const ROOTS = new Set(['data', 'input']);

export interface SafetyResult { body: Body; safe: Set<string>; unsafe: UnsafeVar[] }

export class Safety {
  constructor(private readonly arityOf: ArityOf) {}

  /**
   * Reorders `body` given vars already safe (`safe`: function args, enclosing scopes) and vars of enclosing scopes
   * that closures may refer to (`outer`). Returns the reordered body, the final safe set and the unsafe vars.
   */
  check(body: Body, safe: Set<string>, outer: Set<string>): SafetyResult {
    const cur = new Set([...safe, ...ROOTS]);
    const bodyVars = new Set<string>(outer);
    for (const e of body) for (const t of exprTerms(e)) for (const v of termVars(t).keys()) bodyVars.add(v);
    const placed: Expr[] = [];
    const remaining = [...body];
    const unsafe: UnsafeVar[] = [];
    let progress = true;
    while (remaining.length > 0 && progress) {
      progress = false;
      for (let i = 0; i < remaining.length; i++) {
        const e = remaining[i] as Expr;
        const need = this.needs(e, cur, bodyVars);
        if ([...need.keys()].every((v) => cur.has(v))) {
          for (const v of this.outputs(e, cur)) cur.add(v);
          placed.push(e);
          remaining.splice(i, 1);
          unsafe.push(...this.checkNested(e, cur, bodyVars));
          progress = true;
          break;
        }
      }
    }
    const seen = new Set<string>();
    for (const e of remaining) {
      for (const [name, v] of this.needs(e, cur, bodyVars)) {
        if (cur.has(name) || seen.has(name)) continue;
        seen.add(name);
        unsafe.push({ name: displayVar(name), location: v.location });
      }
      placed.push(e);
    }
    return { body: placed, safe: cur, unsafe };
  }

  /** Vars that must be safe before `e` can run (its vars minus what it outputs, plus closures' outer vars). */
  private needs(e: Expr, safe: Set<string>, bodyVars: Set<string>): Map<string, VarTerm> {
    const all = new Map<string, VarTerm>();
    const add = (t: Term): void => {
      termVars(t, all);
      for (const c of closuresOf(t)) for (const [n, v] of closureFree(c)) if (bodyVars.has(n) && !all.has(n)) all.set(n, v);
    };
    if (e.kind === 'some-vars') return all;
    if (e.kind === 'every') {
      add(e.domain);
      const local = new Set<string>();
      for (const t of [e.key, e.value]) if (t) for (const n of termVars(t).keys()) local.add(n);
      for (const x of e.body) for (const t of exprTerms(x)) for (const [n, v] of deepTermVars(t)) {
        if (!local.has(n) && bodyVars.has(n) && !all.has(n)) all.set(n, v);
      }
    } else if (e.kind === 'call') {
      // the operator is a name, not a var
      for (const a of e.call.args) add(a);
    } else {
      for (const t of exprTerms(e)) add(t);
    }
    for (const w of e.with) {
      if (w.value.type === 'var' && this.arityOf(w.value.name) !== undefined) all.delete(w.value.name);
    }
    for (const n of [...all.keys()]) if (ROOTS.has(n)) all.delete(n);
    if (e.negated) {
      // `not p[_]`: a wildcard in a negated expression needs no binding (it is existential inside the negation).
      for (const n of [...all.keys()]) if (isWildcard(n)) all.delete(n);
      return all;
    }
    for (const v of this.outputs(e, safe)) all.delete(v);
    return all;
  }

  /** Vars `e` binds when run with `safe` bound (OPA outputVarsForExpr). */
  outputs(e: Expr, safe: Set<string>): Set<string> {
    const out = new Set<string>();
    if (e.negated) return out;
    const isSafe = (n: string): boolean => safe.has(n) || out.has(n) || ROOTS.has(n);
    const ground = (t: Term): boolean => [...termVars(t).keys()].every(isSafe);
    const refIter = (t: Term): void => {
      let changed = true;
      while (changed) {
        changed = false;
        walkTerm(t, (x) => {
          if (isClosure(x)) return false;
          if (x.type === 'ref') {
            const head = x.terms[0];
            const headSafe = head.type === 'var' ? isSafe(head.name) : ground(head);
            if (!headSafe) return undefined;
            for (const p of x.terms.slice(1)) {
              for (const n of patternVars(p)) if (!isSafe(n)) {
                out.add(n);
                changed = true;
              }
            }
          }
          return undefined;
        });
      }
    };
    const unify = (a: Term, b: Term): boolean => {
      let changed = false;
      const bind = (p: Term, other: Term): void => {
        if (!ground(other)) return;
        for (const n of patternVars(p)) if (!isSafe(n)) {
          out.add(n);
          changed = true;
        }
      };
      if (a.type === 'array' && b.type === 'array' && a.items.length === b.items.length) {
        a.items.forEach((x, i) => { changed = unify(x, b.items[i] as Term) || changed; });
      } else if (a.type === 'object' && b.type === 'object') {
        for (const ea of a.entries) {
          const eb = b.entries.find((x) => sameKey(x.key, ea.key));
          if (eb) changed = unify(ea.value, eb.value) || changed;
        }
      } else {
        bind(a, b);
        bind(b, a);
      }
      return changed;
    };
    const fix = (f: () => boolean): void => {
      for (let i = 0; i < 50 && f(); i++);
    };
    switch (e.kind) {
      case 'term': refIter(e.term); break;
      case 'unify': case 'assign':
        fix(() => {
          const before = out.size;
          refIter(e.lhs);
          refIter(e.rhs);
          unify(e.lhs, e.rhs);
          return out.size !== before;
        });
        break;
      case 'call': {
        for (const a of e.call.args) refIter(a);
        const arity = this.arityOf(e.call.name);
        if (arity !== undefined && arity >= 0 && e.call.args.length === arity + 1) {
          const inputs = e.call.args.slice(0, arity);
          const last = e.call.args[arity] as Term;
          if (inputs.every(ground)) {
            refIter(last);
            for (const n of patternVars(last)) out.add(n);
          }
        }
        break;
      }
      case 'some-in': {
        refIter(e.collection);
        if (ground(e.collection)) for (const t of [e.key, e.value]) if (t) for (const n of patternVars(t)) out.add(n);
        break;
      }
      default: break;
    }
    return out;
  }

  /** Safety inside the closures and `every` bodies of a placed expression. */
  private checkNested(e: Expr, safe: Set<string>, bodyVars: Set<string>): UnsafeVar[] {
    const errs: UnsafeVar[] = [];
    const outer = new Set([...bodyVars, ...safe]);
    for (const t of exprTerms(e)) for (const c of closuresOf(t)) errs.push(...this.closure(c, safe, outer));
    if (e.kind === 'every') {
      const inner = new Set(safe);
      for (const t of [e.key, e.value]) if (t) for (const n of termVars(t).keys()) inner.add(n);
      const r = this.check(e.body, inner, outer);
      e.body = r.body;
      errs.push(...r.unsafe);
    }
    return errs;
  }

  /** Checks a comprehension: its body with the enclosing safe vars, then its head term(s). Reorders in place. */
  closure(c: Term, safe: Set<string>, outer: Set<string>): UnsafeVar[] {
    if (c.type !== 'arraycompr' && c.type !== 'setcompr' && c.type !== 'objectcompr') return [];
    const r = this.check(c.body, safe, outer);
    c.body = r.body;
    const errs = [...r.unsafe];
    const heads = c.type === 'objectcompr' ? [c.key, c.value] : [c.term];
    // OPA rewriteComprehensionTerms: refs/calls in the head are evaluated in the body, so they may iterate
    const headSafe = new Set(r.safe);
    for (const t of heads) for (const v of this.outputs({ type: 'expr', kind: 'term', term: t, negated: false, with: [], location: t.location }, headSafe)) headSafe.add(v);
    errs.push(...this.headVars(heads, headSafe, new Set([...outer, ...headSafe])));
    return errs;
  }

  /** Vars of head terms (rule key/value, comprehension term) that are not safe; closures in them are checked too. */
  headVars(terms: Term[], safe: Set<string>, outer: Set<string>): UnsafeVar[] {
    const errs: UnsafeVar[] = [];
    const seen = new Set<string>();
    for (const t of terms) {
      for (const [n, v] of termVars(t)) {
        if (safe.has(n) || ROOTS.has(n) || seen.has(n)) continue;
        seen.add(n);
        errs.push({ name: displayVar(n), location: v.location });
      }
      for (const c of closuresOf(t)) errs.push(...this.closure(c, safe, outer));
    }
    return errs;
  }
}

/** Vars a term binds when unified: vars in var/array/object-value positions (not inside refs or calls). */
export function patternVars(t: Term): string[] {
  switch (t.type) {
    case 'var': return [t.name];
    case 'array': return t.items.flatMap(patternVars);
    case 'object': return t.entries.flatMap((e) => patternVars(e.value));
    default: return [];
  }
}

function sameKey(a: Term, b: Term): boolean {
  if (a.type === 'string' && b.type === 'string') return a.value === b.value;
  if (a.type === 'number' && b.type === 'number') return a.text === b.text;
  if (a.type === 'boolean' && b.type === 'boolean') return a.value === b.value;
  return a.type === 'null' && b.type === 'null';
}

/** Vars a comprehension uses that it does not declare itself (`some`, `:=`): candidates for outer-scope vars. */
function closureFree(c: Term): Map<string, VarTerm> {
  const all = deepTermVars(c);
  if (c.type === 'arraycompr' || c.type === 'setcompr' || c.type === 'objectcompr') {
    for (const e of c.body) {
      if (e.kind === 'some-vars') for (const v of e.vars) all.delete(v.name);
      if (e.kind === 'assign') for (const n of patternVars(e.lhs)) all.delete(n);
      if (e.kind === 'some-in') for (const t of [e.key, e.value]) if (t) for (const n of patternVars(t)) all.delete(n);
    }
  }
  return all;
}
