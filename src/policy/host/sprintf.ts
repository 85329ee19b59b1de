/**
 * `sprintf` with Go `fmt` semantics as OPA applies them to Rego values (topdown/strings.go): strings are passed as Go
 * strings, numbers as Go integers (`int`, or `*big.Int` past int64) or `float64`, and every other value as the text
 * OPA prints for it (so `%d` of `true` is `%!d(string=true)`). A float verb (`%e %f %g`) formats an integral number as
 * a float, as OPA's conformance cases expect (`sprintf("%.1f", [13])` is `13.0`). It is set-aware so that a set
 * argument prints as OPA prints sets (`{1, 2}`, `set()`).
 */
import { BuiltinError, RegoMap, RegoSet, type HostCatalogue, type RegoValue } from './types.js';

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** One argument as Go's fmt sees it. */
type GoArg =
  | { kind: 'int'; v: bigint; big: boolean }
  | { kind: 'float'; v: number }
  | { kind: 'string'; v: string };

/** A parsed directive's flags, width and precision (Go's fmt.fmt state). */
interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  wid?: number;
  prec?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Rego value text (ast.Value.String()), used for non-string, non-number arguments and reused by other built-ins.

/** Code-point order, which is Go's byte order of UTF-8 strings (UTF-16 code-unit order differs past U+FFFF). */
export function compareGoStrings(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

/** Go's strconv.Quote (QuoteToASCII when `ascii`). */
export function goQuote(s: string, ascii = false): string {
  let out = '"';
  for (const ch of s) out += quoteRune(ch, '"', ascii);
  return out + '"';
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

function quoteRune(ch: string, quote: string, ascii = false): string {
  if (ch === quote || ch === '\\') return '\\' + ch;
  const cp = ch.codePointAt(0)!;
  if (PRINTABLE.test(ch) && (!ascii || cp < 0x80)) return ch;
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };
  if (named[cp] !== undefined) return named[cp]!;
  if (cp < 0x20 || cp === 0x7f) return '\\x' + cp.toString(16).padStart(2, '0');
  if (cp >= 0xd800 && cp <= 0xdfff) return '\\ufffd'; // a lone surrogate is invalid UTF-8 for Go
  if (cp < 0x10000) return '\\u' + cp.toString(16).padStart(4, '0');
  return '\\U' + cp.toString(16).padStart(8, '0');
}

/** How OPA prints a Rego value (ast.Value.String()): object keys and set members in OPA's sort order. */
export function regoString(v: RegoValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'number') return numberText(v);
  if (typeof v === 'string') return goQuote(v);
  if (Array.isArray(v)) return '[' + v.map(regoString).join(', ') + ']';
  if (v instanceof RegoSet) return v.items.length === 0 ? 'set()' : '{' + [...v.items].sort(compareRego).map(regoString).join(', ') + '}';
  if (v instanceof RegoMap) return '{' + [...v.entries].sort((a, b) => compareRego(a[0], b[0])).map(([k, x]) => `${regoString(k)}: ${regoString(x)}`).join(', ') + '}';
  const keys = Object.keys(v).sort(compareGoStrings);
  return '{' + keys.map((k) => `${goQuote(k)}: ${regoString(v[k]!)}`).join(', ') + '}';
}

function kindRank(v: RegoValue): number {
  if (v === null) return 0;
  if (typeof v === 'boolean') return 1;
  if (typeof v === 'number' || typeof v === 'bigint') return 2;
  if (typeof v === 'string') return 3;
  if (Array.isArray(v)) return 4;
  return v instanceof RegoSet ? 6 : 5;
}

function compareSeq(a: RegoValue[], b: RegoValue[]): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const c = compareRego(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function compareNumbers(a: number | bigint, b: number | bigint): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  // a bigint is beyond 2^53, so its sign decides against any double of smaller magnitude
  const [x, y] = [Number(a), Number(b)];
  if (x !== y) return x < y ? -1 : 1;
  const big = typeof a === 'bigint' ? a : (b as bigint);
  const dbl = typeof a === 'number' ? a : (b as number);
  const d = Number.isInteger(dbl) ? BigInt(dbl) : undefined;
  const c = d === undefined ? 0 : big < d ? -1 : big > d ? 1 : 0;
  return typeof a === 'bigint' ? c : -c;
}

