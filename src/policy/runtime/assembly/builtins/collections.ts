// Array / object / type built-ins: array.concat array.slice object.get object.keys object.remove
// object.union object.filter is_* type_name.
// Results never alias a mutable header of an operand except when OPA returns the operand itself.

import {
  T_NULL, T_BOOLEAN, T_NUMBER, T_STRING, T_ARRAY, T_OBJECT, T_SET, tg_array, tg_set, tg_object, tg_array_push, tg_int,
  tg_object_insert, tg_get, tg_bool, tg_string, tg_compare, opa_malloc, biTypeErr, biOperandTypeErr, biIntOperandErr,
} from "../runtime";
import { typeOf, isObj, isNum, f64Of, clen, at, objKey, objVal, asInt, I64_A, I64_B } from "./util";
import { setHas } from "./numbers";

export function tg_bi_array_concat(a: usize, b: usize): usize {
  if (typeOf(a) != T_ARRAY) return biOperandTypeErr("array.concat", 1, "array", a);
  if (typeOf(b) != T_ARRAY) return biOperandTypeErr("array.concat", 2, "array", b);
  const na = clen(a);
  const nb = clen(b);
  const r = tg_array(na + nb);
  for (let i: u32 = 0; i < na; i++) tg_array_push(r, at(a, i));
  for (let i: u32 = 0; i < nb; i++) tg_array_push(r, at(b, i));
  return r;
}

/** array.slice(arr, start, stop): indices clamped to [0, len], start clamped to stop. */
export function tg_bi_array_slice(a: usize, start: usize, stop: usize): usize {
  if (typeOf(a) != T_ARRAY) return biOperandTypeErr("array.slice", 1, "array", a);
  if (!asInt(start, I64_A)) return intOperandErr("array.slice", 2, start);
  if (!asInt(stop, I64_B)) return intOperandErr("array.slice", 3, stop);
  const n: i64 = <i64>clen(a);
  let e = load<i64>(I64_B);
  let s = load<i64>(I64_A);
  if (e < 0) e = 0;
  else if (e > n) e = n;
  if (s < 0) s = 0;
  else if (s > e) s = e;
  const r = tg_array(<u32>(e - s));
  for (let i = s; i < e; i++) tg_array_push(r, at(a, <u32>i));
  return r;
}

/** builtins.IntOperand's errors (integral numbers beyond 2^53 are a gap: undefined, no message). */
function intOperandErr(name: string, pos: i32, v: usize): usize {
  if (isNum(v)) {
    const d = f64Of(v);
    if (d == Math.floor(d)) return 0;
  }
  return biIntOperandErr(name, pos, v, false);
}

/**
 * object.get(obj, key, default): obj[key] if present, else default. An array key is a path
 * (object keys / array indices / set members, like a ref); the empty path returns obj.
 */
export function tg_bi_object_get(o: usize, key: usize, dflt: usize): usize {
  if (!isObj(o)) return biOperandTypeErr("object.get", 1, "object", o);
  if (key == 0 || dflt == 0) return 0;
  if (typeOf(key) != T_ARRAY) {
    const v = tg_get(o, key);
    return v != 0 ? v : dflt;
  }
  const n = clen(key);
  let cur = o;
  for (let i: u32 = 0; i < n; i++) {
    cur = tg_get(cur, at(key, i));
    if (cur == 0) return dflt;
  }
  return cur;
}

/** object.keys(obj) → set of keys (already sorted). */
export function tg_bi_object_keys(o: usize): usize {
  if (!isObj(o)) return biOperandTypeErr("object.keys", 1, "object", o);
  const n = clen(o);
  const r = tg_set(n);
  for (let i: u32 = 0; i < n; i++) tg_array_push(r, objKey(o, i)); // sorted, unique: same layout
  return r;
}

/** Membership in a key collection given as array, set or object (its keys). */
function keyIn(keys: usize, k: usize): bool {
  const t = typeOf(keys);
  if (t == T_SET) return setHas(keys, k);
  if (t == T_OBJECT) return tg_get(keys, k) != 0;
  const n = clen(keys);
  for (let i: u32 = 0; i < n; i++) if (tg_compareEq(at(keys, i), k)) return true;
  return false;
}

