// Virtual document trees built from rules with ref heads (`p[q].r := v`, `p[q] contains x`, `p.a.r := 0`): each
// rule contributes a value at a path below the tree's root; the generated code calls tg_tree_put once per
// contribution. OPA's rules (topdown's virtual-document merge): objects on the way are shared by every rule, but
// a value a rule produced is a leaf that no other rule may replace (unless equal) or reach into.

import {
  tg_abort, tg_array, tg_array_push, tg_elem, tg_equal, tg_get, tg_len, tg_object, tg_object_insert, tg_set,
  tg_set_add, tg_type, T_OBJECT, T_SET,
} from "./runtime";

// OPA reports both kinds as one object-key conflict of the tree
const MSG_VALUE = "eval_conflict_error: object keys must be unique";
const MSG_NESTED = MSG_VALUE;

/** mode of tg_tree_put */
const PUT_VALUE: i32 = 0;
const PUT_ELEMENT: i32 = 1;

/**
 * Puts `v` at `path` (an array of keys, at least one) below the object `root`. `mode` 0: `v` is the leaf's value
 * (single-value rules); 1: `v` is one element of the set leaf at `path` (multi-value rules); 2: every element of
 * the set `v` joins that set leaf (a whole partial set rule). `leaves` is the set of leaf paths placed so far.
 */
export function tg_tree_put(root: usize, leaves: usize, path: usize, v: usize, mode: i32): void {
  const n = tg_len(path);
  if (n == 0) tg_abort("tg_tree_put: empty path");
  // a leaf on the way down: this rule would reach into another rule's value
  if (tg_len(leaves) > 0) {
    for (let i: u32 = 1; i < n; i++) {
      const pre = tg_array(i);
      for (let j: u32 = 0; j < i; j++) tg_array_push(pre, tg_elem(path, j));
      if (tg_get(leaves, pre) != 0) tg_abort(MSG_NESTED);
    }
  }
  let cur = root;
  for (let j: u32 = 0; j + 1 < n; j++) {
    const key = tg_elem(path, j);
    let child = tg_get(cur, key);
    if (child == 0) {
      child = tg_object(0);
      tg_object_insert(cur, key, child);
    } else if (tg_type(child) != T_OBJECT) {
      tg_abort(MSG_NESTED);
    }
    cur = child;
  }
  const key = tg_elem(path, n - 1);
  const existing = tg_get(cur, key);
  const isLeaf = existing != 0 && tg_get(leaves, path) != 0;
  if (existing != 0 && !isLeaf) tg_abort(MSG_NESTED); // a leaf where other rules put objects
  if (mode == PUT_VALUE) {
    if (existing != 0) {
      if (!tg_equal(existing, v)) tg_abort(MSG_VALUE);
      return;
    }
    tg_object_insert(cur, key, v);
    tg_set_add(leaves, path);
    return;
  }
  let s = existing;
  if (s == 0) {
    s = tg_set(0);
    tg_object_insert(cur, key, s);
    tg_set_add(leaves, path);
  } else if (tg_type(s) != T_SET) {
    tg_abort(MSG_VALUE);
  }
  if (mode == PUT_ELEMENT) {
    tg_set_add(s, v);
    return;
  }
  const m = tg_len(v);
  for (let i: u32 = 0; i < m; i++) tg_set_add(s, tg_elem(v, i));
}
