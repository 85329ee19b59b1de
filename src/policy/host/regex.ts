/**
 * OPA regex host built-ins (regex.match, re_match, regex.is_valid, regex.split, regex.find_n,
 * regex.find_all_string_submatch_n, regex.replace, regex.template_match) with Go `regexp` semantics, and
 * regex.globs_match (github.com/yashtewari/glob-intersection syntax).
 *
 * Go `regexp/syntax` (RE2, Perl flags as `regexp.Compile` uses them) is translated to a JS RegExp with the `u` flag.
 *
 * The translation never leans on a JS construct whose meaning differs from Go's: every character class (`.`,
 * `\d`, `\s`, `\w`, `[[:alpha:]]`, `\pL`, `[^…]`, case-folded literals) is computed here as a set of code-point
 * ranges and written out as an explicit `[\u{…}-\u{…}]` class, case-insensitivity (`(?i)`, which Go may switch on
 * and off mid-pattern) is expanded into those classes with Unicode simple case folding (Go's `unicode.SimpleFold`
 * orbits), and no JS flag but `u` (and `g` for iteration) is ever set. Anchors: `^`/`$` are start/end of text
 * unless `(?m)`, where they match around `\n` only (JS `m` would also honour `\r`, U+2028, U+2029).
 *
 * Syntax errors are reported with Go's messages: `error parsing regexp: <code>: \`<expr>\``.
 */

import { BuiltinError, BuiltinTypeError, RaisedBuiltinError, RegoSet, type HostBuiltin, type HostCatalogue, type HostValue } from './types.js';

/** Inclusive code-point ranges as a flat list [lo0, hi0, lo1, hi1, …]; sorted and merged by {@link normalize}. */
type Ranges = number[];

const MAX_RUNE = 0x10ffff;
const MAX_REPEAT = 1000;
const MAX_DEPTH = 1000;

class Re2SyntaxError extends Error {
  constructor(code: string, expr: string) {
    super(`error parsing regexp: ${code}: \`${expr}\``);
  }
}

interface Flags {
  fold: boolean;
  multiLine: boolean;
  dotNL: boolean;
  ungreedy: boolean;
}

interface Translation {
  /** JS RegExp source (to compile with flags `gu`). */
  readonly source: string;
  /** Capture group names by group number − 1 ('' for unnamed), as Go's `SubexpNames()[1:]`. */
  readonly names: readonly string[];
}

// ---------------------------------------------------------------- range sets

function normalize(r: Ranges): Ranges {
  const pairs: [number, number][] = [];
  for (let i = 0; i + 1 < r.length; i += 2) pairs.push([r[i] ?? 0, r[i + 1] ?? 0]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const [lo, hi] of pairs) {
    const n = out.length;
    if (n > 0 && lo <= (out[n - 1] ?? 0) + 1) out[n - 1] = Math.max(out[n - 1] ?? 0, hi);
    else out.push(lo, hi);
  }
  return out;
}

function negate(r: Ranges): Ranges {
  const n = normalize(r);
  const out: Ranges = [];
  let next = 0;
  for (let i = 0; i < n.length; i += 2) {
    const lo = n[i] ?? 0;
    if (lo > next) out.push(next, lo - 1);
    next = (n[i + 1] ?? 0) + 1;
  }
  if (next <= MAX_RUNE) out.push(next, MAX_RUNE);
  return out;
}

function cpEscape(c: number): string {
  return /[0-9A-Za-z]/.test(String.fromCodePoint(c)) ? String.fromCodePoint(c) : `\\u{${c.toString(16)}}`;
}

function classSource(r: Ranges): string {
  const n = normalize(r);
  let out = '';
  for (let i = 0; i < n.length; i += 2) {
    const lo = n[i] ?? 0;
    const hi = n[i + 1] ?? 0;
    out += lo === hi ? cpEscape(lo) : `${cpEscape(lo)}-${cpEscape(hi)}`;
  }
  return `[${out}]`;
}

// ---------------------------------------------------------------- named classes (Go perl_groups.go, ASCII)

const PERL: Record<string, Ranges> = {
  d: [0x30, 0x39],
  s: [0x09, 0x0a, 0x0c, 0x0d, 0x20, 0x20],
  w: [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a],
};

const POSIX: Record<string, Ranges> = {
  alnum: [0x30, 0x39, 0x41, 0x5a, 0x61, 0x7a],
  alpha: [0x41, 0x5a, 0x61, 0x7a],
  ascii: [0x00, 0x7f],
  blank: [0x09, 0x09, 0x20, 0x20],
  cntrl: [0x00, 0x1f, 0x7f, 0x7f],
  digit: [0x30, 0x39],
  graph: [0x21, 0x7e],
  lower: [0x61, 0x7a],
  print: [0x20, 0x7e],
  punct: [0x21, 0x2f, 0x3a, 0x40, 0x5b, 0x60, 0x7b, 0x7e],
  space: [0x09, 0x0d, 0x20, 0x20],
  upper: [0x41, 0x5a],
  word: [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a],
  xdigit: [0x30, 0x39, 0x41, 0x46, 0x61, 0x66],
};

