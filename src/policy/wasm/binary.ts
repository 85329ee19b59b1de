// Minimal WebAssembly binary reader/writer: just what the policy linker (link.ts) needs.
// Sections are kept as raw payloads; the few the linker edits have typed (de)coders below.
// Everything not understood is copied through byte-for-byte.

export const SEC = {
  custom: 0, type: 1, import: 2, function: 3, table: 4, memory: 5, global: 6, export: 7,
  start: 8, element: 9, code: 10, data: 11, datacount: 12,
} as const;

export const VAL = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b, funcref: 0x70, externref: 0x6f } as const;
export type ValType = keyof typeof VAL;
const VAL_NAME = new Map<number, ValType>(Object.entries(VAL).map(([k, v]) => [v, k as ValType]));

export const KIND = { func: 0, table: 1, memory: 2, global: 3 } as const;

const MAGIC = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

// ---------------------------------------------------------------- LEB128

export function uleb(out: number[], v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`uleb: bad u32 ${v}`);
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

export function sleb(out: number[], v: number | bigint): void {
  let x = BigInt(v);
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`sleb: bad int ${v}`);
  for (;;) {
    const b = Number(x & 0x7fn);
    x >>= 7n;
    const done = (x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return;
  }
}

export class Reader {
  pos: number;
  constructor(readonly buf: Uint8Array, pos = 0, readonly end = buf.length) {
    this.pos = pos;
  }
  get done(): boolean {
    return this.pos >= this.end;
  }
  u8(): number {
    if (this.pos >= this.end) throw new RangeError('wasm: unexpected end');
    return this.buf[this.pos++] as number;
  }
  u32(): number {
    let r = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      const b = this.u8();
      r += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return r;
      mul *= 128;
    }
    throw new RangeError('wasm: u32 LEB too long');
  }
  sleb(): bigint {
    let r = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.u8();
      r |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) {
        if (b & 0x40) r -= 1n << shift;
        return r;
      }
      if (shift > 70n) throw new RangeError('wasm: signed LEB too long');
    }
  }
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.end) throw new RangeError('wasm: unexpected end');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  name(): string {
    return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes(this.u32()));
  }
  valType(): ValType {
    const b = this.u8();
    const t = VAL_NAME.get(b);
    if (!t) throw new Error(`wasm: unknown value type 0x${b.toString(16)}`);
    return t;
  }
  /** A constant expression up to and including its `end`; returned raw (with the end). */
  constExpr(): Uint8Array {
    const start = this.pos;
    for (;;) {
      const op = this.u8();
      if (op === 0x0b) return this.buf.subarray(start, this.pos);
      if (op === 0x41 || op === 0x42) this.sleb();
      else if (op === 0x43) this.bytes(4);
      else if (op === 0x44) this.bytes(8);
      else if (op === 0x23 || op === 0xd2) this.u32();
      else if (op === 0xd0) this.u8();
      else if (op === 0x6a || op === 0x6b || op === 0x6c || op === 0x7c || op === 0x7d || op === 0x7e) continue;
      else throw new Error(`wasm: unsupported opcode 0x${op.toString(16)} in constant expression`);
    }
  }
}

export class Writer {
  readonly out: number[] = [];
  u8(b: number): this {
    this.out.push(b & 0xff);
    return this;
  }
  u32(v: number): this {
    uleb(this.out, v);
    return this;
  }
  s(v: number | bigint): this {
    sleb(this.out, v);
    return this;
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.out.push(b[i] as number);
    return this;
  }
  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u32(b.length).raw(b);
  }
  /** Length-prefixed nested payload. */
  sized(b: ArrayLike<number>): this {
    return this.u32(b.length).raw(b);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

// ---------------------------------------------------------------- module = list of sections

export interface Section {
  id: number;
  /** Payload (for custom sections including the name). */
  payload: Uint8Array;
}

export function readModule(bytes: Uint8Array): Section[] {
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new Error('wasm: not a WebAssembly 1.0 binary');
  }
  const r = new Reader(bytes, MAGIC.length);
  const out: Section[] = [];
  while (!r.done) {
    const id = r.u8();
    const size = r.u32();
    out.push({ id, payload: r.bytes(size) });
  }
  return out;
}

