import { describe, expect, it } from 'vitest';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { compilePolicy, loadRuntime } from '../../../../src/policy/rego/codegen/index.js';

type Abi = '1.1' | '1.2';
const PATHS: Abi[] = ['1.1', '1.2'];

function compile(text: string, entrypoints: string[], regoVersion: 'v0' | 'v1' = 'v1'): Uint8Array {
  const r = compilePolicy([{ file: 'test.rego', text }], { entrypoints, regoVersion });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.wasm;
}

async function evalAll(wasm: Uint8Array, path: Abi, ep: string, input: unknown, data: object = {}): Promise<unknown> {
  const p = await loadPolicy(wasm);
  if (path === '1.1') p.minorVersion = 1;
  p.setData(data);
  return p.evaluate(input as object, ep);
}

const POLICY = `package test
default allow := false
allow if input.user == "alice"
allow if { some u in data.admins; u == input.user }
s contains x if { some x in input.xs; x > 1 }
o[k] := v if { v := input.m[k]; v != 2 }
c := [x | x := input.xs[_]; x < 3]
cs := {x | some x in input.xs}
co := {k: v | some k, v in input.m}
pair := [a, b] if { [a, b] := input.pair }
neg if not input.user == "alice"
cmp := [1 < 2, 2 <= 1, "a" > 1, null >= null, 1 != 1]
ref_other := allow
grade := "a" if { input.score >= 90 } else := "b" if { input.score >= 80 } else := "c"
conflict := x if { some x in input.xs }
oconflict[k] := x if { some x in input.xs; k := "k" }
every_ok if { every x in input.xs { x > 0 } }
member if { 2 in input.xs }
member3 := [r | some r in [[0, 1], [1, 2], [1, 3]]; [k, v] := r; k, v in input.xs]
f(x) := y if { y := [x, x] }
f2 := f(3)
g(1) := "one"
g(x) := "other" if { x != 1 }
gs := [g(1), g(2)]
w if { allow with input as {"user": "alice"} }
wd if { admins_ok with data.admins as ["carl"] }
admins_ok if { some u in data.admins; u == "carl" }
nested := input.a.b[0].c
`;