/** Go's `unicode.Categories` keys. Go's `C` has no unassigned code points (JS `\p{C}` includes Cn). */
const CATEGORIES = new Set(
  'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(' '),
);

/** Scripts whose long name is four letters (other four-letter names are aliases Go does not know). */
const FOUR_LETTER_SCRIPTS = new Set(['Ahom', 'Cham', 'Kawi', 'Lisu', 'Miao', 'Modi', 'Newa', 'Thai', 'Toto']);

let allCodePoints: string | undefined;

/** Every code point but the surrogates, in order: scanned with a JS property regexp to list its ranges. */
function everyCodePoint(): string {
  if (allCodePoints === undefined) {
    const parts: string[] = [];
    for (let c = 0; c <= MAX_RUNE; c += 0x1000) {
      const chunk: number[] = [];
      for (let d = c; d < Math.min(c + 0x1000, MAX_RUNE + 1); d++) if (d < 0xd800 || d > 0xdfff) chunk.push(d);
      parts.push(String.fromCodePoint(...chunk));
    }
    allCodePoints = parts.join('');
  }
  return allCodePoints;
}

const propertyCache = new Map<string, Ranges>();

/** Ranges of a JS property escape body (`gc=Lu`, `Script=Greek`), computed once. */
function propertyRanges(prop: string): Ranges {
  const cached = propertyCache.get(prop);
  if (cached !== undefined) return cached;
  const out: Ranges = [];
  for (const m of everyCodePoint().matchAll(new RegExp(`\\p{${prop}}+`, 'gu'))) {
    const run = m[0];
    const last = run.codePointAt(run.length - 1) ?? 0;
    const lastCp = last >= 0xdc00 && last <= 0xdfff ? (run.codePointAt(run.length - 2) ?? 0) : last;
    out.push(run.codePointAt(0) ?? 0, lastCp);
  }
  const r = normalize(out);
  propertyCache.set(prop, r);
  return r;
}

/** Go `unicodeTable(name)`: `Any`, a general category, or a script (long name); undefined if unknown. */
function unicodeTable(name: string): Ranges | undefined {
  if (name === 'Any') return [0, MAX_RUNE];
  if (name === 'Cs') return [0xd800, 0xdfff];
  if (name === 'C') return ['Cc', 'Cf', 'Co', 'Cs'].flatMap((c) => unicodeTable(c) ?? []);
  if (CATEGORIES.has(name)) return propertyRanges(`gc=${name}`);
  // Go knows scripts by their long names only (Greek, Old_Italic); JS also takes the 4-letter ISO 15924 aliases
  if (!/^[A-Z][a-z]+(_[A-Z][a-z]+)*$/.test(name)) return undefined;
  if (name.length === 4 && !FOUR_LETTER_SCRIPTS.has(name)) return undefined;
  try {
    return propertyRanges(`Script=${name}`);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- case folding (Go unicode.SimpleFold orbits)

let foldOrbits: Map<number, number[]> | undefined;
let foldKeys: number[] = [];

/** Candidate orbits from toLowerCase/toUpperCase, split by JS's own simple case folding (`/…/iu`). */
function buildFoldOrbits(): Map<number, number[]> {
  const parent = new Map<number, number>();
  const find = (x: number): number => {
    let r = x;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r) ?? r;
    return r;
  };
  const union = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (!parent.has(ra)) parent.set(ra, ra);
    if (!parent.has(rb)) parent.set(rb, rb);
    if (ra !== rb) parent.set(rb, ra);
  };
  for (let c = 0; c <= MAX_RUNE; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    const s = String.fromCodePoint(c);
    for (const t of [s.toLowerCase(), s.toUpperCase()]) {
      const d = t.codePointAt(0) ?? c;
      if (d !== c && String.fromCodePoint(d) === t) union(c, d);
    }
  }
  // simple foldings between characters whose case mappings are multi-character (CaseFolding.txt `S` entries)
  for (const [a, b] of [[0x390, 0x1fd3], [0x3b0, 0x1fe3], [0xfb05, 0xfb06]] as const) union(a, b);
  const groups = new Map<number, number[]>();
  for (const c of parent.keys()) {
    const r = find(c);
    groups.set(r, [...(groups.get(r) ?? []), c]);
  }
  const orbits = new Map<number, number[]>();
  for (const members of groups.values()) splitOrbit(members, orbits);
  return orbits;
}

function splitOrbit(members: number[], orbits: Map<number, number[]>): void {
  const left = [...members].sort((a, b) => a - b);
  while (left.length > 0) {
    const head = left.shift() ?? 0;
    const re = new RegExp(`^\\u{${head.toString(16)}}$`, 'iu');
    const orbit = [head, ...left.filter((x) => re.test(String.fromCodePoint(x)))];
    for (const x of orbit.slice(1)) left.splice(left.indexOf(x), 1);
    if (orbit.length > 1) for (const x of orbit) orbits.set(x, orbit);
  }
}

function orbits(): Map<number, number[]> {
  if (foldOrbits === undefined) {
    foldOrbits = buildFoldOrbits();
    foldKeys = [...foldOrbits.keys()].sort((a, b) => a - b);
  }
  return foldOrbits;
}