/** OPA's ast.Compare: null < booleans < numbers < strings < arrays < objects < sets. */
export function compareRego(a: RegoValue, b: RegoValue): number {
  const ka = kindRank(a);
  const kb = kindRank(b);
  if (ka !== kb) return ka - kb;
  if (typeof a === 'boolean') return Number(a) - Number(b as boolean);
  if (typeof a === 'number' || typeof a === 'bigint') return compareNumbers(a, b as number | bigint);
  if (typeof a === 'string') return compareGoStrings(a, b as string);
  if (Array.isArray(a)) return compareSeq(a, b as RegoValue[]);
  if (a instanceof RegoSet) return compareSeq([...a.items].sort(compareRego), [...(b as RegoSet).items].sort(compareRego));
  if (a === null) return 0;
  if (a instanceof RegoMap || b instanceof RegoMap) {
    // objects compare by their sorted (key, value) pairs
    const pairs = (o: RegoValue): RegoValue[] => (o instanceof RegoMap ? o.entries : Object.entries(o as { [key: string]: RegoValue }))
      .slice().sort((x, y) => compareRego(x[0], y[0])).map(([k, v]) => [k, v]);
    return compareSeq(pairs(a), pairs(b));
  }
  const ob = b as { [key: string]: RegoValue };
  const ak = Object.keys(a).sort(compareGoStrings);
  const bk = Object.keys(ob).sort(compareGoStrings);
  for (let i = 0; i < ak.length && i < bk.length; i++) {
    const c = compareGoStrings(ak[i]!, bk[i]!) || compareRego(a[ak[i]!]!, ob[bk[i]!]!);
    if (c !== 0) return c;
  }
  return ak.length - bk.length;
}

/** JSON-style number text (the module hands numbers over as JSON, which is the text OPA keeps). */
function numberText(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return BigInt(n).toString();
  return String(n);
}

// ---------------------------------------------------------------------------------------------------------------
// Exact decimal digits of a double and Go's rounding (strconv's decimal type: digits without trailing zeros, and the
// decimal point after `dp` digits).

interface Digits { d: string; dp: number }

function exactDigits(x: number): Digits {
  if (x === 0) return { d: '', dp: 0 };
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, Math.abs(x));
  const bits = buf.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e2: number;
  if (exp === 0) e2 = -1074;
  else { mant |= 1n << 52n; e2 = exp - 1075; }
  let s: string;
  let dp: number;
  if (e2 >= 0) { s = (mant << BigInt(e2)).toString(); dp = s.length; }
  else {
    // mant / 2^-e2 = mant * 5^-e2 / 10^-e2
    s = (mant * 5n ** BigInt(-e2)).toString();
    dp = s.length - -e2;
  }
  return trimDigits(s, dp);
}

function trimDigits(s: string, dp: number): Digits {
  let start = 0;
  while (start < s.length && s[start] === '0') { start++; dp--; }
  let end = s.length;
  while (end > start && s[end - 1] === '0') end--;
  const d = s.slice(start, end);
  return { d, dp: d === '' ? 0 : dp };
}

/** Rounds to `nd` digits like strconv's decimal.Round: an exact half rounds to even. */
function roundDigits(x: Digits, nd: number): Digits {
  if (nd < 0 || nd >= x.d.length) return nd < 0 ? { d: '', dp: 0 } : x;
  const c = x.d.charCodeAt(nd) - 48;
  const up = c > 5 || (c === 5 && (nd + 1 < x.d.length || (nd > 0 && (x.d.charCodeAt(nd - 1) - 48) % 2 === 1)));
  if (!up) return trimDigits(x.d.slice(0, nd), x.dp);
  const digits = x.d.slice(0, nd).split('').map(Number);
  let i = nd - 1;
  while (i >= 0 && digits[i] === 9) { digits[i] = 0; i--; }
  if (i < 0) return { d: '1', dp: x.dp + 1 };
  digits[i]! += 1;
  return trimDigits(digits.join(''), x.dp);
}

/** The shortest digits that read back as `x` (what JS and Go both print by default). */
function shortestDigits(x: number): Digits {
  if (x === 0) return { d: '', dp: 0 };
  const [m, e] = Math.abs(x).toExponential().split('e') as [string, string];
  return trimDigits(m.replace('.', ''), Number(e) + 1);
}

function digitAt(x: Digits, i: number): string {
  return i >= 0 && i < x.d.length ? x.d[i]! : '0';
}

