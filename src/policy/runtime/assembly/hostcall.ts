// Values crossing to tollgate's host built-ins (src/policy/host/, called through env.opa_builtinN).
//
// Operands go as OPA's value text (opa_value_dump: sets as `{…}`/`set()`, any object keys), wrapped in a string
// value, so the host sees sets and exact numbers (the SDK's own transfer is JSON.parse of opa_json_dump, which
// turns sets into arrays and rounds integers beyond 2^53). A host built-in that returns sets answers in a tagged
// JSON form that tg_host_untag turns back into values: every object is {"o": [[key, value], …]} and every set
// {"s": […]}, so no plain JSON object can be mistaken for a set.

import {
  opa_value_dump, tg_abort, tg_array, tg_array_push, tg_elem, tg_get, tg_len, tg_object, tg_object_insert,
  tg_object_value_at, tg_set, tg_set_add, tg_string, tg_type, T_ARRAY, T_OBJECT, T_STRING,
} from "./runtime";

/** The string value holding `v`'s OPA value text. */
export function tg_host_arg(v: usize): usize {
  const p = opa_value_dump(v);
  let n: usize = 0;
  while (load<u8>(p + n) != 0) n++;
  return tg_string(p, n);
}

function isKey(k: usize, c: i32): bool {
  return tg_type(k) == T_STRING && load<u32>(k, 8) == 1 && load<u8>(load<u32>(k, 4)) == <u8>c;
}

function malformed(): usize {
  tg_abort("eval_internal_error: host built-in returned a malformed tagged value");
  return 0;
}

/** Rebuilds a value from the tagged JSON form (see the file comment). */
export function tg_host_untag(v: usize): usize {
  const t = tg_type(v);
  if (t == T_ARRAY) {
    const n = tg_len(v);
    const out = tg_array(n);
    for (let i: u32 = 0; i < n; i++) tg_array_push(out, tg_host_untag(tg_elem(v, i)));
    return out;
  }
  if (t != T_OBJECT) return v;
  if (tg_len(v) != 1) return malformed();
  const tag = tg_elem(v, 0);
  const body = tg_object_value_at(v, 0);
  if (tg_type(body) != T_ARRAY) return malformed();
  const n = tg_len(body);
  if (isKey(tag, 0x73)) { // "s"
    const s = tg_set(n);
    for (let i: u32 = 0; i < n; i++) tg_set_add(s, tg_host_untag(tg_elem(body, i)));
    return s;
  }
  if (!isKey(tag, 0x6f)) return malformed(); // "o"
  const o = tg_object(n);
  for (let i: u32 = 0; i < n; i++) {
    const pair = tg_elem(body, i);
    if (tg_type(pair) != T_ARRAY || tg_len(pair) != 2) return malformed();
    const k = tg_host_untag(tg_elem(pair, 0));
    if (tg_get(o, k) != 0) return malformed();
    tg_object_insert(o, k, tg_host_untag(tg_elem(pair, 1)));
  }
  return o;
}
