/**
 * Rego module and query parser (hand-written recursive descent after OPA's ast/parser.go and the grammar at
 * https://www.openpolicyagent.org/docs/policy-reference/#grammar). Rego v1 (OPA 1.x default) requires `if` before
 * rule bodies and `contains` for multi-value rules; v0 (`--v0-compatible`) accepts the old forms and only treats
 * `if in every contains` as keywords after `import future.keywords[.x]` or `import rego.v1` (which also switches the
 * module to v1 rules, as OPA does).
 */
import type { Body, Expr, ExprNode, Import, Location, Module, Package, RefTerm, Rule, RuleHead, Term, VarTerm, WithModifier } from './ast.js';
import { RegoParseError } from './errors.js';
import { tokenize, type Token } from './lexer.js';
import { FUTURE_KEYWORDS, TermParser } from './terms.js';

export type RegoVersion = 'v0' | 'v1';
export interface ParseOptions {
  file: string;
  regoVersion: RegoVersion;
}

export { RegoParseError } from './errors.js';

/** Parses one module; throws {@link RegoParseError} on the first syntax error. */
export function parseModule(source: string, opts: ParseOptions): Module {
  return new Parser(tokenize(source, opts.file), opts.file, opts.regoVersion).module();
}

/** Parses a query such as `data.test.p = x` or `data.a.b` (v1 keywords on, like `opa eval`). */
export function parseQuery(text: string, opts: { file?: string; regoVersion?: RegoVersion } = {}): Body {
  const file = opts.file ?? '';
  const p = new Parser(tokenize(text, file), file, opts.regoVersion ?? 'v1');
  return p.query();
}

/** Non-throwing variant: `{ module }` or `{ error }`. */
export function tryParseModule(source: string, opts: ParseOptions): { module: Module; error?: undefined } | { module?: undefined; error: RegoParseError } {
  try {
    return { module: parseModule(source, opts) };
  } catch (e) {
    if (e instanceof RegoParseError) return { error: e };
    throw e;
  }
}

const IMPORT_ROOTS = new Set(['data', 'input', 'future', 'rego']);

class Parser extends TermParser {
  /** v1 rule syntax in force (asked for, or `import rego.v1` in a v0 module). */
  private strict: boolean;

  constructor(toks: Token[], file: string, version: RegoVersion) {
    super(toks, file);
    this.strict = version === 'v1';
    if (this.strict) for (const k of FUTURE_KEYWORDS) this.keywords.add(k);
  }

  query(): Body {
    const body = this.parseBody('');
    return body;
  }

  module(): Module {
    const first = this.peek();
    if (!this.isKw('package')) this.unexpected(first, 'package');
    const pkg = this.parsePackage();
    const imports: Import[] = [];
    while (this.isKw('import')) imports.push(this.parseImport());
    const rules: Rule[] = [];
    while (this.peek().kind !== 'eof') {
      if (this.isKw('import')) this.fail('import must come before any rule');
      if (this.isKw('package')) this.fail('unexpected package keyword: only one package per module');
      rules.push(...this.parseRules());
    }
    return { type: 'module', package: pkg, imports, rules, regoVersion: this.strict ? 'v1' : 'v0', location: pkg.location };
  }

  // --- package / import ------------------------------------------------------------------------------------------
  private parsePackage(): Package {
    const kw = this.next();
    const location = this.loc(kw);
    const path = this.parsePath('package');
    const [head, ...rest] = path.terms;
    // `package a.b` denotes data.a.b; the head var becomes a string segment under a generated `data` root.
    const name = head.type === 'var' ? head.name : '';
    const data: VarTerm = { type: 'var', name: 'data', location: head.location, generated: true };
    const terms: [Term, ...Term[]] = [data, { type: 'string', value: name, location: head.location }, ...rest];
    return { type: 'package', path: { type: 'ref', terms, location: path.location }, location };
  }

  /** A ref made only of a var head and string parts (`a.b["c"]`), as package and import paths must be. */
  private parsePath(what: string): RefTerm {
    const t = this.peek();
    if (t.kind !== 'ident' || this.keywords.has(t.text)) this.unexpected(t, 'ident');
    const term = this.parseTerm();
    const ref: RefTerm = term.type === 'ref' ? term : { type: 'ref', terms: [term], location: term.location };
    const [head, ...rest] = ref.terms;
    if (head.type !== 'var' || rest.some((p) => p.type !== 'string')) {
      this.fail(`invalid ${what} path: must be a ref of var and string parts`, t);
    }
    return ref;
  }

