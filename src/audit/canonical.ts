/**
 * RFC 8785 JSON Canonicalization Scheme (JCS) for the JSON values audit records contain.
 *
 * Why: a record's hash and a checkpoint's Ed25519 signature must be reproducible by any verifier, so the
 * bytes hashed/signed must not depend on key insertion order or number spelling. RFC 8785 §3.2 gives:
 *  - no whitespace between tokens;
 *  - object members sorted by their names as arrays of UTF-16 code units (§3.2.3), recursively;
 *    array order is kept;
 *  - strings serialized as ECMAScript JSON.stringify does (§3.2.2.2): `"` `\\` and the control characters
 *    U+0000..U+001F escaped (\b \t \n \f \r named, the rest \u00xx lowercase), everything else literal;
 *  - numbers serialized with the ECMAScript Number-to-String algorithm (§3.2.2.3), which is exactly what
 *    JSON.stringify(number) produces for finite values; NaN/Infinity are not JSON and are rejected;
 *  - the result is encoded as UTF-8 (§3.2.4).
 * Values JSON cannot carry (undefined, bigint, functions, symbols, non-plain objects) are rejected rather than
 * silently dropped, because a dropped field would make the hash cover less than the caller believes.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export class CanonicalizationError extends Error {
  override readonly name = 'CanonicalizationError';
}

/** Compare two strings by UTF-16 code units (RFC 8785 §3.2.3). JS `<` on strings already does this. */
function compareUtf16(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function serialize(value: unknown, path: string, out: string[]): void {
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalizationError(`non-finite number at ${path}`);
      // ECMAScript Number::toString (RFC 8785 §3.2.2.3); -0 serializes as "0".
      out.push(JSON.stringify(value));
      return;
    case 'string':
      // JSON.stringify escapes exactly as RFC 8785 §3.2.2.2 requires (and well-formed-JSON.stringify escapes
      // lone surrogates as \udxxx; RFC 8785 forbids lone surrogates in I-JSON, so reject them).
      if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value)) {
        throw new CanonicalizationError(`lone surrogate in string at ${path}`);
      }
      out.push(JSON.stringify(value));
      return;
    case 'object': {
      if (Array.isArray(value)) {
        out.push('[');
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out.push(',');
          serialize(value[i], `${path}[${i}]`, out);
        }
        out.push(']');
        return;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalizationError(`non-plain object at ${path}`);
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort(compareUtf16);
      out.push('{');
      let first = true;
      for (const key of keys) {
        if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(key)) {
          throw new CanonicalizationError(`lone surrogate in property name at ${path}`);
        }
        if (!first) out.push(',');
        first = false;
        out.push(JSON.stringify(key), ':');
        serialize(obj[key], `${path}.${key}`, out);
      }
      out.push('}');
      return;
    }
    default:
      throw new CanonicalizationError(`${typeof value} is not a JSON value at ${path}`);
  }
}

/** The RFC 8785 canonical JSON text of `value`. Throws CanonicalizationError for non-JSON values. */
export function canonicalize(value: unknown): string {
  const out: string[] = [];
  serialize(value, '$', out);
  return out.join('');
}

/** The RFC 8785 canonical form as UTF-8 bytes (RFC 8785 §3.2.4) — what gets hashed and signed. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}