/** Go `appendFoldedRange`: the ranges plus every case variant of their members. */
function foldRanges(r: Ranges): Ranges {
  const table = orbits();
  const out = [...r];
  for (let i = 0; i + 1 < r.length; i += 2) {
    const lo = r[i] ?? 0;
    const hi = r[i + 1] ?? 0;
    let k = lowerBound(foldKeys, lo);
    for (; k < foldKeys.length && (foldKeys[k] ?? 0) <= hi; k++) {
      for (const x of table.get(foldKeys[k] ?? 0) ?? []) out.push(x, x);
    }
  }
  return normalize(out);
}

function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((a[mid] ?? 0) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---------------------------------------------------------------- parser

const REPEAT = /\{(0|[1-9][0-9]*)(,(0|[1-9][0-9]*)?)?\}/y;

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function unhex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

interface Item {
  src: string;
}

class Translator {
  private pos = 0;
  private flags: Flags = { fold: false, multiLine: false, dotNL: false, ungreedy: false };
  private readonly names: string[] = [];
  private depth = 0;

  constructor(private readonly src: string) {}

  translate(): Translation {
    const body = this.alternation();
    if (this.pos < this.src.length) throw new Re2SyntaxError('unexpected )', this.src);
    return { source: body, names: this.names };
  }

  private peek(off = 0): number {
    return this.src.codePointAt(this.pos + off) ?? -1;
  }

  private next(): number {
    const c = this.src.codePointAt(this.pos);
    if (c === undefined) return -1;
    this.pos += c > 0xffff ? 2 : 1;
    return c;
  }

  private startsWith(s: string): boolean {
    return this.src.startsWith(s, this.pos);
  }

  private alternation(): string {
    const alts = [this.sequence()];
    while (this.peek() === 0x7c) {
      this.pos++;
      alts.push(this.sequence());
    }
    return alts.join('|');
  }

  /** Terms up to `|`, `)` or the end; a repetition applies to the last term (Go's parse loop and `repeat`). */
  private sequence(): string {
    const items: Item[] = [];
    let lastRepeat = '';
    for (;;) {
      const c = this.peek();
      if (c === -1 || c === 0x7c || c === 0x29) break;
      const start = this.pos;
      const rep = this.repetition();
      if (rep !== undefined) {
        const text = this.src.slice(start, this.pos);
        if (lastRepeat !== '') throw new Re2SyntaxError('invalid nested repetition operator', lastRepeat + text);
        const last = items.pop();
        if (last === undefined) throw new Re2SyntaxError('missing argument to repetition operator', text);
        items.push({ src: `(?:${last.src})${rep}` });
        lastRepeat = text;
        continue;
      }
      lastRepeat = '';
      items.push(...this.term());
    }
    return items.map((i) => i.src).join('');
  }

  /** A repetition operator at pos (consumed) as JS quantifier text, or undefined (nothing consumed). */
  private repetition(): string | undefined {
    const c = this.peek();
    let q: string;
    if (c === 0x2a || c === 0x2b || c === 0x3f) {
      this.pos++;
      q = String.fromCharCode(c);
    } else if (c === 0x7b) {
      const r = this.repeatBraces();
      if (r === undefined) return undefined;
      q = r;
    } else {
      return undefined;
    }
    let lazy = this.flags.ungreedy;
    if (this.peek() === 0x3f) {
      this.pos++;
      lazy = !lazy;
    }
    return lazy ? `${q}?` : q;
  }

  /** `{n}`, `{n,}`, `{n,m}` (Go `parseRepeat`); anything else leaves `{` a literal. */
  private repeatBraces(): string | undefined {
    // Go parseInt: no leading zeros, else `{` is a literal
    REPEAT.lastIndex = this.pos;
    const m = REPEAT.exec(this.src);
    if (m === null) return undefined;
    const text = m[0];
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === undefined ? -1 : Number(m[3]);
    if (min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && min > max)) {
      throw new Re2SyntaxError('invalid repeat count', text);
    }
    this.pos += text.length;
    return max < 0 ? `{${min},}` : max === min ? `{${min}}` : `{${min},${max}}`;
  }

  private term(): Item[] {
    const c = this.peek();
    switch (c) {
      case 0x28:
        return this.group();
      case 0x5b:
        return [{ src: classSource(this.charClass()) }];
      case 0x2e:
        this.pos++;
        return [{ src: classSource(this.flags.dotNL ? [0, MAX_RUNE] : negate([0x0a, 0x0a])) }];
      case 0x5e:
        this.pos++;
        return [{ src: this.flags.multiLine ? '(?<![^\\n])' : '^' }];
      case 0x24:
        this.pos++;
        return [{ src: this.flags.multiLine ? '(?![^\\n])' : '$' }];
      case 0x5c:
        return this.escapeTerm();
      default:
        return [this.literal(this.next())];
    }
  }

  private literal(c: number): Item {
    return { src: this.flags.fold ? this.classItem([c, c]) : cpEscape(c) };
  }

  private classItem(r: Ranges): string {
    return classSource(this.flags.fold ? foldRanges(r) : r);
  }

  private group(): Item[] {
    const open = this.pos;
    this.pos++;
    // Go bounds the parse tree's height (maxHeight 1000); this also keeps the recursion off the stack limit
    if (++this.depth > MAX_DEPTH) throw new Re2SyntaxError('expression nests too deeply', this.src);
    const outer = { ...this.flags };
    let capture = true;
    if (this.peek() === 0x3f && !this.namedCapture()) {
      const { flags, opensGroup } = this.perlFlags(open);
      this.flags = flags;
      if (!opensGroup) {
        this.depth--;
        return []; // `(?i)`: the flags hold until the enclosing group ends
      }
      capture = false;
    } else if (this.src[open + 1] !== '?') {
      this.names.push(''); // a plain capture (a named one was recorded by namedCapture)
    }
    const body = this.alternation();
    if (this.peek() !== 0x29) throw new Re2SyntaxError('missing closing )', this.src);
    this.pos++;
    this.flags = outer;
    this.depth--;
    return [{ src: capture ? `(${body})` : `(?:${body})` }];
  }

  /** `(?P<name>` or `(?<name>` (pos at `?`): records the name; false if not a named capture. */
  private namedCapture(): boolean {
    const begin = this.startsWith('?P<') ? 3 : this.startsWith('?<') ? 2 : 0;
    if (begin === 0) return false;
    const end = this.src.indexOf('>', this.pos);
    if (end < 0) throw new Re2SyntaxError('invalid named capture', this.src.slice(this.pos - 1));
    const text = this.src.slice(this.pos - 1, end + 1);
    const name = this.src.slice(this.pos + begin, end);
    if (!/^[0-9A-Za-z_]+$/.test(name)) throw new Re2SyntaxError('invalid named capture', text);
    // Go allows a name twice (SubexpIndex takes the leftmost)
    this.names.push(name);
    this.pos = end + 1;
    return true;
  }

  /** Go `parsePerlFlags` after `(`: flags `imsU`, `-` to clear; `)` ends a flag group, `:` opens a group. */
  private perlFlags(open: number): { flags: Flags; opensGroup: boolean } {
    this.pos++; // ?
    const flags = { ...this.flags };
    let sign = 1;
    let sawFlag = false;
    while (this.pos < this.src.length) {
      const c = this.next();
      const on = sign > 0;
      if (c === 0x69) flags.fold = on;
      else if (c === 0x6d) flags.multiLine = on;
      else if (c === 0x73) flags.dotNL = on;
      else if (c === 0x55) flags.ungreedy = on;
      else if (c === 0x2d && sign > 0) {
        sign = -1;
        sawFlag = false;
        continue;
      } else if ((c === 0x3a || c === 0x29) && (sign > 0 || sawFlag)) {
        return { flags, opensGroup: c === 0x3a };
      } else break;
      sawFlag = true;
    }
    throw new Re2SyntaxError('invalid or unsupported Perl syntax', this.src.slice(open, this.pos));
  }

  private escapeTerm(): Item[] {
    const c1 = this.peek(1);
    const simple: Record<number, string> = { 0x41: '^', 0x62: '\\b', 0x42: '\\B', 0x7a: '$' };
    const anchor = simple[c1];
    if (anchor !== undefined) {
      this.pos += 2;
      return [{ src: anchor }];
    }
    if (c1 === 0x43) throw new Re2SyntaxError('invalid escape sequence', '\\C');
    if (c1 === 0x51) return this.quoted();
    const cls = this.classEscape();
    if (cls !== undefined) return [{ src: classSource(cls) }];
    return [this.literal(this.escape())];
  }

  /** `\Q…\E`: literal text up to `\E` or the end. */
  private quoted(): Item[] {
    this.pos += 2;
    const end = this.src.indexOf('\\E', this.pos);
    const lit = this.src.slice(this.pos, end < 0 ? undefined : end);
    this.pos = end < 0 ? this.src.length : end + 2;
    return Array.from(lit, (ch) => this.literal(ch.codePointAt(0) ?? 0));
  }

  /** `\pN`, `\p{Name}`, `\PN`, `\p{^Name}`, `\d`, `\D`, `\s`, `\S`, `\w`, `\W` (folded if `(?i)`), or undefined. */
  private classEscape(): Ranges | undefined {
    if (this.peek() !== 0x5c) return undefined;
    const c1 = this.peek(1);
    if (c1 === 0x70 || c1 === 0x50) return this.unicodeClass(c1 === 0x50);
    const letter = c1 < 0 ? '' : String.fromCodePoint(c1);
    const perl = 'dDsSwW'.includes(letter) ? PERL[letter.toLowerCase()] : undefined;
    if (perl === undefined) return undefined;
    this.pos += 2;
    const r = this.flags.fold ? foldRanges(perl) : perl;
    return letter === letter.toLowerCase() ? r : negate(r); // Go folds the group first, then negates
  }

  private unicodeClass(negated: boolean): Ranges {
    const start = this.pos;
    this.pos += 2;
    let name: string;
    if (this.peek() === 0x7b) {
      const end = this.src.indexOf('}', this.pos);
      if (end < 0) throw new Re2SyntaxError('invalid character class range', this.src.slice(start));
      name = this.src.slice(this.pos + 1, end);
      this.pos = end + 1;
    } else {
      const c = this.next();
      name = c < 0 ? '' : String.fromCodePoint(c);
    }
    let neg = negated;
    if (name.startsWith('^')) {
      neg = !neg;
      name = name.slice(1);
    }
    const table = unicodeTable(name);
    if (table === undefined) throw new Re2SyntaxError('invalid character class range', this.src.slice(start, this.pos));
    const r = this.flags.fold ? foldRanges(table) : table;
    return neg ? negate(r) : r;
  }

  /** Go `parseEscape`: a single escaped character (pos at the backslash). */
  private escape(): number {
    const start = this.pos;
    this.pos++;
    if (this.pos >= this.src.length) throw new Re2SyntaxError('trailing backslash at end of expression', '');
    const c = this.next();
    const bad = (): never => {
      throw new Re2SyntaxError('invalid escape sequence', this.src.slice(start, this.pos));
    };
    if (c < 0x80 && !isAlnum(c)) return c;
    if (c >= 0x31 && c <= 0x37 && !(this.peek() >= 0x30 && this.peek() <= 0x37)) return bad(); // backreference
    if (c >= 0x30 && c <= 0x37) {
      let r = c - 0x30;
      for (let i = 1; i < 3 && this.peek() >= 0x30 && this.peek() <= 0x37; i++) r = r * 8 + (this.next() - 0x30);
      return r;
    }
    const simple: Record<number, number> = { 0x61: 7, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9, 0x76: 11 };
    const s = simple[c];
    if (s !== undefined) return s;
    if (c !== 0x78) return bad();
    return this.hexEscape(bad);
  }

  /** After `\x`: two hex digits, or `{hex…}` up to U+10FFFF. */
  private hexEscape(bad: () => never): number {
    if (this.peek() === 0x7b) {
      this.pos++;
      let r = 0;
      let n = 0;
      for (;;) {
        const c = this.next();
        if (c === -1) return bad();
        if (c === 0x7d) break;
        const v = unhex(c);
        if (v < 0) return bad();
        r = r * 16 + v;
        if (r > MAX_RUNE) return bad();
        n++;
      }
      return n === 0 ? bad() : r;
    }
    const x = unhex(this.next());
    const y = unhex(this.next());
    return x < 0 || y < 0 ? bad() : x * 16 + y;
  }

  /** Go `parseClass`: `[`, optional `^`, items (`]` or `-` literal first), `]`; ranges folded under `(?i)`. */
  private charClass(): Ranges {
    const start = this.pos;
    this.pos++;
    const negated = this.peek() === 0x5e;
    if (negated) this.pos++;
    let r: Ranges = [];
    let first = true;
    for (;;) {
      const c = this.peek();
      if (c === -1) throw new Re2SyntaxError('missing closing ]', this.src.slice(start));
      if (c === 0x5d && !first) break;
      first = false;
      const named = this.posixClass();
      const cls = named ?? this.classEscape();
      if (cls !== undefined) {
        r = r.concat(cls);
        continue;
      }
      r = r.concat(this.classRange(start));
    }
    this.pos++;
    return negated ? negate(r) : normalize(r);
  }

  /** `[:alpha:]` / `[:^alpha:]` inside a class; undefined when not of that shape (then `[` is a literal). */
  private posixClass(): Ranges | undefined {
    if (!this.startsWith('[:')) return undefined;
    const end = this.src.indexOf(':]', this.pos + 2);
    if (end < 0) return undefined;
    const text = this.src.slice(this.pos, end + 2);
    const neg = text[2] === '^';
    const table = POSIX[text.slice(neg ? 3 : 2, -2)];
    if (table === undefined) throw new Re2SyntaxError('invalid character class range', text);
    this.pos = end + 2;
    const r = this.flags.fold ? foldRanges(table) : table;
    return neg ? negate(r) : r;
  }

  /** A class character or `lo-hi` range (`-` before `]` is a literal). */
  private classRange(classStart: number): Ranges {
    const start = this.pos;
    const lo = this.classChar(classStart);
    let hi = lo;
    if (this.peek() === 0x2d && this.peek(1) !== -1 && this.peek(1) !== 0x5d) {
      this.pos++;
      hi = this.classChar(classStart);
      if (hi < lo) throw new Re2SyntaxError('invalid character class range', this.src.slice(start, this.pos));
    }
    return this.flags.fold ? foldRanges([lo, hi]) : [lo, hi];
  }

  private classChar(classStart: number): number {
    const c = this.peek();
    if (c === -1) throw new Re2SyntaxError('missing closing ]', this.src.slice(classStart));
    return c === 0x5c ? this.escape() : this.next();
  }
}