  private parseImport(): Import {
    const kw = this.next();
    const location = this.loc(kw);
    const path = this.parsePath('import');
    const parts = path.terms.map((p) => (p.type === 'var' ? p.name : p.type === 'string' ? p.value : ''));
    const root = parts[0] ?? '';
    if (!IMPORT_ROOTS.has(root)) {
      this.fail(`unexpected import path, must begin with one of: {data, future, input, rego}, got: ${root}`, kw);
    }
    if (root === 'future') this.futureImport(parts, kw);
    if (root === 'rego') {
      if (parts.length !== 2 || parts[1] !== 'v1') this.fail(`invalid import \`${parts.join('.')}\`, must be \`rego.v1\``, kw);
      this.strict = true;
      for (const k of FUTURE_KEYWORDS) this.keywords.add(k);
    }
    const imp: Import = { type: 'import', path, location };
    if (this.isKw('as')) {
      this.next();
      if (root === 'future' || root === 'rego') this.fail(`\`${root}\` imports cannot be aliased`, kw);
      imp.alias = this.parseVar().name;
    }
    return imp;
  }

  private futureImport(parts: string[], kw: Token): void {
    if (parts[1] !== 'keywords' || parts.length > 3) this.fail('invalid import, must be `future.keywords` or `future.keywords.<keyword>`', kw);
    const which = parts[2];
    if (which === undefined) {
      for (const k of FUTURE_KEYWORDS) this.keywords.add(k);
    } else if ((FUTURE_KEYWORDS as readonly string[]).includes(which)) {
      this.keywords.add(which);
      // `every x in xs` needs `in`, so importing `every` enables `in` too (as in OPA).
      if (which === 'every') this.keywords.add('in');
    } else {
      this.fail(`unexpected keyword, must be one of [${FUTURE_KEYWORDS.join(' ')}]`, kw);
    }
  }

  // --- rules -------------------------------------------------------------------------------------------------------
  /** One rule statement; v0 `p { a } { b }` (several bodies) yields one rule per body, as OPA does. */
  private parseRules(): Rule[] {
    const start = this.peek();
    const location = this.loc(start);
    if (this.isKw('default')) return [this.parseDefault()];
    const head = this.parseHead();
    const body = this.parseRuleBody(head, true);
    // v1: a rule needs a body or a value (`p`, `p.a` alone are errors; v0 read them as `p = true`, a partial set)
    if (this.strict && body === null && head.kind === 'single' && head.value?.generated) {
      const n = head.ref.length;
      this.fail(n === 1 ? 'rule must have a body' : n === 2 ? '`contains` keyword is required for partial set rules' : 'rule must have a body or assignment', start);
    }
    const rule: Rule = { type: 'rule', default: false, head, body: body ?? [this.trueExpr(head.location)], location };
    const rules = [rule];
    let last = rule;
    while (this.isKw('else')) {
      if (head.kind !== 'single' && head.kind !== 'function') this.fail('else keyword cannot be used on multi-value rules');
      if (head.ref.length > 1 && head.kind === 'single' && rule.head.ref.some((p, i) => i > 0 && p.type !== 'string')) {
        this.fail('else keyword cannot be used on rules with variables in head');
      }
      last.else = this.parseElse(head);
      last = last.else;
    }
    // v0 only: further bodies `{ … }` of the same head.
    while (!this.strict && this.isPunct('{') && !this.peek().nlBefore) {
      const more = this.parseRuleBody(head, false);
      rules.push({ type: 'rule', default: false, head, body: more ?? [], location });
    }
    return rules;
  }

  private parseDefault(): Rule {
    const kw = this.next();
    const location = this.loc(kw);
    const target = this.parseTerm();
    const head = this.headFromTerm(target, kw);
    this.spacedArgs(head);
    if (!this.isPunct('=') && !this.isPunct(':=')) this.unexpected(this.peek(), 'assignment operator');
    head.assign = this.next().text === ':=';
    head.value = this.parseInfix(false);
    head.kind = head.args ? 'function' : 'single';
    return { type: 'rule', default: true, head, body: [this.trueExpr(location)], location };
  }

