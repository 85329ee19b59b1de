/**
 * OPA's "resolve refs" step: rewrites every var that names a rule of the module's package or an import into the
 * absolute ref (`p` → `data.pkg.p`, `lib.f(x)` with `import data.lib` → `data.lib.f(x)`, `req` with
 * `import input.request as req` → `input.request`), leaving local vars (function args, `some`, `:=`, `every`
 * declarations) and built-in names alone. Wildcards `_` become distinct vars `$_N`. Returns fresh copies.
 */
import type { Body, Expr, Module, RefTerm, Rule, RuleHead, Term, VarTerm } from '../syntax/ast.js';
import { deepTermVars } from './terms.js';

/** Suffix given to `input`/`data` when a rule declares them as local vars (v0 allows `input := 1`). */
export const SHADOW = '$local';

export type Globals = Map<string, Term[]>;

export class Resolver {
  private wildcard = 0;

  /** Globals of a module: the rule names of its package (across all modules of the set), then its imports. */
  globalsFor(mod: Module, packageRules: Set<string>): Globals {
    const pkg = mod.package.path.terms;
    const g: Globals = new Map();
    for (const name of packageRules) g.set(name, [...pkg, { type: 'string', value: name, location: mod.package.location }]);
    for (const imp of mod.imports) {
      const terms = imp.path.terms;
      const head = terms[0];
      if (head.type !== 'var' || (head.name !== 'data' && head.name !== 'input')) continue;
      const last = terms[terms.length - 1];
      const name = imp.alias ?? (last?.type === 'string' ? last.value : last?.type === 'var' ? last.name : undefined);
      if (name !== undefined && !(name === head.name && terms.length === 1)) g.set(name, terms);
    }
    return g;
  }

  /** Resolves one rule (and its else chain) against `globals`; `pkgRef` is the package path (data.a.b). */
  rule(rule: Rule, globals: Globals, pkgRef: Term[]): Rule {
    const locals = declaredVars(rule);
    const res = (t: Term): Term => this.term(t, globals, locals);
    const h = rule.head;
    const [, ...rest] = h.ref;
    const nameTerm: Term = { type: 'string', value: h.name, location: h.ref[0].location };
    const ref = [...pkgRef, nameTerm, ...rest.map(res)] as [VarTerm, ...Term[]];
    const head: RuleHead = { ...h, ref };
    if (h.args) head.args = h.args.map(res);
    if (h.key) head.key = res(h.key);
    if (h.value) head.value = res(h.value);
    const out: Rule = { ...rule, head, body: this.body(rule.body, globals, locals) };
    if (rule.else) out.else = this.rule(rule.else, globals, pkgRef);
    return out;
  }

  body(body: Body, globals: Globals, locals: Set<string>): Body {
    return body.map((e) => this.expr(e, globals, locals));
  }

  expr(e: Expr, globals: Globals, locals: Set<string>): Expr {
    const res = (t: Term): Term => this.term(t, globals, locals);
    const base = { type: 'expr' as const, negated: e.negated, location: e.location, generated: e.generated };
    const withs = e.with.map((w) => ({ ...w, target: res(w.target), value: res(w.value) }));
    switch (e.kind) {
      case 'term': return { ...base, with: withs, kind: 'term', term: res(e.term) };
      case 'call': return { ...base, with: withs, kind: 'call', call: res(e.call) as typeof e.call };
      case 'unify': return { ...base, with: withs, kind: 'unify', lhs: res(e.lhs), rhs: res(e.rhs) };
      case 'assign': return { ...base, with: withs, kind: 'assign', lhs: res(e.lhs), rhs: res(e.rhs) };
      case 'some-vars': return { ...base, with: withs, kind: 'some-vars', vars: e.vars };
      case 'some-in': return { ...base, with: withs, kind: 'some-in', key: e.key ? res(e.key) : null, value: res(e.value), collection: res(e.collection) };
      case 'every': return {
        ...base, with: withs, kind: 'every', key: e.key ? res(e.key) : null, value: res(e.value), domain: res(e.domain),
        body: this.body(e.body, globals, locals),
      };
    }
  }

