// Link-time layout of constant values in the runtime's value representation
// (src/policy/wasm/DESIGN.md §2; must match src/policy/runtime/assembly/runtime.ts).
// Constants live below the SDK's base heap pointer, so they survive heap resets; generated
// code must treat them as read-only (never tg_array_push / tg_set_add / tg_object_insert on one).

/** A Rego value known at compile time. Objects/sets are sorted and de-duplicated at layout. */
export type ConstValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | { array: ConstValue[] }
  | { object: [ConstValue, ConstValue][] }
  | { set: ConstValue[] }
  /** A number kept as its literal text (integers beyond 64 bits): exact when printed, a double in arithmetic. */
  | { raw: string };

/**
 * A constant: a value (address of its header), raw NUL-terminated ASCII text (for opa_abort), or a 4-byte cell the
 * generated code may write (zero at start; `name` keeps cells apart when constants are de-duplicated).
 */
export type Constant = ConstValue | { cstring: string } | { cell: string };

const T_NULL = 1, T_BOOLEAN = 2, T_NUMBER = 3, T_STRING = 4, T_ARRAY = 5, T_OBJECT = 6, T_SET = 7;
const N_INT = 0, N_FLOAT = 1, N_RAW = 2;
const I64_MIN = -(1n << 63n), I64_MAX = (1n << 63n) - 1n;

type Norm =
  | { t: 1 }
  | { t: 2; b: boolean }
  | { t: 3; int?: bigint; f: number; raw?: Uint8Array }
  | { t: 4; utf8: Uint8Array }
  | { t: 5; items: Norm[] }
  | { t: 6; pairs: [Norm, Norm][] }
  | { t: 7; items: Norm[] };

function isObj(v: object): v is { object: [ConstValue, ConstValue][] } {
  return 'object' in v;
}

function normalize(v: ConstValue): Norm {
  if (v === null) return { t: 1 };
  if (typeof v === 'boolean') return { t: 2, b: v };
  if (typeof v === 'bigint') {
    if (v < I64_MIN || v > I64_MAX) throw new RangeError(`constant integer out of i64 range: ${v}`);
    return { t: 3, int: v, f: Number(v) };
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`constant number must be finite: ${v}`);
    return Number.isSafeInteger(v) && !Object.is(v, -0) ? { t: 3, int: BigInt(v), f: v } : { t: 3, f: v };
  }
  if (typeof v === 'string') return { t: 4, utf8: new TextEncoder().encode(v) };
  if ('raw' in v) {
    const f = Number(v.raw);
    if (!Number.isFinite(f)) throw new RangeError(`constant number must be finite: ${v.raw}`);
    return { t: 3, f, raw: new TextEncoder().encode(v.raw) };
  }
  if ('array' in v) return { t: 5, items: v.array.map(normalize) };
  if (isObj(v)) {
    const pairs = v.object.map(([k, x]): [Norm, Norm] => [normalize(k), normalize(x)]).sort((a, b) => compare(a[0], b[0]));
    for (let i = 1; i < pairs.length; i++) {
      if (compare((pairs[i - 1] as [Norm, Norm])[0], (pairs[i] as [Norm, Norm])[0]) === 0) {
        throw new Error('constant object has duplicate keys');
      }
    }
    return { t: 6, pairs };
  }
  const items = v.set.map(normalize).sort(compare);
  return { t: 7, items: items.filter((x, i) => i === 0 || compare(items[i - 1] as Norm, x) !== 0) };
}

function cmpNum(a: number | bigint, b: number | bigint): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

/** OPA's total order, as tg_compare implements it. */
function compare(a: Norm, b: Norm): number {
  if (a.t !== b.t) return a.t < b.t ? -1 : 1;
  switch (a.t) {
    case 1: return 0;
    case 2: return cmpNum(Number(a.b), Number((b as typeof a).b));
    case 3: {
      const y = b as typeof a;
      return a.int !== undefined && y.int !== undefined ? cmpNum(a.int, y.int) : cmpNum(a.f, y.f);
    }
    case 4: {
      const x = a.utf8, y = (b as typeof a).utf8;
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) if (x[i] !== y[i]) return (x[i] as number) < (y[i] as number) ? -1 : 1;
      return cmpNum(x.length, y.length);
    }
    case 5:
    case 7: {
      const x = a.items, y = (b as typeof a).items;
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compare(x[i] as Norm, y[i] as Norm);
        if (c !== 0) return c;
      }
      return cmpNum(x.length, y.length);
    }
    case 6: {
      const x = a.pairs, y = (b as typeof a).pairs;
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const [xk, xv] = x[i] as [Norm, Norm];
        const [yk, yv] = y[i] as [Norm, Norm];
        const c = compare(xk, yk) || compare(xv, yv);
        if (c !== 0) return c;
      }
      return cmpNum(x.length, y.length);
    }
  }
}

