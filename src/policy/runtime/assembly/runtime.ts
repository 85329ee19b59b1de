// tollgate policy runtime (AssemblyScript). Compiled by scripts/build-policy-runtime.mjs.
//
// Policy-agnostic part of every compiled policy module: bump allocator over the imported
// `env.memory`, the value representation, JSON parse/dump, comparison, and the eval context
// of OPA's WASM ABI 1.x. Generated policy code only calls `tg_*` helpers and the `opa_*`
// exports below; nothing here calls into generated code (see ../../wasm/DESIGN.md).
//
// Rule: no AssemblyScript managed objects (String/Array/Map) are ever allocated here — all
// memory comes from the bump allocator so that `opa_heap_ptr_set` really resets everything.
// (Static string literals are fine: they live in the data segment and are only read.)

import { dtoa_buffered } from "util/number";

// ---------------------------------------------------------------- host imports (OPA ABI)

@external("env", "opa_abort")
export declare function opa_abort(addr: usize): void;

// The rest of OPA's host imports. Declared here (not in generated code) so that the prebuilt
// runtime.wasm imports all of them up front: imports cannot be added at link time without
// renumbering every function. runtime-entry.ts references each one so asc keeps them.
@external("env", "opa_println")
export declare function opa_println(addr: usize): void;
@external("env", "opa_builtin0")
export declare function opa_builtin0(id: i32, ctx: usize): usize;
@external("env", "opa_builtin1")
export declare function opa_builtin1(id: i32, ctx: usize, a: usize): usize;
@external("env", "opa_builtin2")
export declare function opa_builtin2(id: i32, ctx: usize, a: usize, b: usize): usize;
@external("env", "opa_builtin3")
export declare function opa_builtin3(id: i32, ctx: usize, a: usize, b: usize, c: usize): usize;
@external("env", "opa_builtin4")
export declare function opa_builtin4(id: i32, ctx: usize, a: usize, b: usize, c: usize, d: usize): usize;

// ---------------------------------------------------------------- value layout
//
// Every value starts with a u8 type tag at offset 0; tag numbers equal OPA's C runtime and
// OPA's sort order (null < boolean < number < string < array < object < set).
//   NULL    16 B  -
//   BOOLEAN 16 B  @4 u32 0|1
//   NUMBER  24 B  @1 u8 repr (0=int: i64 @8 | 1=float: f64 @8 | 2=raw: f64 @8, text ptr @4, len @16)
//   STRING  16 B  @4 ptr to UTF-8 bytes (not NUL-terminated), @8 byte length
//   ARRAY   16 B  @4 ptr to u32[cap] of value ptrs, @8 len, @12 cap
//   OBJECT  16 B  @4 ptr to u32[2*cap] (key,value) pairs SORTED by key, unique keys, @8 len, @12 cap
//   SET     16 B  @4 ptr to u32[cap] value ptrs SORTED, unique, @8 len, @12 cap
// A value pointer of 0 means "undefined".

export const T_NULL: u8 = 1;
export const T_BOOLEAN: u8 = 2;
export const T_NUMBER: u8 = 3;
export const T_STRING: u8 = 4;
export const T_ARRAY: u8 = 5;
export const T_OBJECT: u8 = 6;
export const T_SET: u8 = 7;

export const N_INT: u8 = 0;
const N_FLOAT: u8 = 1;
const N_RAW: u8 = 2;

// Parser nesting limit. Parse/dump/compare recurse (~130 B of V8 stack per level); 2048 keeps
// well clear of V8's ~1 MB default stack even when called from deep JS stacks. Deeper
// documents are rejected by opa_json_parse (→ the SDK throws "failed to parse json value").
const MAX_DEPTH: i32 = 2048;

// ---------------------------------------------------------------- allocator

let heapPtr: usize = (__heap_base + 7) & ~(<usize>7);

function ensureMemory(end: usize): void {
  const have = (<usize>memory.size()) << 16;
  if (end > have) {
    const pages = <i32>((end - have + 0xffff) >> 16);
    if (memory.grow(pages) < 0) tg_abort("opa_malloc: out of memory");
  }
}

export function opa_malloc(size: usize): usize {
  const p = heapPtr;
  const end = (p + size + 7) & ~(<usize>7);
  ensureMemory(end);
  heapPtr = end;
  return p;
}

/** Bump allocator: individual frees are no-ops; whole evaluations are reset via opa_heap_ptr_set. */
export function opa_free(_ptr: usize): void {}

export function opa_heap_ptr_get(): usize {
  return heapPtr;
}

export function opa_heap_ptr_set(p: usize): void {
  heapPtr = p;
}

/**
 * First free address after the runtime's static data. The linker (src/policy/wasm/link.ts)
 * reads this global's constant initializer to place the policy's constants above it.
 */
export const tg_heap_base: usize = (__heap_base + 7) & ~(<usize>7);

/**
 * Sets the initial heap pointer. Called once by the linker-generated start function with the
 * first address above the policy's constants, before the SDK takes its base heap checkpoint.
 */
export function tg_heap_init(p: usize): void {
  heapPtr = (p + 7) & ~(<usize>7);
}

/** Abort with an ASCII message (copied to the heap, NUL-terminated) through env.opa_abort. */
export function tg_abort(msg: string): void {
  const n = msg.length;
  const p = opa_malloc(<usize>n + 1);
  for (let i = 0; i < n; i++) store<u8>(p + i, <u8>msg.charCodeAt(i));
  store<u8>(p + n, 0);
  opa_abort(p);
  unreachable();
}

// ---------------------------------------------------------------- last built-in error
//
// OPA's strict built-in errors (`--strict-builtin-errors`): a failing in-module built-in
// returns 0 (undefined) and records why in this slot; in strict mode the generated code calls
// tg_bi_error_clear() before the built-in and tg_bi_error_raise() when it returned 0, which
// aborts with the recorded message (e.g. "eval_builtin_error: indexof: empty search character").
// In non-strict mode the record is simply never read.
//
// Recording is allocation-free: the message is kept as up to BI_MAX_PARTS parts (static
// AssemblyScript literals, string values of the current evaluation, integers, type names of
// values) and only formatted on the heap by tg_bi_error_raise. Value parts point into the
// current evaluation's heap; they are only read right after the failing call.