  term(t: Term, globals: Globals, locals: Set<string>): Term {
    const res = (x: Term): Term => this.term(x, globals, locals);
    switch (t.type) {
      case 'var': {
        if (t.name === '_') return { ...t, name: `$_${this.wildcard++}` };
        if (locals.has(t.name)) return t.name === 'input' || t.name === 'data' ? { ...t, name: `${t.name}${SHADOW}` } : t;
        const g = globals.get(t.name);
        if (g) return { type: 'ref', terms: g.map((p) => ({ ...p, location: t.location })) as [Term, ...Term[]], location: t.location };
        return t;
      }
      case 'ref': {
        const [head, ...parts] = t.terms;
        const h = res(head);
        const rparts = parts.map(res);
        const terms = (h.type === 'ref' ? [...h.terms, ...rparts] : [h, ...rparts]) as [Term, ...Term[]];
        // a one-part ref (`input`) is its head var
        if (terms.length === 1 && terms[0].type === 'var') return terms[0];
        return { ...t, terms };
      }
      case 'call': {
        const op = t.operator;
        const head = op.terms[0];
        let operator: RefTerm = op;
        // operators (`a < b` is `lt(a, b)`) always name the built-in, even if a rule of the same name exists
        if (head.type === 'var' && !locals.has(head.name) && !t.infix) {
          const g = globals.get(head.name);
          if (g) operator = { ...op, terms: [...g, ...op.terms.slice(1)] as [Term, ...Term[]] };
        }
        const name = operator.terms.map((p, i) => (i === 0 && p.type === 'var' ? p.name : p.type === 'string' ? p.value : '?')).join('.');
        return { ...t, operator, name, args: t.args.map(res) };
      }
      case 'array': return { ...t, items: t.items.map(res) };
      case 'set': return { ...t, items: t.items.map(res) };
      case 'object': return { ...t, entries: t.entries.map((e) => ({ key: res(e.key), value: res(e.value) })) };
      case 'arraycompr': case 'setcompr': {
        const inner = withDeclared(locals, t.body);
        return { ...t, term: this.term(t.term, globals, inner), body: this.body(t.body, globals, inner) };
      }
      case 'objectcompr': {
        const inner = withDeclared(locals, t.body);
        return { ...t, key: this.term(t.key, globals, inner), value: this.term(t.value, globals, inner), body: this.body(t.body, globals, inner) };
      }
      default: return t;
    }
  }
}

function withDeclared(locals: Set<string>, body: Body): Set<string> {
  const s = new Set(locals);
  for (const e of body) declaredInExpr(e, s);
  return s;
}

/** Vars a rule declares: function args, `some`, `some … in`, `:=` targets, `every` key/value (deep). */
export function declaredVars(rule: Rule): Set<string> {
  const s = new Set<string>();
  for (const a of rule.head.args ?? []) for (const v of deepTermVars(a).keys()) s.add(v);
  for (const e of rule.body) declaredInExpr(e, s);
  return s;
}

function declaredInExpr(e: Expr, s: Set<string>): void {
  const visit = (x: Expr): void => {
    if (x.kind === 'some-vars') for (const v of x.vars) s.add(v.name);
    if (x.kind === 'some-in') for (const t of [x.key, x.value]) if (t) for (const v of bindable(t)) s.add(v);
    if (x.kind === 'assign') for (const v of bindable(x.lhs)) s.add(v);
    if (x.kind === 'every') {
      for (const t of [x.key, x.value]) if (t) for (const v of deepTermVars(t).keys()) s.add(v);
      x.body.forEach(visit);
    }
  };
  visit(e);
}

/** Vars in var/array/object-value positions (what `:=` and `some … in` declare; not vars inside refs). */
function bindable(t: Term): string[] {
  switch (t.type) {
    case 'var': return [t.name];
    case 'ref': return t.terms.length === 1 && t.terms[0].type === 'var' ? [t.terms[0].name] : [];
    case 'array': return t.items.flatMap(bindable);
    case 'object': return t.entries.flatMap((e) => bindable(e.value));
    default: return [];
  }
}
