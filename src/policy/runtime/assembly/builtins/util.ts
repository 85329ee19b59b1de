// Shared helpers for the in-module built-ins (tg_bi_*). See ../../../wasm/DESIGN.md §5.
// Conventions: every built-in takes value addresses and returns a value address, 0 = undefined
// (OPA's non-strict behaviour for operand type errors). Runtime errors that OPA always reports
// (e.g. `div: divide by zero`) go through tg_abort → env.opa_abort.

import {
  T_NUMBER, T_STRING, T_ARRAY, T_SET, T_OBJECT, N_INT, numAsF64, tg_int, tg_float, tg_string, opa_malloc,
} from "../runtime";

@inline export function typeOf(v: usize): u8 {
  return v == 0 ? 0 : load<u8>(v);
}
@inline export function isNum(v: usize): bool {
  return v != 0 && load<u8>(v) == T_NUMBER;
}
@inline export function isStr(v: usize): bool {
  return v != 0 && load<u8>(v) == T_STRING;
}
@inline export function isColl(v: usize): bool {
  const t = typeOf(v);
  return t == T_ARRAY || t == T_SET;
}
@inline export function isObj(v: usize): bool {
  return typeOf(v) == T_OBJECT;
}
@inline export function isIntRepr(v: usize): bool {
  return load<u8>(v, 1) == N_INT;
}
@inline export function intOf(v: usize): i64 {
  return load<i64>(v, 8);
}
@inline export function f64Of(v: usize): f64 {
  return numAsF64(v);
}
@inline export function sptr(v: usize): usize {
  return <usize>load<u32>(v, 4);
}
@inline export function slen(v: usize): usize {
  return <usize>load<u32>(v, 8);
}
@inline export function clen(v: usize): u32 {
  return load<u32>(v, 8);
}
/** i-th element of an array/set (no bounds check). */
@inline export function at(c: usize, i: u32): usize {
  return <usize>load<u32>(<usize>load<u32>(c, 4) + (<usize>i << 2));
}
@inline export function objKey(o: usize, i: u32): usize {
  return <usize>load<u32>(<usize>load<u32>(o, 4) + (<usize>i << 3));
}
@inline export function objVal(o: usize, i: u32): usize {
  return <usize>load<u32>(<usize>load<u32>(o, 4) + (<usize>i << 3) + 4);
}

/** |d| below this is exactly representable as i64 and as f64 (2^53). */
export const EXACT: f64 = 9007199254740992.0;

/** A computed number: integral values that fit 2^53 become ints (printed without ".0"). */
export function mkNum(d: f64): usize {
  if (!isFinite(d)) return 0;
  if (d == Math.floor(d) && Math.abs(d) < EXACT) return tg_int(<i64>d);
  return tg_float(d);
}

/** Integer value of a number if it is integral and exactly representable (int repr or float < 2^53). */
export function asInt(v: usize, out: usize): bool {
  if (!isNum(v)) return false;
  if (isIntRepr(v)) {
    store<i64>(out, intOf(v));
    return true;
  }
  const d = f64Of(v);
  if (d != Math.floor(d) || Math.abs(d) >= EXACT) return false;
  store<i64>(out, <i64>d);
  return true;
}

/** Scratch for asInt results (start-time static; never holds heap pointers). */
export const I64_A: usize = memory.data(8, 8);
export const I64_B: usize = memory.data(8, 8);
export const I64_C: usize = memory.data(8, 8);

/** New string value over a fresh copy of [p, p+n). */
export function copyStr(p: usize, n: usize): usize {
  const d = opa_malloc(n);
  memory.copy(d, p, n);
  return tg_string(d, n);
}

/** String from an ASCII literal, allocated on the heap. */
export function lit(s: string): usize {
  const n = s.length;
  const p = opa_malloc(<usize>n);
  for (let i = 0; i < n; i++) store<u8>(p + i, <u8>s.charCodeAt(i));
  return tg_string(p, <usize>n);
}

// ---- UTF-8 decoding with Go's rules: an invalid byte decodes as U+FFFD of width 1.

let decW: usize = 1;

/** Decodes the code point at p (end e); the sequence length is left in `decWidth()`. */
export function decode(p: usize, e: usize): u32 {
  const b0 = <u32>load<u8>(p);
  if (b0 < 0x80) {
    decW = 1;
    return b0;
  }
  decW = 1;
  let n: usize = 0;
  let cp: u32 = 0;
  let minCp: u32 = 0;
  if ((b0 & 0xe0) == 0xc0) { n = 2; cp = b0 & 0x1f; minCp = 0x80; }
  else if ((b0 & 0xf0) == 0xe0) { n = 3; cp = b0 & 0x0f; minCp = 0x800; }
  else if ((b0 & 0xf8) == 0xf0) { n = 4; cp = b0 & 0x07; minCp = 0x10000; }
  else return 0xfffd;
  if (p + n > e) return 0xfffd;
  for (let i: usize = 1; i < n; i++) {
    const b = <u32>load<u8>(p + i);
    if ((b & 0xc0) != 0x80) return 0xfffd;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < minCp || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0xfffd;
  decW = n;
  return cp;
}

export function decWidth(): usize {
  return decW;
}

/** Number of code points (Go's utf8.RuneCount). */
export function runeCount(p: usize, n: usize): i64 {
  const e = p + n;
  let c: i64 = 0;
  let q = p;
  while (q < e) {
    decode(q, e);
    q += decW;
    c++;
  }
  return c;
}

/** Byte offset of the k-th code point (or n if k ≥ count). */
export function runeOffset(p: usize, n: usize, k: i64): usize {
  const e = p + n;
  let q = p;
  let i: i64 = 0;
  while (q < e && i < k) {
    decode(q, e);
    q += decW;
    i++;
  }
  return q - p;
}

/** Byte index of needle in haystack, or -1. */
export function indexBytes(h: usize, hn: usize, nd: usize, nn: usize, from: usize): isize {
  if (nn == 0) return <isize>from;
  if (nn > hn) return -1;
  const last = hn - nn;
  const first = load<u8>(nd);
  for (let i = from; i <= last; i++) {
    if (load<u8>(h + i) != first) continue;
    let j: usize = 1;
    while (j < nn && load<u8>(h + i + j) == load<u8>(nd + j)) j++;
    if (j == nn) return <isize>i;
  }
  return -1;
}

export function bytesEq(a: usize, b: usize, n: usize): bool {
  for (let i: usize = 0; i < n; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}
