/**
 * Glob host built-ins with OPA's semantics: OPA compiles `glob.match` patterns with github.com/gobwas/glob (v1),
 * whose syntax is re-implemented here (lexer rules included) and compiled to an anchored JS RegExp.
 *
 * gobwas/glob syntax: `*` = any run of non-separator characters, `**` = any run of characters, `?` = one
 * non-separator character, `[abc]` / `[!abc]` = one character in / not in the set, `[a-z]` / `[!a-z]` = a range
 * (a class is either one set or one range, never both), `{p1,p2}` = alternatives (nestable), `\c` = literal `c`.
 * `,` and `}` are plain text outside `{…}`; `]` is plain text outside `[…]`.
 */
import { BuiltinError, BuiltinTypeError, type HostCatalogue, type HostValue } from './types.js';
import { BoundedCache, opaTypeName, stringOperand as str } from './regex.js';

/** A code point as a JS RegExp atom (`u` flag): always escaped, so no character is ever a meta character. */
function cp(c: number): string {
  return `\\u{${c.toString(16)}}`;
}

/** `[^seps]` or any character: what `?` and one step of `*` may consume (separators are never crossed). */
function nonSep(seps: readonly number[]): string {
  return seps.length === 0 ? '[\\s\\S]' : `[^${seps.map(cp).join('')}]`;
}

class GlobSyntaxError extends BuiltinError {}

/** A recursive-descent translation of gobwas/glob's lexer + parser (syntax/lexer.go, parse.go). */
class GlobCompiler {
  private pos = 0;
  private readonly chars: number[];
  /** Depth of `{` groups: inside one, `,` and `}` are operators (gobwas `inTerms`). */
  private depth = 0;

  constructor(pattern: string, private readonly seps: readonly number[]) {
    this.chars = Array.from(pattern, (ch) => ch.codePointAt(0) ?? 0);
  }

  compile(): string {
    const body = this.sequence();
    if (this.pos < this.chars.length) throw new GlobSyntaxError(`unexpected \`${String.fromCodePoint(this.peek())}\``);
    return `^(?:${body})$`;
  }

  private peek(): number {
    return this.chars[this.pos] ?? -1;
  }

  private isOp(c: number): boolean {
    if (c === 0x2a || c === 0x3f || c === 0x5b || c === 0x7b) return true; // * ? [ {
    return this.depth > 0 && (c === 0x2c || c === 0x7d); // , } only inside a group
  }

  /** A sequence of terms up to the end, or (inside a group) up to `,` / `}`. */
  private sequence(): string {
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === -1 || (this.depth > 0 && (c === 0x2c || c === 0x7d))) return out;
      out += this.term();
    }
  }

  private term(): string {
    const c = this.peek();
    if (c === 0x2a) return this.star();
    if (c === 0x3f) {
      this.pos++;
      return nonSep(this.seps);
    }
    if (c === 0x5b) return this.charClass();
    if (c === 0x7b) return this.group();
    return this.text((x) => this.isOp(x));
  }

  private star(): string {
    this.pos++;
    if (this.peek() === 0x2a) {
      this.pos++;
      return '[\\s\\S]*'; // `**` crosses separators
    }
    return `${nonSep(this.seps)}*`;
  }

  /** Literal text with `\` escapes (gobwas fetchText); a trailing lone backslash is an error. */
  private text(isBreaker: (c: number) => boolean): string {
    let out = '';
    while (this.pos < this.chars.length) {
      let c = this.peek();
      if (c === 0x5c) {
        this.pos++;
        if (this.pos >= this.chars.length) throw new GlobSyntaxError('trailing backslash');
        c = this.peek();
      } else if (isBreaker(c)) {
        break;
      }
      out += cp(c);
      this.pos++;
    }
    return out;
  }

  private group(): string {
    this.pos++;
    // gobwas parses with an explicit stack; bound the nesting so the recursion here stays off the stack limit
    if (++this.depth > 1000) throw new GlobSyntaxError('pattern nests too deeply');
    const alts = [this.sequence()];
    while (this.peek() === 0x2c) {
      this.pos++;
      alts.push(this.sequence());
    }
    if (this.peek() !== 0x7d) throw new GlobSyntaxError('unclosed `{`');
    this.pos++;
    this.depth--;
    return `(?:${alts.join('|')})`;
  }

  /** `[` [`!`] (chars | lo `-` hi) `]`, as gobwas fetchRange + parseRange read it. */
  private charClass(): string {
    this.pos++;
    let not = false;
    if (this.peek() === 0x21) {
      not = true;
      this.pos++;
    }
    const first = this.peek();
    if (first === -1) throw new GlobSyntaxError('unexpected end of input');
    let body: string;
    if (this.chars[this.pos + 1] === 0x2d) {
      // lo `-` hi: both taken verbatim (no escapes), hi may even be `]`
      const hi = this.chars[this.pos + 2];
      if (hi === undefined) throw new GlobSyntaxError('unexpected end of input');
      if (hi < first) throw new GlobSyntaxError('range hi character is less than lo');
      this.pos += 3;
      body = `${cp(first)}-${cp(hi)}`;
    } else {
      const start = this.pos;
      const chars = this.text((c) => c === 0x5d);
      if (this.pos === start && this.peek() === 0x5d) throw new GlobSyntaxError('could not parse range');
      body = chars;
    }
    const close = this.peek();
    if (close === -1) throw new GlobSyntaxError('unexpected end of input');
    if (close !== 0x5d) throw new GlobSyntaxError('expected close range character');
    this.pos++;
    return `[${not ? '^' : ''}${body}]`;
  }
}

const globCache = new BoundedCache<RegExp>(1000);

/** Compiles (cached) a gobwas/glob pattern with the given separators. */
export function compileGlob(pattern: string, seps: readonly number[]): RegExp {
  const key = `${seps.join(',')}\u0000${pattern}`;
  return globCache.get(key, () => new RegExp(new GlobCompiler(pattern, seps).compile(), 'u'));
}

/**
 * OPA's delimiters operand: null = no separators; [] = the default ["."]; each element must be a string, and
 * one that is not exactly one character becomes U+0000 (OPA's RuneSliceOperand leaves the rune zero).
 */
function delimiters(v: HostValue): number[] {
  if (v === null) return [];
  if (!Array.isArray(v)) throw new BuiltinTypeError(`operand 2 must be one of {array, null} but got ${opaTypeName(v)}`);
  if (v.length === 0) return [0x2e];
  return v.map((d) => {
    if (typeof d !== 'string') throw new BuiltinTypeError(`operand 2 must be array of strings but got array containing ${opaTypeName(d)}`);
    const runes = Array.from(d);
    return runes.length === 1 ? (runes[0]?.codePointAt(0) ?? 0) : 0;
  });
}

/** gobwas/glob QuoteMeta: backslash before each of `* ? \ [ ] { }`. */
export function globQuoteMeta(s: string): string {
  return s.replace(/[*?\\[\]{}]/g, (c) => `\\${c}`);
}

export const GLOB_BUILTINS: HostCatalogue = {
  'glob.match': {
    args: [['string'], ['array', 'null'], ['string']],
    impl: ([pattern, delims, match]) => {
      const re = compileGlob(str(pattern, 1), delimiters(delims ?? null));
      return re.test(str(match, 3));
    },
  },
  'glob.quote_meta': {
    args: [['string']],
    impl: ([s]) => globQuoteMeta(str(s, 1)),
  },
};
