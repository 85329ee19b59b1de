// base64 / base64url, json.marshal / json.unmarshal, units.parse_bytes, semver.compare.

import {
  T_STRING, tg_int, tg_float, tg_string, opa_malloc, opa_json_parse, opa_json_dump, biMore, biMoreInt, biMoreStr,
  biMoreQuoted, biBuiltinErr, biOperandTypeErr,
} from "../runtime";
import { typeOf, isStr, sptr, slen } from "./util";
import { tg_bi_lower } from "./strings";

// ---- base64

const STD = memory.data<u8>([
  65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90,
  97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119,
  120, 121, 122, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 43, 47,
]);

@inline function alpha(i: u32, url: bool): u8 {
  const c = load<u8>(STD + i);
  if (url) {
    if (c == 43) return 45; // + → -
    if (c == 47) return 95; // / → _
  }
  return c;
}

function b64enc(s: usize, url: bool, pad: bool): usize {
  if (!isStr(s)) return biOperandTypeErr(url ? (pad ? "base64url.encode" : "base64url.encode_no_pad") : "base64.encode", 1, "string", s);
  const p = sptr(s);
  const n = slen(s);
  const out = opa_malloc((n + 2) / 3 * 4);
  let w = out;
  let i: usize = 0;
  while (i + 3 <= n) {
    const v = (<u32>load<u8>(p + i) << 16) | (<u32>load<u8>(p + i + 1) << 8) | <u32>load<u8>(p + i + 2);
    store<u8>(w, alpha(v >> 18, url));
    store<u8>(w + 1, alpha((v >> 12) & 63, url));
    store<u8>(w + 2, alpha((v >> 6) & 63, url));
    store<u8>(w + 3, alpha(v & 63, url));
    w += 4;
    i += 3;
  }
  const rem = n - i;
  if (rem > 0) {
    let v = <u32>load<u8>(p + i) << 16;
    if (rem == 2) v |= <u32>load<u8>(p + i + 1) << 8;
    store<u8>(w++, alpha(v >> 18, url));
    store<u8>(w++, alpha((v >> 12) & 63, url));
    if (rem == 2) store<u8>(w++, alpha((v >> 6) & 63, url));
    else if (pad) store<u8>(w++, 61);
    if (pad) store<u8>(w++, 61);
  }
  return tg_string(out, w - out);
}

function b64val(c: u32, url: bool): i32 {
  if (c >= 65 && c <= 90) return <i32>c - 65;
  if (c >= 97 && c <= 122) return <i32>c - 71;
  if (c >= 48 && c <= 57) return <i32>c + 4;
  if (c == (url ? 45 : 43)) return 62;
  if (c == (url ? 95 : 47)) return 63;
  return -1;
}

/** Records Go's base64.CorruptInputError ("illegal base64 data at input byte N"); returns 0. */
function b64Err(url: bool, at: usize): usize {
  biBuiltinErr(url ? "base64url.decode" : "base64.decode", "illegal base64 data at input byte ");
  return biMoreInt(<i64>at);
}

@inline function isNl(c: u32): bool {
  return c == 10 || c == 13;
}

/**
 * Go's base64 (Std|URL)Encoding.DecodeString (padded, non-strict), quantum by quantum like Go's
 * decodeQuantum: '\r' and '\n' are skipped, '=' padding only ends the input; errors record
 * Go's CorruptInputError offset.
 */