@inline function tg_compareEq(a: usize, b: usize): bool {
  return tg_compare(a, b) == 0;
}

function isKeyColl(keys: usize): bool {
  const t = typeOf(keys);
  return t == T_ARRAY || t == T_SET || t == T_OBJECT;
}

/** Copies the pairs of o for which keyIn(keys, k) == keep (appended in order: stays sorted). */
function filterObj(o: usize, keys: usize, keep: bool): usize {
  const n = clen(o);
  const r = tg_object(n);
  let m: u32 = 0;
  const dst: usize = <usize>load<u32>(r, 4);
  for (let i: u32 = 0; i < n; i++) {
    const k = objKey(o, i);
    if (keyIn(keys, k) == keep) {
      store<u32>(dst + (<usize>m << 3), <u32>k);
      store<u32>(dst + (<usize>m << 3) + 4, <u32>objVal(o, i));
      m++;
    }
  }
  store<u32>(r, m, 8);
  return r;
}

/** object.remove(obj, keys): keys as array, set or object. */
export function tg_bi_object_remove(o: usize, keys: usize): usize {
  if (!isObj(o)) return biOperandTypeErr("object.remove", 1, "object", o);
  if (!isKeyColl(keys)) return biOperandTypeErr("object.remove", 2, "one of {object, set, array}", keys);
  return filterObj(o, keys, false);
}

/** object.filter(obj, keys): keep only the given keys. */
export function tg_bi_object_filter(o: usize, keys: usize): usize {
  if (!isObj(o)) return biOperandTypeErr("object.filter", 1, "object", o);
  if (!isKeyColl(keys)) return biOperandTypeErr("object.filter", 2, "one of {object, set, array}", keys);
  return filterObj(o, keys, true);
}

/** Recursive merge: b wins, except that two objects under the same key are merged. */
function mergeObj(a: usize, b: usize): usize {
  const na = clen(a);
  const nb = clen(b);
  const r = tg_object(na + nb);
  for (let i: u32 = 0; i < na; i++) tg_object_insert(r, objKey(a, i), objVal(a, i));
  for (let i: u32 = 0; i < nb; i++) {
    const k = objKey(b, i);
    const vb = objVal(b, i);
    const va = tg_get(a, k);
    if (va != 0 && isObj(va) && isObj(vb)) tg_object_insert(r, k, mergeObj(va, vb));
    else tg_object_insert(r, k, vb);
  }
  return r;
}

export function tg_bi_object_union(a: usize, b: usize): usize {
  if (!isObj(a)) return biOperandTypeErr("object.union", 1, "object", a);
  if (!isObj(b)) return biOperandTypeErr("object.union", 2, "object", b);
  return mergeObj(a, b);
}

// ---- types

export function tg_bi_is_null(x: usize): usize {
  return x == 0 ? 0 : tg_bool(typeOf(x) == T_NULL);
}
export function tg_bi_is_boolean(x: usize): usize {
  return x == 0 ? 0 : tg_bool(typeOf(x) == T_BOOLEAN);
}
export function tg_bi_is_number(x: usize): usize {
  return x == 0 ? 0 : tg_bool(typeOf(x) == T_NUMBER);
}
export function tg_bi_is_string(x: usize): usize {
  return x == 0 ? 0 : tg_bool(typeOf(x) == T_STRING);
}
export function tg_bi_is_array(x: usize): usize {
  return x == 0 ? 0 : tg_bool(typeOf(x) == T_ARRAY);
}
export function tg_bi_is_object(x: usize): usize {
  return x == 0 ? 0 : tg_bool(typeOf(x) == T_OBJECT);
}
export function tg_bi_is_set(x: usize): usize {
  return x == 0 ? 0 : tg_bool(typeOf(x) == T_SET);
}

