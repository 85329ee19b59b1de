// Numeric and aggregate built-ins: count sum product max min sort abs round ceil floor
// plus minus mul div rem numbers.range, plus set `|` / `&` / `-`.
//
// Precision: arithmetic is exact on i64 ints (overflow falls back to f64); anything else is f64.
// Numbers parsed from JSON with > 18 digits or a fraction/exponent are f64 approximations
// (DESIGN.md §6) — OPA would use arbitrary precision.

import {
  T_STRING, T_ARRAY, T_OBJECT, T_SET, tg_int, tg_float, tg_array, tg_array_push, tg_set, tg_set_add,
  tg_compare, tg_abort, mergeSort, biOperandTypeErr, biOperandElemErr, biIntOperandErr,
} from "../runtime";
import {
  typeOf, isNum, isColl, isIntRepr, intOf, f64Of, mkNum, asInt, I64_A, I64_B, sptr, slen, clen, at,
  runeCount,
} from "./util";

/** count(collection|string): elements, or Unicode code points of a string. */
export function tg_bi_count(x: usize): usize {
  const t = typeOf(x);
  if (t == T_STRING) return tg_int(runeCount(sptr(x), slen(x)));
  if (t == T_ARRAY || t == T_SET || t == T_OBJECT) return tg_int(<i64>clen(x));
  return biOperandTypeErr("count", 1, "one of {array, object, set, string}", x);
}

/** Exact i64 add/sub/mul when the f64 estimate shows no overflow; otherwise f64. */
function arith(a: usize, b: usize, op: i32): usize {
  if (isIntRepr(a) && isIntRepr(b)) {
    const x = intOf(a);
    const y = intOf(b);
    if (op == 0) {
      const r = x + y;
      if (((x ^ r) & (y ^ r)) >= 0) return tg_int(r);
    } else if (op == 1) {
      const r = x - y;
      if (((x ^ y) & (x ^ r)) >= 0) return tg_int(r);
    } else {
      const r = x * y;
      if (x == 0 || (!(x == -1 && y == i64.MIN_VALUE) && r / x == y)) return tg_int(r);
    }
    const est: f64 = op == 0 ? <f64>x + <f64>y : op == 1 ? <f64>x - <f64>y : <f64>x * <f64>y;
    return tg_float(est);
  }
  const x = f64Of(a);
  const y = f64Of(b);
  return mkNum(op == 0 ? x + y : op == 1 ? x - y : x * y);
}

/** OPA's NumberOperand checks for two operands. */
function numOperands(name: string, a: usize, b: usize): bool {
  if (!isNum(a)) {
    biOperandTypeErr(name, 1, "number", a);
    return false;
  }
  if (!isNum(b)) {
    biOperandTypeErr(name, 2, "number", b);
    return false;
  }
  return true;
}

export function tg_bi_plus(a: usize, b: usize): usize {
  if (!numOperands("plus", a, b)) return 0;
  return arith(a, b, 0);
}

/** minus: numbers, or set difference when both operands are sets (Rego `-`). */
export function tg_bi_minus(a: usize, b: usize): usize {
  if (isNum(a) && isNum(b)) return arith(a, b, 1);
  if (typeOf(a) == T_SET && typeOf(b) == T_SET) {
    const r = tg_set(clen(a));
    const n = clen(a);
    for (let i: u32 = 0; i < n; i++) {
      const e = at(a, i);
      if (!setHas(b, e)) appendSorted(r, e);
    }
    return r;
  }
  // OPA's messages for mixed / wrong operands
  if (!isNum(a) && typeOf(a) != T_SET) return biOperandTypeErr("minus", 1, "one of {number, set}", a);
  if (isNum(b)) return biOperandTypeErr("minus", 2, "set", b);
  return biOperandTypeErr("minus", 2, "number", b);
}

export function tg_bi_mul(a: usize, b: usize): usize {
  if (!numOperands("mul", a, b)) return 0;
  return arith(a, b, 2);
}

/** div: `div: divide by zero` is a runtime error (aborts), like OPA. */
export function tg_bi_div(a: usize, b: usize): usize {
  if (!numOperands("div", a, b)) return 0;
  if (f64Of(b) == 0) tg_abort("div: divide by zero");
  if (isIntRepr(a) && isIntRepr(b)) {
    const x = intOf(a);
    const y = intOf(b);
    if (!(x == i64.MIN_VALUE && y == -1) && x % y == 0) return tg_int(x / y);
  }
  return mkNum(f64Of(a) / f64Of(b));
}

