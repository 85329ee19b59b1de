/**
 * A non-integral operand is an operand type error that, as `numbers.range`'s in OPA's compliance cases, surfaces
 * only with strict built-in errors.
 *
 * `bits.*` over integers of any size (OPA uses math/big: shifts of negative numbers are arithmetic, `negate` is
 * two's-complement NOT, -x-1), plus `uuid.rfc4122`/`uuid.parse` and `semver.is_valid`.
 */
import { randomUUID } from 'node:crypto';
import { BuiltinError, BuiltinTypeError, type HostBuiltin, type HostCatalogue, type HostValue } from './types.js';

function int(v: HostValue, pos: number): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  throw new BuiltinTypeError(`operand ${pos} must be integer number but got floating-point number`);
}
const out = (x: bigint): HostValue => (x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x);
const two = (f: (a: bigint, b: bigint) => bigint): HostBuiltin => ({
  args: [['number'], ['number']], impl: ([a, b]) => out(f(int(a as HostValue, 1), int(b as HostValue, 2))),
});
/** Shifts beyond this are refused rather than allocating gigabytes. */
const MAX_SHIFT = 1n << 16n;
const shift = (x: bigint, n: bigint, left: boolean): bigint => {
  if (n < 0n) throw new BuiltinError('shift count must not be negative');
  if (left && n > MAX_SHIFT) throw new BuiltinError('shift count too large');
  return left ? x << n : n > MAX_SHIFT ? (x < 0n ? -1n : 0n) : x >> n;
};

// RFC 4122 variant names as Go's github.com/google/uuid prints them
const VARIANTS = ['Reserved', 'RFC4122', 'Microsoft', 'Future'];
/** 100-ns intervals between the Gregorian epoch (1582-10-15) and the Unix epoch. */
const GREGORIAN_OFFSET = 0x01b21dd213814000n;
const DOMAINS = ['Person', 'Group', 'Org'];

function uuidBytes(s: string): Uint8Array | undefined {
  let h = s;
  if (h.length === 45 && h.toLowerCase().startsWith('urn:uuid:')) h = h.slice(9);
  else if (h.length === 38 && h.startsWith('{') && h.endsWith('}')) h = h.slice(1, -1);
  if (h.length === 36) {
    if (h[8] !== '-' || h[13] !== '-' || h[18] !== '-' || h[23] !== '-') return undefined;
    h = h.replace(/-/g, '');
  }
  if (!/^[0-9a-fA-F]{32}$/.test(h)) return undefined;
  return Uint8Array.from(h.match(/../g) as string[], (x) => parseInt(x, 16));
}

function parseUuid(s: string): HostValue | undefined {
  const b = uuidBytes(s);
  if (!b) return undefined;
  const u = (i: number, n: number): bigint => { let x = 0n; for (let j = 0; j < n; j++) x = (x << 8n) | BigInt(b[i + j] as number); return x; };
  const v8 = b[8] as number;
  const variant = VARIANTS[v8 & 0x80 ? (v8 & 0x40 ? (v8 & 0x20 ? 3 : 2) : 1) : 0] as string;
  const version = (b[6] as number) >> 4;
  const r: Record<string, HostValue> = { variant, version };
  if (version === 1 || version === 2) {
    // Go's uuid.Time reads time_low even for version 2, where it holds the local id
    const t = ((u(6, 2) & 0x0fffn) << 48n) | (u(4, 2) << 32n) | u(0, 4);
    r.time = out((t - GREGORIAN_OFFSET) * 100n);
    r.clocksequence = ((v8 & 0x3f) << 8) | (version === 2 ? 0 : b[9] as number);
    r.nodeid = Array.from(b.slice(10), (x) => x.toString(16).padStart(2, '0')).join('-');
    const n0 = b[10] as number;
    r.macvariables = `${n0 & 2 ? 'local' : 'global'}:${n0 & 1 ? 'multicast' : 'unicast'}`;
    if (version === 2) {
      r.id = Number(u(0, 4));
      r.domain = DOMAINS[b[9] as number] ?? `Domain${b[9]}`;
    }
  } else if (version === 6) {
    const t = (u(0, 4) << 28n) | (u(4, 2) << 12n) | (u(6, 2) & 0x0fffn);
    r.time = out((t - GREGORIAN_OFFSET) * 100n);
  } else if (version === 7) {
    r.time = out(u(0, 6) * 1_000_000n);
  }
  return r;
}

// Semantic Versioning 2.0.0 (no leading "v", no leading zeros in numeric identifiers)
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export const BITS_BUILTINS: HostCatalogue = {
  'bits.and': two((a, b) => a & b),
  'bits.or': two((a, b) => a | b),
  'bits.xor': two((a, b) => a ^ b),
  'bits.lsh': two((a, b) => shift(a, b, true)),
  'bits.rsh': two((a, b) => shift(a, b, false)),
  'bits.negate': { args: [['number']], impl: ([a]) => out(~int(a as HostValue, 1)) },
  // OPA: a random version 4 UUID, the same one for the same key throughout one query
  'uuid.rfc4122': {
    args: [['string']],
    impl: ([k], ctx) => {
      const key = `uuid.rfc4122:${k as string}`;
      let v = ctx.cache.get(key);
      if (v === undefined) { v = randomUUID(); ctx.cache.set(key, v); }
      return v;
    },
  },
  'uuid.parse': { args: [['string']], impl: ([s]) => parseUuid(s as string) },
  'semver.is_valid': { args: [['any']], impl: ([s]) => typeof s === 'string' && SEMVER.test(s) },
};