function fmtE(x: Digits, prec: number, e: string): string {
  let s = digitAt(x, 0);
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) s += digitAt(x, i);
  }
  const exp = x.d === '' ? 0 : x.dp - 1;
  const ae = Math.abs(exp);
  return s + e + (exp < 0 ? '-' : '+') + (ae < 10 ? '0' : '') + ae;
}

function fmtF(x: Digits, prec: number): string {
  let s = '';
  if (x.dp > 0) for (let i = 0; i < x.dp; i++) s += digitAt(x, i);
  else s = '0';
  if (prec > 0) {
    s += '.';
    for (let i = 0; i < prec; i++) s += digitAt(x, x.dp + i);
  }
  return s;
}

/** strconv.FormatFloat(abs(x), verb, prec, 64) without the sign; prec -1 is the shortest representation. */
function formatFloatAbs(x: number, verb: string, prec: number): string {
  const shortest = prec < 0;
  let digs: Digits;
  if (shortest) digs = shortestDigits(x);
  else {
    const exact = exactDigits(x);
    if (verb === 'e' || verb === 'E') digs = roundDigits(exact, prec + 1);
    else if (verb === 'f' || verb === 'F') digs = roundDigits(exact, exact.dp + prec);
    else digs = roundDigits(exact, prec === 0 ? 1 : prec);
  }
  const lower = verb.toLowerCase();
  if (lower === 'e') return fmtE(digs, shortest ? Math.max(digs.d.length - 1, 0) : prec, verb);
  if (lower === 'f') return fmtF(digs, shortest ? Math.max(digs.d.length - digs.dp, 0) : prec);
  // %g
  let p = shortest ? digs.d.length : prec === 0 ? 1 : prec;
  let eprec = p;
  if (eprec > digs.d.length && digs.d.length >= digs.dp) eprec = digs.d.length;
  if (shortest) eprec = 6;
  const exp = digs.dp - 1;
  if (digs.d !== '' && (exp < -4 || exp >= eprec)) {
    if (p > digs.d.length) p = digs.d.length;
    return fmtE(digs, Math.max(p - 1, 0), verb === 'G' ? 'E' : 'e');
  }
  if (p > digs.dp) p = digs.d.length;
  return fmtF(digs, Math.max(p - digs.dp, 0));
}

// ---------------------------------------------------------------------------------------------------------------
// Padding and per-kind formatting (Go's fmt.fmt methods).

