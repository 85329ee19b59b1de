/**
 * Rego scanner. Mirrors OPA's ast/internal/scanner: identifiers, numbers, JSON strings, backtick raw strings, `#`
 * comments and the operator set of the grammar
 * (https://www.openpolicyagent.org/docs/policy-reference/#grammar). Whitespace is not a token; instead each token
 * records whether whitespace / a newline preceded it, because Rego gives both meaning: newlines separate body
 * expressions, and ref/call continuations (`a.b`, `a[0]`, `f(x)`) must be adjacent (OPA's parseTermFinish).
 */
import { RegoParseError } from './errors.js';
import type { Location } from './ast.js';

export type TokenKind = 'ident' | 'number' | 'string' | 'punct' | 'eof';

export interface Token {
  kind: TokenKind;
  /** Source text (for strings: including quotes). */
  text: string;
  /** Decoded value of string tokens. */
  value?: string;
  raw?: boolean;
  row: number;
  col: number;
  wsBefore: boolean;
  nlBefore: boolean;
}

export interface CommentToken { text: string; row: number; col: number }

// Longest first so `:=` wins over `:`.
const PUNCT = [':=', '==', '!=', '<=', '>=', '{', '}', '[', ']', '(', ')', '.', ',', ';', ':', '=', '<', '>', '+', '-', '*', '/', '%', '&', '|'];

const isIdentStart = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isIdentPart = (c: string): boolean => isIdentStart(c) || isDigit(c);

/** OPA's token display names for error messages (ast/internal/tokens). */
export function describe(tok: Token): string {
  if (tok.kind === 'eof') return 'eof';
  if (tok.kind === 'number' || tok.kind === 'string') return tok.kind;
  if (tok.kind === 'ident') return KEYWORD_NAMES.has(tok.text) ? tok.text : 'ident';
  return tok.text;
}
const KEYWORD_NAMES = new Set(['package', 'import', 'as', 'default', 'else', 'not', 'some', 'with', 'null', 'true', 'false', 'if', 'in', 'every', 'contains']);

export function tokenize(src: string, file: string, comments?: CommentToken[]): Token[] {
  const toks: Token[] = [];
  let i = 0;
  let row = 1;
  let lineStart = 0;
  const loc = (at: number): Location => ({ file, row, col: at - lineStart + 1 });
  const fail = (msg: string, at: number): never => {
    throw new RegoParseError(msg, loc(at));
  };
  while (true) {
    let ws = false;
    let nl = false;
    // Skip whitespace and comments.
    for (;;) {
      const c = src[i];
      if (c === '\n') {
        i++;
        row++;
        lineStart = i;
        ws = nl = true;
      } else if (c === ' ' || c === '\t' || c === '\r') {
        i++;
        ws = true;
      } else if (c === '#') {
        const start = i;
        while (i < src.length && src[i] !== '\n') i++;
        comments?.push({ text: src.slice(start + 1, i), row, col: start - lineStart + 1 });
        ws = true;
      } else break;
    }
    const start = i;
    const col = start - lineStart + 1;
    const push = (kind: TokenKind, text: string, extra?: Partial<Token>): void => {
      toks.push({ kind, text, row, col, wsBefore: ws, nlBefore: nl, ...extra });
    };
    if (i >= src.length) {
      push('eof', '');
      return toks;
    }
    const c = src[i] as string;
    if (isIdentStart(c)) {
      while (i < src.length && isIdentPart(src[i] as string)) i++;
      push('ident', src.slice(start, i));
    } else if (isDigit(c)) {
      i = scanNumber(src, i, fail);
      push('number', src.slice(start, i));
    } else if (c === '"') {
      const r = scanString(src, i, fail);
      i = r.end;
      push('string', src.slice(start, i), { value: r.value });
    } else if (c === '`') {
      const end = src.indexOf('`', i + 1);
      if (end < 0) fail('non-terminated raw string', start);
      const text = src.slice(start, end + 1);
      push('string', text, { value: text.slice(1, -1), raw: true });
      // Raw strings may span lines: keep row/col bookkeeping right for the tokens after it.
      for (let j = start; j <= end; j++) {
        if (src[j] === '\n') {
          row++;
          lineStart = j + 1;
        }
      }
      i = end + 1;
    } else {
      const p = PUNCT.find((op) => src.startsWith(op, i));
      if (p === undefined) fail(`illegal token`, start);
      i += (p as string).length;
      push('punct', p as string);
    }
  }
}

/** JSON number syntax: int [frac] [exp]. OPA's scanner accepts the same (a leading `-` is the parser's job). */
function scanNumber(src: string, i: number, fail: (m: string, at: number) => never): number {
  const start = i;
  while (isDigit(src[i] ?? '')) i++;
  if (src[i] === '.' && isDigit(src[i + 1] ?? '')) {
    i++;
    while (isDigit(src[i] ?? '')) i++;
  }
  if (src[i] === 'e' || src[i] === 'E') {
    let j = i + 1;
    if (src[j] === '+' || src[j] === '-') j++;
    if (!isDigit(src[j] ?? '')) fail('illegal number format', start);
    i = j;
    while (isDigit(src[i] ?? '')) i++;
  }
  // `1a`/`01` are not numbers (OPA: "illegal number format").
  if (isIdentStart(src[i] ?? '') || (src[start] === '0' && i - start > 1 && isDigit(src[start + 1] ?? ''))) {
    fail('illegal number format', start);
  }
  return i;
}

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

function scanString(src: string, i: number, fail: (m: string, at: number) => never): { end: number; value: string } {
  const start = i;
  i++;
  let out = '';
  for (;;) {
    const c = src[i];
    if (c === undefined || c === '\n') return fail('non-terminated string', start);
    if (c === '"') return { end: i + 1, value: out };
    if (c === '\\') {
      const e = src[i + 1] ?? '';
      if (e === 'u') {
        const hex = src.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('illegal escape sequence', i);
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
        continue;
      }
      const v = ESCAPES[e];
      if (v === undefined) fail('illegal escape sequence', i);
      out += v;
      i += 2;
      continue;
    }
    out += c;
    i++;
  }
}
