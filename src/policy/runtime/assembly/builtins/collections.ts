// Array / object / type built-ins: array.concat array.slice object.get object.keys object.remove
// object.union object.filter is_* type_name.
// Results never alias a mutable header of an operand except when OPA returns the operand itself.

import {
  T_NULL, T_BOOLEAN, T_NUMBER, T_STRING, T_ARRAY, T_OBJECT, T_SET, tg_array, tg_set, tg_object, tg_array_push,
  tg_object_insert, tg_get, tg_bool, tg_string, tg_compare,
} from "../runtime";
import { typeOf, isObj, clen, at, objKey, objVal, asInt, I64_A, I64_B } from "./util";
import { setHas } from "./numbers";

export function tg_bi_array_concat(a: usize, b: usize): usize {
  if (typeOf(a) != T_ARRAY || typeOf(b) != T_ARRAY) return 0;
  const na = clen(a);
  const nb = clen(b);
  const r = tg_array(na + nb);
  for (let i: u32 = 0; i < na; i++) tg_array_push(r, at(a, i));
  for (let i: u32 = 0; i < nb; i++) tg_array_push(r, at(b, i));
  return r;
}

/** array.slice(arr, start, stop): indices clamped to [0, len], start clamped to stop. */
export function tg_bi_array_slice(a: usize, start: usize, stop: usize): usize {
  if (typeOf(a) != T_ARRAY || !asInt(start, I64_A) || !asInt(stop, I64_B)) return 0;
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

/**
 * object.get(obj, key, default): obj[key] if present, else default. An array key is a path
 * (object keys / array indices / set members, like a ref); the empty path returns obj.
 */
export function tg_bi_object_get(o: usize, key: usize, dflt: usize): usize {
  if (!isObj(o) || key == 0 || dflt == 0) return 0;
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
  if (!isObj(o)) return 0;
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
  if (!isObj(o) || !isKeyColl(keys)) return 0;
  return filterObj(o, keys, false);
}

/** object.filter(obj, keys): keep only the given keys. */
export function tg_bi_object_filter(o: usize, keys: usize): usize {
  if (!isObj(o) || !isKeyColl(keys)) return 0;
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
  if (!isObj(a) || !isObj(b)) return 0;
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