describe('compilePolicy → opa-wasm', () => {
  const wasm = compile(POLICY, ['test/allow', 'test/s', 'test/o', 'test/c', 'test/cs', 'test/co', 'test/pair', 'test/neg', 'test/cmp', 'test/ref_other', 'test/grade', 'test/conflict', 'test/oconflict', 'test/every_ok', 'test/member', 'test/member3', 'test/f2', 'test/gs', 'test/w', 'test/wd', 'test/nested']);
  const input = { user: 'bob', xs: [1, 2, 3], m: { a: 1, b: 2 }, pair: [1, 'x'], score: 85, a: { b: [{ c: 'deep' }] } };
  for (const path of PATHS) {
    it(`evaluates the core subset (ABI ${path})`, async () => {
      const ev = (ep: string, inp: unknown = input, data: object = { admins: ['bob'] }) => evalAll(wasm, path, ep, inp, data);
      expect(await ev('test/allow')).toEqual([{ result: true }]);
      expect(await ev('test/allow', { user: 'carl' })).toEqual([{ result: false }]);
      expect(await ev('test/s')).toEqual([{ result: [2, 3] }]);
      expect(await ev('test/o')).toEqual([{ result: { a: 1 } }]);
      expect(await ev('test/c')).toEqual([{ result: [1, 2] }]);
      expect(await ev('test/cs')).toEqual([{ result: [1, 2, 3] }]);
      expect(await ev('test/co')).toEqual([{ result: { a: 1, b: 2 } }]);
      expect(await ev('test/pair')).toEqual([{ result: [1, 'x'] }]);
      expect(await ev('test/neg')).toEqual([{ result: true }]);
      expect(await ev('test/neg', { user: 'alice' })).toEqual([]);
      expect(await ev('test/cmp')).toEqual([{ result: [true, false, true, true, false] }]);
      expect(await ev('test/ref_other')).toEqual([{ result: true }]);
      expect(await ev('test/grade')).toEqual([{ result: 'b' }]);
      expect(await ev('test/grade', { score: 95 })).toEqual([{ result: 'a' }]);
      expect(await ev('test/grade', { score: 1 })).toEqual([{ result: 'c' }]);
      expect(await ev('test/conflict', { xs: [1] })).toEqual([{ result: 1 }]);
      expect(await ev('test/conflict', { xs: [] })).toEqual([]);
      await expect(ev('test/conflict')).rejects.toThrow(/eval_conflict_error/);
      await expect(ev('test/oconflict')).rejects.toThrow(/eval_conflict_error: object keys must be unique/);
      expect(await ev('test/every_ok')).toEqual([{ result: true }]);
      expect(await ev('test/every_ok', { xs: [1, 0] })).toEqual([]);
      expect(await ev('test/every_ok', { xs: [] })).toEqual([{ result: true }]);
      expect(await ev('test/every_ok', { ys: [] })).toEqual([]);
      expect(await ev('test/member')).toEqual([{ result: true }]);
      expect(await ev('test/member', { xs: [1] })).toEqual([]);
      expect(await ev('test/member3')).toEqual([{ result: [[0, 1], [1, 2]] }]);
      expect(await ev('test/f2')).toEqual([{ result: [3, 3] }]);
      expect(await ev('test/gs')).toEqual([{ result: ['one', 'other'] }]);
      expect(await ev('test/w')).toEqual([{ result: true }]);
      expect(await ev('test/wd')).toEqual([{ result: true }]);
      expect(await ev('test/nested')).toEqual([{ result: 'deep' }]);
    });
  }

  it('v0 syntax, data refs with integer keys, default', async () => {
    const w = compile(`package test
default p = 0
p = x { x := data.nested[2] }
q[x] { data.xs[x] }
`, ['test/p', 'test/q'], 'v0');
    for (const path of PATHS) {
      expect(await evalAll(w, path, 'test/p', {}, { nested: { '2': 'bar' } })).toEqual([{ result: 'bar' }]);
      expect(await evalAll(w, path, 'test/p', {}, {})).toEqual([{ result: 0 }]);
      expect(await evalAll(w, path, 'test/q', {}, { xs: [true, false] })).toEqual([{ result: [0] }]);
    }
  });

  it('is deterministic', () => {
    expect(Buffer.from(compile(POLICY, ['test/allow'])).equals(Buffer.from(compile(POLICY, ['test/allow'])))).toBe(true);
  });

  it('reports unsupported constructs as compile errors naming them', () => {
    const cases: [string, RegExp][] = [
      ['package test\np := count(input.xs)', /call to count\/1/],
      ['package test\np.q[r] := 1 if { some r in input.xs }\np.q.s := 2', /rules both at and below|virtual document/],
      ['package test\nf(x) := x\np := 1 if { true with f as 2 }', /with on (a function|virtual document)/],
    ];
    for (const [text, re] of cases) {
      const r = compilePolicy([{ file: 't.rego', text }], { entrypoints: ['test/p'], regoVersion: 'v1' });
      expect(r.errors?.[0]?.code).toBe('rego_unsupported_error');
      expect(r.errors?.[0]?.message).toMatch(re);
    }
  });

  it('builds package documents from rules and base data', async () => {
    const w = compile('package test\nq := 1\nr contains x if { some x in input.xs }\nf(x) := x\n', ['test']);
    for (const path of PATHS) {
      expect(await evalAll(w, path, 'test', { xs: [2] }, { test: { base: true, q: 'base wins' } })).toEqual([{ result: { base: true, q: 'base wins', r: [2] } }]);
    }
  });

  it('passes check errors through with OPA codes', () => {
    const r = compilePolicy([{ file: 't.rego', text: 'package test\np if { x }' }], { entrypoints: ['test/p'], regoVersion: 'v1' });
    expect(r.errors?.[0]?.code).toBe('rego_unsafe_var_error');
    const pe = compilePolicy([{ file: 't.rego', text: 'package test\np if {' }], { entrypoints: ['test/p'], regoVersion: 'v1' });
    expect(pe.errors?.[0]?.code).toBe('rego_parse_error');
  });

  it('loads runtime.wasm once', () => {
    expect(loadRuntime()).toBe(loadRuntime());
  });
});