/** Translates a Go regexp (as `regexp.Compile` takes it) into a JS RegExp source; throws {@link Re2SyntaxError}. */
export function translateRe2(pattern: string): Translation {
  return new Translator(pattern).translate();
}

// ================================================================ built-ins

/** A bounded LRU of compiled patterns: policies reuse a handful of patterns on every evaluation. */
export class BoundedCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}

  /** The cached value, or `make()` stored (nothing is stored when it throws). */
  get(key: string, make: () => V): V {
    const hit = this.map.get(key);
    if (hit !== undefined) {
      this.map.delete(key);
      this.map.set(key, hit);
      return hit;
    }
    const v = make();
    if (this.map.size >= this.max) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
    this.map.set(key, v);
    return v;
  }
}

interface Compiled {
  /** Global (`g`): searches start at `lastIndex`, with `^`/`\b` still seeing the whole input as Go's do. */
  readonly re: RegExp;
  /** Go `SubexpNames()`: index 0 is the whole match. */
  readonly names: readonly string[];
  readonly expr: string;
}

const regexCache = new BoundedCache<Compiled>(1000);

function makeCompiled(pattern: string, source: string, names: readonly string[]): Compiled {
  try {
    return { re: new RegExp(source, 'gu'), names: ['', ...names], expr: pattern };
  } catch (e) {
    // the translation only emits valid JS; a failure here is a limit of the JS engine (size)
    throw new BuiltinError(`error parsing regexp: expression too large: \`${pattern}\` (${(e as Error).message})`);
  }
}