function runeLen(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pad(s: string, sp: Spec, zeroOk = true): string {
  const w = sp.wid ?? 0;
  const n = runeLen(s);
  if (n >= w) return s;
  if (sp.minus) return s + ' '.repeat(w - n);
  return (sp.zero && zeroOk ? '0' : ' ').repeat(w - n) + s;
}

function fmtInteger(v: bigint, verb: string, sp: Spec): string {
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const base = verb === 'b' ? 2 : verb === 'o' || verb === 'O' ? 8 : verb === 'x' || verb === 'X' ? 16 : 10;
  let digits = abs.toString(base);
  if (verb === 'X') digits = digits.toUpperCase();
  if (sp.prec !== undefined) {
    if (sp.prec === 0 && v === 0n) digits = '';
    digits = digits.padStart(sp.prec, '0');
  }
  let prefix = '';
  if (sp.sharp) {
    if (verb === 'b') prefix = '0b';
    else if (verb === 'o' && digits[0] !== '0') prefix = '0';
    else if (verb === 'x') prefix = '0x';
    else if (verb === 'X') prefix = '0X';
  }
  if (verb === 'O') prefix = '0o';
  const sign = neg ? '-' : sp.plus ? '+' : sp.space ? ' ' : '';
  // zero padding goes between the sign/prefix and the digits, and only without a precision or '-'
  if (sp.zero && !sp.minus && sp.prec === undefined && sp.wid !== undefined) {
    const body = prefix + digits;
    const n = sign.length + body.length;
    if (n < sp.wid) return sign + prefix + '0'.repeat(sp.wid - n) + digits;
  }
  return pad(sign + prefix + digits, sp, false);
}

function fmtFloat(v: number, verb: string, sp: Spec, defPrec: number): string {
  const prec = sp.prec ?? defPrec;
  const g = verb === 'v' ? 'g' : verb;
  let num: string;
  if (Number.isNaN(v)) num = 'NaN';
  else if (!Number.isFinite(v)) num = 'Inf';
  else num = formatFloatAbs(Math.abs(v), g, prec);
  if (sp.sharp && !/^[IN]/.test(num)) num = sharpFloat(num, g, prec);
  const negative = v < 0 || Object.is(v, -0);
  const sign = negative ? '-' : sp.plus ? '+' : sp.space ? ' ' : '';
  if (Number.isNaN(v)) return pad((sp.plus ? '+' : sp.space ? ' ' : '') + num, sp, false);
  if (!Number.isFinite(v)) return pad(sign + num, sp, false);
  if (sp.zero && !sp.minus && sp.wid !== undefined && sign.length + num.length < sp.wid) {
    return sign + '0'.repeat(sp.wid - sign.length - num.length) + num;
  }
  return pad(sign + num, sp, false);
}

/** '#' keeps the decimal point, and for %g the trailing zeros up to the precision. */
function sharpFloat(num: string, verb: string, prec: number): string {
  const ePos = num.search(/[eE]/);
  let mant = ePos >= 0 ? num.slice(0, ePos) : num;
  const tail = ePos >= 0 ? num.slice(ePos) : '';
  if (!mant.includes('.')) mant += '.';
  if (verb === 'g' || verb === 'G') {
    const want = prec < 0 ? 6 : prec === 0 ? 1 : prec;
    const sig = mant.replace('.', '').replace(/^0+/, '').length || 1;
    if (sig < want) mant += '0'.repeat(want - sig);
  }
  return mant + tail;
}

function fmtString(s: string, verb: string, sp: Spec): string | undefined {
  let str = s;
  if (sp.prec !== undefined && (verb === 's' || verb === 'v' || verb === 'q')) str = [...str].slice(0, sp.prec).join('');
  switch (verb) {
    case 's':
    case 'v':
      return pad(str, sp);
    case 'q':
      return pad(sp.sharp && canBackquote(str) ? '`' + str + '`' : goQuote(str, sp.plus), sp);
    case 'x':
    case 'X':
      return pad(hexBytes(s, verb, sp), sp);
    default:
      return undefined;
  }
}

function canBackquote(s: string): boolean {
  return !/[`\u0000-\u0008\u000a-\u001f\u007f\ufeff]/.test(s);
}

function hexBytes(s: string, verb: string, sp: Spec): string {
  let bytes = [...Buffer.from(s, 'utf8')];
  if (sp.prec !== undefined) bytes = bytes.slice(0, sp.prec);
  const prefix = sp.sharp ? (verb === 'x' ? '0x' : '0X') : '';
  const parts = bytes.map((b) => {
    const h = b.toString(16).padStart(2, '0');
    return verb === 'X' ? h.toUpperCase() : h;
  });
  if (sp.space) return parts.map((p) => prefix + p).join(' ');
  return parts.length === 0 ? '' : prefix + parts.join('');
}

function fmtRune(v: bigint, verb: string, sp: Spec): string {
  const cp = v >= 0n && v <= 0x10ffffn && !(v >= 0xd800n && v <= 0xdfffn) ? Number(v) : 0xfffd;
  const ch = String.fromCodePoint(cp);
  if (verb === 'c') return pad(ch, sp);
  if (verb === 'q') return pad("'" + (sp.sharp && PRINTABLE.test(ch) && ch !== "'" ? ch : quoteRune(ch, "'")) + "'", sp);
  // %U
  let s = 'U+' + (v < 0n ? 'FFFD' : v.toString(16).toUpperCase().padStart(sp.prec ?? 4, '0'));
  if (sp.sharp && PRINTABLE.test(ch)) s += " '" + ch + "'";
  return pad(s, sp);
}

// ---------------------------------------------------------------------------------------------------------------
// One argument under one verb.

const FLOAT_VERBS = 'eEfFgG';

function typeName(a: GoArg): string {
  if (a.kind === 'int') return a.big ? 'big.Int' : 'int';
  return a.kind === 'float' ? 'float64' : 'string';
}

function plainValue(a: GoArg): string {
  if (a.kind === 'int') return a.v.toString();
  if (a.kind === 'float') return fmtFloat(a.v, 'g', { minus: false, plus: false, sharp: false, space: false, zero: false }, -1);
  return a.v;
}

function badVerb(verb: string, a: GoArg): string {
  return `%!${verb}(${typeName(a)}=${plainValue(a)})`;
}

function formatArg(a: GoArg, verb: string, spec: Spec): string {
  if (verb === 'T') return pad(a.kind === 'int' && a.big ? '*big.Int' : typeName(a), spec);
  // for %v, '+' and '#' select struct-field and Go syntax instead of a sign and a prefix; %#v quotes a string
  const sp = verb === 'v' ? { ...spec, plus: false, sharp: false } : spec;
  if (verb === 'v' && spec.sharp && a.kind === 'string') return pad(goQuote(a.v), sp);
  if (a.kind === 'string') return fmtString(a.v, verb, sp) ?? badVerb(verb, a);
  if (a.kind === 'int' && FLOAT_VERBS.includes(verb)) return fmtFloat(Number(a.v), verb, sp, verb === 'g' || verb === 'G' ? -1 : 6);
  if (a.kind === 'int') {
    if ('bdoOxXv'.includes(verb)) return fmtInteger(a.v, verb === 'v' ? 'd' : verb, sp);
    if (a.big) return verb === 's' ? fmtInteger(a.v, 'd', sp) : badVerb(verb, a);
    if ('cqU'.includes(verb)) return fmtRune(a.v, verb, sp);
    return badVerb(verb, a);
  }
  if (verb === 'v') return fmtFloat(a.v, 'g', sp, -1);
  if (FLOAT_VERBS.includes(verb)) return fmtFloat(a.v, verb, sp, verb === 'g' || verb === 'G' ? -1 : 6);
  if (verb === 'x' || verb === 'X') return pad(hexFloat(a.v, verb, sp.prec), sp);
  return badVerb(verb, a);
}

/** Go's %x of a float64: -0x1.8p+01 style (shortest mantissa unless a precision is given). */
function hexFloat(v: number, verb: string, prec: number | undefined): string {
  const sign = v < 0 ? '-' : '';
  const x = Math.abs(v);
  if (x === 0) return sign + '0x0' + (prec ? '.' + '0'.repeat(prec) : '') + 'p+00';
  let exp = Math.floor(Math.log2(x));
  if (2 ** exp > x) exp--;
  if (2 ** (exp + 1) <= x) exp++;
  const mant = BigInt(Math.round((x / 2 ** exp) * 2 ** 52)) & ((1n << 52n) - 1n); // 52 fraction bits
  let frac = mant.toString(16).padStart(13, '0');
  if (prec === undefined) frac = frac.replace(/0+$/, '');
  else if (prec < 13) {
    const shift = BigInt((13 - prec) * 4);
    let r = (mant + (1n << (shift - 1n))) >> shift; // round half up (good enough for a rarely used verb)
    if (r >> BigInt(prec * 4) > 0n) { r = 0n; exp++; }
    frac = prec === 0 ? '' : r.toString(16).padStart(prec, '0');
  } else frac = frac.padEnd(prec, '0');
  const ae = Math.abs(exp);
  let s = sign + '0x1' + (frac ? '.' + frac : '') + 'p' + (exp < 0 ? '-' : '+') + (ae < 10 ? '0' : '') + ae;
  if (verb === 'X') s = s.toUpperCase();
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// The format string (Go's doPrintf).

function toGoArg(v: RegoValue): GoArg {
  if (typeof v === 'bigint') return { kind: 'int', v, big: v < INT64_MIN || v > INT64_MAX };
  if (typeof v === 'number') return Number.isInteger(v) ? { kind: 'int', v: BigInt(v), big: false } : { kind: 'float', v };
  if (typeof v === 'string') return { kind: 'string', v };
  return { kind: 'string', v: regoString(v) };
}

class Printer {
  out = '';
  i = 0;
  argNum = 0;
  reordered = false;
  constructor(private readonly f: string, private readonly args: GoArg[]) {}

  run(): string {
    const f = this.f;
    while (this.i < f.length) {
      const pct = f.indexOf('%', this.i);
      if (pct < 0) { this.out += f.slice(this.i); break; }
      this.out += f.slice(this.i, pct);
      this.i = pct + 1;
      this.directive();
    }
    if (!this.reordered && this.argNum < this.args.length) {
      this.out += '%!(EXTRA ' + this.args.slice(this.argNum).map((a) => `${typeName(a)}=${plainValue(a)}`).join(', ') + ')';
    }
    return this.out;
  }

  /**
   * An explicit `[n]` selects the argument of this directive only: the next implicit directive still takes the
   * argument after the last implicit one (OPA's conformance cases: `%.3[1]f %d %v` of [13, "hello!"] is
   * `13.000 13 hello!`).
   */
  private index(): { idx?: number; bad: boolean; found: boolean } {
    const f = this.f;
    if (f[this.i] !== '[') return { bad: false, found: false };
    this.reordered = true;
    const close = f.indexOf(']', this.i + 1);
    if (close < 0) { this.i = f.length; return { bad: true, found: false }; }
    const text = f.slice(this.i + 1, close);
    this.i = close + 1;
    if (!/^[0-9]+$/.test(text)) return { bad: true, found: false };
    const n = Number(text) - 1;
    if (n < 0 || n >= this.args.length) return { bad: true, found: true };
    return { idx: n, bad: false, found: true };
  }

  private num(): number | undefined {
    const m = /^[0-9]+/.exec(this.f.slice(this.i));
    if (!m) return undefined;
    this.i += m[0].length;
    return Math.min(Number(m[0]), 1e6);
  }

  private takeArg(explicit: number | undefined): GoArg | undefined {
    if (explicit !== undefined) return this.args[explicit];
    if (this.argNum >= this.args.length) return undefined;
    return this.args[this.argNum++];
  }

  private intArg(explicit: number | undefined): number | undefined {
    const a = this.takeArg(explicit);
    if (a?.kind !== 'int' || a.big || a.v > 1000000n || a.v < -1000000n) return undefined;
    return Number(a.v);
  }

  private directive(): void {
    const f = this.f;
    const sp: Spec = { minus: false, plus: false, sharp: false, space: false, zero: false };
    for (; this.i < f.length; this.i++) {
      const c = f[this.i];
      if (c === '#') sp.sharp = true;
      else if (c === '0') sp.zero = true;
      else if (c === '+') sp.plus = true;
      else if (c === '-') sp.minus = true;
      else if (c === ' ') sp.space = true;
      else break;
    }
    let bad = false;
    let ix = this.index();
    bad ||= ix.bad;
    let explicit = ix.idx;
    if (f[this.i] === '*') {
      this.i++;
      const w = this.intArg(explicit);
      explicit = undefined;
      if (w === undefined) this.out += '%!(BADWIDTH)';
      else if (w < 0) { sp.minus = true; sp.wid = -w; } else sp.wid = w;
      ix = { bad: false, found: false };
    } else {
      sp.wid = this.num();
      if (ix.found && sp.wid !== undefined) bad = true;
    }
    if (f[this.i] === '.') {
      this.i++;
      if (ix.found) bad = true;
      ix = this.index();
      bad ||= ix.bad;
      if (ix.found) explicit = ix.idx;
      if (f[this.i] === '*') {
        this.i++;
        const p = this.intArg(explicit);
        explicit = undefined;
        if (p === undefined || p < 0) this.out += '%!(BADPREC)';
        else sp.prec = p;
        ix = { bad: false, found: false };
      } else sp.prec = this.num() ?? 0;
    }
    if (!ix.found) {
      ix = this.index();
      bad ||= ix.bad;
      if (ix.found) explicit = ix.idx;
    }
    if (this.i >= f.length) { this.out += '%!(NOVERB)'; return; }
    const verb = String.fromCodePoint(f.codePointAt(this.i)!);
    this.i += verb.length;
    if (sp.minus) sp.zero = false;
    if (verb === '%') { this.out += '%'; return; }
    if (bad) { this.out += `%!${verb}(BADINDEX)`; return; }
    const arg = this.takeArg(explicit);
    if (arg === undefined) { this.out += `%!${verb}(MISSING)`; return; }
    this.out += formatArg(arg, verb, sp);
  }
}

export function goSprintf(format: string, values: RegoValue[]): string {
  return new Printer(format, values.map(toGoArg)).run();
}

export const SPRINTF_BUILTINS: HostCatalogue = {
  sprintf: {
    args: [['string'], ['array']],
    sets: true,
    maps: true,
    impl: ([format, values]) => {
      if (typeof format !== 'string' || !Array.isArray(values)) throw new BuiltinError('operands must be a string and an array');
      return goSprintf(format, values);
    },
  },
};

/** Go's strconv.FormatFloat(x, 'g', -1, 64) (what `%v` prints for a float64). */
export function goFloatString(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  return (x < 0 ? '-' : '') + formatFloatAbs(Math.abs(x), 'g', -1);
}
