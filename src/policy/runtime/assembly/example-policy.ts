// Hand-written stand-in for compiler output (spike). It has exactly the shape the Rego compiler
// will generate (see ../../wasm/DESIGN.md): constants, one function per rule/entrypoint, a
// dispatch by entrypoint id, and thin `eval` / `opa_eval` / `entrypoints` / `builtins` exports
// on top of the runtime's tg_* helpers. Equivalent Rego:
//
//   package example
//   default allow := false
//   allow if input.user == "alice"
//   allow if { some u in data.admins; u == input.user }
//   echo := input
//   set := {x | some x in input}
//   greeting := sprintf("hello %s", [input.user])      # host built-in via env.opa_builtin2

import {
  tg_abort, tg_array, tg_array_push, tg_bool, tg_compare, tg_ctx_data, tg_ctx_entrypoint,
  tg_ctx_input, tg_ctx_set_result, tg_elem, tg_eval_begin, tg_eval_end, tg_get, tg_len,
  tg_object_value_at, tg_result_set, tg_set, tg_set_add, tg_string_lit, tg_type, opa_json_parse,
  opa_malloc, opa_builtin2, T_ARRAY, T_OBJECT, T_SET,
} from "./runtime";

// ABI surface: everything the SDK (and OPA's other SDKs) look for.
export {
  opa_malloc, opa_free, opa_heap_ptr_get, opa_heap_ptr_set, opa_json_parse, opa_json_dump,
  opa_value_parse, opa_value_dump, opa_value_add_path, opa_value_remove_path,
  opa_eval_ctx_new, opa_eval_ctx_set_input, opa_eval_ctx_set_data, opa_eval_ctx_set_entrypoint,
  opa_eval_ctx_get_result,
} from "./runtime";

export const opa_wasm_abi_version: i32 = 1;
export const opa_wasm_abi_minor_version: i32 = 2;

// ---- constants (the compiler will emit these pre-laid-out in a data segment instead)
const K_USER = tg_string_lit("user");
const K_ADMINS = tg_string_lit("admins");
const C_ALICE = tg_string_lit("alice");
const C_HELLO_FMT = tg_string_lit("hello %s");
const BUILTIN_SPRINTF: i32 = 0;

// ---- rules
function rule_allow(input: usize, data: usize): usize {
  // allow if input.user == "alice"
  {
    const u = tg_get(input, K_USER);
    if (u != 0 && tg_compare(u, C_ALICE) == 0) return tg_bool(true);
  }
  // allow if { some u in data.admins; u == input.user }
  {
    const admins = tg_get(data, K_ADMINS);
    const t = tg_type(admins);
    if (t == T_ARRAY || t == T_SET || t == T_OBJECT) {
      const n = tg_len(admins);
      for (let i: u32 = 0; i < n; i++) {
        const x = t == T_OBJECT ? tg_object_value_at(admins, i) : tg_elem(admins, i);
        const u = tg_get(input, K_USER);
        if (u != 0 && tg_compare(x, u) == 0) return tg_bool(true);
      }
    }
  }
  return tg_bool(false); // default
}

function rule_echo(input: usize, _data: usize): usize {
  return input;
}

function rule_set(input: usize, _data: usize): usize {
  const s = tg_set(0);
  const t = tg_type(input);
  if (t == T_ARRAY || t == T_SET || t == T_OBJECT) {
    const n = tg_len(input);
    for (let i: u32 = 0; i < n; i++) {
      tg_set_add(s, t == T_OBJECT ? tg_object_value_at(input, i) : tg_elem(input, i));
    }
  }
  return s;
}

function rule_greeting(input: usize, _data: usize): usize {
  const u = tg_get(input, K_USER);
  if (u == 0) return 0;
  const args = tg_array(1);
  tg_array_push(args, u);
  return opa_builtin2(BUILTIN_SPRINTF, 0, C_HELLO_FMT, args);
}

function dispatch(ep: i32, input: usize, data: usize): usize {
  switch (ep) {
    case 0: return rule_allow(input, data);
    case 1: return rule_echo(input, data);
    case 2: return rule_set(input, data);
    case 3: return rule_greeting(input, data);
  }
  tg_abort("invalid entrypoint id");
  return 0;
}

// ---- ABI glue
function parseAscii(s: string): usize {
  const n = s.length;
  const p = opa_malloc(<usize>n);
  for (let i = 0; i < n; i++) store<u8>(p + i, <u8>s.charCodeAt(i));
  return opa_json_parse(p, n);
}

export function entrypoints(): usize {
  return parseAscii('{"example/allow":0,"example/echo":1,"example/set":2,"example/greeting":3}');
}

export function builtins(): usize {
  return parseAscii('{"sprintf":0}');
}

export function eval(ctx: usize): i32 {
  const r = dispatch(tg_ctx_entrypoint(ctx), tg_ctx_input(ctx), tg_ctx_data(ctx));
  tg_ctx_set_result(ctx, tg_result_set(r));
  return 0;
}

export function opa_eval(
  _reserved: usize, ep: i32, data: usize, input: usize, inputLen: usize, heap: usize, format: i32,
): usize {
  const inp = tg_eval_begin(heap, input, inputLen);
  return tg_eval_end(dispatch(ep, inp, data), format);
}