  private parseHead(): RuleHead {
    const t = this.peek();
    if (t.kind !== 'ident' || this.keywords.has(t.text)) this.unexpected(t);
    const head = this.headFromTerm(this.parseTerm(), t);
    this.spacedArgs(head);
    if (this.isKw('contains')) {
      if (head.args) this.fail('function rules cannot use contains');
      this.next();
      head.kind = 'multi';
      head.key = this.parseInfix(false);
      return head;
    }
    if (this.isPunct('=') || this.isPunct(':=')) {
      head.assign = this.next().text === ':=';
      head.value = this.parseInfix(false);
      return head;
    }
    const last = head.ref[head.ref.length - 1];
    // v0: `p[x]` (and `p.x`, which v0 reads as `p["x"]`) without a value is a partial set (key x); in v1, in v0 when
    // `if` follows, and for longer refs (`p[q][r]`) it is `p[x] = true` (OPA's ref-head rules).
    if (!this.strict && !head.args && head.ref.length === 2 && !this.isKw('if')) {
      const key = head.ref.pop() as Term;
      head.kind = 'multi';
      head.key = key;
      return head;
    }
    head.value = { type: 'boolean', value: true, location: head.location, generated: true };
    return head;
  }

  /** `f (x) := …`: OPA skips whitespace between a rule name and its argument list (unlike calls in bodies). */
  private spacedArgs(head: RuleHead): void {
    if (head.args || !this.isPunct('(')) return;
    const open = this.next();
    this.enter(open);
    head.args = this.parseList(')');
    this.leave();
    head.kind = 'function';
  }

  private headFromTerm(term: Term, at: Token): RuleHead {
    const location = term.location;
    let ref: Term[];
    let args: Term[] | undefined;
    if (term.type === 'call') {
      ref = term.operator.terms;
      args = term.args;
    } else if (term.type === 'var') ref = [term];
    else if (term.type === 'ref') ref = term.terms;
    else this.unexpected(at);
    const head = ref[0];
    if (head === undefined || head.type !== 'var') this.unexpected(at);
    const kind = args ? 'function' : 'single';
    const h: RuleHead = { type: 'head', kind, ref: ref as [VarTerm, ...Term[]], name: head.name, assign: false, location };
    if (args) h.args = args;
    return h;
  }

  /**
   * `if { … }`, `if literal`, or (v0) `{ … }`. Returns null when the rule has no body.
   * v1 forbids a brace body without `if` (OPA: "`if` keyword is required before rule body").
   */
  private parseRuleBody(head: RuleHead, allowIf: boolean): Body | null {
    if (allowIf && this.isKw('if')) {
      this.next();
      if (this.isPunct('{') && this.isPunct('}', this.peek(1))) this.fail('found empty body', this.peek(1));
      if (this.isPunct('{')) {
        // As OPA: `if {…}` is first read as a literal term (`x if { 1 | 1 }` is a set comprehension, `x if { 1: 2 | … }`
        // an object comprehension); when that fails, or gives a set literal (never false), it is a `{ body }`.
        const saved = this.pos;
        const depth = this.depth;
        try {
          const lit = this.parseLiteral();
          if (!(lit.kind === 'term' && lit.term.type === 'set')) return [lit];
        } catch (e) {
          if (!(e instanceof RegoParseError)) throw e;
        }
        this.pos = saved;
        this.depth = depth;
        return this.braceBody();
      }
      return [this.parseLiteral()];
    }
    if (this.isPunct('{')) {
      if (this.strict) this.fail('`if` keyword is required before rule body');
      return this.braceBody();
    }
    return null;
  }

  private braceBody(): Body {
    this.next();
    return this.parseBody('}');
  }

  private parseElse(head: RuleHead): Rule {
    const kw = this.next();
    const location = this.loc(kw);
    const elseHead: RuleHead = { ...head, location, assign: false };
    if (this.isPunct('=') || this.isPunct(':=')) {
      elseHead.assign = this.next().text === ':=';
      elseHead.value = this.parseInfix(false);
    } else {
      elseHead.value = { type: 'boolean', value: true, location, generated: true };
    }
    const body = this.parseRuleBody(elseHead, true);
    return { type: 'rule', default: false, head: elseHead, body: body ?? [this.trueExpr(location)], location };
  }

  private trueExpr(location: Location): Expr {
    return { type: 'expr', kind: 'term', term: { type: 'boolean', value: true, location, generated: true }, negated: false, with: [], location, generated: true };
  }

