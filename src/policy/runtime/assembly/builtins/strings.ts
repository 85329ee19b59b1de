// String built-ins. Strings are UTF-8 byte ranges; positions/lengths in OPA's API are in Unicode
// code points (Go runes; an invalid byte counts as one rune, like Go).
//
// lower/upper: Go's simple per-rune case mapping over the full Unicode 15.0 tables (casetables.ts).

import {
  T_ARRAY, T_SET, T_NUMBER, T_NULL, T_BOOLEAN, T_STRING, tg_int, tg_string, tg_array, tg_array_push,
  tg_bool, opa_malloc, opa_json_parse, biMore, biMoreQuoted, biBuiltinErr, biTypeErr, biOperandTypeErr,
  biOperandElemErr, biIntOperandErr,
} from "../runtime";
import {
  typeOf, isStr, isNum, isObj, sptr, slen, clen, at, objKey, objVal, asInt, I64_A, I64_B, decode, decWidth,
  runeCount, runeOffset, indexBytes, bytesEq, f64Of, isIntRepr, intOf,
} from "./util";
import { UPPER_RUNS, UPPER_RUNS_N, LOWER_RUNS, LOWER_RUNS_N } from "./casetables";

/** Two string operands (OPA's StringOperand checks), else records the operand type error. */
function strOperands(name: string, a: usize, b: usize): bool {
  if (!isStr(a)) {
    biOperandTypeErr(name, 1, "string", a);
    return false;
  }
  if (!isStr(b)) {
    biOperandTypeErr(name, 2, "string", b);
    return false;
  }
  return true;
}

export function tg_bi_concat(delim: usize, c: usize): usize {
  const t = typeOf(c);
  if (!isStr(delim)) return biOperandTypeErr("concat", 1, "string", delim);
  if (t != T_ARRAY && t != T_SET) return biOperandTypeErr("concat", 2, "one of {set, array}", c);
  const n = clen(c);
  const dl = slen(delim);
  let total: usize = n > 0 ? dl * (<usize>n - 1) : 0;
  for (let i: u32 = 0; i < n; i++) {
    const e = at(c, i);
    if (!isStr(e)) return biOperandElemErr("concat", 2, c, "strings", e);
    total += slen(e);
  }
  const out = opa_malloc(total);
  let w = out;
  for (let i: u32 = 0; i < n; i++) {
    if (i > 0) {
      memory.copy(w, sptr(delim), dl);
      w += dl;
    }
    const e = at(c, i);
    memory.copy(w, sptr(e), slen(e));
    w += slen(e);
  }
  return tg_string(out, total);
}

export function tg_bi_contains(s: usize, sub: usize): usize {
  if (!strOperands("contains", s, sub)) return 0;
  return tg_bool(indexBytes(sptr(s), slen(s), sptr(sub), slen(sub), 0) >= 0);
}

export function tg_bi_startswith(s: usize, p: usize): usize {
  if (!strOperands("startswith", s, p)) return 0;
  return tg_bool(slen(p) <= slen(s) && bytesEq(sptr(s), sptr(p), slen(p)));
}

export function tg_bi_endswith(s: usize, p: usize): usize {
  if (!strOperands("endswith", s, p)) return 0;
  return tg_bool(slen(p) <= slen(s) && bytesEq(sptr(s) + slen(s) - slen(p), sptr(p), slen(p)));
}

/** Simple case mapping of a non-ASCII code point through a run table (see casetables.ts). */
function mapRune(cp: u32, runs: usize, n: u32): u32 {
  // last run with start <= cp
  let lo: u32 = 0;
  let hi: u32 = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (load<u32>(runs + <usize>mid * 12) <= cp) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return cp;
  const r = runs + <usize>(lo - 1) * 12;
  const start = load<u32>(r);
  const endw = load<u32>(r, 4);
  const end = endw & 0x7fffffff;
  if (cp > end) return cp;
  if ((endw & 0x80000000) != 0 && ((cp - start) & 1) != 0) return cp;
  return <u32>(<i32>cp + load<i32>(r, 8));
}