function b64dec(p: usize, n: usize, url: bool): usize {
  const out = opa_malloc(n / 4 * 3 + 3);
  let w = out;
  let si: usize = 0;
  while (si < n) {
    let acc: u32 = 0;
    let dlen: i32 = 4;
    for (let j: i32 = 0; j < 4; j++) {
      if (si == n) {
        if (j == 0) return tg_string(out, w - out); // only newlines left
        return b64Err(url, si - <usize>j);
      }
      const c = <u32>load<u8>(p + si);
      si++;
      const v = b64val(c, url);
      if (v >= 0) {
        acc = (acc << 6) | <u32>v;
        continue;
      }
      if (isNl(c)) {
        j--;
        continue;
      }
      if (c != 61 || j < 2) return b64Err(url, si - 1);
      if (j == 2) {
        // "==" expected: the first '=' is consumed
        while (si < n && isNl(<u32>load<u8>(p + si))) si++;
        if (si == n) return b64Err(url, n);
        if (load<u8>(p + si) != 61) return b64Err(url, si - 1);
        si++;
      }
      while (si < n && isNl(<u32>load<u8>(p + si))) si++;
      if (si < n) return b64Err(url, si); // trailing garbage
      dlen = j;
      break;
    }
    if (dlen == 4) {
      store<u8>(w, <u8>(acc >> 16));
      store<u8>(w + 1, <u8>(acc >> 8));
      store<u8>(w + 2, <u8>acc);
      w += 3;
    } else if (dlen == 3) {
      store<u8>(w, <u8>(acc >> 10));
      store<u8>(w + 1, <u8>(acc >> 2));
      w += 2;
    } else {
      store<u8>(w, <u8>(acc >> 4));
      w += 1;
    }
  }
  return tg_string(out, w - out);
}

export function tg_bi_base64_encode(s: usize): usize {
  return b64enc(s, false, true);
}
export function tg_bi_base64_decode(s: usize): usize {
  if (!isStr(s)) return biOperandTypeErr("base64.decode", 1, "string", s);
  return b64dec(sptr(s), slen(s), false);
}
export function tg_bi_base64url_encode(s: usize): usize {
  return b64enc(s, true, true);
}
export function tg_bi_base64url_encode_no_pad(s: usize): usize {
  return b64enc(s, true, false);
}

/** base64url.decode: padding optional (RFC 7515 App. C, like OPA), otherwise as base64.decode. */
export function tg_bi_base64url_decode(s: usize): usize {
  if (!isStr(s)) return biOperandTypeErr("base64url.decode", 1, "string", s);
  let p = sptr(s);
  let n = slen(s);
  if (n == 0 || load<u8>(p + n - 1) != 61) {
    const r = n % 4;
    if (r == 1) {
      biBuiltinErr("base64url.decode", "illegal base64url string: ");
      return biMoreStr(s);
    }
    if (r != 0) {
      const q = opa_malloc(n + 2);
      memory.copy(q, p, n);
      store<u8>(q + n, 61);
      store<u8>(q + n + 1, 61);
      p = q;
      n += 4 - r;
    }
  }
  return b64dec(p, n, true);
}

// ---- JSON

/**
 * json.marshal(x): compact JSON with sorted keys (sets as arrays), escaping <, >, & and
 * U+2028/U+2029 as \u003c … like Go's encoding/json. Computed non-integral numbers print
 * with the shortest round-trip digits (OPA prints its big-number text).
 */
export function tg_bi_json_marshal(x: usize): usize {
  if (x == 0) return 0;
  const d = opa_json_dump(x);
  let n: usize = 0;
  let extra: usize = 0;
  while (true) {
    const c = load<u8>(d + n);
    if (c == 0) break;
    if (c == 0x3c || c == 0x3e || c == 0x26) extra += 5;
    else if (c == 0xe2 && load<u8>(d + n + 1) == 0x80 && (load<u8>(d + n + 2) == 0xa8 || load<u8>(d + n + 2) == 0xa9)) extra += 3;
    n++;
  }
  if (extra == 0) return tg_string(d, n);
  const out = opa_malloc(n + extra);
  let w = out;
  for (let i: usize = 0; i < n; i++) {
    const c = load<u8>(d + i);
    let code: u32 = 0;
    if (c == 0x3c) code = 0x3c;
    else if (c == 0x3e) code = 0x3e;
    else if (c == 0x26) code = 0x26;
    else if (c == 0xe2 && load<u8>(d + i + 1) == 0x80 && (load<u8>(d + i + 2) == 0xa8 || load<u8>(d + i + 2) == 0xa9)) {
      code = load<u8>(d + i + 2) == 0xa8 ? 0x2028 : 0x2029;
      i += 2;
    }
    if (code == 0) {
      store<u8>(w++, c);
      continue;
    }
    store<u8>(w, 0x5c);
    store<u8>(w + 1, 0x75);
    store<u8>(w + 2, hexDigit(code >> 12));
    store<u8>(w + 3, hexDigit((code >> 8) & 15));
    store<u8>(w + 4, hexDigit((code >> 4) & 15));
    store<u8>(w + 5, hexDigit(code & 15));
    w += 6;
  }
  return tg_string(out, w - out);
}

