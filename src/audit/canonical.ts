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

/** True when the string has no lone surrogate (RFC 8785 §3.2.2.2 forbids them; I-JSON, RFC 7493 §2.1). */
const wellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (s) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

/** Thrown inside serialize() and given its path on the way out, so the hot path never builds path strings. */
class PathError extends CanonicalizationError {
  constructor(
    readonly problem: string,
    readonly segments: string[] = [],
  ) {
    super(problem);
  }
}

function serialize(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new PathError('non-finite number');
      // ECMAScript Number::toString (RFC 8785 §3.2.2.3); -0 serializes as "0".
      return JSON.stringify(value);
    case 'string':
      // JSON.stringify escapes exactly as RFC 8785 §3.2.2.2 requires.
      if (!wellFormed(value)) throw new PathError('lone surrogate in string');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          try {
            out += serialize(value[i]);
          } catch (err) {
            if (err instanceof PathError) err.segments.push(`[${i}]`);
            throw err;
          }
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new PathError('non-plain object');
      const obj = value as Record<string, unknown>;
      // The default sort compares UTF-16 code units: exactly RFC 8785 §3.2.3's order.
      const keys = Object.keys(obj).sort();
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        if (!wellFormed(key)) throw new PathError('lone surrogate in property name');
        if (i > 0) out += ',';
        try {
          out += `${JSON.stringify(key)}:${serialize(obj[key])}`;
        } catch (err) {
          if (err instanceof PathError) err.segments.push(`.${key}`);
          throw err;
        }
      }
      return `${out}}`;
    }
    default:
      throw new PathError(`${typeof value} is not a JSON value`);
  }
}

/** The RFC 8785 canonical JSON text of `value`. Throws CanonicalizationError for non-JSON values. */
export function canonicalize(value: unknown): string {
  try {
    return serialize(value);
  } catch (err) {
    if (err instanceof PathError) throw new CanonicalizationError(`${err.problem} at $${err.segments.reverse().join('')}`);
    throw err;
  }
}

/** The RFC 8785 canonical form as UTF-8 bytes (RFC 8785 §3.2.4) — what gets hashed and signed. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}