export function writeModule(sections: readonly Section[]): Uint8Array {
  const w = new Writer().raw(MAGIC);
  for (const s of sections) w.u8(s.id).sized(s.payload);
  return w.bytes();
}

export function customName(s: Section): string | undefined {
  return s.id === SEC.custom ? new Reader(s.payload).name() : undefined;
}

// ---------------------------------------------------------------- typed sections

function vec<T>(payload: Uint8Array, item: (r: Reader) => T): T[] {
  const r = new Reader(payload);
  const n = r.u32();
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(item(r));
  if (!r.done) throw new Error('wasm: trailing bytes in section');
  return out;
}

function writeVec<T>(items: readonly T[], item: (w: Writer, x: T) => void): Uint8Array {
  const w = new Writer().u32(items.length);
  for (const x of items) item(w, x);
  return w.bytes();
}

export interface FuncType {
  params: ValType[];
  results: ValType[];
}

export function sameType(a: FuncType, b: FuncType): boolean {
  return a.params.length === b.params.length && a.results.length === b.results.length &&
    a.params.every((t, i) => t === b.params[i]) && a.results.every((t, i) => t === b.results[i]);
}

export const types = {
  read: (p: Uint8Array): FuncType[] => vec(p, (r) => {
    if (r.u8() !== 0x60) throw new Error('wasm: only function types are supported');
    const params = Array.from({ length: r.u32() }, () => r.valType());
    const results = Array.from({ length: r.u32() }, () => r.valType());
    return { params, results };
  }),
  write: (ts: readonly FuncType[]): Uint8Array => writeVec(ts, (w, t) => {
    w.u8(0x60).u32(t.params.length);
    for (const v of t.params) w.u8(VAL[v]);
    w.u32(t.results.length);
    for (const v of t.results) w.u8(VAL[v]);
  }),
};

export interface Limits {
  min: number;
  max?: number;
}

export type ImportDesc =
  | { kind: 'func'; type: number }
  | { kind: 'memory'; limits: Limits }
  | { kind: 'global'; type: ValType; mutable: boolean }
  | { kind: 'table'; raw: Uint8Array };

export interface Import {
  module: string;
  name: string;
  desc: ImportDesc;
}

function readLimits(r: Reader): Limits {
  const flags = r.u8();
  if (flags === 0) return { min: r.u32() };
  if (flags === 1) return { min: r.u32(), max: r.u32() };
  throw new Error(`wasm: unsupported limits flags ${flags} (shared/64-bit memory)`);
}

function writeLimits(w: Writer, l: Limits): void {
  if (l.max === undefined) w.u8(0).u32(l.min);
  else w.u8(1).u32(l.min).u32(l.max);
}

export const imports = {
  read: (p: Uint8Array): Import[] => vec(p, (r) => {
    const module = r.name();
    const name = r.name();
    const kind = r.u8();
    let desc: ImportDesc;
    if (kind === KIND.func) desc = { kind: 'func', type: r.u32() };
    else if (kind === KIND.memory) desc = { kind: 'memory', limits: readLimits(r) };
    else if (kind === KIND.global) desc = { kind: 'global', type: r.valType(), mutable: r.u8() === 1 };
    else if (kind === KIND.table) {
      const start = r.pos;
      r.u8();
      readLimits(r);
      desc = { kind: 'table', raw: r.buf.subarray(start, r.pos) };
    } else throw new Error(`wasm: unknown import kind ${kind}`);
    return { module, name, desc };
  }),
  write: (is: readonly Import[]): Uint8Array => writeVec(is, (w, i) => {
    w.name(i.module).name(i.name);
    const d = i.desc;
    if (d.kind === 'func') w.u8(KIND.func).u32(d.type);
    else if (d.kind === 'memory') {
      w.u8(KIND.memory);
      writeLimits(w, d.limits);
    } else if (d.kind === 'global') w.u8(KIND.global).u8(VAL[d.type]).u8(d.mutable ? 1 : 0);
    else w.u8(KIND.table).raw(d.raw);
  }),
};

