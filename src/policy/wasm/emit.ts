// Tiny WebAssembly instruction encoder for generated policy code. A `Code` is a flat byte
// stream plus symbolic operands that only the linker can resolve: `call(name)` (function
// index by name — runtime helper, host import or another generated function) and
// `constAddr(id)` (link-time address of a constant). See link.ts.

import { sleb, uleb, VAL, type ValType } from './binary.js';

export type { ValType } from './binary.js';

/** Block type: no result (default) or a single value type. */
export type BlockType = ValType | undefined;

export type CodePart = number | { call: string } | { constAddr: number };

export class Code {
  readonly parts: CodePart[] = [];
  private depth = 0;

  private op(...bytes: number[]): this {
    for (const b of bytes) this.parts.push(b);
    return this;
  }
  private u32(v: number): this {
    const out: number[] = [];
    uleb(out, v);
    return this.op(...out);
  }

  // ---- constants / locals
  i32_const(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) throw new RangeError(`i32.const ${v}`);
    const out: number[] = [0x41];
    sleb(out, v | 0);
    return this.op(...out);
  }
  i64_const(v: bigint): this {
    const out: number[] = [0x42];
    sleb(out, BigInt.asIntN(64, v));
    return this.op(...out);
  }
  local_get(i: number): this {
    return this.op(0x20).u32(i);
  }
  local_set(i: number): this {
    return this.op(0x21).u32(i);
  }
  local_tee(i: number): this {
    return this.op(0x22).u32(i);
  }
  i32_load(offset = 0, alignLog2 = 2): this {
    return this.op(0x28).u32(alignLog2).u32(offset);
  }
  i32_store(offset = 0, alignLog2 = 2): this {
    return this.op(0x36).u32(alignLog2).u32(offset);
  }

  // ---- symbolic operands (resolved by the linker)
  /** `call` of a function by name: a runtime `tg_*`/`opa_*` export, an `env` import, or a generated function. */
  call(name: string): this {
    this.parts.push(0x10, { call: name });
    return this;
  }
  /** `i32.const <address of constant #id>`. */
  constAddr(id: number): this {
    this.parts.push(0x41, { constAddr: id });
    return this;
  }

  // ---- control
  private blockType(bt: BlockType): this {
    return this.op(bt === undefined ? 0x40 : VAL[bt]);
  }
  block(bt?: BlockType): this {
    this.depth++;
    return this.op(0x02).blockType(bt);
  }
  loop(bt?: BlockType): this {
    this.depth++;
    return this.op(0x03).blockType(bt);
  }
  if_(bt?: BlockType): this {
    this.depth++;
    return this.op(0x04).blockType(bt);
  }
  else_(): this {
    return this.op(0x05);
  }
  end(): this {
    if (this.depth === 0) throw new Error('emit: end without block (the function end is added by finish())');
    this.depth--;
    return this.op(0x0b);
  }
  br(label: number): this {
    return this.op(0x0c).u32(label);
  }
  br_if(label: number): this {
    return this.op(0x0d).u32(label);
  }
  br_table(labels: readonly number[], dflt: number): this {
    this.op(0x0e).u32(labels.length);
    for (const l of labels) this.u32(l);
    return this.u32(dflt);
  }
  return_(): this {
    return this.op(0x0f);
  }
  unreachable(): this {
    return this.op(0x00);
  }
  nop(): this {
    return this.op(0x01);
  }
  drop(): this {
    return this.op(0x1a);
  }
  select(): this {
    return this.op(0x1b);
  }

  // ---- i32 ops
  i32_eqz(): this { return this.op(0x45); }
  i32_eq(): this { return this.op(0x46); }
  i32_ne(): this { return this.op(0x47); }
  i32_lt_s(): this { return this.op(0x48); }
  i32_lt_u(): this { return this.op(0x49); }
  i32_gt_s(): this { return this.op(0x4a); }
  i32_gt_u(): this { return this.op(0x4b); }
  i32_le_s(): this { return this.op(0x4c); }
  i32_le_u(): this { return this.op(0x4d); }
  i32_ge_s(): this { return this.op(0x4e); }
  i32_ge_u(): this { return this.op(0x4f); }
  i32_add(): this { return this.op(0x6a); }
  i32_sub(): this { return this.op(0x6b); }
  i32_mul(): this { return this.op(0x6c); }
  i32_and(): this { return this.op(0x71); }
  i32_or(): this { return this.op(0x72); }
  i32_xor(): this { return this.op(0x73); }
  i32_shl(): this { return this.op(0x74); }
  i32_shr_s(): this { return this.op(0x75); }
  i32_shr_u(): this { return this.op(0x76); }

  /** Open blocks not yet closed (must be 0 when the function is linked). */
  get openBlocks(): number {
    return this.depth;
  }
}

/** One function produced by the code generator. Parameters are locals 0..n-1, then `locals`. */
export interface GeneratedFunction {
  /** Unique name, used by `Code.call` and by the linker (must not clash with runtime names). */
  name: string;
  params: ValType[];
  results: ValType[];
  locals: ValType[];
  /** Body without the final `end` (the linker appends it). */
  code: Code;
}

export function fn(name: string, params: ValType[], results: ValType[], locals: ValType[], build: (c: Code) => void): GeneratedFunction {
  const code = new Code();
  build(code);
  return { name, params, results, locals, code };
}