/** Go `regexp.Compile`, cached; syntax errors become built-in errors with Go's message. */
export function compileRegex(pattern: string): Compiled {
  return regexCache.get(pattern, () => {
    try {
      const t = translateRe2(pattern);
      return makeCompiled(pattern, t.source, t.names);
    } catch (e) {
      // OPA raises regex syntax errors even without strict built-in errors (compliance case re_match: bad pattern)
      if (e instanceof Re2SyntaxError) throw new RaisedBuiltinError(e.message);
      throw e;
    }
  });
}

function execAt(c: Compiled, s: string, pos: number): RegExpExecArray | null {
  c.re.lastIndex = pos;
  return c.re.exec(s);
}

/** UTF-16 length of the code point at pos (Go advances by one rune), 0 at the end. */
function runeWidth(s: string, pos: number): number {
  if (pos >= s.length) return 0;
  return (s.codePointAt(pos) ?? 0) > 0xffff ? 2 : 1;
}

function matchEnd(m: RegExpExecArray): number {
  return m.index + m[0].length;
}

/** Go `Regexp.allMatches`: at most n matches (n < 0: all); no empty match right after the previous match. */
function allMatches(c: Compiled, s: string, n: number): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  const limit = n < 0 ? s.length + 1 : n;
  let pos = 0;
  let prevEnd = -1;
  while (out.length < limit && pos <= s.length) {
    const m = execAt(c, s, pos);
    if (m === null) break;
    const end = matchEnd(m);
    let accept = true;
    if (end === pos) {
      if (m.index === prevEnd) accept = false;
      const w = runeWidth(s, pos);
      pos = w > 0 ? pos + w : s.length + 1;
    } else {
      pos = end;
    }
    prevEnd = end;
    if (accept) out.push(m);
  }
  return out;
}