@inline function hexDigit(v: u32): u8 {
  return <u8>(v < 10 ? 0x30 + v : 0x61 + v - 10);
}

/**
 * json.unmarshal(s): parse error → undefined, recording the error message of Go's json.Decoder
 * (OPA decodes with a Decoder and then reads one more token, see goUnmarshal).
 */
export function tg_bi_json_unmarshal(s: usize): usize {
  if (typeOf(s) != T_STRING) return biOperandTypeErr("json.unmarshal", 1, "string", s);
  const v = opa_json_parse(sptr(s), slen(s));
  if (v != 0) return v;
  return goUnmarshal(sptr(s), slen(s));
}

// ---- Go's encoding/json error messages (error path of json.unmarshal only)

@inline function jSpace(c: u32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d;
}

/** A fresh string value with the given ASCII bytes (error path only). */
function asciiStr(a: u32, b: u32, c: u32, d: u32, n: usize): usize {
  const p = opa_malloc(n);
  store<u8>(p, <u8>a);
  if (n > 1) store<u8>(p + 1, <u8>b);
  if (n > 2) store<u8>(p + 2, <u8>c);
  if (n > 3) store<u8>(p + 3, <u8>d);
  return tg_string(p, n);
}

/** Go's quoteChar(c): 'x', '\'', '"', '\n', '\x00', and (escaped later) '\u00e9'. */
function quoteChar(c: u32): usize {
  if (c == 0x27 || c == 0x5c) return asciiStr(0x27, 0x5c, c, 0x27, 4);
  if (c >= 0x20 && c < 0x7f) return asciiStr(0x27, c, 0x27, 0, 3);
  if (c >= 0x80) {
    // string(rune(c)) as UTF-8; tg_bi_error_raise escapes it as \u00XX
    const p = opa_malloc(4);
    store<u8>(p, 0x27);
    store<u8>(p + 1, <u8>(0xc0 | (c >> 6)));
    store<u8>(p + 2, <u8>(0x80 | (c & 0x3f)));
    store<u8>(p + 3, 0x27);
    return tg_string(p, 4);
  }
  const esc: u32 = c == 7 ? 0x61 : c == 8 ? 0x62 : c == 12 ? 0x66 : c == 10 ? 0x6e : c == 13 ? 0x72 : c == 9 ? 0x74 : c == 11 ? 0x76 : 0;
  if (esc != 0) return asciiStr(0x27, 0x5c, esc, 0x27, 4);
  const p = opa_malloc(6);
  store<u8>(p, 0x27);
  store<u8>(p + 1, 0x5c);
  store<u8>(p + 2, 0x78);
  store<u8>(p + 3, <u8>hexDigit(c >> 4));
  store<u8>(p + 4, <u8>hexDigit(c & 15));
  store<u8>(p + 5, 0x27);
  return tg_string(p, 6);
}

/** Records Go's SyntaxError "invalid character <c> <ctx>"; returns -1. */
function jErr(c: u32, ctx: string): isize {
  biBuiltinErr("json.unmarshal", "invalid character ");
  biMoreStr(quoteChar(c));
  biMore(" ");
  biMore(ctx);
  return -1;
}

function jEof(): isize {
  biBuiltinErr("json.unmarshal", "unexpected EOF");
  return -1;
}

