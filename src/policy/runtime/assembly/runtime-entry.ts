// Entry file of the prebuilt, policy-agnostic runtime.wasm (see ../../wasm/DESIGN.md §3).
// Built once by scripts/build-policy-runtime.mjs; src/policy/wasm/link.ts appends the
// generated policy code to it without re-running asc.
//
// Exports:
// - the OPA ABI functions (opa_*): kept in the linked policy module;
// - the tg_* helpers and the tg_heap_base global: used by the linker to resolve function
//   indices / the constant area by name, then removed from the linked module's exports.
// The linker adds eval, opa_eval, entrypoints, builtins and the ABI version globals.

import { opa_builtin0, opa_builtin1, opa_builtin2, opa_builtin3, opa_builtin4, opa_println } from "./runtime";

export {
  opa_malloc, opa_free, opa_heap_ptr_get, opa_heap_ptr_set, opa_json_parse, opa_json_dump,
  opa_value_parse, opa_value_dump, opa_value_add_path, opa_value_remove_path,
  opa_eval_ctx_new, opa_eval_ctx_set_input, opa_eval_ctx_set_data, opa_eval_ctx_set_entrypoint,
  opa_eval_ctx_get_result,
} from "./runtime";

export {
  tg_heap_base, tg_heap_init,
  tg_null, tg_bool, tg_int, tg_float, tg_string, tg_array, tg_set, tg_object,
  tg_array_push, tg_set_add, tg_object_insert,
  tg_type, tg_len, tg_elem, tg_object_value_at, tg_get, tg_compare, tg_equal,
  tg_ctx_input, tg_ctx_data, tg_ctx_entrypoint, tg_ctx_set_result,
  tg_result_set, tg_eval_begin, tg_eval_end,
} from "./runtime";

// Keeps every host import in the binary (asc drops unused @externals). Generated code calls
// the imports directly (the linker resolves "opa_builtin2" etc. to the import's index); these
// wrappers are only anchors and lose their exports at link time.
export function tg_keep_imports(sel: i32, p: usize): usize {
  switch (sel) {
    case 0: opa_println(p); return 0;
    case 1: return opa_builtin0(0, p);
    case 2: return opa_builtin1(0, p, p);
    case 3: return opa_builtin2(0, p, p, p);
    case 4: return opa_builtin3(0, p, p, p, p);
    default: return opa_builtin4(0, p, p, p, p, p);
  }
}