export const functions = {
  read: (p: Uint8Array): number[] => vec(p, (r) => r.u32()),
  write: (fs: readonly number[]): Uint8Array => writeVec(fs, (w, t) => w.u32(t)),
};

export interface Global {
  type: ValType;
  mutable: boolean;
  /** Constant initializer expression including its final `end` (0x0b). */
  init: Uint8Array;
}

export const globals = {
  read: (p: Uint8Array): Global[] => vec(p, (r) => ({ type: r.valType(), mutable: r.u8() === 1, init: r.constExpr() })),
  write: (gs: readonly Global[]): Uint8Array => writeVec(gs, (w, g) => w.u8(VAL[g.type]).u8(g.mutable ? 1 : 0).raw(g.init)),
};

export type ExportKind = keyof typeof KIND;
const KIND_NAME = new Map<number, ExportKind>(Object.entries(KIND).map(([k, v]) => [v, k as ExportKind]));

export interface Export {
  name: string;
  kind: ExportKind;
  index: number;
}

export const exports = {
  read: (p: Uint8Array): Export[] => vec(p, (r) => {
    const name = r.name();
    const k = r.u8();
    const kind = KIND_NAME.get(k);
    if (!kind) throw new Error(`wasm: unknown export kind ${k}`);
    return { name, kind, index: r.u32() };
  }),
  write: (es: readonly Export[]): Uint8Array => writeVec(es, (w, e) => w.name(e.name).u8(KIND[e.kind]).u32(e.index)),
};

export const start = {
  read: (p: Uint8Array): number => new Reader(p).u32(),
  write: (fn: number): Uint8Array => new Writer().u32(fn).bytes(),
};

export const datacount = {
  read: (p: Uint8Array): number => new Reader(p).u32(),
  write: (n: number): Uint8Array => new Writer().u32(n).bytes(),
};

/** Code section: each function body kept raw (locals + instructions, without its size prefix). */
export const code = {
  read: (p: Uint8Array): Uint8Array[] => vec(p, (r) => r.bytes(r.u32())),
  write: (bodies: readonly ArrayLike<number>[]): Uint8Array => writeVec(bodies, (w, b) => w.sized(b)),
};

export type DataSegment =
  | { mode: 'active'; memory: number; offset: Uint8Array; bytes: Uint8Array }
  | { mode: 'passive'; bytes: Uint8Array };

export const data = {
  read: (p: Uint8Array): DataSegment[] => vec(p, (r): DataSegment => {
    const flags = r.u32();
    if (flags === 1) return { mode: 'passive', bytes: r.bytes(r.u32()) };
    const memory = flags === 2 ? r.u32() : 0;
    if (flags !== 0 && flags !== 2) throw new Error(`wasm: unknown data segment flags ${flags}`);
    const offset = r.constExpr();
    return { mode: 'active', memory, offset, bytes: r.bytes(r.u32()) };
  }),
  write: (ds: readonly DataSegment[]): Uint8Array => writeVec(ds, (w, d) => {
    if (d.mode === 'passive') w.u32(1);
    else if (d.memory === 0) w.u32(0).raw(d.offset);
    else w.u32(2).u32(d.memory).raw(d.offset);
    w.sized(d.bytes);
  }),
};

/** Value of an `i32.const N; end` constant expression, or undefined for anything else. */
export function constI32(expr: Uint8Array): number | undefined {
  const r = new Reader(expr);
  if (r.u8() !== 0x41) return undefined;
  const v = r.sleb();
  if (r.u8() !== 0x0b || !r.done) return undefined;
  return Number(BigInt.asIntN(32, v));
}

export function i32ConstExpr(v: number): Uint8Array {
  return new Writer().u8(0x41).s(v | 0).u8(0x0b).bytes();
}