  // --- bodies and literals -----------------------------------------------------------------------------------------
  /**
   * Literals separated by `;` or newlines, up to `end` (consumed; '' = end of input). OPA: "found empty body" for
   * `{}` / `[x | ]`, and `expected \n or ; or }` when two literals share a line.
   */
  protected parseBody(end: string): Body {
    const atEnd = (): boolean => (end === '' ? this.peek().kind === 'eof' : this.isPunct(end));
    if (atEnd()) this.fail('found empty body');
    const body: Body = [];
    for (;;) {
      body.push(this.parseLiteral());
      if (this.isPunct(';')) {
        this.next();
        if (atEnd()) break;
        continue;
      }
      if (atEnd()) break;
      if (this.peek().kind === 'eof' || !this.peek().nlBefore) this.unexpected(this.peek(), `\\n or ; or ${end || 'eof'}`);
    }
    if (end !== '') this.next();
    return body;
  }

  private parseLiteral(): Expr {
    const start = this.peek();
    const location = this.loc(start);
    this.enter(start);
    let negated = false;
    let node: ExprNode;
    if (this.isKw('some')) node = this.parseSome();
    else if (this.isKw('every')) node = this.parseEvery();
    else {
      if (this.isKw('not')) {
        this.next();
        negated = true;
      }
      node = this.parseExprNode();
    }
    const withs: WithModifier[] = [];
    while (this.isKw('with')) {
      const w = this.next();
      const target = this.parseTerm();
      if (!this.isKw('as')) this.unexpected(this.peek(), 'as');
      this.next();
      withs.push({ type: 'with', target, value: this.parseInfix(false), location: this.loc(w) });
    }
    this.leave();
    return { type: 'expr', negated, with: withs, location, ...node };
  }

  /** term, call, `lhs = rhs` or `lhs := rhs` (OPA parseExpr). */
  private parseExprNode(): ExprNode {
    const lhs = this.parseInfix(true);
    if (this.isPunct('=') || this.isPunct(':=')) {
      const op = this.next().text;
      const rhs = this.parseInfix(true);
      return op === '=' ? { kind: 'unify', lhs, rhs } : { kind: 'assign', lhs, rhs };
    }
    if (lhs.type === 'call') return { kind: 'call', call: lhs };
    return { kind: 'term', term: lhs };
  }

  /** `some x in xs`, `some k, v in xs`, or `some x, y` (OPA parseSome). */
  private parseSome(): ExprNode {
    const kw = this.next();
    if (this.keywords.has('in')) {
      const saved = this.pos;
      const term = this.parseInfix(true);
      if (term.type === 'call' && term.infix === 'in') {
        return { kind: 'some-in', key: null, value: term.args[0] as Term, collection: term.args[1] as Term };
      }
      if (term.type === 'call' && term.infix === 'k,v in') {
        const [key, value, collection] = term.args as [Term, Term, Term];
        return { kind: 'some-in', key, value, collection };
      }
      this.pos = saved;
    }
    const vars: VarTerm[] = [this.someVar(kw)];
    while (this.isPunct(',')) {
      this.next();
      vars.push(this.someVar(kw));
    }
    return { kind: 'some-vars', vars };
  }

  private someVar(kw: Token): VarTerm {
    const t = this.peek();
    if (t.kind !== 'ident' || this.keywords.has(t.text)) this.fail('expected var or `x in xs` after some', kw);
    return this.parseVar();
  }

  /** `every [k,] v in domain { body }` (OPA parseEvery). */
  private parseEvery(): ExprNode {
    const kw = this.next();
    const term = this.parseInfix(true);
    let node: ExprNode;
    if (term.type === 'call' && term.infix === 'in') {
      node = { kind: 'every', key: null, value: term.args[0] as Term, domain: term.args[1] as Term, body: [] };
    } else if (term.type === 'call' && term.infix === 'k,v in') {
      const [key, value, domain] = term.args as [Term, Term, Term];
      node = { kind: 'every', key, value, domain, body: [] };
    } else this.fail('expected `x in xs` or `x, y in xs` expression after every', kw);
    for (const v of [node.key, node.value]) {
      if (v && v.type !== 'var') throw new RegoParseError('unexpected term: every key/value must be variables', v.location);
    }
    this.expectPunct('{');
    node.body = this.parseBody('}');
    return node;
  }
}
