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

// In-module built-ins (DESIGN.md §5): tg_bi_<name>(args…) → value | 0 (undefined). Dots in OPA's
// names become underscores (numbers.range → tg_bi_numbers_range). See builtins/*.ts.
export {
  tg_bi_count, tg_bi_sum, tg_bi_product, tg_bi_max, tg_bi_min, tg_bi_sort,
  tg_bi_abs, tg_bi_round, tg_bi_ceil, tg_bi_floor,
  tg_bi_plus, tg_bi_minus, tg_bi_mul, tg_bi_div, tg_bi_rem, tg_bi_or, tg_bi_and,
  tg_bi_numbers_range, tg_bi_union, tg_bi_intersection,
} from "./builtins/numbers";
export {
  tg_bi_concat, tg_bi_contains, tg_bi_startswith, tg_bi_endswith, tg_bi_lower, tg_bi_upper, tg_bi_split,
  tg_bi_replace, tg_bi_strings_replace_n, tg_bi_trim, tg_bi_trim_left, tg_bi_trim_right, tg_bi_trim_prefix,
  tg_bi_trim_suffix, tg_bi_trim_space, tg_bi_indexof, tg_bi_substring, tg_bi_format_int, tg_bi_to_number,
} from "./builtins/strings";
export {
  tg_bi_array_concat, tg_bi_array_slice, tg_bi_object_get, tg_bi_object_keys, tg_bi_object_remove,
  tg_bi_object_filter, tg_bi_object_union, tg_bi_is_null, tg_bi_is_boolean, tg_bi_is_number, tg_bi_is_string,
  tg_bi_is_array, tg_bi_is_object, tg_bi_is_set, tg_bi_type_name, tg_bi_object_subset, tg_bi_walk,
} from "./builtins/collections";
export {
  tg_bi_base64_encode, tg_bi_base64_decode, tg_bi_base64url_encode, tg_bi_base64url_encode_no_pad,
  tg_bi_base64url_decode, tg_bi_json_marshal, tg_bi_json_unmarshal, tg_bi_units_parse_bytes, tg_bi_semver_compare,
} from "./builtins/encoding";

// Last built-in error (strict built-in errors, see runtime.ts and builtins/README.md): in strict
// mode generated code calls tg_bi_error_clear() before an in-module built-in and
// tg_bi_error_raise() when it returned 0 (aborts with OPA's message if one was recorded).
export { tg_bi_error_clear, tg_bi_error_raise } from "./runtime";

// Virtual document trees of ref-head rules (see tree.ts).
export { tg_tree_put } from "./tree";

// Operands and results of tollgate's host built-ins (see hostcall.ts).
export { tg_host_arg, tg_host_untag } from "./hostcall";