@inline function jDigit(c: u32): bool {
  return c >= 0x30 && c <= 0x39;
}

/** Scans a JSON string at p[i] == '"'; returns the index after it or -1 (error recorded). */
function jString(p: usize, n: usize, i: usize): isize {
  i++;
  while (true) {
    if (i >= n) return jEof();
    const c = <u32>load<u8>(p + i);
    i++;
    if (c == 0x22) return <isize>i;
    if (c < 0x20) return jErr(c, "in string literal");
    if (c != 0x5c) continue;
    if (i >= n) return jEof();
    const e = <u32>load<u8>(p + i);
    i++;
    if (e == 0x75) {
      for (let k = 0; k < 4; k++) {
        if (i >= n) return jEof();
        const h = <u32>load<u8>(p + i);
        if (!(jDigit(h) || (h >= 0x61 && h <= 0x66) || (h >= 0x41 && h <= 0x46))) return jErr(h, "in \\u hexadecimal character escape");
        i++;
      }
    } else if (!(e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74 || e == 0x5c || e == 0x2f || e == 0x22)) {
      return jErr(e, "in string escape code");
    }
  }
}

/** Scans a JSON number starting at p[i] ('-' or a digit); returns the index after it or -1. */
function jNumber(p: usize, n: usize, i: usize): isize {
  if (load<u8>(p + i) == 0x2d) {
    i++;
    if (i >= n) return jEof();
    if (!jDigit(load<u8>(p + i))) return jErr(load<u8>(p + i), "in numeric literal");
  }
  if (load<u8>(p + i) == 0x30) i++;
  else while (i < n && jDigit(load<u8>(p + i))) i++;
  if (i < n && load<u8>(p + i) == 0x2e) {
    i++;
    if (i >= n) return jEof();
    if (!jDigit(load<u8>(p + i))) return jErr(load<u8>(p + i), "after decimal point in numeric literal");
    while (i < n && jDigit(load<u8>(p + i))) i++;
  }
  if (i < n && (load<u8>(p + i) == 0x65 || load<u8>(p + i) == 0x45)) {
    i++;
    if (i < n && (load<u8>(p + i) == 0x2b || load<u8>(p + i) == 0x2d)) i++;
    if (i >= n) return jEof();
    if (!jDigit(load<u8>(p + i))) return jErr(load<u8>(p + i), "in exponent of numeric literal");
    while (i < n && jDigit(load<u8>(p + i))) i++;
  }
  return <isize>i;
}

/** Scans the literal `lit` (true/false/null) at p[i]; returns the index after it or -1. */
function jLiteral(p: usize, n: usize, i: usize, lit: string): isize {
  for (let k = 1; k < lit.length; k++) {
    if (i + <usize>k >= n) return jEof();
    const c = <u32>load<u8>(p + i + k);
    const want = <u32>lit.charCodeAt(k);
    if (c != want) {
      jErr(c, "in literal ");
      biMore(lit);
      biMore(" (expecting ");
      biMoreStr(asciiStr(0x27, want, 0x27, 0x29, 4));
      return -1;
    }
  }
  return <isize>(i + <usize>lit.length);
}

const J_KEY: u8 = 0; // in an object, before a key's ':'
const J_VAL: u8 = 1; // in an object, after a value
const J_ARR: u8 = 2; // in an array

/**
 * Go's json scanner over one value from p[i] (leading whitespace skipped): returns the index
 * after the value, or -1 with the error recorded. A top-level scalar's following byte is not
 * checked here.
 */