// "null" "boolean" "number" "string" "array" "object" "set", concatenated; offsets by tag.
const NAMES = memory.data<u8>([
  0x6e, 0x75, 0x6c, 0x6c, // null
  0x62, 0x6f, 0x6f, 0x6c, 0x65, 0x61, 0x6e, // boolean
  0x6e, 0x75, 0x6d, 0x62, 0x65, 0x72, // number
  0x73, 0x74, 0x72, 0x69, 0x6e, 0x67, // string
  0x61, 0x72, 0x72, 0x61, 0x79, // array
  0x6f, 0x62, 0x6a, 0x65, 0x63, 0x74, // object
  0x73, 0x65, 0x74, // set
]);
const NAME_OFF = memory.data<u8>([0, 0, 4, 11, 17, 23, 28, 34, 37]);

/** type_name(x): the name is a fresh string value over static bytes (read-only). */
export function tg_bi_type_name(x: usize): usize {
  const t = typeOf(x);
  if (t < T_NULL || t > T_SET) return 0;
  const s = <usize>load<u8>(NAME_OFF + t);
  const e = <usize>load<u8>(NAME_OFF + t + 1);
  return tg_string(NAMES + s, e - s);
}

// ---- object.subset

/** Set inclusion by membership (OPA does not recurse into set elements). */
function setSubset(sup: usize, sub: usize): bool {
  const n = clen(sub);
  if (n > clen(sup)) return false;
  // both sorted: one merge pass
  const m = clen(sup);
  let j: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const x = at(sub, i);
    while (j < m && tg_compare(at(sup, j), x) < 0) j++;
    if (j == m || tg_compare(at(sup, j), x) != 0) return false;
    j++;
  }
  return true;
}

/** sub occurs as a contiguous run of sup (elements compared for equality, not recursively). */
function arraySubset(sup: usize, sub: usize): bool {
  const n = clen(sub);
  const m = clen(sup);
  if (n > m) return false;
  for (let s: u32 = 0; s + n <= m; s++) {
    let k: u32 = 0;
    while (k < n && tg_compare(at(sup, s + k), at(sub, k)) == 0) k++;
    if (k == n) return true;
  }
  return false;
}

/**
 * Array super, set sub: OPA counts the super elements that are members of sub and answers true as
 * soon as that count reaches |sub| (so duplicates in the array count again, and an empty array is
 * never a superset, not even of the empty set). Reproduced as is.
 */
function arraySetSubset(sup: usize, sub: usize): bool {
  const m = clen(sup);
  let unmatched: i64 = <i64>clen(sub);
  for (let i: u32 = 0; i < m; i++) {
    if (setHas(sub, at(sup, i))) unmatched--;
    if (unmatched == 0) return true;
  }
  return false;
}

/** Every key of sub is in sup with an equal value, or both values are objects / sets / arrays in the subset relation. */
function objectSubset(sup: usize, sub: usize): bool {
  const n = clen(sub);
  for (let i: u32 = 0; i < n; i++) {
    const vs = tg_get(sup, objKey(sub, i));
    if (vs == 0) return false;
    const vb = objVal(sub, i);
    if (tg_compare(vs, vb) == 0) continue;
    const t = typeOf(vs);
    if (t != typeOf(vb)) return false;
    if (t == T_OBJECT) {
      if (!objectSubset(vs, vb)) return false;
    } else if (t == T_SET) {
      if (!setSubset(vs, vb)) return false;
    } else if (t == T_ARRAY) {
      if (!arraySubset(vs, vb)) return false;
    } else return false;
  }
  return true;
}

/**
 * object.subset(super, sub) → boolean. Operands: object/object (recursive, above), set/set
 * (inclusion), array/array (sub is a contiguous run of super), array/set (every member of sub
 * occurs in super, see arraySetSubset). Any other combination → 0 (OPA: operand type error).
 */
export function tg_bi_object_subset(sup: usize, sub: usize): usize {
  const ts = typeOf(sup);
  const tb = typeOf(sub);
  if (ts == T_OBJECT && tb == T_OBJECT) return tg_bool(objectSubset(sup, sub));
  if (ts == T_SET && tb == T_SET) return tg_bool(setSubset(sup, sub));
  if (ts == T_ARRAY && tb == T_ARRAY) return tg_bool(arraySubset(sup, sub));
  if (ts == T_ARRAY && tb == T_SET) return tg_bool(arraySetSubset(sup, sub));
  if (sup == 0 || sub == 0) return 0;
  return biTypeErr("object.subset", "both arguments object.subset must be of the same type or array and set");
}

