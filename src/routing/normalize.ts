import { GatewayError } from '../errors.js';

/**
 * Request-target normalisation (RFC 3986 §6.2.2, RFC 9112 §3.2).
 *
 * The gateway matches routes on, decides on, and forwards exactly one string: the path this
 * function returns. Only percent-encoded *unreserved* characters are decoded (§2.3: they are
 * equivalent to their decoded form); every other escape is kept, upper-cased (§6.2.2.1).
 * Ambiguous inputs are rejected rather than interpreted, because any interpretation the
 * upstream does not share is a route-bypass: encoded `/` or `\`, dot segments (also after
 * decoding `%2e`), NUL, raw backslashes, and invalid escapes. Runs of `/` are merged so that
 * `//admin` cannot be read as an authority by a URL parser downstream.
 */

export interface NormalizedTarget {
  path: string;
  /** Raw query without `?`, validated but not decoded; forwarded unchanged. */
  query: string;
}

// Character classes by code point (ASCII only; anything >= 0x80 must arrive percent-encoded).
const UNRESERVED = new Uint8Array(128);
const PCHAR = new Uint8Array(128); // pchar without '%' (RFC 3986 §3.3), plus '/'
const QCHAR = new Uint8Array(128); // query = *( pchar / "/" / "?" ) (RFC 3986 §3.4)
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9\-._~]/.test(ch)) UNRESERVED[c] = 1;
}
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (UNRESERVED[c] === 1 || "!$&'()*+,;=:@/".includes(ch)) PCHAR[c] = 1;
  if (PCHAR[c] === 1 || ch === '?') QCHAR[c] = 1;
}

const HEX = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function reject(reason: string): never {
  throw new GatewayError('invalid_path', { reason });
}

/**
 * Normalises an origin-form request target (`req.url`). Throws `GatewayError` with code
 * `invalid_request_target` for absolute-form / asterisk-form targets and `invalid_path` for the
 * rest; `reason` names the rule.
 */
export function normalizeTarget(rawTarget: string): NormalizedTarget {
  // RFC 9112 §3.2.1: only origin-form is valid for a non-proxy, non-CONNECT, non-OPTIONS-* request.
  if (rawTarget.charCodeAt(0) !== 47 /* / */) {
    throw new GatewayError('invalid_request_target', { reason: 'not_origin_form' });
  }
  const q = rawTarget.indexOf('?');
  const rawPath = q === -1 ? rawTarget : rawTarget.slice(0, q);
  const query = q === -1 ? '' : rawTarget.slice(q + 1);

  const path = normalizePath(rawPath);
  validateQuery(query);
  return { path, query };
}

function normalizePath(raw: string): string {
  let out = '';
  let copyFrom = 0; // start of the pending verbatim run in `raw`
  let changed = false;
  let prevSlash = false;
  let nonAscii = false;
  const n = raw.length;
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37 /* % */) {
      const h = i + 2 < n ? hexValue(raw.charCodeAt(i + 1)) : -1;
      const l = i + 2 < n ? hexValue(raw.charCodeAt(i + 2)) : -1;
      if (h < 0 || l < 0) reject('invalid_encoding');
      const v = h * 16 + l;
      if (v === 0x2f || v === 0x5c) reject('encoded_slash');
      if (v === 0) reject('nul');
      out += raw.slice(copyFrom, i);
      if (v < 128 && UNRESERVED[v] === 1) out += String.fromCharCode(v);
      else out += '%' + HEX[h] + HEX[l];
      if (v >= 128) nonAscii = true;
      copyFrom = i + 3;
      i += 2;
      changed = true;
      prevSlash = false;
      continue;
    }
    if (c === 47 /* / */) {
      if (prevSlash) {
        out += raw.slice(copyFrom, i);
        copyFrom = i + 1;
        changed = true;
      }
      prevSlash = true;
      continue;
    }
    prevSlash = false;
    if (c === 92 /* \ */) reject('backslash');
    if (c === 0) reject('nul');
    if (c >= 128 || PCHAR[c] !== 1) reject('invalid_char');
  }
  const path = changed ? out + raw.slice(copyFrom) : raw;
  // Escaped non-ASCII bytes must be well-formed UTF-8 (RFC 3629 §3): an overlong `%C0%AE` is a
  // `.` to a lenient decoder downstream, so it is refused here rather than passed on.
  if (nonAscii) {
    try {
      decodeURIComponent(path);
    } catch {
      reject('invalid_utf8');
    }
  }
  // Dot segments are checked after decoding, so `%2e%2e` and `.%2e` are caught too.
  if (path.includes('/.')) {
    for (const seg of path.split('/')) {
      if (seg === '.' || seg === '..') reject('dot_segment');
    }
  }
  return path;
}

function validateQuery(query: string): void {
  const n = query.length;
  for (let i = 0; i < n; i++) {
    const c = query.charCodeAt(i);
    if (c === 37 /* % */) {
      if (i + 2 >= n || hexValue(query.charCodeAt(i + 1)) < 0 || hexValue(query.charCodeAt(i + 2)) < 0) {
        reject('invalid_query_encoding');
      }
      i += 2;
      continue;
    }
    if (c >= 128 || QCHAR[c] !== 1) reject('invalid_query_char');
  }
}