/** Go `Regexp.Split(s, -1)`. */
function split(c: Compiled, s: string): string[] {
  if (c.expr.length > 0 && s.length === 0) return [''];
  const out: string[] = [];
  let beg = 0;
  let end = 0;
  for (const m of allMatches(c, s, -1)) {
    end = m.index;
    if (matchEnd(m) !== 0) out.push(s.slice(beg, end));
    beg = matchEnd(m);
  }
  if (end !== s.length) out.push(s.slice(beg));
  return out;
}

/** Go `regexp.extract`: a `$name` / `${name}` reference at the start of str. */
function extractRef(str: string): { name: string; num: number; rest: string } | undefined {
  const brace = str.startsWith('{');
  const m = /^[\p{L}\p{Nd}_]+/u.exec(brace ? str.slice(1) : str);
  if (m === null) return undefined;
  const name = m[0];
  let i = (brace ? 1 : 0) + name.length;
  if (brace) {
    if (str[i] !== '}') return undefined;
    i++;
  }
  let num = /^[0-9]+$/.test(name) && name.length <= 8 ? Number(name) : -1;
  if (name.length > 1 && name.startsWith('0')) num = -1;
  return { name, num, rest: str.slice(i) };
}

/** Go `Regexp.expand` for ReplaceAllString: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown refs are empty. */
function expandTemplate(c: Compiled, template: string, m: RegExpExecArray): string {
  let out = '';
  let t = template;
  for (;;) {
    const i = t.indexOf('$');
    if (i < 0) break;
    out += t.slice(0, i);
    t = t.slice(i + 1);
    if (t.startsWith('$')) {
      out += '$';
      t = t.slice(1);
      continue;
    }
    const ref = extractRef(t);
    if (ref === undefined) {
      out += '$'; // malformed: the `$` is literal
      continue;
    }
    t = ref.rest;
    out += groupText(c, ref, m);
  }
  return out + t;
}

function groupText(c: Compiled, ref: { name: string; num: number }, m: RegExpExecArray): string {
  if (ref.num >= 0) return m[ref.num] ?? '';
  for (let g = 0; g < c.names.length; g++) {
    if (c.names[g] === ref.name && m[g] !== undefined) return m[g] ?? '';
  }
  return '';
}

/** Go `Regexp.ReplaceAllString`: no replacement for an empty match right after a match. */
function replaceAll(c: Compiled, src: string, repl: string): string {
  let out = '';
  let lastEnd = 0;
  let searchPos = 0;
  while (searchPos <= src.length) {
    const m = execAt(c, src, searchPos);
    if (m === null) break;
    const end = matchEnd(m);
    out += src.slice(lastEnd, m.index);
    if (end > lastEnd || m.index === 0) out += expandTemplate(c, repl, m);
    lastEnd = end;
    const w = runeWidth(src, searchPos);
    if (searchPos + w > end) searchPos += w;
    else if (searchPos + 1 > end) searchPos++;
    else searchPos = end;
  }
  return out + src.slice(lastEnd);
}