const BI_MAX_PARTS: i32 = 16;
const BP_LIT: u32 = 0; // static AssemblyScript string literal (ASCII)
const BP_STR: u32 = 1; // string value, raw bytes (Go's %s)
const BP_QUOTED: u32 = 2; // string value, Go's strconv.Quote
const BP_INT: u32 = 3; // i64
const BP_TYPE: u32 = 4; // OPA type name of a value (ast.TypeName)
// per part: kind u32 @0, payload u64 @8 (pointer or i64)
const BI_PARTS: usize = memory.data(BI_MAX_PARTS * 16, 8);
/** Number of recorded parts; 0 = no error recorded. */
let biNParts: i32 = 0;

function biPart(kind: u32, payload: u64): usize {
  if (biNParts < BI_MAX_PARTS) {
    const p = BI_PARTS + (<usize>biNParts << 4);
    store<u32>(p, kind);
    store<u64>(p, payload, 8);
    biNParts++;
  }
  return 0;
}

/** Records `msg` (a static ASCII literal) as the last built-in error, replacing any other; returns 0. */
export function biFail(msg: string): usize {
  biNParts = 0;
  return biPart(BP_LIT, <u64>changetype<usize>(msg));
}
/** Appends a static ASCII literal to the recorded message; returns 0. */
export function biMore(s: string): usize {
  return biPart(BP_LIT, <u64>changetype<usize>(s));
}
/** Appends the bytes of string value v (Go's %s); returns 0. */
export function biMoreStr(v: usize): usize {
  return biPart(BP_STR, <u64>v);
}
/** Appends string value v quoted like Go's strconv.Quote (ast.String's String()); returns 0. */
export function biMoreQuoted(v: usize): usize {
  return biPart(BP_QUOTED, <u64>v);
}
/** Appends a decimal integer; returns 0. */
export function biMoreInt(n: i64): usize {
  return biPart(BP_INT, <u64>n);
}
/** Appends OPA's type name of value v ("null", "boolean", …, "set"); returns 0. */
export function biMoreType(v: usize): usize {
  return biPart(BP_TYPE, <u64>v);
}

/** "eval_builtin_error: <name>: <msg>" (OPA: any error that is not an operand error). */
export function biBuiltinErr(name: string, msg: string): usize {
  biFail("eval_builtin_error: ");
  biMore(name);
  biMore(": ");
  return biMore(msg);
}
/** "eval_type_error: <name>: <msg>" (OPA: builtins.ErrOperand). */
export function biTypeErr(name: string, msg: string): usize {
  biFail("eval_type_error: ");
  biMore(name);
  biMore(": ");
  return biMore(msg);
}
/**
 * OPA's builtins.NewOperandTypeErr: "eval_type_error: <name>: operand <pos> must be <expected>
 * but got <type of v>"; `expected` is either one type ("string") or "one of {set, array}".
 */
export function biOperandTypeErr(name: string, pos: i32, expected: string, v: usize): usize {
  biTypeErr(name, "operand ");
  biMoreInt(pos);
  biMore(" must be ");
  biMore(expected);
  biMore(" but got ");
  return biMoreType(v);
}
/**
 * OPA's builtins.NewOperandElementErr with one expected type: "operand <pos> must be <coll type>
 * of <expected>s but got <coll type> containing <type of elem>" (`expectedPlural` incl. the "s").
 */
export function biOperandElemErr(name: string, pos: i32, coll: usize, expectedPlural: string, elem: usize): usize {
  biTypeErr(name, "operand ");
  biMoreInt(pos);
  biMore(" must be ");
  biMoreType(coll);
  biMore(" of ");
  biMore(expectedPlural);
  biMore(" but got ");
  biMoreType(coll);
  biMore(" containing ");
  return biMoreType(elem);
}
/** builtins.IntOperand / BigIntOperand failure for operand `pos` (v is not an integral number). */
export function biIntOperandErr(name: string, pos: i32, v: usize, big: bool): usize {
  if (v == 0 || load<u8>(v) != T_NUMBER) return biOperandTypeErr(name, pos, big ? "integer" : "number", v);
  biTypeErr(name, "operand ");
  biMoreInt(pos);
  return biMore(" must be integer number but got floating-point number");
}

/** Forgets any recorded built-in error. */
export function tg_bi_error_clear(): void {
  biNParts = 0;
}

/** Aborts (env.opa_abort) with the recorded built-in error, if any, clearing it; else no-op. */
export function tg_bi_error_raise(): void {
  const n = biNParts;
  if (n == 0) return;
  biNParts = 0;
  // upper bound: every value byte becomes at most 4 ASCII bytes (\xNN, \uXXXX per 2+ bytes,
  // \UXXXXXXXX per 4 bytes), plus quotes; integers at most 20 bytes, type names at most 9
  let cap: usize = 1;
  for (let i = 0; i < n; i++) {
    const p = BI_PARTS + (<usize>i << 4);
    const k = load<u32>(p);
    const x = <usize>load<u64>(p, 8);
    if (k == BP_LIT) cap += <usize>changetype<string>(x).length;
    else if (k == BP_STR || k == BP_QUOTED) cap += (x == 0 || load<u8>(x) != T_STRING ? 16 : <usize>load<u32>(x, 8) * 4) + 2;
    else cap += 24;
  }
  const buf = opa_malloc(cap);
  let w = buf;
  for (let i = 0; i < n; i++) {
    const p = BI_PARTS + (<usize>i << 4);
    const k = load<u32>(p);
    const x = load<u64>(p, 8);
    if (k == BP_LIT) {
      const s = changetype<string>(<usize>x);
      for (let j = 0; j < s.length; j++) {
        const c = s.charCodeAt(j);
        store<u8>(w++, <u8>(c > 0 && c < 0x80 ? c : 0x3f));
      }
    } else if (k == BP_INT) w = wDecimal(w, <i64>x);
    else if (k == BP_TYPE) w = wTypeName(w, <usize>x);
    else w = wEscaped(w, <usize>x, k == BP_QUOTED);
  }
  store<u8>(w, 0);
  opa_abort(buf);
  unreachable();
}