@inline function utf8Len(cp: u32): usize {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

function putRune(w: usize, cp: u32): usize {
  if (cp < 0x80) {
    store<u8>(w, <u8>cp);
    return 1;
  }
  if (cp < 0x800) {
    store<u8>(w, <u8>(0xc0 | (cp >> 6)));
    store<u8>(w + 1, <u8>(0x80 | (cp & 0x3f)));
    return 2;
  }
  if (cp < 0x10000) {
    store<u8>(w, <u8>(0xe0 | (cp >> 12)));
    store<u8>(w + 1, <u8>(0x80 | ((cp >> 6) & 0x3f)));
    store<u8>(w + 2, <u8>(0x80 | (cp & 0x3f)));
    return 3;
  }
  store<u8>(w, <u8>(0xf0 | (cp >> 18)));
  store<u8>(w + 1, <u8>(0x80 | ((cp >> 12) & 0x3f)));
  store<u8>(w + 2, <u8>(0x80 | ((cp >> 6) & 0x3f)));
  store<u8>(w + 3, <u8>(0x80 | (cp & 0x3f)));
  return 4;
}

/**
 * Go's strings.ToLower/ToUpper: per-rune simple case mapping (unicode.ToLower/ToUpper, full
 * Unicode 15.0 tables), no context or locale rules (Σ → σ always, ß stays ß in upper, İ → i).
 * Like Go's strings.Map, an invalid UTF-8 byte becomes U+FFFD. Returns s itself when nothing
 * changes (results are read-only).
 */
function caseMap(s: usize, upper: bool): usize {
  if (!isStr(s)) return biOperandTypeErr(upper ? "upper" : "lower", 1, "string", s);
  const n = slen(s);
  const p = sptr(s);
  const e = p + n;
  let ascii = true;
  let changed = false;
  for (let i: usize = 0; i < n; i++) {
    const c = load<u8>(p + i);
    if (c >= 0x80) {
      ascii = false;
      break;
    }
    if (upper ? c >= 0x61 && c <= 0x7a : c >= 0x41 && c <= 0x5a) changed = true;
  }
  if (ascii) {
    if (!changed) return s;
    const out = opa_malloc(n);
    for (let i: usize = 0; i < n; i++) {
      let c = load<u8>(p + i);
      if (upper && c >= 0x61 && c <= 0x7a) c -= 32;
      else if (!upper && c >= 0x41 && c <= 0x5a) c += 32;
      store<u8>(out + i, c);
    }
    return tg_string(out, n);
  }
  const runs = upper ? UPPER_RUNS : LOWER_RUNS;
  const nr = upper ? UPPER_RUNS_N : LOWER_RUNS_N;
  // pass 1: output length (mappings can change the UTF-8 width: ı → I, Ⱥ → ⱥ, K → k)
  let total: usize = 0;
  let q = p;
  while (q < e) {
    const c = load<u8>(q);
    if (c < 0x80) {
      if (upper ? c >= 0x61 && c <= 0x7a : c >= 0x41 && c <= 0x5a) changed = true;
      total++;
      q++;
      continue;
    }
    const cp = decode(q, e);
    const w = decWidth();
    const m = cp == 0xfffd ? cp : mapRune(cp, runs, nr);
    const mw = utf8Len(m);
    if (m != cp || mw != w) changed = true; // mw != w: an invalid byte re-encoded as U+FFFD
    total += mw;
    q += w;
  }
  if (!changed) return s;
  const out = opa_malloc(total);
  let o = out;
  q = p;
  while (q < e) {
    const c = load<u8>(q);
    if (c < 0x80) {
      let d = c;
      if (upper && c >= 0x61 && c <= 0x7a) d -= 32;
      else if (!upper && c >= 0x41 && c <= 0x5a) d += 32;
      store<u8>(o, d);
      o++;
      q++;
      continue;
    }
    const cp = decode(q, e);
    q += decWidth();
    o += putRune(o, cp == 0xfffd ? cp : mapRune(cp, runs, nr));
  }
  return tg_string(out, total);
}

/** lower: Go's strings.ToLower (see caseMap). */
export function tg_bi_lower(s: usize): usize {
  return caseMap(s, false);
}
/** upper: Go's strings.ToUpper (see caseMap). */
export function tg_bi_upper(s: usize): usize {
  return caseMap(s, true);
}

/** split(s, delim): Go's strings.Split (empty delim splits into UTF-8 sequences). */
export function tg_bi_split(s: usize, d: usize): usize {
  if (!strOperands("split", s, d)) return 0;
  const p = sptr(s);
  const n = slen(s);
  const r = tg_array(0);
  if (slen(d) == 0) {
    let q: usize = 0;
    while (q < n) {
      decode(p + q, p + n);
      const w = decWidth();
      tg_array_push(r, tg_string(p + q, w));
      q += w;
    }
    return r;
  }
  let from: usize = 0;
  while (true) {
    const i = indexBytes(p, n, sptr(d), slen(d), from);
    if (i < 0) break;
    tg_array_push(r, tg_string(p + from, <usize>i - from));
    from = <usize>i + slen(d);
  }
  tg_array_push(r, tg_string(p + from, n - from));
  return r;
}

/** Go's strings.Replace(s, old, new, limit) (limit < 0 = all). Empty old inserts around each rune. */
function replaceN(p: usize, n: usize, op: usize, on: usize, np: usize, nn: usize, limit: i64): usize {
  // count matches first to size the output
  let count: i64 = 0;
  if (on == 0) count = runeCount(p, n) + 1;
  else {
    let from: usize = 0;
    while (true) {
      const i = indexBytes(p, n, op, on, from);
      if (i < 0) break;
      count++;
      from = <usize>i + on;
    }
  }
  if (limit >= 0 && count > limit) count = limit;
  if (count == 0) return tg_string(p, n);
  const total = n + <usize>count * nn - <usize>count * on;
  const out = opa_malloc(total);
  let w = out;
  let from: usize = 0;
  for (let k: i64 = 0; k < count; k++) {
    let j = from;
    if (on == 0) {
      if (k > 0) {
        decode(p + from, p + n);
        j += decWidth();
      }
    } else j = <usize>indexBytes(p, n, op, on, from);
    memory.copy(w, p + from, j - from);
    w += j - from;
    memory.copy(w, np, nn);
    w += nn;
    from = j + on;
  }
  memory.copy(w, p + from, n - from);
  return tg_string(out, total);
}

export function tg_bi_replace(s: usize, old: usize, nw: usize): usize {
  if (!strOperands("replace", s, old)) return 0;
  if (!isStr(nw)) return biOperandTypeErr("replace", 3, "string", nw);
  return replaceN(sptr(s), slen(s), sptr(old), slen(old), sptr(nw), slen(nw), -1);
}

/**
 * strings.replace_n(patterns, s): Go's strings.NewReplacer over the object's pairs in key order:
 * left to right, no overlapping matches, at each position the first matching pattern (in key
 * order) wins; an empty pattern matches at positions where no other pattern does.
 */
export function tg_bi_strings_replace_n(pats: usize, s: usize): usize {
  if (!isObj(pats)) return biOperandTypeErr("strings.replace_n", 1, "object", pats);
  if (!isStr(s)) return biOperandTypeErr("strings.replace_n", 2, "string", s);
  const m = clen(pats);
  for (let k: u32 = 0; k < m; k++) {
    // keys in OPA's sort order, key checked before its value (as OPA does)
    if (!isStr(objKey(pats, k))) return biTypeErr("strings.replace_n", "operand 1 non-string key found in pattern object");
    if (!isStr(objVal(pats, k))) return biTypeErr("strings.replace_n", "operand 1 non-string value found in pattern object");
  }
  if (m == 0) return s;
  const p = sptr(s);
  const n = slen(s);
  // worst case: at each of the n+1 positions an empty-pattern match and then a non-empty one,
  // each emitting the longest value, plus the input bytes
  let maxV: usize = 0;
  for (let k: u32 = 0; k < m; k++) if (slen(objVal(pats, k)) > maxV) maxV = slen(objVal(pats, k));
  const out = opa_malloc(n + 2 * (n + 1) * maxV);
  let w = out;
  let last: usize = 0;
  let prevEmpty = false;
  let i: usize = 0;
  while (i <= n) {
    let found: i32 = -1;
    for (let k: u32 = 0; k < m; k++) {
      const key = objKey(pats, k);
      const kl = slen(key);
      if (kl == 0) {
        if (prevEmpty) continue;
      } else if (i + kl > n || !bytesEq(p + i, sptr(key), kl)) continue;
      found = <i32>k;
      break;
    }
    if (found >= 0) {
      const kl = slen(objKey(pats, <u32>found));
      const v = objVal(pats, <u32>found);
      prevEmpty = kl == 0;
      memory.copy(w, p + last, i - last);
      w += i - last;
      memory.copy(w, sptr(v), slen(v));
      w += slen(v);
      i += kl;
      last = i;
      continue;
    }
    prevEmpty = false;
    i++;
  }
  if (last < n) {
    memory.copy(w, p + last, n - last);
    w += n - last;
  }
  return tg_string(out, w - out);
}

// ---- trimming

function inCutset(cp: u32, cs: usize, cn: usize): bool {
  let q: usize = 0;
  while (q < cn) {
    const c = decode(cs + q, cs + cn);
    if (c == cp) return true;
    q += decWidth();
  }
  return false;
}

function isSpace(c: u32): bool {
  if (c < 0x80) return c == 0x20 || (c >= 0x09 && c <= 0x0d);
  return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
    c == 0x202f || c == 0x205f || c == 0x3000;
}

/** Start offset after skipping leading runes matching (cutset | space). */
function leftSkip(p: usize, n: usize, cs: usize, cn: usize, space: bool): usize {
  let q: usize = 0;
  while (q < n) {
    const c = decode(p + q, p + n);
    if (space ? !isSpace(c) : !inCutset(c, cs, cn)) break;
    q += decWidth();
  }
  return q;
}

/** Start of the last rune ending at `end` (Go's DecodeLastRune width). */
function lastRuneStart(p: usize, end: usize): usize {
  let s = end - 1;
  const lim = end >= 4 ? end - 4 : 0;
  while (s > lim && (load<u8>(p + s) & 0xc0) == 0x80) s--;
  decode(p + s, p + end);
  if (s + decWidth() != end) return end - 1; // invalid sequence: one byte
  return s;
}

function rightEnd(p: usize, start: usize, n: usize, cs: usize, cn: usize, space: bool): usize {
  let e = n;
  while (e > start) {
    const s = lastRuneStart(p, e);
    const c = decode(p + s, p + e);
    const cc = s + decWidth() == e ? c : 0xfffd;
    if (space ? !isSpace(cc) : !inCutset(cc, cs, cn)) break;
    e = s;
  }
  return e;
}

function trim(s: usize, cut: usize, left: bool, right: bool): usize {
  if (!strOperands(left && right ? "trim" : left ? "trim_left" : "trim_right", s, cut)) return 0;
  const p = sptr(s);
  const n = slen(s);
  const b = left ? leftSkip(p, n, sptr(cut), slen(cut), false) : 0;
  const e = right ? rightEnd(p, b, n, sptr(cut), slen(cut), false) : n;
  return tg_string(p + b, e - b);
}

export function tg_bi_trim(s: usize, cut: usize): usize {
  return trim(s, cut, true, true);
}
export function tg_bi_trim_left(s: usize, cut: usize): usize {
  return trim(s, cut, true, false);
}
export function tg_bi_trim_right(s: usize, cut: usize): usize {
  return trim(s, cut, false, true);
}

/** trim_space: Go's strings.TrimSpace (Unicode White_Space). */
export function tg_bi_trim_space(s: usize): usize {
  if (!isStr(s)) return biOperandTypeErr("trim_space", 1, "string", s);
  const p = sptr(s);
  const n = slen(s);
  const b = leftSkip(p, n, 0, 0, true);
  const e = rightEnd(p, b, n, 0, 0, true);
  return tg_string(p + b, e - b);
}

export function tg_bi_trim_prefix(s: usize, pre: usize): usize {
  if (!strOperands("trim_prefix", s, pre)) return 0;
  const n = slen(pre);
  if (n <= slen(s) && bytesEq(sptr(s), sptr(pre), n)) return tg_string(sptr(s) + n, slen(s) - n);
  return s;
}

export function tg_bi_trim_suffix(s: usize, suf: usize): usize {
  if (!strOperands("trim_suffix", s, suf)) return 0;
  const n = slen(suf);
  if (n <= slen(s) && bytesEq(sptr(s) + slen(s) - n, sptr(suf), n)) return tg_string(sptr(s), slen(s) - n);
  return s;
}

/** indexof(s, sub): code-point index of the first match, -1 if none; empty sub is an error (undefined). */
export function tg_bi_indexof(s: usize, sub: usize): usize {
  if (!strOperands("indexof", s, sub)) return 0;
  if (slen(sub) == 0) return biBuiltinErr("indexof", "empty search character");
  const i = indexBytes(sptr(s), slen(s), sptr(sub), slen(sub), 0);
  if (i < 0) return tg_int(-1);
  return tg_int(runeCount(sptr(s), <usize>i));
}

/** substring(s, start, length): code points; negative start → error (undefined); length < 0 → to the end. */
export function tg_bi_substring(s: usize, start: usize, len: usize): usize {
  if (!isStr(s)) return biOperandTypeErr("substring", 1, "string", s);
  if (!asInt(start, I64_A)) return intOperandErr("substring", 2, start);
  if (!asInt(len, I64_B)) return intOperandErr("substring", 3, len);
  const st = load<i64>(I64_A);
  const ln = load<i64>(I64_B);
  if (st < 0) return biBuiltinErr("substring", "negative offset");
  const p = sptr(s);
  const n = slen(s);
  const b = runeOffset(p, n, st);
  if (b >= n) return tg_string(p, 0);
  if (ln < 0) return tg_string(p + b, n - b);
  const e = b + runeOffset(p + b, n - b, ln);
  return tg_string(p + b, e - b);
}

/** builtins.IntOperand's errors (integral numbers beyond 2^53 are a gap: undefined, no message). */
function intOperandErr(name: string, pos: i32, v: usize): usize {
  if (isNum(v)) {
    const d = f64Of(v);
    if (d == Math.floor(d)) return 0;
  }
  return biIntOperandErr(name, pos, v, false);
}

const DIGITS = memory.data<u8>([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66]);

/** format_int(number, base ∈ {2, 8, 10, 16}): truncates toward zero; lowercase hex. */
export function tg_bi_format_int(x: usize, base: usize): usize {
  if (!isNum(x)) return biOperandTypeErr("format_int", 1, "number", x);
  if (!isNum(base)) return biOperandTypeErr("format_int", 2, "number", base);
  // OPA compares the number's text with "2", "8", "10", "16": 2.0 or 1e1 are invalid bases
  const b = isIntRepr(base) ? intOf(base) : 0;
  if (b != 2 && b != 8 && b != 10 && b != 16) return biTypeErr("format_int", "operand 2 must be one of {2, 8, 10, 16}");
  let neg = false;
  let u: u64 = 0;
  if (isIntRepr(x)) {
    const v = intOf(x);
    neg = v < 0;
    u = neg ? <u64>(-v) : <u64>v;
  } else {
    const d = Math.trunc(f64Of(x));
    if (!isFinite(d) || Math.abs(d) >= 18446744073709551616.0) return 0; // TODO: big integers
    neg = d < 0;
    u = <u64>Math.abs(d);
  }
  const buf = opa_malloc(66);
  let i: usize = 66;
  if (u == 0) store<u8>(buf + --i, 0x30);
  while (u > 0) {
    store<u8>(buf + --i, load<u8>(DIGITS + <usize>(u % <u64>b)));
    u /= <u64>b;
  }
  if (neg) store<u8>(buf + --i, 0x2d);
  return tg_string(buf + i, 66 - i);
}

/**
 * to_number(x): null → 0, booleans → 1/0, numbers as is, strings that are JSON numbers (also with
 * a leading "+") → that number. Gap: Go's ParseFloat also accepts ".5", "5.", hex floats and
 * "1_000"-style forms; those are undefined here. "inf"/"nan" are errors in OPA too.
 */
export function tg_bi_to_number(x: usize): usize {
  const t = typeOf(x);
  if (t == T_NULL) return tg_int(0);
  if (t == T_BOOLEAN) return tg_int(<i64>load<u32>(x, 4));
  if (t == T_NUMBER) return x;
  if (t != T_STRING) return biOperandTypeErr("to_number", 1, "one of {null, boolean, number, string}", x);
  let p = sptr(x);
  let n = slen(x);
  if (n > 0 && load<u8>(p) == 0x2b) {
    p++;
    n--;
    if (n > 0 && load<u8>(p) == 0x2d) return toNumberErr(x);
  }
  if (n == 0) return toNumberErr(x);
  const c = load<u8>(p);
  if (c != 0x2d && (c < 0x30 || c > 0x39)) return toNumberErr(x);
  // leading zeros ("007") are valid for ParseFloat but not JSON: strip them
  let q = c == 0x2d ? p + 1 : p;
  const e = p + n;
  while (q + 1 < e && load<u8>(q) == 0x30 && load<u8>(q + 1) >= 0x30 && load<u8>(q + 1) <= 0x39) q++;
  if (c == 0x2d && q != p + 1) {
    // rebuild "-" + rest
    const buf = opa_malloc(e - q + 1);
    store<u8>(buf, 0x2d);
    memory.copy(buf + 1, q, e - q);
    return parseNum(x, buf, e - q + 1);
  }
  if (c != 0x2d) p = q;
  return parseNum(x, p, e - p);
}

/**
 * to_number's errors for a string operand s: "inf"/"infinity"/"nan" (any case, after leading
 * signs) are operand type errors, anything else Go's strconv.ParseFloat syntax error.
 */
function toNumberErr(s: usize): usize {
  const p = sptr(s);
  const e = p + slen(s);
  let q = p;
  while (q < e && (load<u8>(q) == 0x2b || load<u8>(q) == 0x2d)) q++;
  if (asciiFoldEq(q, e - q, "inf") || asciiFoldEq(q, e - q, "infinity") || asciiFoldEq(q, e - q, "nan")) {
    return biOperandTypeErr("to_number", 1, "valid number string", s);
  }
  biBuiltinErr("to_number", "strconv.ParseFloat: parsing ");
  biMoreQuoted(s);
  return biMore(": invalid syntax");
}

function asciiFoldEq(p: usize, n: usize, lit: string): bool {
  if (n != <usize>lit.length) return false;
  for (let i: usize = 0; i < n; i++) {
    let c = <u32>load<u8>(p + i);
    if (c >= 0x41 && c <= 0x5a) c += 32;
    if (c != <u32>lit.charCodeAt(<i32>i)) return false;
  }
  return true;
}

function parseNum(s: usize, p: usize, n: usize): usize {
  for (let i: usize = 0; i < n; i++) {
    const c = load<u8>(p + i);
    if (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) return toNumberErr(s); // JSON allows surrounding whitespace, Go does not
  }
  // copy: opa_json_parse keeps pointers into the source text for raw numbers
  const buf = opa_malloc(n);
  memory.copy(buf, p, n);
  const v = opa_json_parse(buf, n);
  if (v == 0 || typeOf(v) != T_NUMBER) return toNumberErr(s);
  if (!isFinite(f64Of(v))) {
    // Go: ParseFloat's range error ("1e400")
    biBuiltinErr("to_number", "strconv.ParseFloat: parsing ");
    biMoreQuoted(s);
    return biMore(": value out of range");
  }
  return v;
}