/** Go `regexp.QuoteMeta`. */
function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, (ch) => `\\${ch}`);
}

/** OPA `delimiterIndices`: [start, end) of each top-level delimited variable. */
function delimiterIndices(s: string, open: string, close: string): number[] {
  const idxs: number[] = [];
  let level = 0;
  let idx = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === open) {
      if (++level === 1) idx = i;
    } else if (s[i] === close) {
      if (--level === 0) idxs.push(idx, i + 1);
      else if (level < 0) throw new BuiltinError(`unbalanced braces in ${JSON.stringify(s)}`);
    }
  }
  if (level !== 0) throw new BuiltinError(`unbalanced braces in ${JSON.stringify(s)}`);
  return idxs;
}

/** OPA `compileRegexTemplate`: literal text quoted, each `<re>` a group, anchored; each `<re>` must compile alone. */
function compileTemplate(tpl: string, open: string, close: string): Compiled {
  const idxs = delimiterIndices(tpl, open, close);
  let pattern = '^';
  let end = 0;
  for (let i = 0; i < idxs.length; i += 2) {
    const raw = tpl.slice(end, idxs[i]);
    end = idxs[i + 1] ?? 0;
    const patt = tpl.slice((idxs[i] ?? 0) + 1, end - 1);
    pattern += `${quoteMeta(raw)}(${patt})`;
    compileRegex(`^${patt}$`);
  }
  return compileRegex(`${pattern}${quoteMeta(tpl.slice(end))}$`);
}

/** OPA's name of a value's type, as its operand errors print it. */
export function opaTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return 'number';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return v instanceof RegoSet ? 'set' : 'object';
  return typeof v;
}

/** OPA StringOperand: `operand N must be string but got T`. */
export function stringOperand(v: unknown, pos: number): string {
  if (typeof v !== 'string') throw new BuiltinTypeError(`operand ${pos} must be string but got ${opaTypeName(v)}`);
  return v;
}

const str = stringOperand;

/** OPA IntOperand; a count beyond any string's matches means "all". */
function intOperand(v: HostValue | undefined, pos: number): number {
  if (typeof v === 'bigint') return v < 0n ? -1 : Number.MAX_SAFE_INTEGER;
  if (typeof v !== 'number') throw new BuiltinTypeError(`operand ${pos} must be number but got ${opaTypeName(v)}`);
  if (!Number.isInteger(v)) throw new BuiltinError(`operand ${pos} must be integer number but got floating-point number`);
  return v;
}

function delimiter(v: HostValue | undefined, pos: number, which: string, reportLen: number): string {
  const s = str(v, pos);
  if (Buffer.byteLength(s) !== 1) {
    throw new BuiltinError(`${which} delimiter has to be exactly one character long but is ${reportLen} long`);
  }
  return s;
}

const templateCache = new BoundedCache<Compiled>(1000);

function templateMatch(args: HostValue[]): boolean {
  const [tpl, value, start, end] = args;
  const pattern = str(tpl, 1);
  const match = str(value, 2);
  const startLen = Buffer.byteLength(str(start, 3));
  const open = delimiter(start, 3, 'start', startLen);
  // OPA reports the start delimiter's length in the end delimiter's message too
  const close = delimiter(end, 4, 'end', startLen);
  const c = templateCache.get(`${open}${close}${pattern}`, () => compileTemplate(pattern, open, close));
  return execAt(c, match, 0) !== null;
}

// ---------------------------------------------------------------- regex.globs_match

/**
 * A token of a glob as github.com/yashtewari/glob-intersection reads it: one character, `.` (any), or a `[…]`
 * set (ranges with `-`), optionally followed by `*` or `+`; `\` escapes anything.
 */
interface GlobToken {
  /** Code-point ranges the token matches; undefined for `.`. */
  readonly set: Ranges | undefined;
  star: boolean;
}

class GlobIntersectError extends BuiltinError {}

function tokenizeGlob(glob: string): GlobToken[] {
  const cps = Array.from(glob, (ch) => ch.codePointAt(0) ?? 0);
  const out: GlobToken[] = [];
  let flagged = true; // nothing to flag at the start
  for (let i = 0; i < cps.length; ) {
    const c = cps[i++] ?? 0;
    if (c === 0x2a || c === 0x2b) {
      const prev = out[out.length - 1];
      if (flagged || prev === undefined) throw new GlobIntersectError(`flag '${String.fromCodePoint(c)}' must be preceded by a non-flag`);
      // `x+` is `x x*`
      if (c === 0x2b) out.push({ set: prev.set, star: true });
      else prev.star = true;
      flagged = true;
      continue;
    }
    flagged = false;
    if (c === 0x5d) throw new GlobIntersectError("set-close ']' with no preceding '['");
    if (c === 0x2e) out.push({ set: undefined, star: false });
    else if (c === 0x5b) i = globSet(cps, i, out);
    else if (c === 0x5c) {
      if (i >= cps.length) throw new GlobIntersectError('input ends with a \\ (escape) character');
      const e = cps[i++] ?? 0;
      out.push({ set: [e, e], star: false });
    } else out.push({ set: [c, c], star: false });
  }
  return out;
}

