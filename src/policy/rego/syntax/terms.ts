/**
 * Term-level recursive descent (OPA ast/parser.go: parseTermInfixCall … parseTerm). Operator precedence, loosest
 * first, exactly as OPA's parser: `in` (and `k, v in`) < relations (== != < <= > >=) < `|` < `&` < (+ -) < (* / %).
 * All binary levels are left-associative. Bodies (for comprehensions) are parsed by the subclass.
 */
import type { Body, CallTerm, InfixOperator, Location, ObjectEntry, RefTerm, Term, VarTerm } from './ast.js';
import { INFIX_BUILTINS } from './ast.js';
import { RegoParseError } from './errors.js';
import type { Token } from './lexer.js';

/** Deepest term/expression nesting accepted; beyond it a parse error, never a stack overflow. */
export const MAX_NESTING_DEPTH = 1000;

/** Keywords that can never be variable names; `if in every contains` join them when enabled (v1 / future.keywords). */
const BASE_KEYWORDS = ['package', 'import', 'as', 'default', 'else', 'not', 'some', 'with', 'null', 'true', 'false'];
export const FUTURE_KEYWORDS = ['contains', 'every', 'if', 'in'] as const;

const LEVELS: readonly (readonly string[])[] = [['==', '!=', '<', '<=', '>', '>='], ['|'], ['&'], ['+', '-'], ['*', '/', '%']];

export abstract class TermParser {
  protected pos = 0;
  protected depth = 0;
  protected readonly keywords = new Set<string>(BASE_KEYWORDS);
  /** Whether the last ref part `finish` appended was bracketed (`p["a"]`) rather than dotted (`p.a`). */
  protected lastBracketed = false;

  constructor(
    protected readonly toks: Token[],
    protected readonly file: string,
  ) {}

  protected abstract parseBody(end: string): Body;

  // --- token helpers -------------------------------------------------------------------------------------------
  protected peek(k = 0): Token {
    return (this.toks[this.pos + k] ?? this.toks[this.toks.length - 1]) as Token;
  }
  protected next(): Token {
    const t = this.peek();
    if (this.pos < this.toks.length - 1) this.pos++;
    return t;
  }
  protected isPunct(text: string, t: Token = this.peek()): boolean {
    return t.kind === 'punct' && t.text === text;
  }
  protected isKw(word: string, t: Token = this.peek()): boolean {
    return t.kind === 'ident' && t.text === word && this.keywords.has(word);
  }
  protected loc(t: Token): Location {
    return { file: this.file, row: t.row, col: t.col };
  }
  protected fail(msg: string, t: Token = this.peek()): never {
    throw new RegoParseError(msg, this.loc(t));
  }
  /** OPA's `unexpected X token[: expected …]` message; X is the token's kind name (ident, string, eof, `:=` …). */
  protected unexpected(t: Token = this.peek(), expected?: string): never {
    let name: string = t.kind === 'punct' ? t.text : t.kind;
    if (t.kind === 'ident' && this.keywords.has(t.text)) name = t.text;
    this.fail(`unexpected ${name} token${expected ? `: expected ${expected}` : ''}`, t);
  }
  protected expectPunct(text: string, expected = text): Token {
    if (!this.isPunct(text)) this.unexpected(this.peek(), expected);
    return this.next();
  }
  protected enter(t: Token): void {
    if (++this.depth > MAX_NESTING_DEPTH) this.fail(`maximum nesting depth (${MAX_NESTING_DEPTH}) exceeded`, t);
  }
  protected leave(): void {
    this.depth--;
  }

  // --- infix levels --------------------------------------------------------------------------------------------
  /**
   * An infix term. `keyVal` allows `k, v in xs` (only where a comma cannot mean anything else: expression level).
   */
  protected parseInfix(keyVal: boolean): Term {
    const start = this.peek();
    this.enter(start);
    let lhs = this.parseLevel(0);
    for (;;) {
      if (keyVal && this.isPunct(',') && this.keywords.has('in')) {
        const saved = this.pos;
        const savedDepth = this.depth;
        try {
          this.next();
          const mhs = this.parseLevel(0);
          if (this.isKw('in')) {
            this.next();
            const rhs = this.parseLevel(0);
            lhs = this.infixCall('k,v in', [lhs, mhs, rhs], start);
            keyVal = false;
            continue;
          }
        } catch (e) {
          if (!(e instanceof RegoParseError)) throw e;
        }
        this.pos = saved;
        this.depth = savedDepth;
      }
      if (!this.isKw('in')) break;
      this.next();
      lhs = this.infixCall('in', [lhs, this.parseLevel(0)], start);
    }
    this.leave();
    return lhs;
  }

