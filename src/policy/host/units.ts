/**
 * OPA's `units.parse` (topdown/parse_units.go): an amount with an optional decimal SI or binary suffix, computed
 * exactly as a rational. An integral result is exact (a bigint past 2^53); any other result is OPA's rounding to ten
 * decimal places read as a number.
 */
import { BuiltinError, type HostCatalogue } from './types.js';

/** A non-negative rational n/d with d > 0. */
interface Rat { n: bigint; d: bigint }

/**
 * OPA's "m" is big.Rat.SetFloat64(0.001): the exact binary value of the double, not 1/1000, which is why a milli
 * amount never comes out integral.
 */
function ratFromDouble(x: number): Rat {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  const mant = (bits & ((1n << 52n) - 1n)) | (exp === 0 ? 0n : 1n << 52n);
  const e2 = (exp === 0 ? -1074 : exp - 1075);
  return e2 >= 0 ? { n: mant << BigInt(e2), d: 1n } : { n: mant, d: 1n << BigInt(-e2) };
}

const SI = (p: number): Rat => ({ n: 1000n ** BigInt(p), d: 1n });
const BIN = (p: number): Rat => ({ n: 1n << BigInt(10 * p), d: 1n });

/** Suffixes after OPA's case folding (everything past the first letter lower-cased). */
const UNITS: Record<string, Rat> = {
  '': SI(0), m: ratFromDouble(0.001),
  k: SI(1), K: SI(1), ki: BIN(1), Ki: BIN(1),
  M: SI(2), mi: BIN(2), Mi: BIN(2),
  g: SI(3), G: SI(3), gi: BIN(3), Gi: BIN(3),
  t: SI(4), T: SI(4), ti: BIN(4), Ti: BIN(4),
  p: SI(5), P: SI(5), pi: BIN(5), Pi: BIN(5),
  e: SI(6), E: SI(6), ei: BIN(6), Ei: BIN(6),
};

/** Splits at the first character that is neither a digit nor '.' (Go's unicode.IsDigit accepts any Nd digit). */
export function splitAmount(s: string): [string, string] {
  const i = s.search(/[^\p{Nd}.]/u);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i)];
}

/** big.Rat.SetString for what {@link splitAmount} lets through: ASCII digits with at most one '.'. */
function parseDecimal(s: string): Rat | undefined {
  const m = /^([0-9]*)(?:\.([0-9]*))?$/.exec(s);
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) return undefined;
  const frac = m[2] ?? '';
  return { n: BigInt((m[1] || '0') + frac), d: 10n ** BigInt(frac.length) };
}

/** big.Rat.FloatString(10): ten decimals, the last rounded half away from zero. */
function floatString10(r: Rat): string {
  const scaled = r.n * 10n ** 10n;
  let q = scaled / r.d;
  if ((scaled % r.d) * 2n >= r.d) q += 1n;
  const s = q.toString().padStart(11, '0');
  return s.slice(0, -10) + '.' + s.slice(-10);
}

export function parseUnits(raw: string): number | bigint {
  // quotes are dropped to match units.parse_bytes
  const s = raw.replaceAll('"', '');
  if (s.includes(' ')) throw new BuiltinError('spaces not allowed in resource strings');
  const [amount, suffix] = splitAmount(s);
  if (amount === '') throw new BuiltinError('no amount provided');
  // only letters after the first are case-folded, so "m" (milli) and "M" (mega) stay apart
  const unit = suffix.length > 1 ? suffix[0] + suffix.slice(1).toLowerCase() : suffix;
  const factor = UNITS[unit];
  if (factor === undefined) throw new BuiltinError(`unit ${unit} not recognized`);
  const x = parseDecimal(amount);
  if (x === undefined) throw new BuiltinError('could not parse amount to a number');
  const r = { n: x.n * factor.n, d: x.d * factor.d };
  if (r.n % r.d === 0n) {
    const i = r.n / r.d;
    return i <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(i) : i;
  }
  return Number(floatString10(r));
}

export const UNITS_BUILTINS: HostCatalogue = {
  'units.parse': {
    args: [['string']],
    impl: ([s]) => {
      if (typeof s !== 'string') throw new BuiltinError('operand 1 must be string');
      return parseUnits(s);
    },
  },
};