/** Lays constants out at `base` (8-aligned). Returns the bytes and each constant's address. */
export function layoutConstants(constants: readonly Constant[], base: number): { bytes: Uint8Array; addrs: number[] } {
  if (base % 8 !== 0) throw new Error('constant base must be 8-aligned');
  let buf = new Uint8Array(256);
  let view = new DataView(buf.buffer);
  let size = 0;
  const alloc = (n: number): number => {
    const off = size;
    size = (size + n + 7) & ~7;
    if (size > buf.length) {
      const nb = new Uint8Array(Math.max(size, buf.length * 2));
      nb.set(buf);
      buf = nb;
      view = new DataView(buf.buffer);
    }
    return off;
  };
  const u32 = (off: number, v: number): void => view.setUint32(off, v, true);

  const value = (v: Norm): number => {
    if (v.t === 3) {
      const off = alloc(24);
      buf[off] = T_NUMBER;
      if (v.raw !== undefined) {
        // DESIGN.md §2: repr 2 = f64 @8 plus the literal text (ptr @4, len @16)
        buf[off + 1] = N_RAW;
        view.setFloat64(off + 8, v.f, true);
        const p = alloc(v.raw.length);
        buf.set(v.raw, p);
        u32(off + 4, base + p);
        u32(off + 16, v.raw.length);
      } else if (v.int !== undefined) {
        buf[off + 1] = N_INT;
        view.setBigInt64(off + 8, v.int, true);
      } else {
        buf[off + 1] = N_FLOAT;
        view.setFloat64(off + 8, v.f, true);
      }
      return base + off;
    }
    const off = alloc(16);
    switch (v.t) {
      case 1: buf[off] = T_NULL; break;
      case 2: buf[off] = T_BOOLEAN; u32(off + 4, v.b ? 1 : 0); break;
      case 4: {
        u32(off, T_STRING);
        const p = alloc(v.utf8.length);
        buf.set(v.utf8, p);
        u32(off + 4, base + p);
        u32(off + 8, v.utf8.length);
        break;
      }
      case 5:
      case 7: {
        u32(off, v.t === 5 ? T_ARRAY : T_SET);
        const addrs = v.items.map(value);
        const p = addrs.length > 0 ? alloc(addrs.length * 4) : -1;
        addrs.forEach((a, i) => u32(p + i * 4, a));
        u32(off + 4, p < 0 ? 0 : base + p);
        u32(off + 8, addrs.length);
        u32(off + 12, addrs.length);
        break;
      }
      case 6: {
        u32(off, T_OBJECT);
        const addrs = v.pairs.map(([k, x]) => [value(k), value(x)] as const);
        const p = addrs.length > 0 ? alloc(addrs.length * 8) : -1;
        addrs.forEach(([k, x], i) => {
          u32(p + i * 8, k);
          u32(p + i * 8 + 4, x);
        });
        u32(off + 4, p < 0 ? 0 : base + p);
        u32(off + 8, addrs.length);
        u32(off + 12, addrs.length);
        break;
      }
    }
    return base + off;
  };

  const addrs = constants.map((c) => {
    if (c !== null && typeof c === 'object' && 'cell' in c) return base + alloc(4);
    if (c !== null && typeof c === 'object' && 'cstring' in c) {
      const s = c.cstring;
      if (!/^[\x01-\x7f]*$/.test(s)) throw new Error('cstring constants must be ASCII without NUL (opa_abort decodes Latin-1)');
      const off = alloc(s.length + 1);
      for (let i = 0; i < s.length; i++) buf[off + i] = s.charCodeAt(i);
      return base + off;
    }
    return value(normalize(c));
  });
  return { bytes: buf.slice(0, size), addrs };
}
