import { beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { linkPolicy } from '../../../src/policy/wasm/link.js';
import { examplePolicyInput } from './example-codegen.js';
import { buildExamplePolicy, buildRuntime, exportsOf, load, readCString, Wasm, type AbiPath } from './helpers.js';

// Every test runs against two modules with the same policy: the hand-written AssemblyScript
// spike (runtime + example-policy.ts compiled by asc) and the same policy generated with the
// instruction encoder and linked onto the prebuilt runtime.wasm by the TypeScript linker.
const MODULES: [string, () => Uint8Array][] = [
  ['asc example-policy.wasm', buildExamplePolicy],
  ['linked onto runtime.wasm', () => linkPolicy(buildRuntime(), examplePolicyInput())],
];

describe.each(MODULES)('%s', (kind, make) => {
  let bytes: Uint8Array;
  beforeAll(() => {
    bytes = make();
  });

  describe('module shape', () => {
    it('imports only what the SDK provides and exports the ABI', () => {
      const mod = new Wasm.Module(bytes);
      const imports = Wasm.Module.imports(mod);
      const provided = new Set(['memory', 'opa_abort', 'opa_println', 'opa_builtin0', 'opa_builtin1',
        'opa_builtin2', 'opa_builtin3', 'opa_builtin4']);
      for (const imp of imports) {
        expect(imp.module).toBe('env');
        expect(provided.has(imp.name)).toBe(true);
      }
      expect(imports).toContainEqual({ module: 'env', name: 'memory', kind: 'memory' });
      const exports = new Map(Wasm.Module.exports(mod).map((e) => [e.name, e.kind]));
      for (const fn of ['opa_malloc', 'opa_free', 'opa_json_parse', 'opa_json_dump', 'opa_value_parse',
        'opa_value_dump', 'opa_heap_ptr_get', 'opa_heap_ptr_set', 'opa_eval_ctx_new', 'opa_eval_ctx_set_input',
        'opa_eval_ctx_set_data', 'opa_eval_ctx_set_entrypoint', 'opa_eval_ctx_get_result', 'eval', 'builtins',
        'entrypoints', 'opa_value_add_path', 'opa_value_remove_path', 'opa_eval']) {
        expect(exports.get(fn), fn).toBe('function');
      }
      expect(exports.get('opa_wasm_abi_version')).toBe('global');
      expect(exports.get('opa_wasm_abi_minor_version')).toBe('global');
      if (kind.startsWith('linked')) {
        // the runtime's internal helpers are not part of the linked module's surface
        expect([...exports.keys()].filter((n) => n.startsWith('tg_'))).toEqual([]);
        expect(exports.size).toBe(21);
      }
    });

    it('instantiates in the SDK default 5-page memory and reports ABI 1.2', async () => {
      const policy = await loadPolicy(bytes);
      expect(policy.minorVersion).toBe(2);
      expect(policy.entrypoints).toEqual({
        'example/allow': 0, 'example/echo': 1, 'example/set': 2, 'example/greeting': 3,
      });
    });
  });

  const ROUND_TRIP: unknown[] = [
    null, true, false, 0, -1, 42, 9007199254740991, -9007199254740991, 123456789012345680000,
    1.5, -0.25, 1e-7, 6.02214076e23, 1e300, Number.MIN_VALUE,
    '', 'plain', 'quote " backslash \\ slash /', 'ctl \n\r\t\b\f \u0001\u001f', 'é ü ß 中文', '😀 𝄞',
    '\u2028\u2029', [], {}, [[[]]], { a: { b: { c: [1, { d: 'e' }] } } },
    { z: 1, a: 2, m: [3, 'x', null], 'key with "quotes"': true, '': 'empty key', 'ü': 'unicode key' },
  ];

  describe.each<AbiPath>(['1.2', '1.1'])('SDK evaluate() via ABI %s path', (abi) => {
    it('evaluates example/allow against input and data', async () => {
      const p = await load(bytes, abi);
      expect(p.evaluate({ user: 'alice' }, 'example/allow')).toEqual([{ result: true }]);
      expect(p.evaluate({ user: 'bob' }, 'example/allow')).toEqual([{ result: false }]);
      p.setData({ admins: ['bob', 'carol'] });
      expect(p.evaluate({ user: 'bob' }, 'example/allow')).toEqual([{ result: true }]);
      expect(p.evaluate({ user: 'carol' }, 'example/allow')).toEqual([{ result: true }]);
      expect(p.evaluate({ user: 'eve' }, 'example/allow')).toEqual([{ result: false }]);
      expect(p.evaluate({ user: 1 }, 'example/allow')).toEqual([{ result: false }]);
      expect(p.evaluate(undefined, 'example/allow')).toEqual([{ result: false }]);
      expect(p.evaluate({ user: 'alice' }, 0)).toEqual([{ result: true }]);
      p.setData({ admins: { x: 'eve' } });
      expect(p.evaluate({ user: 'eve' }, 'example/allow')).toEqual([{ result: true }]);
      expect(p.evaluate({ user: 'bob' }, 'example/allow')).toEqual([{ result: false }]);
    });

    it('returns an empty result set when the entrypoint is undefined', async () => {
      const p = await load(bytes, abi);
      expect(p.evaluate(undefined, 'example/echo')).toEqual([]);
      expect(p.evaluate({}, 'example/greeting')).toEqual([]);
    });

    it.each(ROUND_TRIP.map((v) => [JSON.stringify(v), v]))('round-trips %s', async (_name, value) => {
      const p = await load(bytes, abi);
      // The 1.2 path treats falsy inputs (false, 0, '', null) as "no input"; that is SDK behaviour.
      if (abi === '1.2' && !value) {
        expect(p.evaluate(value, 'example/echo')).toEqual([]);
        return;
      }
      expect(p.evaluate(value, 'example/echo')).toEqual([{ result: value }]);
    });

    it('sorts object keys and keeps the last duplicate key', async () => {
      const p = await load(bytes, abi);
      const raw = new TextEncoder().encode('{"b":1,"a":2,"b":3, "c" : [ 1 , 2 ] }').buffer as ArrayBuffer;
      const [res] = p.evaluate(raw, 'example/echo') as [{ result: Record<string, unknown> }];
      expect(res.result).toEqual({ a: 2, b: 3, c: [1, 2] });
      expect(Object.keys(res.result)).toEqual(['a', 'b', 'c']);
    });

    it('keeps number text exactly (big ints, exponents)', async () => {
      const p = await load(bytes, abi);
      const ex = exportsOf(p);
      const text = '[12345678901234567890123,1.0,1E+2,-0,0.1,3.14159265358979323846]';
      const raw = new TextEncoder().encode(text).buffer as ArrayBuffer;
      expect(p.evaluate(raw, 'example/echo')).toEqual([{ result: JSON.parse(text) }]);
      // Through the raw export too: byte-exact.
      const buf = new TextEncoder().encode(text);
      const addr = ex.opa_malloc(buf.length);
      new Uint8Array(p.mem.buffer).set(buf, addr);
      expect(readCString(p.mem, ex.opa_json_dump(ex.opa_json_parse(addr, buf.length)))).toBe(text);
    });

    it('dumps sets as sorted, de-duplicated JSON arrays in OPA order', async () => {
      const p = await load(bytes, abi);
      const input = [3, 'b', 1, [2], { k: 1 }, 'a', 3, null, true, false, [1, 2], 1, { a: 0 }, [2]];
      expect(p.evaluate(input, 'example/set')).toEqual([
        { result: [null, false, true, 1, 3, 'a', 'b', [1, 2], [2], { a: 0 }, { k: 1 }] },
      ]);
      expect(p.evaluate([], 'example/set')).toEqual([{ result: [] }]);
    });

    it('calls host built-ins through env.opa_builtin2 (sprintf)', async () => {
      const p = await load(bytes, abi);
      expect(p.evaluate({ user: 'alice' }, 'example/greeting')).toEqual([{ result: 'hello alice' }]);
      expect(p.evaluate({ user: 'ü "q"' }, 'example/greeting')).toEqual([{ result: 'hello ü "q"' }]);
    });

    it('resets the heap between evaluations', async () => {
      const p = await load(bytes, abi);
      p.setData({ admins: ['bob'] });
      const ex = exportsOf(p);
      p.evaluate({ user: 'bob', pad: 'x'.repeat(1000) }, 'example/allow');
      const heapAfterFirst = ex.opa_heap_ptr_get();
      const pagesAfterFirst = p.mem.buffer.byteLength;
      for (let i = 0; i < 20_000; i++) {
        const user = i % 3 === 0 ? 'bob' : `u${i}`;
        const out = p.evaluate({ user, pad: 'x'.repeat(1000) }, 'example/allow');
        expect(out[0].result).toBe(user === 'bob');
      }
      expect(ex.opa_heap_ptr_get()).toBeLessThanOrEqual(heapAfterFirst + 64);
      expect(p.mem.buffer.byteLength).toBe(pagesAfterFirst);
    });

    it('handles a ~1 MB input (grows memory) and keeps working afterwards', async () => {
      const p = await load(bytes, abi);
      const items = Array.from({ length: 11_000 }, (_, i) => ({
        id: i, name: `item-${i}`, tags: ['a', 'b', `t${i % 17}`], price: i * 1.25, ok: i % 2 === 0, note: 'é\n"',
      }));
      const input = { user: 'alice', items };
      expect(JSON.stringify(input).length).toBeGreaterThan(1_000_000);
      expect(p.evaluate(input, 'example/allow')).toEqual([{ result: true }]);
      expect(p.evaluate(input, 'example/echo')).toEqual([{ result: input }]);
      // a wide object exercises the merge sort of object keys
      const wide = Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`k${(i * 7919) % 60_000}`, i]));
      const [res] = p.evaluate(wide, 'example/echo') as [{ result: Record<string, number> }];
      expect(res.result).toEqual(wide);
      expect(p.evaluate({ user: 'alice' }, 'example/allow')).toEqual([{ result: true }]);
    });

    it('parses deep nesting up to the limit and rejects malformed JSON without crashing', async () => {
      const p = await load(bytes, abi);
      const deep = '['.repeat(1000) + ']'.repeat(1000);
      const out = p.evaluate(new TextEncoder().encode(deep).buffer as ArrayBuffer, 'example/echo');
      expect(JSON.stringify(out)).toBe(`[{"result":${deep}}]`);
      // At the runtime's nesting limit (2048) parse and dump must not overflow the wasm stack.
      // (Checked on the raw exports: JS's own JSON.parse/stringify recurse too deep for this.)
      const ex = exportsOf(p);
      const deepest = '{"a":['.repeat(1024) + '1' + ']}'.repeat(1024);
      const buf = new TextEncoder().encode(deepest);
      ex.opa_heap_ptr_set(p.dataHeapPtr as number);
      const addr = ex.opa_malloc(buf.length);
      new Uint8Array(p.mem.buffer).set(buf, addr);
      const v = ex.opa_json_parse(addr, buf.length);
      expect(v).not.toBe(0);
      expect(readCString(p.mem, ex.opa_json_dump(v))).toBe(deepest);
      for (const bad of ['{', '[1,]', '{"a" 1}', '"unterminated', 'tru', '01x', '"bad \\x escape"', '[1] 2',
        '['.repeat(2049) + ']'.repeat(2049), '['.repeat(100_000)]) {
        const buf = new TextEncoder().encode(bad).buffer as ArrayBuffer;
        expect(() => p.evaluate(buf, 'example/echo'), bad.slice(0, 20)).toThrow();
      }
      expect(p.evaluate({ user: 'alice' }, 'example/allow')).toEqual([{ result: true }]);
    });
  });

  describe('opa_eval export (ABI 1.2) called directly', () => {
    it('evaluates with input written at the heap pointer, JSON and value formats', async () => {
      const p = await loadPolicy(bytes);
      const ex = exportsOf(p);
      p.setData({ admins: ['bob'] });
      const run = (input: string, ep: number, format: number): string => {
        const buf = new TextEncoder().encode(input);
        const addr = p.dataHeapPtr as number;
        new Uint8Array(p.mem.buffer).set(buf, addr);
        return readCString(p.mem, ex.opa_eval(0, ep, p.dataAddr, addr, buf.length, addr + buf.length, format));
      };
      expect(run('{"user":"bob"}', 0, 0)).toBe('[{"result":true}]');
      expect(run('{"user":"x"}', 0, 0)).toBe('[{"result":false}]');
      expect(run('[2,1,2]', 2, 0)).toBe('[{"result":[1,2]}]');
      expect(run('[2,1,2]', 2, 1)).toBe('{{"result":{1,2}}}');
      expect(run('[]', 2, 1)).toBe('{{"result":set()}}');
      expect(run('{"b":"\\u00e9\\ud83d\\ude00\\u0000"}', 1, 0)).toBe('[{"result":{"b":"é😀\\u0000"}}]');
    });

    it('reports an invalid entrypoint id through opa_abort', async () => {
      const p = await loadPolicy(bytes);
      expect(() => p.evaluate({}, 99)).toThrow(/invalid entrypoint id/);
    });
  });
});