function jValue(p: usize, n: usize, i: usize): isize {
  const stack = opa_malloc(n + 1);
  let sp: usize = 0;
  let st = 0; // 0 value, 1 value or ']', 2 key or '}', 3 key, 4 after a value
  while (true) {
    if (st == 4) {
      if (sp == 0) return <isize>i;
      while (i < n && jSpace(load<u8>(p + i))) i++;
      if (i >= n) return jEof();
      const c = <u32>load<u8>(p + i);
      const top = load<u8>(stack + sp - 1);
      if (top == J_KEY) {
        if (c != 0x3a) return jErr(c, "after object key");
        store<u8>(stack + sp - 1, J_VAL);
        i++;
        st = 0;
      } else if (top == J_VAL) {
        if (c == 0x2c) {
          store<u8>(stack + sp - 1, J_KEY);
          i++;
          st = 3;
        } else if (c == 0x7d) {
          sp--;
          i++;
        } else return jErr(c, "after object key:value pair");
      } else {
        if (c == 0x2c) {
          i++;
          st = 0;
        } else if (c == 0x5d) {
          sp--;
          i++;
        } else return jErr(c, "after array element");
      }
      continue;
    }
    while (i < n && jSpace(load<u8>(p + i))) i++;
    if (i >= n) return jEof();
    const c = <u32>load<u8>(p + i);
    if (st == 1 || st == 2) {
      if (c == (st == 1 ? 0x5d : 0x7d)) {
        sp--;
        i++;
        st = 4;
        continue;
      }
      st = st == 1 ? 0 : 3;
    }
    let r: isize;
    if (st == 3) {
      if (c != 0x22) return jErr(c, "looking for beginning of object key string");
      r = jString(p, n, i);
    } else if (c == 0x7b || c == 0x5b) {
      store<u8>(stack + sp++, c == 0x7b ? J_KEY : J_ARR);
      i++;
      st = c == 0x7b ? 2 : 1;
      continue;
    } else if (c == 0x22) r = jString(p, n, i);
    else if (c == 0x2d || jDigit(c)) r = jNumber(p, n, i);
    else if (c == 0x74) r = jLiteral(p, n, i, "true");
    else if (c == 0x66) r = jLiteral(p, n, i, "false");
    else if (c == 0x6e) r = jLiteral(p, n, i, "null");
    else return jErr(c, "looking for beginning of value");
    if (r < 0) return -1;
    i = <usize>r;
    st = 4;
  }
}

/**
 * One json.Decoder.Decode from p[i]: the value's end, or -1 with Go's error recorded ("EOF" when
 * only whitespace is left, "invalid character … after top-level value" when a scalar is
 * directly followed by something else).
 */
function jDecode(p: usize, n: usize, i: usize): isize {
  let j = i;
  while (j < n && jSpace(load<u8>(p + j))) j++;
  if (j >= n) {
    biBuiltinErr("json.unmarshal", "EOF");
    return -1;
  }
  const e = jValue(p, n, j);
  if (e < 0) return -1;
  const c0 = load<u8>(p + j);
  if (c0 != 0x7b && c0 != 0x5b && <usize>e < n && !jSpace(load<u8>(p + <usize>e))) {
    return jErr(load<u8>(p + <usize>e), "after top-level value");
  }
  return e;
}

/**
 * OPA's util.UnmarshalJSON after our parser rejected [p, p+n): Decode one value, then read one
 * more token: a `null` token (or none) means success (OPA then returns the first value), any
 * other token is "error: invalid character '<token>' after top-level value". Records the
 * message and returns 0, or returns the first value when OPA would succeed.
 */
function goUnmarshal(p: usize, n: usize): usize {
  const e = jDecode(p, n, 0);
  if (e < 0) return 0;
  let j = <usize>e;
  while (j < n && jSpace(load<u8>(p + j))) j++;
  if (j >= n) return 0; // Go accepts it but our parser does not (e.g. nesting deeper than 2048): gap
  const c = <u32>load<u8>(p + j);
  if (c == 0x5d || c == 0x7d || c == 0x3a || c == 0x2c) {
    jErr(c, "looking for beginning of value"); // Decoder.Token's tokenError
    return 0;
  }
  let tok: usize = 0;
  if (c == 0x5b || c == 0x7b) tok = asciiStr(c, 0, 0, 0, 1);
  else {
    const e2 = jDecode(p, n, j);
    if (e2 < 0) return 0;
    if (c == 0x6e) return opa_json_parse(p, <usize>e); // null token: OPA returns the first value
    if (c == 0x22) tok = tg_string(p + j + 1, <usize>e2 - j - 2); // gap: escapes are not decoded
    else if (c == 0x74 || c == 0x66) tok = 0;
    else tok = tg_string(p + j, <usize>e2 - j);
  }
  biBuiltinErr("json.unmarshal", "error: invalid character '");
  if (tok != 0) biMoreStr(tok);
  else biMore(c == 0x74 ? "%!s(bool=true)" : "%!s(bool=false)");
  return biMore("' after top-level value");
}