function wDecimal(w: usize, x: i64): usize {
  if (x < 0) store<u8>(w++, 0x2d);
  let u: u64 = x < 0 ? <u64>(-x) : <u64>x;
  let nd: usize = 1;
  for (let t = u; t >= 10; t /= 10) nd++;
  for (let i = nd; i > 0; i--) {
    store<u8>(w + i - 1, <u8>(0x30 + u % 10));
    u /= 10;
  }
  return w + nd;
}

function wTypeName(w: usize, v: usize): usize {
  const t = v == 0 ? 0 : load<u8>(v);
  const s = t == T_NULL ? "null" : t == T_BOOLEAN ? "boolean" : t == T_NUMBER ? "number" : t == T_STRING ? "string"
    : t == T_ARRAY ? "array" : t == T_OBJECT ? "object" : t == T_SET ? "set" : "undefined";
  for (let j = 0; j < s.length; j++) store<u8>(w++, <u8>s.charCodeAt(j));
  return w;
}

function wHex(w: usize, x: u32, digits: i32): usize {
  for (let i = digits - 1; i >= 0; i--) store<u8>(w++, load<u8>(HEX + ((x >> (<u32>i << 2)) & 15)));
  return w;
}

/**
 * Writes string value v as ASCII: quoted = Go's strconv.Quote (`"`, `\`, \a\b\f\n\r\t\v,
 * other controls \xNN), raw = the bytes as they are (NUL as \x00). In both, code points
 * >= U+0080 become \uXXXX / \UXXXXXXXX and invalid UTF-8 bytes \xNN (strconv.QuoteToASCII's
 * escapes: the SDK decodes abort messages as Latin-1, so the message must stay ASCII).
 */