// ---- walk

function pair(path: usize, v: usize): usize {
  const r = tg_array(2);
  tg_array_push(r, path);
  tg_array_push(r, v);
  return r;
}

/** Path array header over buffer buf (len = cap = n, so a stray push would reallocate). */
function pathHeader(buf: usize, n: u32): usize {
  const h = tg_array(0);
  store<u32>(h, <u32>buf, 4);
  store<u32>(h, n, 8);
  store<u32>(h, n, 12);
  return h;
}

// walk's pending-node stack: raw (pair, path buffer capacity) entries, 8 bytes each.
let wStack: usize = 0;
let wLen: u32 = 0;
let wCap: u32 = 0;

function wPush(pv: usize, bufCap: u32): void {
  if (wLen == wCap) {
    const ncap: u32 = wCap < 16 ? 16 : wCap * 2;
    const np = opa_malloc(<usize>ncap << 3);
    if (wLen > 0) memory.copy(np, wStack, <usize>wLen << 3);
    wStack = np;
    wCap = ncap;
  }
  store<u32>(wStack + (<usize>wLen << 3), <u32>pv);
  store<u32>(wStack + (<usize>wLen << 3) + 4, bufCap);
  wLen++;
}

/**
 * Pushes the pending entry for child i of a node whose path has buffer buf (length n, capacity
 * bufCap). Child 0 appends its key in place when the buffer has room: the paths sharing one
 * buffer form a chain of first children, so slot n is claimed exactly once and every shorter
 * path only reads its own prefix. Other children copy the prefix into an exact-size buffer.
 * Deep chains thus cost O(depth) path memory instead of O(depth²).
 */
function pushChild(buf: usize, n: u32, bufCap: u32, i: u32, key: usize, v: usize): void {
  let nb: usize;
  let ncap: u32;
  if (i == 0 && bufCap > n) {
    nb = buf;
    ncap = bufCap;
  } else {
    ncap = i == 0 ? (n < 2 ? 4 : (n + 1) * 2) : n + 1;
    nb = opa_malloc(<usize>ncap << 2);
    if (n > 0) memory.copy(nb, buf, <usize>n << 2);
  }
  store<u32>(nb + (<usize>n << 2), <u32>key);
  wPush(pair(pathHeader(nb, n + 1), v), ncap);
}

/**
 * walk(x) → array of [path, value] pairs, every node of x in pre-order: x itself with path []
 * first, then the children of each node in order (array indices ascending, object keys in
 * sorted key order, set elements in sorted order with the element as its own path key), each
 * followed by its own subtree. Paths are fresh arrays (read-only: they may share a buffer with
 * longer paths beyond their length); values are the nodes of x. Uses an explicit stack (no
 * recursion), so any depth works.
 */
export function tg_bi_walk(x: usize): usize {
  if (x == 0) return 0;
  const out = tg_array(1);
  wLen = 0;
  wCap = 0;
  wStack = 0;
  wPush(pair(tg_array(0), x), 0);
  while (wLen > 0) {
    wLen--;
    const pv = <usize>load<u32>(wStack + (<usize>wLen << 3));
    const bufCap = load<u32>(wStack + (<usize>wLen << 3) + 4);
    tg_array_push(out, pv);
    const path = at(pv, 0);
    const buf = <usize>load<u32>(path, 4);
    const n = clen(path);
    const v = at(pv, 1);
    const t = typeOf(v);
    // children pushed in reverse so that they pop in order
    if (t == T_ARRAY) {
      for (let i = clen(v); i > 0; i--) pushChild(buf, n, bufCap, i - 1, tg_int(<i64>(i - 1)), at(v, i - 1));
    } else if (t == T_OBJECT) {
      for (let i = clen(v); i > 0; i--) pushChild(buf, n, bufCap, i - 1, objKey(v, i - 1), objVal(v, i - 1));
    } else if (t == T_SET) {
      for (let i = clen(v); i > 0; i--) pushChild(buf, n, bufCap, i - 1, at(v, i - 1), at(v, i - 1));
    }
  }
  wStack = 0;
  return out;
}