/** rem: integers only (truncated, sign of the dividend, like Go's big.Int.Rem). */
export function tg_bi_rem(a: usize, b: usize): usize {
  if (!numOperands("rem", a, b)) return 0;
  if (!asInt(a, I64_A) || !asInt(b, I64_B)) tg_abort("rem: modulo on floating-point number");
  const y = load<i64>(I64_B);
  if (y == 0) tg_abort("rem: modulo by zero");
  const x = load<i64>(I64_A);
  if (y == -1) return tg_int(0);
  return tg_int(x % y);
}

export function tg_bi_abs(a: usize): usize {
  if (!isNum(a)) return biOperandTypeErr("abs", 1, "number", a);
  if (isIntRepr(a)) {
    const x = intOf(a);
    if (x == i64.MIN_VALUE) return tg_float(9223372036854775808.0);
    return x < 0 ? tg_int(-x) : a;
  }
  return mkNum(Math.abs(f64Of(a)));
}

function rounding(a: usize, mode: i32): usize {
  if (!isNum(a)) return biOperandTypeErr(mode == 0 ? "round" : mode == 1 ? "ceil" : "floor", 1, "number", a);
  if (isIntRepr(a)) return a;
  const d = f64Of(a);
  let r: f64;
  if (mode == 0) {
    // Go's math.Round: half away from zero (d - trunc(d) is exact in f64)
    r = Math.trunc(d);
    if (Math.abs(d - r) >= 0.5) r += d < 0 ? -1.0 : 1.0;
  } else if (mode == 1) r = Math.ceil(d);
  else r = Math.floor(d);
  if (Math.abs(r) < 9.0e18) return tg_int(<i64>r);
  return tg_float(r);
}

/** round: half away from zero (Go's math.Round, as OPA uses). */
export function tg_bi_round(a: usize): usize {
  return rounding(a, 0);
}
export function tg_bi_ceil(a: usize): usize {
  return rounding(a, 1);
}
export function tg_bi_floor(a: usize): usize {
  return rounding(a, 2);
}

/** sum(array|set of numbers); sum([]) = 0. */
export function tg_bi_sum(c: usize): usize {
  if (!isColl(c)) return biOperandTypeErr("sum", 1, "one of {set, array}", c);
  const n = clen(c);
  let acc = tg_int(0);
  for (let i: u32 = 0; i < n; i++) {
    const e = at(c, i);
    if (!isNum(e)) return biOperandElemErr("sum", 1, c, "numbers", e);
    acc = arith(acc, e, 0);
  }
  return acc;
}

/** product(array|set of numbers); product([]) = 1. */
export function tg_bi_product(c: usize): usize {
  if (!isColl(c)) return biOperandTypeErr("product", 1, "one of {set, array}", c);
  const n = clen(c);
  let acc = tg_int(1);
  for (let i: u32 = 0; i < n; i++) {
    const e = at(c, i);
    if (!isNum(e)) return biOperandElemErr("product", 1, c, "numbers", e);
    acc = arith(acc, e, 2);
  }
  return acc;
}

/** max(array|set) in OPA's total order; undefined for an empty collection. */
export function tg_bi_max(c: usize): usize {
  if (!isColl(c)) return biOperandTypeErr("max", 1, "one of {set, array}", c);
  const n = clen(c);
  if (n == 0) return 0;
  let m = at(c, 0);
  for (let i: u32 = 1; i < n; i++) if (tg_compare(at(c, i), m) > 0) m = at(c, i);
  return m;
}

export function tg_bi_min(c: usize): usize {
  if (!isColl(c)) return biOperandTypeErr("min", 1, "one of {set, array}", c);
  const n = clen(c);
  if (n == 0) return 0;
  let m = at(c, 0);
  for (let i: u32 = 1; i < n; i++) if (tg_compare(at(c, i), m) < 0) m = at(c, i);
  return m;
}

/** sort(array|set) → sorted array (stable; duplicates kept). */
export function tg_bi_sort(c: usize): usize {
  if (!isColl(c)) return biOperandTypeErr("sort", 1, "one of {set, array}", c);
  const n = clen(c);
  const r = tg_array(n);
  if (n == 0) return r;
  memory.copy(<usize>load<u32>(r, 4), <usize>load<u32>(c, 4), <usize>n << 2);
  store<u32>(r, n, 8);
  if (typeOf(c) == T_ARRAY) mergeSort(<usize>load<u32>(r, 4), n, 1);
  return r;
}