/** A `[…]` set starting after `[`; returns the index after `]`. */
function globSet(cps: number[], start: number, out: GlobToken[]): number {
  const set: Ranges = [];
  let prev = -1;
  for (let i = start; i < cps.length; ) {
    let c = cps[i++] ?? 0;
    let escaped = false;
    if (c === 0x5c) {
      if (i >= cps.length) throw new GlobIntersectError('input ends with a \\ (escape) character');
      c = cps[i++] ?? 0;
      escaped = true;
    }
    if (!escaped && c === 0x5d) {
      out.push({ set: normalize(set), star: false });
      return i;
    }
    if (escaped || c !== 0x2d) {
      set.push(c, c);
      prev = c;
      continue;
    }
    if (prev < 0) throw new GlobIntersectError("range character '-' must be preceded by a Unicode character");
    let hi = cps[i++];
    if (hi === 0x5c) hi = cps[i++];
    else if (hi === 0x5d || hi === 0x2d) throw new GlobIntersectError("range character '-' cannot be followed by a special symbol");
    if (hi === undefined) throw new GlobIntersectError("range character '-' must be followed by a Unicode character");
    if (hi < prev) throw new GlobIntersectError('range is out of order');
    set.push(prev, hi);
    prev = -1;
  }
  throw new GlobIntersectError('found [ without matching ]');
}

function tokensOverlap(a: GlobToken, b: GlobToken): boolean {
  if (a.set === undefined) return b.set === undefined || b.set.length > 0;
  if (b.set === undefined) return a.set.length > 0;
  const x = normalize([...a.set, ...b.set]);
  const total = (r: Ranges): number => r.reduce((n, v, i) => (i % 2 === 0 ? n - v : n + v + 1), 0);
  return total(x) < total(a.set) + total(b.set); // the union is smaller than the sum: they share a code point
}

/**
 * gintersect.NonEmpty: whether some non-empty string matches both globs (each anchored at both ends). Decided
 * exactly, on the product of the two globs' automata, where the library uses a greedy heuristic.
 */
export function globsIntersect(g1: string, g2: string): boolean {
  const a = tokenizeGlob(g1);
  const b = tokenizeGlob(g2);
  const seen = new Set<number>();
  const key = (i: number, j: number, used: number): number => (i * (b.length + 1) + j) * 2 + used;
  const todo: [number, number, number][] = [[0, 0, 0]];
  while (todo.length > 0) {
    const [i, j, used] = todo.pop() ?? [0, 0, 0];
    if (seen.has(key(i, j, used))) continue;
    seen.add(key(i, j, used));
    if (i === a.length && j === b.length && used === 1) return true;
    const ta = a[i];
    const tb = b[j];
    if (ta?.star === true) todo.push([i + 1, j, used]);
    if (tb?.star === true) todo.push([i, j + 1, used]);
    if (ta !== undefined && tb !== undefined && tokensOverlap(ta, tb)) {
      todo.push([ta.star ? i : i + 1, tb.star ? j : j + 1, 1]);
    }
  }
  return false;
}

const regexMatch: HostBuiltin = {
  args: [['string'], ['string']],
  impl: ([p, s]) => execAt(compileRegex(str(p, 1)), str(s, 2), 0) !== null,
};

export const REGEX_BUILTINS: HostCatalogue = {
  'regex.match': regexMatch,
  re_match: regexMatch,
  'regex.is_valid': {
    args: [['any']],
    impl: ([p]) => {
      if (typeof p !== 'string') return false;
      try {
        compileRegex(p);
        return true;
      } catch (e) {
        if (e instanceof BuiltinError) return false;
        throw e;
      }
    },
  },
  'regex.split': {
    args: [['string'], ['string']],
    impl: ([p, s]) => split(compileRegex(str(p, 1)), str(s, 2)),
  },
  'regex.find_n': {
    args: [['string'], ['string'], ['number']],
    impl: ([p, s, n]) => {
      const c = compileRegex(str(p, 1));
      return allMatches(c, str(s, 2), intOperand(n, 3)).map((m) => m[0]);
    },
  },
  'regex.find_all_string_submatch_n': {
    args: [['string'], ['string'], ['number']],
    impl: ([p, s, n]) => {
      const c = compileRegex(str(p, 1));
      return allMatches(c, str(s, 2), intOperand(n, 3)).map((m) => Array.from(m, (g) => g ?? ''));
    },
  },
  'regex.replace': {
    args: [['string'], ['string'], ['string']],
    impl: ([s, p, v]) => replaceAll(compileRegex(str(p, 2)), str(s, 1), str(v, 3)),
  },
  'regex.globs_match': {
    args: [['string'], ['string']],
    impl: ([a, b]) => globsIntersect(str(a, 1), str(b, 2)),
  },
  'regex.template_match': {
    args: [['string'], ['string'], ['string'], ['string']],
    impl: (args) => templateMatch(args),
  },
};