  private parseLevel(level: number): Term {
    const ops = LEVELS[level];
    if (ops === undefined) return this.parseTerm();
    const start = this.peek();
    let lhs = this.parseLevel(level + 1);
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'punct' || !ops.includes(t.text)) return lhs;
      this.next();
      lhs = this.infixCall(t.text as InfixOperator, [lhs, this.parseLevel(level + 1)], start);
    }
  }

  private infixCall(op: InfixOperator, args: Term[], start: Token): CallTerm {
    const location = this.loc(start);
    const name = INFIX_BUILTINS[op];
    return { type: 'call', operator: this.nameRef(name, location), name, args, infix: op, location };
  }

  protected nameRef(name: string, location: Location): RefTerm {
    const [head, ...rest] = name.split('.');
    return {
      type: 'ref',
      terms: [{ type: 'var', name: head as string, location }, ...rest.map((value) => ({ type: 'string' as const, value, location }))],
      location,
    };
  }

  // --- primary terms -------------------------------------------------------------------------------------------
  /** A single term with its adjacent ref/call continuations (`a.b[c](d)`) — OPA's parseTerm + parseTermFinish. */
  protected parseTerm(): Term {
    const t = this.peek();
    const location = this.loc(t);
    let term: Term;
    if (t.kind === 'number') {
      this.next();
      return { type: 'number', text: t.text, location };
    }
    if (t.kind === 'string') {
      this.next();
      return t.raw ? { type: 'string', value: t.value ?? '', raw: true, location } : { type: 'string', value: t.value ?? '', location };
    }
    if (t.kind === 'punct') {
      if (t.text === '-') {
        // Unary minus only forms negative number literals (`-1`, `- 1`); `-x` / `- -1` are errors, not calls.
        if (this.peek(1).kind !== 'number') this.fail('unary - can only be used with numeric literals', t);
        this.next();
        return { type: 'number', text: `-${this.next().text}`, location };
      }
      this.enter(t);
      if (t.text === '(') {
        this.next();
        term = this.parseInfix(false);
        this.expectPunct(')');
      } else if (t.text === '[') term = this.parseArray();
      else if (t.text === '{') term = this.parseBrace();
      else this.unexpected(t);
      this.leave();
      return this.finish(term);
    }
    if (t.kind !== 'ident') this.unexpected(t);
    if (t.text === 'null' || t.text === 'true' || t.text === 'false') {
      this.next();
      return t.text === 'null' ? { type: 'null', location } : { type: 'boolean', value: t.text === 'true', location };
    }
    // `contains(s, x)` stays the strings built-in even where `contains` is a keyword (OPA does the same).
    const builtinCall = t.text === 'contains' && this.isPunct('(', this.peek(1)) && !this.peek(1).wsBefore;
    if (this.keywords.has(t.text) && !builtinCall) this.unexpected(t);
    this.next();
    if (t.text === 'set' && this.isPunct('(') && !this.peek().wsBefore && this.isPunct(')', this.peek(1))) {
      // `set()` is the empty-set literal ({} is the empty object).
      this.next();
      this.next();
      return this.finish({ type: 'set', items: [], location });
    }
    term = this.finish({ type: 'var', name: t.text, location });
    // `input` / `data` alone are refs (OPA: RootDocumentNames).
    if (term.type === 'var' && (term.name === 'input' || term.name === 'data')) return { type: 'ref', terms: [term], location };
    return term;
  }

  /** Adjacent `.x`, `[t]`, `(args)` continuations; whitespace before them ends the term, as in OPA. */
  private finish(head: Term): Term {
    let term = head;
    for (;;) {
      const t = this.peek();
      if (t.wsBefore || t.kind !== 'punct') return term;
      if (t.text === '.') {
        this.next();
        const id = this.peek();
        // Any identifier, keywords included, may follow a dot (`input.package`, `data.in`).
        if (id.kind !== 'ident' || id.wsBefore) this.unexpected(id, 'ident');
        this.next();
        term = this.extend(term, { type: 'string', value: id.text, location: this.loc(id) });
        this.lastBracketed = false;
      } else if (t.text === '[') {
        this.next();
        this.enter(t);
        const key = this.parseInfix(false);
        this.leave();
        this.expectPunct(']');
        term = this.extend(term, key);
        this.lastBracketed = true;
      } else if (t.text === '(') {
        term = this.parseCall(term, t);
      } else return term;
    }
  }

  private extend(term: Term, part: Term): RefTerm {
    if (term.type === 'ref') return { ...term, terms: [...term.terms, part] };
    return { type: 'ref', terms: [term, part], location: term.location };
  }

  private parseCall(callee: Term, open: Token): CallTerm {
    const operator: RefTerm = callee.type === 'ref' ? callee : { type: 'ref', terms: [callee], location: callee.location };
    const [head, ...rest] = operator.terms;
    if (head.type !== 'var' || rest.some((p) => p.type !== 'string')) this.unexpected(open);
    const name = [head.name, ...rest.map((p) => (p.type === 'string' ? p.value : ''))].join('.');
    this.next();
    this.enter(open);
    const args = this.parseList(')');
    this.leave();
    return { type: 'call', operator, name, args, location: callee.location };
  }

  /** Comma-separated terms up to `end` (a trailing comma is allowed, as in OPA). Consumes `end`. */
  protected parseList(end: string, first?: Term): Term[] {
    const items: Term[] = first ? [first] : [];
    if (first) {
      if (!this.isPunct(end)) this.expectPunct(',', `, or ${end}`);
    }
    while (!this.isPunct(end)) {
      items.push(this.parseInfix(false));
      if (!this.isPunct(end)) this.expectPunct(',', `, or ${end}`);
    }
    this.next();
    return items;
  }

  /**
   * `[…]` as OPA's parseArray: the first item is read as a single term (no infix operators), so `[x | body]` is a
   * comprehension whenever `body` parses up to `]`; when it does not and parsing stopped at a `,`, the collection is
   * re-read as a plain array with `|` as set union (`[x | y, 5]`). A first item with an operator before `|`
   * (`[a & b | c]`) is never a comprehension head: parenthesise it (`[(a & b) | c]`).
   */
  private parseArray(): Term {
    const open = this.next();
    const location = this.loc(open);
    if (this.isPunct(']')) {
      this.next();
      return { type: 'array', items: [], location };
    }
    const potentialComprehension = this.skipLeadingComma();
    const start = this.pos;
    const depth = this.depth;
    const head = this.parseTerm();
    if (this.isPunct(']') || this.isPunct(',')) return { type: 'array', items: this.parseList(']', head), location };
    if (this.isPunct('|') && potentialComprehension) {
      const body = this.tryComprehensionBody(']');
      if (body) return { type: 'arraycompr', term: head, body, location };
    }
    this.pos = start;
    this.depth = depth;
    return { type: 'array', items: this.parseList(']'), location };
  }

  /**
   * `{}` object, `{k: v, …}` object, `{a, …}` set, `{x | …}` / `{k: v | …}` comprehensions — OPA's parseSetOrObject:
   * the first item is tried as a single term so that `{a | b}` is a set comprehension (OPA prefers comprehensions);
   * only when no comprehension fits is it re-read as an infix term (`{a | b, c}`, `{a + 1: b}`, `{(a | b)}`).
   */
  private parseBrace(): Term {
    const open = this.next();
    const location = this.loc(open);
    if (this.isPunct('}')) {
      this.next();
      return { type: 'object', entries: [], location };
    }
    const potentialComprehension = this.skipLeadingComma();
    const start = this.pos;
    const depth = this.depth;
    let first = this.parseTerm();
    if (this.isPunct('|') && potentialComprehension) {
      const body = this.tryComprehensionBody('}');
      if (body) return { type: 'setcompr', term: first, body, location };
      this.pos = start;
      this.depth = depth;
      return { type: 'set', items: this.parseList('}'), location };
    }
    if (!this.isPunct('}') && !this.isPunct(',') && !this.isPunct(':')) {
      this.pos = start;
      this.depth = depth;
      first = this.parseInfix(false);
    }
    if (!this.isPunct(':')) return { type: 'set', items: this.parseList('}', first), location };
    this.next();
    const valueStart = this.pos;
    let value = this.parseTerm();
    if (this.isPunct('|') && potentialComprehension) {
      const body = this.tryComprehensionBody('}', true);
      if (body) return { type: 'objectcompr', key: first, value, body, location };
    }
    if (!this.isPunct('}') && !this.isPunct(',')) {
      this.pos = valueStart;
      this.depth = depth;
      value = this.parseInfix(false);
    }
    const entries: ObjectEntry[] = [{ key: first, value }];
    for (;;) {
      if (this.isPunct('}')) break;
      this.expectPunct(',', ', or }');
      if (this.isPunct('}')) break;
      const key = this.parseInfix(false);
      this.expectPunct(':');
      entries.push({ key, value: this.parseInfix(false) });
    }
    this.next();
    return { type: 'object', entries, location };
  }

  /** OPA accepts (for backwards compatibility) a leading comma, `[, x]`; such a collection is never a comprehension. */
  private skipLeadingComma(): boolean {
    if (!this.isPunct(',')) return true;
    this.next();
    return false;
  }

  /**
   * At `|` after a collection's first term: the comprehension body (consuming `end`), or null (position restored to
   * the `|`) when no body parses up to `end`. Like OPA, a failed array/set body only falls back to a plain collection
   * when parsing stopped at a `,` (`[x | y, 5]`); any other failure is the body's error.
   */
  private tryComprehensionBody(end: string, object = false): Body | null {
    const saved = this.pos;
    const depth = this.depth;
    try {
      this.next();
      return this.parseBody(end);
    } catch (e) {
      if (!(e instanceof RegoParseError)) throw e;
      if (!object && !this.isPunct(',')) throw e;
      this.pos = saved;
      this.depth = depth;
      return null;
    }
  }

  /** Expects a var token (not a keyword) and returns it as a term. */
  protected parseVar(): VarTerm {
    const t = this.peek();
    if (t.kind !== 'ident' || this.keywords.has(t.text)) this.unexpected(t, 'var');
    this.next();
    return { type: 'var', name: t.text, location: this.loc(t) };
  }
}