// ---- units.parse_bytes

/**
 * units.parse_bytes(s): "<number><unit>", case-insensitive, '"' ignored, no spaces; units
 * k/kb m/mb … e/eb (powers of 1000) and ki/kib … ei/eib (powers of 1024); result truncated
 * toward zero. Errors → undefined.
 */
export function tg_bi_units_parse_bytes(s: usize): usize {
  if (!isStr(s)) return biOperandTypeErr("units.parse_bytes", 1, "string", s);
  const p = sptr(s);
  const n = slen(s);
  // number part: digits and '.'
  let i: usize = 0;
  let intPart: u64 = 0;
  let frac: u64 = 0; // fraction digits as an integer (first 18 digits; later ones cannot matter)
  let fracDiv: u64 = 1;
  let dots = 0;
  let digits = 0;
  let big = false;
  // skip '"' everywhere; reject spaces
  for (let j: usize = 0; j < n; j++) if (load<u8>(p + j) == 0x20) return unitsErr(s, "spaces not allowed in resource strings");
  while (i < n) {
    const c = load<u8>(p + i);
    if (c == 0x22) { i++; continue; }
    if (c == 0x2e) {
      dots++;
      i++;
      continue;
    }
    if (c < 0x30 || c > 0x39) break;
    digits++;
    if (dots == 0) {
      if (intPart > 99999999999999999) big = true;
      intPart = intPart * 10 + <u64>(c - 0x30);
    } else {
      if (fracDiv < 1000000000000000000) {
        fracDiv *= 10;
        frac = frac * 10 + <u64>(c - 0x30);
      }
    }
    i++;
  }
  if (digits == 0 && dots == 0) return unitsErr(s, "no byte amount provided");
  // unit: letters (quotes skipped), lowercased
  const unitAt = i;
  let u: u32 = 0; // up to 3 letters packed
  let ul = 0;
  while (i < n) {
    let c = <u32>load<u8>(p + i++);
    if (c == 0x22) continue;
    if (c >= 0x41 && c <= 0x5a) c += 32;
    if (ul == 3) return unitErr(s, unitAt);
    u = (u << 8) | c;
    ul++;
  }
  let mult: u64 = 1;
  if (ul > 0) {
    const lead = ul == 1 ? u : ul == 2 ? u >> 8 : u >> 16;
    const rest = ul == 1 ? 0 : ul == 2 ? u & 0xff : u & 0xffff;
    let pow: u32 = 0;
    if (lead == 0x6b) pow = 1; // k
    else if (lead == 0x6d) pow = 2; // m
    else if (lead == 0x67) pow = 3; // g
    else if (lead == 0x74) pow = 4; // t
    else if (lead == 0x70) pow = 5; // p
    else if (lead == 0x65) pow = 6; // e
    else return unitErr(s, unitAt);
    let b: u64 = 0;
    if (rest == 0 || rest == 0x62) b = 1000; // "", "b"
    else if (rest == 0x69 || rest == 0x6962) b = 1024; // "i", "ib"
    else return unitErr(s, unitAt);
    for (let k: u32 = 0; k < pow; k++) mult *= b;
  }
  if (digits == 0 || dots > 1) return unitsErr(s, "could not parse byte amount to a number");
  if (big) return 0; // gap: OPA computes with big numbers
  // total = trunc((intPart + frac) * mult)
  // total = trunc((intPart + frac/fracDiv) * mult), exact in integers when it fits
  const hi = <f64>intPart * <f64>mult;
  if (hi < 9.0e18 && <f64>frac * <f64>mult < 1.8e19) {
    const whole = intPart * mult;
    const f = frac * mult / fracDiv;
    if (<f64>whole + <f64>f < 9.2e18) return tg_int(<i64>(whole + f));
  }
  return tg_float(Math.floor((<f64>intPart + <f64>frac / <f64>fracDiv) * <f64>mult));
}

