import { beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import * as bin from '../../../src/policy/wasm/binary.js';
import { Code, fn } from '../../../src/policy/wasm/emit.js';
import { linkPolicy, type Constant, type LinkInput } from '../../../src/policy/wasm/link.js';
import { examplePolicyInput } from './example-codegen.js';
import { buildRuntime, exportsOf, load, Wasm, type AbiPath, type RawInstance } from './helpers.js';

let runtime: Uint8Array;
beforeAll(() => {
  runtime = buildRuntime();
});

const HOST_IMPORTS = ['opa_abort', 'opa_println', 'opa_builtin0', 'opa_builtin1', 'opa_builtin2', 'opa_builtin3', 'opa_builtin4'];


/** Instantiates without the SDK (stub host functions) to look at the start state. */
function instantiateRaw(bytes: Uint8Array): RawInstance {
  const memory = new Wasm.Memory({ initial: 5 });
  const env: Record<string, unknown> = { memory };
  for (const n of HOST_IMPORTS) env[n] = () => { throw new Error(`${n} called`); };
  return new Wasm.Instance(new Wasm.Module(bytes), { env });
}

function section(bytes: Uint8Array, id: number): Uint8Array {
  const s = bin.readModule(bytes).find((x) => x.id === id);
  if (!s) throw new Error(`no section ${id}`);
  return s.payload;
}

/** A policy with one entrypoint per constant: each returns the constant's address. */
function constantsPolicy(values: Constant[]): LinkInput {
  const rules = values.map((_, i) => fn(`c${i}`, ['i32', 'i32'], ['i32'], [], (c) => c.constAddr(i)));
  const dispatch = fn('dispatch', ['i32', 'i32', 'i32'], ['i32'], [], (c) => {
    for (let k = 0; k <= rules.length; k++) c.block();
    c.local_get(0).br_table(rules.map((_, k) => k), rules.length).end();
    for (const r of rules) c.local_get(1).local_get(2).call(r.name).return_().end();
    c.i32_const(0);
  });
  return { functions: [...rules, dispatch], constants: values, entrypoints: values.map((_, i) => `c/${i}`), builtins: [] };
}

describe('runtime.wasm (policy-agnostic prebuilt runtime)', () => {
  it('imports every host function up front and exports the tg_* helpers, but no policy surface', () => {
    const mod = new Wasm.Module(runtime);
    const imports = Wasm.Module.imports(mod).map((i) => `${i.module}.${i.name}:${i.kind}`).sort();
    expect(imports).toEqual(['env.memory:memory', ...HOST_IMPORTS.map((n) => `env.${n}:function`)].sort());
    const exports = new Map(Wasm.Module.exports(mod).map((e) => [e.name, e.kind]));
    for (const n of ['tg_get', 'tg_compare', 'tg_type', 'tg_len', 'tg_elem', 'tg_object_value_at', 'tg_bool',
      'tg_set', 'tg_set_add', 'tg_array', 'tg_array_push', 'tg_object', 'tg_object_insert', 'tg_result_set',
      'tg_ctx_input', 'tg_ctx_data', 'tg_ctx_entrypoint', 'tg_ctx_set_result', 'tg_eval_begin', 'tg_eval_end',
      'tg_heap_init', 'opa_malloc', 'opa_json_parse', 'opa_json_dump']) {
      expect(exports.get(n), n).toBe('function');
    }
    for (const n of ['eval', 'opa_eval', 'entrypoints', 'builtins', 'opa_wasm_abi_version', 'opa_wasm_abi_minor_version']) {
      expect(exports.has(n), n).toBe(false);
    }
  });

  it('allocates nothing at start: the heap pointer is still the heap base', () => {
    const inst = instantiateRaw(runtime);
    const heapBase = (inst.exports.tg_heap_base as { value: number }).value;
    expect(heapBase).toBeGreaterThan(0);
    expect((inst.exports.opa_heap_ptr_get as () => number)()).toBe(heapBase);
  });

  it('reads and writes back byte-identically', () => {
    expect(Buffer.from(bin.writeModule(bin.readModule(runtime))).equals(Buffer.from(runtime))).toBe(true);
  });
});

describe('linkPolicy', () => {
  it('appends only: runtime types, globals, function bodies and data segments are kept byte-for-byte', () => {
    const linked = linkPolicy(runtime, examplePolicyInput());
    const prefixOf = (id: number): void => {
      const a = section(runtime, id);
      const b = section(linked, id);
      const ra = new bin.Reader(a);
      const rb = new bin.Reader(b);
      expect(rb.u32()).toBeGreaterThan(ra.u32());
      expect(Buffer.from(b.subarray(rb.pos, rb.pos + a.length - ra.pos)).equals(Buffer.from(a.subarray(ra.pos)))).toBe(true);
    };
    for (const id of [bin.SEC.type, bin.SEC.function, bin.SEC.global, bin.SEC.code, bin.SEC.data]) prefixOf(id);
    // existing function indices and bodies are unchanged
    const before = bin.code.read(section(runtime, bin.SEC.code));
    const after = bin.code.read(section(linked, bin.SEC.code));
    before.forEach((body, i) => expect(Buffer.from(after[i] as Uint8Array).equals(Buffer.from(body))).toBe(true));
    expect(after.length).toBe(before.length + 5 + 5); // 4 rules + dispatch; entrypoints, builtins, eval, opa_eval, start
  });

  it('places constants above the runtime heap base and starts the heap above them', async () => {
    const raw = instantiateRaw(runtime);
    const heapBase = (raw.exports.tg_heap_base as { value: number }).value;
    const linked = linkPolicy(runtime, examplePolicyInput());
    const segs = bin.data.read(section(linked, bin.SEC.data));
    const last = segs[segs.length - 1];
    if (!last || last.mode !== 'active') throw new Error('expected an active constants segment');
    const base = bin.constI32(last.offset) as number;
    expect(base).toBeGreaterThanOrEqual(heapBase);
    const p = await loadPolicy(linked);
    expect(exportsOf(p).opa_heap_ptr_get()).toBeGreaterThanOrEqual(base + last.bytes.length);
    expect(p.baseHeapPtr).toBeGreaterThanOrEqual(base + last.bytes.length);
  });

  it('links byte-identically twice (determinism)', () => {
    const a = linkPolicy(runtime, examplePolicyInput());
    const b = linkPolicy(runtime, examplePolicyInput());
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  describe.each<AbiPath>(['1.2', '1.1'])('constants via ABI %s', (abi) => {
    it('lays out every value type, sorting objects and sets, and survives heap resets', async () => {
      const big = 'x'.repeat(200_000); // > 1 page: the memory import's minimum grows
      const values: Constant[] = [
        null, true, false, 0, -1, 42, 2n ** 62n, -(2n ** 63n), 1.5, -0.25, 1e300,
        '', 'é ü 中文 😀', big,
        { array: [] }, { array: [1, 'a', { array: [null] }] },
        { object: [] }, { object: [['b', 1], ['a', { object: [['y', 2], ['x', 1]] }], [1, 'num key']] },
        { set: [] }, { set: [3, 'b', 1, 3, { array: [2] }, null, 1] },
      ];
      const linked = linkPolicy(runtime, constantsPolicy(values));
      const mem = bin.imports.read(section(linked, bin.SEC.import)).find((i) => i.desc.kind === 'memory');
      expect(mem?.desc).toEqual({ kind: 'memory', limits: { min: 4 } }); // runtime.wasm declares 1
      const p = await load(linked, abi);
      const expected: unknown[] = [
        null, true, false, 0, -1, 42, 2 ** 62, -(2 ** 63), 1.5, -0.25, 1e300,
        '', 'é ü 中文 😀', big,
        [], [1, 'a', [null]],
        {}, { '1': 'num key', a: { x: 1, y: 2 }, b: 1 },
        [], [null, 1, 3, 'b', [2]],
      ];
      for (let round = 0; round < 2; round++) {
        values.forEach((_, i) => {
          expect(p.evaluate({ any: round }, `c/${i}`), `c/${i}`).toEqual([{ result: expected[i] }]);
        });
      }
      // key order of the object constant is OPA's (sorted) order
      const [obj] = p.evaluate({}, 'c/17') as [{ result: object }];
      expect(Object.keys(obj.result)).toEqual(['1', 'a', 'b']);
    });
  });

  it('rejects malformed policies with clear errors', () => {
    const base = examplePolicyInput();
    const withFns = (functions: LinkInput['functions']): LinkInput => ({ ...base, functions });
    const bad = fn('bad', [], [], [], (c) => c.call('no_such_function'));
    expect(() => linkPolicy(runtime, withFns([...base.functions, bad]))).toThrow(/unknown function no_such_function/);
    expect(() => linkPolicy(runtime, withFns(base.functions.filter((f) => f.name !== 'dispatch')))).toThrow(/dispatch/);
    const badConst = fn('bad_const', [], ['i32'], [], (c) => c.constAddr(base.constants.length));
    expect(() => linkPolicy(runtime, withFns([...base.functions, badConst]))).toThrow(/unknown constant/);
    const open = fn('open', [], [], [], (c) => c.block());
    expect(() => linkPolicy(runtime, withFns([...base.functions, open]))).toThrow(/unclosed block/);
    const clash = fn('tg_get', [], [], [], () => {});
    expect(() => linkPolicy(runtime, withFns([...base.functions, clash]))).toThrow(/clashes/);
    expect(() => linkPolicy(runtime, withFns([...base.functions, base.functions[0]!]))).toThrow(/duplicate/);
    expect(() => linkPolicy(runtime, withFns([...base.functions, fn('<eval>', [], [], [], () => {})]))).toThrow(/reserved/);
    expect(() => linkPolicy(runtime, { ...base, entrypoints: ['a', 'a'] })).toThrow(/duplicate entrypoint/);
    expect(() => linkPolicy(runtime, { ...base, constants: [{ object: [['a', 1], ['a', 2]] }] })).toThrow(/duplicate keys/);
    expect(() => linkPolicy(runtime, { ...base, constants: [...base.constants, { cstring: 'é' }] })).toThrow(/ASCII/);
    expect(() => linkPolicy(new Uint8Array([1, 2, 3]), base)).toThrow(/not a WebAssembly/);
  });
});

describe('binary and emit encoders', () => {
  it('LEB128 round-trips edge values', () => {
    for (const v of [0, 1, 63, 64, 127, 128, 16383, 16384, 0x7fffffff, 0xffffffff]) {
      const out: number[] = [];
      bin.uleb(out, v);
      expect(new bin.Reader(Uint8Array.from(out)).u32()).toBe(v);
    }
    for (const v of [0n, 1n, -1n, 63n, 64n, -64n, -65n, 2n ** 31n - 1n, -(2n ** 31n), 2n ** 63n - 1n, -(2n ** 63n)]) {
      const out: number[] = [];
      bin.sleb(out, v);
      expect(new bin.Reader(Uint8Array.from(out)).sleb()).toBe(v);
    }
    const out: number[] = [];
    bin.sleb(out, -1);
    expect(out).toEqual([0x7f]);
    expect(() => bin.uleb([], -1)).toThrow(RangeError);
  });

  it('encodes instructions with the standard opcodes', () => {
    const c = new Code()
      .i32_const(-1).i32_const(64).local_get(1).local_set(2).local_tee(3)
      .block().loop('i32').br(1).br_if(0).br_table([0, 1], 2).end().end()
      .if_().else_().end().i32_eq().i32_add().return_().drop();
    expect(c.parts).toEqual([
      0x41, 0x7f, 0x41, 0xc0, 0x00, 0x20, 1, 0x21, 2, 0x22, 3,
      0x02, 0x40, 0x03, 0x7f, 0x0c, 1, 0x0d, 0, 0x0e, 2, 0, 1, 2, 0x0b, 0x0b,
      0x04, 0x40, 0x05, 0x0b, 0x46, 0x6a, 0x0f, 0x1a,
    ]);
    expect(new Code().call('f').constAddr(3).parts).toEqual([0x10, { call: 'f' }, 0x41, { constAddr: 3 }]);
    expect(() => new Code().end()).toThrow(/end without block/);
  });
});
