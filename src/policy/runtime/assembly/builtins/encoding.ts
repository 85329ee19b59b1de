// base64 / base64url, json.marshal / json.unmarshal, units.parse_bytes, semver.compare.

import { T_STRING, tg_int, tg_float, tg_string, opa_malloc, opa_json_parse, opa_json_dump } from "../runtime";
import { typeOf, isStr, sptr, slen } from "./util";

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
  if (!isStr(s)) return 0;
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

/**
 * Go's base64 (Std|URL)Encoding.DecodeString (padded, non-strict): '\r' and '\n' are ignored,
 * the input must come in quanta of 4 with '=' padding only at the end; errors → undefined.
 */
function b64dec(p: usize, n: usize, url: bool): usize {
  const out = opa_malloc(n / 4 * 3 + 3);
  let w = out;
  let acc: u32 = 0;
  let k: u32 = 0; // data chars in the current quantum
  let pads: u32 = 0;
  for (let i: usize = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if (c == 10 || c == 13) continue;
    if (pads > 0) {
      if (c == 61 && k + pads < 4) {
        pads++;
        continue;
      }
      return 0; // data after padding
    }
    if (c == 61) {
      if (k < 2) return 0;
      pads = 1;
      continue;
    }
    const v = b64val(c, url);
    if (v < 0) return 0;
    acc = (acc << 6) | <u32>v;
    k++;
    if (k == 4) {
      store<u8>(w, <u8>(acc >> 16));
      store<u8>(w + 1, <u8>(acc >> 8));
      store<u8>(w + 2, <u8>acc);
      w += 3;
      acc = 0;
      k = 0;
    }
  }
  if (pads > 0) {
    if (k + pads != 4) return 0;
    if (k == 2) store<u8>(w++, <u8>(acc >> 4));
    else {
      store<u8>(w++, <u8>(acc >> 10));
      store<u8>(w++, <u8>(acc >> 2));
    }
  } else if (k != 0) return 0;
  return tg_string(out, w - out);
}

export function tg_bi_base64_encode(s: usize): usize {
  return b64enc(s, false, true);
}
export function tg_bi_base64_decode(s: usize): usize {
  if (!isStr(s)) return 0;
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
  if (!isStr(s)) return 0;
  let p = sptr(s);
  let n = slen(s);
  if (n == 0 || load<u8>(p + n - 1) != 61) {
    const r = n % 4;
    if (r == 1) return 0;
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

/** json.unmarshal(s): parse error → undefined (OPA: builtin error). */
export function tg_bi_json_unmarshal(s: usize): usize {
  if (typeOf(s) != T_STRING) return 0;
  return opa_json_parse(sptr(s), slen(s));
}

// ---- units.parse_bytes

/**
 * units.parse_bytes(s): "<number><unit>", case-insensitive, '"' ignored, no spaces; units
 * k/kb m/mb … e/eb (powers of 1000) and ki/kib … ei/eib (powers of 1024); result truncated
 * toward zero. Errors → undefined.
 */
export function tg_bi_units_parse_bytes(s: usize): usize {
  if (!isStr(s)) return 0;
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
  for (let j: usize = 0; j < n; j++) if (load<u8>(p + j) == 0x20) return 0;
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
  if (digits == 0 || dots > 1 || big) return 0;
  // unit: letters (quotes skipped), lowercased
  let u: u32 = 0; // up to 3 letters packed
  let ul = 0;
  while (i < n) {
    let c = <u32>load<u8>(p + i++);
    if (c == 0x22) continue;
    if (c >= 0x41 && c <= 0x5a) c += 32;
    if (ul == 3) return 0;
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
    else return 0;
    let b: u64 = 0;
    if (rest == 0 || rest == 0x62) b = 1000; // "", "b"
    else if (rest == 0x69 || rest == 0x6962) b = 1024; // "i", "ib"
    else return 0;
    for (let k: u32 = 0; k < pow; k++) mult *= b;
  }
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

/** semver.compare(a, b) → -1 | 0 | 1 (SemVer 2.0.0 precedence; build metadata ignored). */
export function tg_bi_semver_compare(a: usize, b: usize): usize {
  if (!parseSemver(a)) return 0;
  const aMaj = vMaj, aMin = vMin, aPat = vPat, aPre = vPre, aPreN = vPreN;
  if (!parseSemver(b)) return 0;
  let c: i32 = 0;
  if (aMaj != vMaj) c = aMaj < vMaj ? -1 : 1;
  else if (aMin != vMin) c = aMin < vMin ? -1 : 1;
  else if (aPat != vPat) c = aPat < vPat ? -1 : 1;
  else c = cmpPre(aPre, aPreN, vPre, vPreN);
  return tg_int(<i64>c);
}