function wEscaped(w: usize, v: usize, quoted: bool): usize {
  if (quoted) store<u8>(w++, 0x22);
  if (v != 0 && load<u8>(v) == T_STRING) {
    const p = <usize>load<u32>(v, 4);
    const e = p + <usize>load<u32>(v, 8);
    let q = p;
    while (q < e) {
      const c = <u32>load<u8>(q);
      if (c < 0x80) {
        q++;
        if (quoted) {
          if (c == 0x22 || c == 0x5c) {
            store<u8>(w++, 0x5c);
            store<u8>(w++, <u8>c);
            continue;
          }
          if (c >= 0x20 && c < 0x7f) {
            store<u8>(w++, <u8>c);
            continue;
          }
          const esc: u32 = c == 7 ? 0x61 : c == 8 ? 0x62 : c == 12 ? 0x66 : c == 10 ? 0x6e : c == 13 ? 0x72 : c == 9 ? 0x74 : c == 11 ? 0x76 : 0;
          store<u8>(w++, 0x5c);
          if (esc != 0) store<u8>(w++, <u8>esc);
          else {
            store<u8>(w++, 0x78);
            w = wHex(w, c, 2);
          }
        } else if (c == 0) {
          store<u8>(w++, 0x5c);
          store<u8>(w++, 0x78);
          w = wHex(w, 0, 2);
        } else store<u8>(w++, <u8>c);
        continue;
      }
      // UTF-8 sequence (Go's rules: invalid → one byte)
      let need: u32 = 0;
      let cp: u32 = 0;
      let minCp: u32 = 0;
      if ((c & 0xe0) == 0xc0) { need = 1; cp = c & 0x1f; minCp = 0x80; }
      else if ((c & 0xf0) == 0xe0) { need = 2; cp = c & 0x0f; minCp = 0x800; }
      else if ((c & 0xf8) == 0xf0) { need = 3; cp = c & 0x07; minCp = 0x10000; }
      let ok = need > 0;
      if (ok) {
        for (let i: u32 = 1; i <= need; i++) {
          if (q + i >= e) { ok = false; break; }
          const b = <u32>load<u8>(q + i);
          if ((b & 0xc0) != 0x80) { ok = false; break; }
          cp = (cp << 6) | (b & 0x3f);
        }
      }
      if (ok && (cp < minCp || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
      store<u8>(w++, 0x5c);
      if (!ok) {
        store<u8>(w++, 0x78);
        w = wHex(w, c, 2);
        q++;
      } else if (cp > 0xffff) {
        store<u8>(w++, 0x55);
        w = wHex(w, cp, 8);
        q += need + 1;
      } else {
        store<u8>(w++, 0x75);
        w = wHex(w, cp, 4);
        q += need + 1;
      }
    }
  }
  if (quoted) store<u8>(w++, 0x22);
  return w;
}

// ---------------------------------------------------------------- constructors

const NULL_V: usize = memory.data(16, 8);
const TRUE_V: usize = memory.data(16, 8);
const FALSE_V: usize = memory.data(16, 8);
store<u8>(NULL_V, T_NULL);
store<u8>(TRUE_V, T_BOOLEAN);
store<u32>(TRUE_V, 1, 4);
store<u8>(FALSE_V, T_BOOLEAN);

export function tg_null(): usize {
  return NULL_V;
}

export function tg_bool(b: bool): usize {
  return b ? TRUE_V : FALSE_V;
}

export function tg_int(x: i64): usize {
  const v = opa_malloc(24);
  store<u8>(v, T_NUMBER);
  store<u8>(v, N_INT, 1);
  store<i64>(v, x, 8);
  return v;
}

export function tg_float(x: f64): usize {
  const v = opa_malloc(24);
  store<u8>(v, T_NUMBER);
  store<u8>(v, N_FLOAT, 1);
  store<f64>(v, x, 8);
  return v;
}

export function tg_string(ptr: usize, len: usize): usize {
  const v = opa_malloc(16);
  store<u32>(v, T_STRING);
  store<u32>(v, <u32>ptr, 4);
  store<u32>(v, <u32>len, 8);
  store<u32>(v, 0, 12);
  return v;
}

/** String value from an ASCII AssemblyScript literal (used for constants in start code). */
export function tg_string_lit(s: string): usize {
  const n = s.length;
  const p = opa_malloc(<usize>n);
  for (let i = 0; i < n; i++) store<u8>(p + i, <u8>s.charCodeAt(i));
  return tg_string(p, n);
}

function newColl(t: u8, cap: u32, stride: u32): usize {
  const v = opa_malloc(16);
  store<u32>(v, t);
  store<u32>(v, cap > 0 ? <u32>opa_malloc(<usize>cap * 4 * stride) : 0, 4);
  store<u32>(v, 0, 8);
  store<u32>(v, cap, 12);
  return v;
}

export function tg_array(cap: u32): usize {
  return newColl(T_ARRAY, cap, 1);
}
export function tg_set(cap: u32): usize {
  return newColl(T_SET, cap, 1);
}
export function tg_object(cap: u32): usize {
  return newColl(T_OBJECT, cap, 2);
}

function growColl(c: usize, stride: u32): void {
  const len = load<u32>(c, 8);
  const cap = load<u32>(c, 12);
  if (len < cap) return;
  const ncap: u32 = cap < 4 ? 4 : cap * 2;
  const np = opa_malloc(<usize>ncap * 4 * stride);
  memory.copy(np, load<u32>(c, 4), <usize>len * 4 * stride);
  store<u32>(c, <u32>np, 4);
  store<u32>(c, ncap, 12);
}

export function tg_array_push(a: usize, x: usize): void {
  growColl(a, 1);
  const len = load<u32>(a, 8);
  store<u32>(load<u32>(a, 4) + (<usize>len << 2), <u32>x);
  store<u32>(a, len + 1, 8);
}

/** Binary search in a sorted u32 vector with the given stride; returns index or -(insertion point)-1. */
function search(base: usize, len: u32, stride: u32, key: usize): i32 {
  let lo: i32 = 0;
  let hi: i32 = <i32>len - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = tg_compare(load<u32>(base + (<usize>(<u32>mid * stride) << 2)), key);
    if (c == 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

export function tg_set_add(s: usize, x: usize): void {
  const len = load<u32>(s, 8);
  const i = search(load<u32>(s, 4), len, 1, x);
  if (i >= 0) return;
  const at = <u32>(-i - 1);
  growColl(s, 1);
  const base: usize = load<u32>(s, 4);
  memory.copy(base + ((<usize>at + 1) << 2), base + (<usize>at << 2), <usize>(len - at) << 2);
  store<u32>(base + (<usize>at << 2), <u32>x);
  store<u32>(s, len + 1, 8);
}

/** Inserts or replaces key → value. (Rule conflicts are detected by generated code, not here.) */
export function tg_object_insert(o: usize, k: usize, x: usize): void {
  const len = load<u32>(o, 8);
  const i = search(load<u32>(o, 4), len, 2, k);
  if (i >= 0) {
    store<u32>(load<u32>(o, 4) + (<usize>i << 3) + 4, <u32>x);
    return;
  }
  const at = <u32>(-i - 1);
  growColl(o, 2);
  const base: usize = load<u32>(o, 4);
  memory.copy(base + ((<usize>at + 1) << 3), base + (<usize>at << 3), <usize>(len - at) << 3);
  store<u32>(base + (<usize>at << 3), <u32>k);
  store<u32>(base + (<usize>at << 3) + 4, <u32>x);
  store<u32>(o, len + 1, 8);
}

// ---------------------------------------------------------------- accessors

export function tg_type(v: usize): u32 {
  return v == 0 ? 0 : <u32>load<u8>(v);
}
export function tg_len(v: usize): u32 {
  return load<u32>(v, 8);
}
/** i-th element of an array/set, i-th key of an object. */
export function tg_elem(v: usize, i: u32): usize {
  const stride: u32 = load<u8>(v) == T_OBJECT ? 2 : 1;
  return load<u32>(load<u32>(v, 4) + (<usize>(i * stride) << 2));
}
/** i-th value of an object. */
export function tg_object_value_at(o: usize, i: u32): usize {
  return load<u32>(load<u32>(o, 4) + (<usize>i << 3) + 4);
}

/** OPA's opa_value_get: object[key], array[int], set membership (returns key); 0 = undefined. */
export function tg_get(v: usize, k: usize): usize {
  if (v == 0 || k == 0) return 0;
  const t = load<u8>(v);
  if (t == T_OBJECT) {
    const i = search(load<u32>(v, 4), load<u32>(v, 8), 2, k);
    return i < 0 ? 0 : load<u32>(load<u32>(v, 4) + (<usize>i << 3) + 4);
  }
  if (t == T_ARRAY) {
    if (load<u8>(k) != T_NUMBER) return 0;
    const d = numAsF64(k);
    if (d != Math.floor(d) || d < 0 || d >= <f64>load<u32>(v, 8)) return 0;
    return load<u32>(load<u32>(v, 4) + (<usize>(<u32>d) << 2));
  }
  if (t == T_SET) {
    const i = search(load<u32>(v, 4), load<u32>(v, 8), 1, k);
    return i < 0 ? 0 : load<u32>(load<u32>(v, 4) + (<usize>i << 2));
  }
  return 0;
}

// ---------------------------------------------------------------- comparison (OPA order)

export function numAsF64(v: usize): f64 {
  return load<u8>(v, 1) == N_INT ? <f64>load<i64>(v, 8) : load<f64>(v, 8);
}

function cmpBytes(a: usize, alen: u32, b: usize, blen: u32): i32 {
  const n = alen < blen ? alen : blen;
  for (let i: u32 = 0; i < n; i++) {
    const x = load<u8>(a + i);
    const y = load<u8>(b + i);
    if (x != y) return x < y ? -1 : 1;
  }
  return alen == blen ? 0 : alen < blen ? -1 : 1;
}

export function tg_compare(a: usize, b: usize): i32 {
  if (a == b) return 0;
  if (a == 0) return -1;
  if (b == 0) return 1;
  const ta = load<u8>(a);
  const tb = load<u8>(b);
  if (ta != tb) return ta < tb ? -1 : 1;
  switch (ta) {
    case T_NULL:
      return 0;
    case T_BOOLEAN: {
      const x = load<u32>(a, 4);
      const y = load<u32>(b, 4);
      return x == y ? 0 : x < y ? -1 : 1;
    }
    case T_NUMBER: {
      if (load<u8>(a, 1) == N_INT && load<u8>(b, 1) == N_INT) {
        const x = load<i64>(a, 8);
        const y = load<i64>(b, 8);
        return x == y ? 0 : x < y ? -1 : 1;
      }
      // TODO(compiler): exact comparison for big ints / decimals (OPA uses arbitrary precision).
      const x = numAsF64(a);
      const y = numAsF64(b);
      return x == y ? 0 : x < y ? -1 : 1;
    }
    case T_STRING:
      return cmpBytes(load<u32>(a, 4), load<u32>(a, 8), load<u32>(b, 4), load<u32>(b, 8));
    case T_ARRAY:
    case T_SET: {
      const la = load<u32>(a, 8);
      const lb = load<u32>(b, 8);
      const pa: usize = load<u32>(a, 4);
      const pb: usize = load<u32>(b, 4);
      const n = la < lb ? la : lb;
      for (let i: u32 = 0; i < n; i++) {
        const c = tg_compare(load<u32>(pa + (<usize>i << 2)), load<u32>(pb + (<usize>i << 2)));
        if (c != 0) return c;
      }
      return la == lb ? 0 : la < lb ? -1 : 1;
    }
    case T_OBJECT: {
      const la = load<u32>(a, 8);
      const lb = load<u32>(b, 8);
      const pa: usize = load<u32>(a, 4);
      const pb: usize = load<u32>(b, 4);
      const n = la < lb ? la : lb;
      for (let i: u32 = 0; i < n; i++) {
        let c = tg_compare(load<u32>(pa + (<usize>i << 3)), load<u32>(pb + (<usize>i << 3)));
        if (c != 0) return c;
        c = tg_compare(load<u32>(pa + (<usize>i << 3) + 4), load<u32>(pb + (<usize>i << 3) + 4));
        if (c != 0) return c;
      }
      return la == lb ? 0 : la < lb ? -1 : 1;
    }
  }
  return 0;
}

export function tg_equal(a: usize, b: usize): bool {
  return tg_compare(a, b) == 0;
}

// ---------------------------------------------------------------- sorting (stable merge sort)

/** Sorts `len` records of `stride` u32 words at `base` by the value pointer in word 0. */
export function mergeSort(base: usize, len: u32, stride: u32): void {
  if (len < 2) return;
  const rec: usize = <usize>stride << 2;
  // insertion sort for small inputs
  if (len <= 16) {
    for (let i: u32 = 1; i < len; i++) {
      const k0 = load<u32>(base + i * rec);
      const k1 = stride == 2 ? load<u32>(base + i * rec + 4) : 0;
      let j: i32 = <i32>i - 1;
      while (j >= 0 && tg_compare(load<u32>(base + <usize>j * rec), k0) > 0) {
        memory.copy(base + (<usize>j + 1) * rec, base + <usize>j * rec, rec);
        j--;
      }
      store<u32>(base + (<usize>(j + 1)) * rec, k0);
      if (stride == 2) store<u32>(base + (<usize>(j + 1)) * rec + 4, k1);
    }
    return;
  }
  const saved = heapPtr;
  let src = base;
  let dst = opa_malloc(<usize>len * rec);
  for (let width: u32 = 1; width < len; width <<= 1) {
    for (let lo: u32 = 0; lo < len; lo += width << 1) {
      const mid = min(lo + width, len);
      const hi = min(lo + (width << 1), len);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if (tg_compare(load<u32>(src + <usize>j * rec), load<u32>(src + <usize>i * rec)) < 0) {
          memory.copy(dst + <usize>k * rec, src + <usize>j * rec, rec);
          j++;
        } else {
          memory.copy(dst + <usize>k * rec, src + <usize>i * rec, rec);
          i++;
        }
        k++;
      }
      if (i < mid) memory.copy(dst + <usize>k * rec, src + <usize>i * rec, <usize>(mid - i) * rec);
      else if (j < hi) memory.copy(dst + <usize>k * rec, src + <usize>j * rec, <usize>(hi - j) * rec);
    }
    const t = src;
    src = dst;
    dst = t;
  }
  if (src != base) memory.copy(base, src, <usize>len * rec);
  heapPtr = saved; // scratch buffer was the last allocation
}

/** Sort + dedupe a collection built unsorted (used by the JSON parser; last duplicate key wins). */
function normalize(c: usize, stride: u32): void {
  const len = load<u32>(c, 8);
  if (len < 2) return;
  const base: usize = load<u32>(c, 4);
  mergeSort(base, len, stride);
  const rec: usize = <usize>stride << 2;
  let out: u32 = 0;
  for (let i: u32 = 0; i < len; i++) {
    if (out > 0 && tg_compare(load<u32>(base + <usize>(out - 1) * rec), load<u32>(base + <usize>i * rec)) == 0) {
      memory.copy(base + <usize>(out - 1) * rec, base + <usize>i * rec, rec); // stable: later wins
    } else {
      if (out != i) memory.copy(base + <usize>out * rec, base + <usize>i * rec, rec);
      out++;
    }
  }
  store<u32>(c, out, 8);
}

// ---------------------------------------------------------------- JSON parser

let P: usize = 0;
let E: usize = 0;
let depth: i32 = 0;

@inline function peek(): u32 {
  return P < E ? <u32>load<u8>(P) : 0xffffffff;
}

function skipWs(): void {
  while (P < E) {
    const c = load<u8>(P);
    if (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) P++;
    else break;
  }
}

function expectLit(s: string): bool {
  const n = s.length;
  if (P + <usize>n > E) return false;
  for (let i = 0; i < n; i++) if (load<u8>(P + i) != <u8>s.charCodeAt(i)) return false;
  P += n;
  return true;
}

function hexVal(c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>c - 0x30;
  if (c >= 0x61 && c <= 0x66) return <i32>c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return <i32>c - 0x41 + 10;
  return -1;
}

function hex4(at: usize): i32 {
  if (at + 4 > E) return -1;
  let r: i32 = 0;
  for (let i: usize = 0; i < 4; i++) {
    const h = hexVal(load<u8>(at + i));
    if (h < 0) return -1;
    r = (r << 4) | h;
  }
  return r;
}

function putUtf8(w: usize, cp: u32): usize {
  if (cp < 0x80) {
    store<u8>(w, <u8>cp);
    return w + 1;
  }
  if (cp < 0x800) {
    store<u8>(w, <u8>(0xc0 | (cp >> 6)));
    store<u8>(w + 1, <u8>(0x80 | (cp & 0x3f)));
    return w + 2;
  }
  if (cp < 0x10000) {
    store<u8>(w, <u8>(0xe0 | (cp >> 12)));
    store<u8>(w + 1, <u8>(0x80 | ((cp >> 6) & 0x3f)));
    store<u8>(w + 2, <u8>(0x80 | (cp & 0x3f)));
    return w + 3;
  }
  store<u8>(w, <u8>(0xf0 | (cp >> 18)));
  store<u8>(w + 1, <u8>(0x80 | ((cp >> 12) & 0x3f)));
  store<u8>(w + 2, <u8>(0x80 | ((cp >> 6) & 0x3f)));
  store<u8>(w + 3, <u8>(0x80 | (cp & 0x3f)));
  return w + 4;
}

/** P at the opening quote. Zero-copy when the string has no escapes. */
function parseString(): usize {
  P++;
  const start = P;
  let escapes = false;
  while (true) {
    if (P >= E) return 0;
    const c = load<u8>(P);
    if (c == 0x22) break;
    if (c < 0x20) return 0;
    if (c == 0x5c) {
      escapes = true;
      P += 2;
      continue;
    }
    P++;
  }
  const end = P;
  P++; // closing quote
  if (!escapes) return tg_string(start, end - start);
  // escaped output is never longer than the escaped source
  const out = opa_malloc(end - start);
  let w = out;
  let r = start;
  while (r < end) {
    const c = load<u8>(r);
    if (c != 0x5c) {
      store<u8>(w++, c);
      r++;
      continue;
    }
    const e = load<u8>(r + 1);
    r += 2;
    switch (e) {
      case 0x22: store<u8>(w++, 0x22); break;
      case 0x5c: store<u8>(w++, 0x5c); break;
      case 0x2f: store<u8>(w++, 0x2f); break;
      case 0x62: store<u8>(w++, 0x08); break;
      case 0x66: store<u8>(w++, 0x0c); break;
      case 0x6e: store<u8>(w++, 0x0a); break;
      case 0x72: store<u8>(w++, 0x0d); break;
      case 0x74: store<u8>(w++, 0x09); break;
      case 0x75: {
        let cp = hex4(r);
        if (cp < 0) return 0;
        r += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          // high surrogate: combine with a following low surrogate, else U+FFFD (like Go)
          if (r + 6 <= end && load<u8>(r) == 0x5c && load<u8>(r + 1) == 0x75) {
            const lo = hex4(r + 2);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
              r += 6;
            } else cp = 0xfffd;
          } else cp = 0xfffd;
        } else if (cp >= 0xdc00 && cp <= 0xdfff) cp = 0xfffd;
        w = putUtf8(w, <u32>cp);
        break;
      }
      default:
        return 0;
    }
  }
  return tg_string(out, w - out);
}

@inline function isDigit(c: u32): bool {
  return c >= 0x30 && c <= 0x39;
}

function parseNumber(): usize {
  const start = P;
  let neg = false;
  if (peek() == 0x2d) {
    neg = true;
    P++;
  }
  if (!isDigit(peek())) return 0;
  let mant: u64 = 0;
  let sig: i32 = 0; // significant digits accumulated in mant
  let dropped: i32 = 0; // integer digits not accumulated (scale up)
  if (peek() == 0x30) {
    P++;
  } else {
    while (isDigit(peek())) {
      if (sig < 19) {
        mant = mant * 10 + <u64>(load<u8>(P) - 0x30);
        sig++;
      } else dropped++;
      P++;
    }
  }
  let isInt = true;
  let exp10: i32 = dropped;
  if (peek() == 0x2e) {
    isInt = false;
    P++;
    if (!isDigit(peek())) return 0;
    while (isDigit(peek())) {
      if (sig < 19) {
        if (mant != 0 || load<u8>(P) != 0x30) sig++;
        mant = mant * 10 + <u64>(load<u8>(P) - 0x30);
        exp10--;
      }
      P++;
    }
  }
  if (peek() == 0x65 || peek() == 0x45) {
    isInt = false;
    P++;
    let eneg = false;
    if (peek() == 0x2b || peek() == 0x2d) {
      eneg = peek() == 0x2d;
      P++;
    }
    if (!isDigit(peek())) return 0;
    let e: i32 = 0;
    while (isDigit(peek())) {
      if (e < 100000) e = e * 10 + <i32>(load<u8>(P) - 0x30);
      P++;
    }
    exp10 += eneg ? -e : e;
  }
  const len = P - start;
  if (isInt && dropped == 0 && sig <= 18 && !(neg && mant == 0)) { // "-0" keeps its text
    return tg_int(neg ? -<i64>mant : <i64>mant);
  }
  // TODO(compiler): correctly rounded decimal→f64 (Eisel-Lemire) and exact big numbers.
  // The raw text is kept so that dumping round-trips the input exactly.
  let d = <f64>mant;
  if (exp10 > 0) d *= Math.pow(10, <f64>exp10);
  else if (exp10 < 0) d /= Math.pow(10, <f64>-exp10);
  const v = opa_malloc(24);
  store<u8>(v, T_NUMBER);
  store<u8>(v, N_RAW, 1);
  store<u32>(v, <u32>start, 4);
  store<f64>(v, neg ? -d : d, 8);
  store<u32>(v, <u32>len, 16);
  return v;
}

function parseValue(): usize {
  skipWs();
  const c = peek();
  if (c == 0x22) return parseString();
  if (c == 0x7b) {
    if (++depth > MAX_DEPTH) return 0;
    P++;
    const o = tg_object(0);
    skipWs();
    if (peek() == 0x7d) {
      P++;
      depth--;
      return o;
    }
    while (true) {
      skipWs();
      if (peek() != 0x22) return 0;
      const k = parseString();
      if (k == 0) return 0;
      skipWs();
      if (peek() != 0x3a) return 0;
      P++;
      const x = parseValue();
      if (x == 0) return 0;
      // append unsorted; normalized below
      growColl(o, 2);
      const len = load<u32>(o, 8);
      const at: usize = load<u32>(o, 4) + (<usize>len << 3);
      store<u32>(at, <u32>k);
      store<u32>(at + 4, <u32>x);
      store<u32>(o, len + 1, 8);
      skipWs();
      const d = peek();
      P++;
      if (d == 0x2c) continue;
      if (d == 0x7d) break;
      return 0;
    }
    normalize(o, 2);
    depth--;
    return o;
  }
  if (c == 0x5b) {
    if (++depth > MAX_DEPTH) return 0;
    P++;
    const a = tg_array(0);
    skipWs();
    if (peek() == 0x5d) {
      P++;
      depth--;
      return a;
    }
    while (true) {
      const x = parseValue();
      if (x == 0) return 0;
      tg_array_push(a, x);
      skipWs();
      const d = peek();
      P++;
      if (d == 0x2c) continue;
      if (d == 0x5d) break;
      return 0;
    }
    depth--;
    return a;
  }
  if (c == 0x74) return expectLit("true") ? TRUE_V : 0;
  if (c == 0x66) return expectLit("false") ? FALSE_V : 0;
  if (c == 0x6e) return expectLit("null") ? NULL_V : 0;
  if (c == 0x2d || isDigit(c)) return parseNumber();
  return 0;
}

/** Parses JSON text at [ptr, ptr+len). Returns 0 on malformed input (the SDK then throws). */
export function opa_json_parse(ptr: usize, len: usize): usize {
  P = ptr;
  E = ptr + len;
  depth = 0;
  const v = parseValue();
  if (v == 0) return 0;
  skipWs();
  if (P != E) return 0;
  return v;
}

/** ABI: parses OPA's value format. TODO(compiler): set literals `{1,2}` / `set()`; JSON for now. */
export function opa_value_parse(ptr: usize, len: usize): usize {
  return opa_json_parse(ptr, len);
}

// ---------------------------------------------------------------- JSON dump

// Output is written directly at the top of the heap and the heap pointer is bumped past the
// terminating NUL afterwards — nothing else allocates during a dump.
let W: usize = 0;

@inline function reserve(n: usize): void {
  ensureMemory(W + n);
}

function wlit(s: string): void {
  const n = s.length;
  reserve(<usize>n);
  for (let i = 0; i < n; i++) store<u8>(W + i, <u8>s.charCodeAt(i));
  W += n;
}

function wbyte(b: u8): void {
  reserve(1);
  store<u8>(W++, b);
}

const HEX = memory.data<u8>([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66]);

function wstring(p: usize, len: usize): void {
  reserve(len * 6 + 2);
  store<u8>(W++, 0x22);
  for (let i: usize = 0; i < len; i++) {
    const c = load<u8>(p + i);
    if (c == 0x22 || c == 0x5c) {
      store<u8>(W++, 0x5c);
      store<u8>(W++, c);
    } else if (c < 0x20) {
      store<u8>(W++, 0x5c);
      if (c == 0x0a) store<u8>(W++, 0x6e);
      else if (c == 0x0d) store<u8>(W++, 0x72);
      else if (c == 0x09) store<u8>(W++, 0x74);
      else {
        store<u8>(W++, 0x75);
        store<u8>(W++, 0x30);
        store<u8>(W++, 0x30);
        store<u8>(W++, load<u8>(HEX + (c >> 4)));
        store<u8>(W++, load<u8>(HEX + (c & 15)));
      }
    } else store<u8>(W++, c); // UTF-8 passes through
  }
  store<u8>(W++, 0x22);
}

function wint(x: i64): void {
  reserve(21);
  if (x == 0) {
    store<u8>(W++, 0x30);
    return;
  }
  let u: u64 = x < 0 ? <u64>(-x) : <u64>x; // i64.MIN wraps to 2^63 correctly as u64
  if (x < 0) store<u8>(W++, 0x2d);
  let n: usize = 0;
  let t = u;
  while (t > 0) {
    n++;
    t /= 10;
  }
  for (let i: usize = 0; i < n; i++) {
    store<u8>(W + n - 1 - i, <u8>(0x30 + <u32>(u % 10)));
    u /= 10;
  }
  W += n;
}

function wfloat(d: f64): void {
  if (d == Math.floor(d) && Math.abs(d) < 9.0e15) {
    wint(<i64>d);
    return;
  }
  // AssemblyScript's Grisu2 writes UTF-16 into a scratch area; narrow it to ASCII.
  reserve(64 + 32);
  const scratch = W + 32;
  const n = dtoa_buffered(scratch, d);
  for (let i: u32 = 0; i < n; i++) store<u8>(W + i, <u8>load<u16>(scratch + (<usize>i << 1)));
  W += n;
}

function dumpValue(v: usize, rego: bool): void {
  switch (load<u8>(v)) {
    case T_NULL:
      wlit("null");
      return;
    case T_BOOLEAN:
      wlit(load<u32>(v, 4) ? "true" : "false");
      return;
    case T_NUMBER: {
      const r = load<u8>(v, 1);
      if (r == N_INT) wint(load<i64>(v, 8));
      else if (r == N_RAW) {
        const len: usize = load<u32>(v, 16);
        reserve(len);
        memory.copy(W, load<u32>(v, 4), len);
        W += len;
      } else wfloat(load<f64>(v, 8));
      return;
    }
    case T_STRING:
      wstring(load<u32>(v, 4), load<u32>(v, 8));
      return;
    case T_ARRAY:
    case T_SET: {
      const isSet = load<u8>(v) == T_SET;
      const len = load<u32>(v, 8);
      if (rego && isSet && len == 0) {
        wlit("set()");
        return;
      }
      wbyte(rego && isSet ? 0x7b : 0x5b);
      const p: usize = load<u32>(v, 4);
      for (let i: u32 = 0; i < len; i++) {
        if (i > 0) wbyte(0x2c);
        dumpValue(load<u32>(p + (<usize>i << 2)), rego);
      }
      wbyte(rego && isSet ? 0x7d : 0x5d);
      return;
    }
    case T_OBJECT: {
      const len = load<u32>(v, 8);
      wbyte(0x7b);
      const p: usize = load<u32>(v, 4);
      for (let i: u32 = 0; i < len; i++) {
        if (i > 0) wbyte(0x2c);
        const k: usize = load<u32>(p + (<usize>i << 3));
        if (rego || load<u8>(k) == T_STRING) dumpValue(k, rego);
        else {
          // JSON object keys must be strings: serialize the key, then quote that text.
          const start = W;
          dumpValue(k, false);
          const n = W - start;
          const src = start + n * 6 + 8; // beyond what wstring(start..) can write
          ensureMemory(src + n);
          memory.copy(src, start, n);
          W = start;
          wstring(src, n);
        }
        wbyte(0x3a);
        dumpValue(load<u32>(p + (<usize>i << 3) + 4), rego);
      }
      wbyte(0x7d);
      return;
    }
  }
  tg_abort("opa_json_dump: corrupt value");
}

function dump(v: usize, rego: bool): usize {
  const start = heapPtr;
  W = start;
  if (v == 0) wlit("null");
  else dumpValue(v, rego);
  wbyte(0);
  heapPtr = (W + 7) & ~(<usize>7);
  return start;
}

/** Serializes a value as NUL-terminated UTF-8 JSON (sets become arrays, in OPA's sort order). */
export function opa_json_dump(v: usize): usize {
  return dump(v, false);
}

/** Serializes a value in OPA's value format (sets as `{...}` / `set()`). */
export function opa_value_dump(v: usize): usize {
  return dump(v, true);
}

// ---------------------------------------------------------------- data patching (ABI, unused by the JS SDK)

const OPA_ERR_INVALID_PATH: i32 = 3;

/** TODO(compiler): implement (the Go SDK uses it for incremental data updates). */
export function opa_value_add_path(_base: usize, _path: usize, _value: usize): i32 {
  return OPA_ERR_INVALID_PATH;
}

/** TODO(compiler): implement. */
export function opa_value_remove_path(_base: usize, _path: usize): i32 {
  return OPA_ERR_INVALID_PATH;
}

// ---------------------------------------------------------------- eval context (ABI 1.1)
// ctx layout: @0 input, @4 data, @8 entrypoint id, @12 result (a set of {"result": v})

export function opa_eval_ctx_new(): usize {
  const c = opa_malloc(16);
  memory.fill(c, 0, 16);
  return c;
}
export function opa_eval_ctx_set_input(c: usize, v: usize): void {
  store<u32>(c, <u32>v, 0);
}
export function opa_eval_ctx_set_data(c: usize, v: usize): void {
  store<u32>(c, <u32>v, 4);
}
export function opa_eval_ctx_set_entrypoint(c: usize, ep: i32): void {
  store<i32>(c, ep, 8);
}
export function opa_eval_ctx_get_result(c: usize): usize {
  return load<u32>(c, 12);
}
export function tg_ctx_input(c: usize): usize {
  return load<u32>(c, 0);
}
export function tg_ctx_data(c: usize): usize {
  return load<u32>(c, 4);
}
export function tg_ctx_entrypoint(c: usize): i32 {
  return load<i32>(c, 8);
}
export function tg_ctx_set_result(c: usize, rs: usize): void {
  store<u32>(c, <u32>rs, 12);
}

// The key "result": a static string value (data segment), so the runtime allocates nothing at
// start. Only the two pointer fields are filled in by the start function (no heap use).
const K_RESULT_BYTES: usize = memory.data<u8>([0x72, 0x65, 0x73, 0x75, 0x6c, 0x74]);
const K_RESULT: usize = memory.data(16, 8);
store<u32>(K_RESULT, T_STRING);
store<u32>(K_RESULT, <u32>K_RESULT_BYTES, 4);
store<u32>(K_RESULT, 6, 8);

/** Result set for one entrypoint value: [] when undefined, else [{"result": v}]. */
export function tg_result_set(v: usize): usize {
  const rs = tg_set(1);
  if (v == 0) return rs;
  const o = tg_object(1);
  tg_object_insert(o, K_RESULT, v);
  tg_set_add(rs, o);
  return rs;
}

// ---------------------------------------------------------------- opa_eval (ABI 1.2) halves

/** Start of opa_eval: reset the heap to just above the caller-written input and parse it. */
export function tg_eval_begin(heap: usize, input: usize, inputLen: usize): usize {
  heapPtr = (heap + 7) & ~(<usize>7);
  if (inputLen == 0) return 0;
  const v = opa_json_parse(input, inputLen);
  if (v == 0) tg_abort("opa_eval: failed to parse input");
  return v;
}

/** End of opa_eval: wrap the entrypoint value in a result set and serialize it. */
export function tg_eval_end(v: usize, format: i32): usize {
  const rs = tg_result_set(v);
  return format == 1 ? opa_value_dump(rs) : opa_json_dump(rs);
}