/** numbers.range(a, b): integers from a to b inclusive, descending when a > b. */
export function tg_bi_numbers_range(a: usize, b: usize): usize {
  if (!asInt(a, I64_A)) return rangeOperandErr(a, 1);
  if (!asInt(b, I64_B)) return rangeOperandErr(b, 2);
  const x = load<i64>(I64_A);
  const y = load<i64>(I64_B);
  const n: i64 = (x <= y ? y - x : x - y) + 1;
  if (n > 0x3fffffff) tg_abort("numbers.range: range too large");
  const r = tg_array(<u32>n);
  const step: i64 = x <= y ? 1 : -1;
  for (let i: i64 = 0; i < n; i++) tg_array_push(r, tg_int(x + i * step));
  return r;
}

/**
 * builtins.BigIntOperand's errors; integral numbers beyond 2^53 are not an error in OPA (its range
 * would just be huge or a single huge number): undefined without a message here (gap).
 */
function rangeOperandErr(v: usize, pos: i32): usize {
  if (isNum(v)) {
    const d = f64Of(v);
    if (d == Math.floor(d)) return 0;
  }
  return biIntOperandErr("numbers.range", pos, v, true);
}

// ---- sets

export function setHas(s: usize, e: usize): bool {
  // binary search in the sorted element vector
  let lo: i32 = 0;
  let hi: i32 = <i32>clen(s) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = tg_compare(at(s, <u32>mid), e);
    if (c == 0) return true;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** Appends e to a set known to be built in ascending order (falls back to a sorted insert). */
export function appendSorted(s: usize, e: usize): void {
  const n = clen(s);
  if (n > 0 && tg_compare(at(s, n - 1), e) >= 0) {
    tg_set_add(s, e);
    return;
  }
  tg_array_push(s, e); // same layout; keeps the set sorted
}

/** Rego `|` on two sets. */
export function tg_bi_or(a: usize, b: usize): usize {
  if (typeOf(a) != T_SET) return biOperandTypeErr("or", 1, "set", a);
  if (typeOf(b) != T_SET) return biOperandTypeErr("or", 2, "set", b);
  return mergeSets(a, b);
}

/** Rego `&` on two sets. */
export function tg_bi_and(a: usize, b: usize): usize {
  if (typeOf(a) != T_SET) return biOperandTypeErr("and", 1, "set", a);
  if (typeOf(b) != T_SET) return biOperandTypeErr("and", 2, "set", b);
  return intersectSets(a, b);
}

export function mergeSets(a: usize, b: usize): usize {
  const na = clen(a);
  const nb = clen(b);
  const r = tg_set(na + nb);
  let i: u32 = 0;
  let j: u32 = 0;
  while (i < na && j < nb) {
    const c = tg_compare(at(a, i), at(b, j));
    if (c < 0) tg_array_push(r, at(a, i++));
    else if (c > 0) tg_array_push(r, at(b, j++));
    else {
      tg_array_push(r, at(a, i++));
      j++;
    }
  }
  while (i < na) tg_array_push(r, at(a, i++));
  while (j < nb) tg_array_push(r, at(b, j++));
  return r;
}

export function intersectSets(a: usize, b: usize): usize {
  const na = clen(a);
  const nb = clen(b);
  const r = tg_set(na < nb ? na : nb);
  let i: u32 = 0;
  let j: u32 = 0;
  while (i < na && j < nb) {
    const c = tg_compare(at(a, i), at(b, j));
    if (c < 0) i++;
    else if (c > 0) j++;
    else {
      tg_array_push(r, at(a, i++));
      j++;
    }
  }
  return r;
}

/** union(set of sets). */
export function tg_bi_union(s: usize): usize {
  if (typeOf(s) != T_SET) return biOperandTypeErr("union", 1, "set", s);
  const n = clen(s);
  let r = tg_set(0);
  for (let i: u32 = 0; i < n; i++) {
    const e = at(s, i);
    if (typeOf(e) != T_SET) return biOperandTypeErr("union", 1, "set", e); // OPA: SetOperand(elem, 1)
    r = mergeSets(r, e);
  }
  return r;
}

/** intersection(set of sets); intersection(set()) = set(). */
export function tg_bi_intersection(s: usize): usize {
  if (typeOf(s) != T_SET) return biOperandTypeErr("intersection", 1, "set", s);
  const n = clen(s);
  if (n == 0) return tg_set(0);
  for (let i: u32 = 0; i < n; i++) if (typeOf(at(s, i)) != T_SET) return biOperandTypeErr("intersection", 1, "set", at(s, i));
  let r = at(s, 0);
  for (let i: u32 = 1; i < n; i++) r = intersectSets(r, at(s, i));
  if (n == 1) r = mergeSets(r, tg_set(0)); // fresh copy: never hand out an operand
  return r;
}