/**
 * OPA's number part also takes '+', '-' and scientific notation ("1e3", "-5kb"), which this
 * parser does not (gap): for such strings no message is recorded rather than a wrong one.
 */
function unitsOpaNumberSyntax(s: usize): bool {
  const p = sptr(s);
  const n = slen(s);
  for (let i: usize = 0; i < n; i++) {
    const c = load<u8>(p + i);
    if (c == 0x2b || c == 0x2d) return true;
    if ((c == 0x65 || c == 0x45) && i + 1 < n) {
      const d = load<u8>(p + i + 1);
      if ((d >= 0x30 && d <= 0x39) || d == 0x2b || d == 0x2d) return true;
    }
  }
  return false;
}

/** Records "units.parse_bytes: units.parse_bytes error: <msg>" (the conformance suite's OPA wording); returns 0. */
function unitsErr(s: usize, msg: string): usize {
  if (unitsOpaNumberSyntax(s)) return 0;
  biBuiltinErr("units.parse_bytes", "units.parse_bytes error: ");
  return biMore(msg);
}

/** "byte unit <unit> not recognized", unit = the rest from byte `at`, quotes removed, lowercased (Go's ToLower). */
function unitErr(s: usize, at: usize): usize {
  if (unitsOpaNumberSyntax(s)) return 0;
  const p = sptr(s);
  const n = slen(s);
  const buf = opa_malloc(n - at);
  let w = buf;
  for (let i = at; i < n; i++) {
    const c = load<u8>(p + i);
    if (c != 0x22) store<u8>(w++, c);
  }
  const unit = tg_bi_lower(tg_string(buf, w - buf));
  biBuiltinErr("units.parse_bytes", "units.parse_bytes error: byte unit ");
  biMoreStr(unit);
  return biMore(" not recognized");
}

// ---- semver.compare

// Parsed version: fields at a scratch area; pre-release [pre, preEnd) (0 len = none).
let vMaj: u64 = 0;
let vMin: u64 = 0;
let vPat: u64 = 0;
let vPre: usize = 0;
let vPreN: usize = 0;

function num(p: usize, e: usize, at: usize): isize {
  // numeric identifier without leading zeros; returns end or -1; value in vTmp
  let q = at;
  vTmp = 0;
  while (q < e && load<u8>(q) >= 0x30 && load<u8>(q) <= 0x39) {
    if (vTmp > 999999999999999999) return -1;
    vTmp = vTmp * 10 + <u64>(load<u8>(q) - 0x30);
    q++;
  }
  if (q == at) return -1;
  if (q - at > 1 && load<u8>(at) == 0x30) return -1;
  return <isize>q;
}
let vTmp: u64 = 0;

@inline function identChar(c: u8): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2d;
}

/** Validates dot-separated identifiers in [p, e); numeric ones must not have leading zeros if strict. */
function idents(p: usize, e: usize, strictNum: bool): bool {
  if (p >= e) return false;
  let s = p;
  for (let q = p; q <= e; q++) {
    if (q == e || load<u8>(q) == 0x2e) {
      if (q == s) return false;
      if (strictNum) {
        let allNum = true;
        for (let r = s; r < q; r++) if (load<u8>(r) < 0x30 || load<u8>(r) > 0x39) allNum = false;
        if (allNum && q - s > 1 && load<u8>(s) == 0x30) return false;
      }
      s = q + 1;
    } else if (!identChar(load<u8>(q))) return false;
  }
  return true;
}

function parseSemver(v: usize): bool {
  if (!isStr(v)) return false;
  const p = sptr(v);
  const e = p + slen(v);
  let q = num(p, e, p);
  if (q < 0 || <usize>q >= e || load<u8>(<usize>q) != 0x2e) return false;
  vMaj = vTmp;
  q = num(p, e, <usize>q + 1);
  if (q < 0 || <usize>q >= e || load<u8>(<usize>q) != 0x2e) return false;
  vMin = vTmp;
  q = num(p, e, <usize>q + 1);
  if (q < 0) return false;
  vPat = vTmp;
  let r = <usize>q;
  vPre = 0;
  vPreN = 0;
  if (r < e && load<u8>(r) == 0x2d) {
    let end = r + 1;
    while (end < e && load<u8>(end) != 0x2b) end++;
    if (!idents(r + 1, end, true)) return false;
    vPre = r + 1;
    vPreN = end - r - 1;
    r = end;
  }
  if (r < e && load<u8>(r) == 0x2b) {
    if (!idents(r + 1, e, false)) return false;
    r = e;
  }
  return r == e;
}

function isNumeric(p: usize, e: usize): bool {
  for (let q = p; q < e; q++) if (load<u8>(q) < 0x30 || load<u8>(q) > 0x39) return false;
  return true;
}

function cmpIdent(a: usize, ae: usize, b: usize, be: usize): i32 {
  const an = isNumeric(a, ae);
  const bn = isNumeric(b, be);
  if (an && bn) {
    const la = ae - a;
    const lb = be - b;
    if (la != lb) return la < lb ? -1 : 1;
  } else if (an != bn) return an ? -1 : 1;
  const n = min(ae - a, be - b);
  for (let i: usize = 0; i < n; i++) {
    const x = load<u8>(a + i);
    const y = load<u8>(b + i);
    if (x != y) return x < y ? -1 : 1;
  }
  return ae - a == be - b ? 0 : ae - a < be - b ? -1 : 1;
}

function cmpPre(a: usize, an: usize, b: usize, bn: usize): i32 {
  if (an == 0 || bn == 0) return an == bn ? 0 : an == 0 ? 1 : -1; // release > pre-release
  let pa = a;
  let pb = b;
  const ea = a + an;
  const eb = b + bn;
  while (pa < ea && pb < eb) {
    let qa = pa;
    while (qa < ea && load<u8>(qa) != 0x2e) qa++;
    let qb = pb;
    while (qb < eb && load<u8>(qb) != 0x2e) qb++;
    const c = cmpIdent(pa, qa, pb, qb);
    if (c != 0) return c;
    pa = qa + 1;
    pb = qb + 1;
  }
  if (pa >= ea && pb >= eb) return 0;
  return pa >= ea ? -1 : 1;
}

function semverErr(head: string, v: usize): usize {
  biBuiltinErr("semver.compare", head);
  biMoreQuoted(v);
  return biMore(" is not a valid SemVer");
}

/** semver.compare(a, b) → -1 | 0 | 1 (SemVer 2.0.0 precedence; build metadata ignored). */
export function tg_bi_semver_compare(a: usize, b: usize): usize {
  if (!isStr(a)) return biOperandTypeErr("semver.compare", 1, "string", a);
  if (!isStr(b)) return biOperandTypeErr("semver.compare", 2, "string", b);
  if (!parseSemver(a)) return semverErr("operand 1: string ", a);
  const aMaj = vMaj, aMin = vMin, aPat = vPat, aPre = vPre, aPreN = vPreN;
  if (!parseSemver(b)) return semverErr("operand 2: string ", b);
  let c: i32 = 0;
  if (aMaj != vMaj) c = aMaj < vMaj ? -1 : 1;
  else if (aMin != vMin) c = aMin < vMin ? -1 : 1;
  else if (aPat != vPat) c = aPat < vPat ? -1 : 1;
  else c = cmpPre(aPre, aPreN, vPre, vPreN);
  return tg_int(<i64>c);
}
