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
      ['package test\np := http.send({"method": "get", "url": "http://127.0.0.1/"})', /call to http.send\/1/],
      ['package test\np := opa.runtime()', /call to opa.runtime\/0/],
      ['package test\np := 1e400', /number literal 1e400 \(out of float range\)/],
      ['package test\nq := 1\np := 1 if { q with data.test as {} }', /with on virtual document data.test/],
    ];
    for (const [text, re] of cases) {
      const r = compilePolicy([{ file: 't.rego', text }], { entrypoints: ['test/p'], regoVersion: 'v1' });
      expect(r.errors?.[0]?.code).toBe('rego_unsupported_error');
      expect(r.errors?.[0]?.message).toMatch(re);
    }
  });

  it('calls in-module built-ins: value position, expression position, output argument', async () => {
    const w = compile(`package test
n := count(input.xs)
sum_plus := sum(input.xs) + input.k
diff := input.s1 - input.s2
un := input.s1 | input.s2
inter := input.s1 & input.s2
out if { count(input.xs, 3) }
out_bind := x if { upper(input.name, x) }
expr_true if { startswith(input.name, "al") }
expr_false if { is_string(input.k) }
up := [upper(x) | some x in input.names]
obj := object.get(input.m, "missing", "dflt")
`, ['test/n', 'test/sum_plus', 'test/diff', 'test/un', 'test/inter', 'test/out', 'test/out_bind', 'test/expr_true', 'test/expr_false', 'test/up', 'test/obj']);
    const input = { xs: [1, 2, 3], k: 10, s1: [1, 2], s2: [2, 3], name: 'alice', names: ['a', 'b'], m: {} };
    for (const path of PATHS) {
      const ev = (ep: string, inp: unknown = input) => evalAll(w, path, ep, inp);
      expect(await ev('test/n')).toEqual([{ result: 3 }]);
      expect(await ev('test/sum_plus')).toEqual([{ result: 16 }]);
      // input sets arrive as arrays: `-`/`|`/`&` on arrays are undefined (non-strict type errors); sets below
      expect(await ev('test/diff')).toEqual([]);
      expect(await ev('test/un')).toEqual([]);
      expect(await ev('test/out')).toEqual([{ result: true }]);
      expect(await ev('test/out', { xs: [1] })).toEqual([]);
      expect(await ev('test/out_bind')).toEqual([{ result: 'ALICE' }]);
      expect(await ev('test/expr_true')).toEqual([{ result: true }]);
      expect(await ev('test/expr_true', { name: 'bob' })).toEqual([]);
      // a built-in returning false fails the expression, as in OPA
      expect(await ev('test/expr_false')).toEqual([]);
      expect(await ev('test/up')).toEqual([{ result: ['A', 'B'] }]);
      expect(await ev('test/obj')).toEqual([{ result: 'dflt' }]);
    }
    const sets = compile(`package test
a := {x | some x in input.s1}
b := {x | some x in input.s2}
diff := a - b
un := a | b
inter := a & b
`, ['test/diff', 'test/un', 'test/inter']);
    for (const path of PATHS) {
      expect(await evalAll(sets, path, 'test/diff', input)).toEqual([{ result: [1] }]);
      expect(await evalAll(sets, path, 'test/un', input)).toEqual([{ result: [1, 2, 3] }]);
      expect(await evalAll(sets, path, 'test/inter', input)).toEqual([{ result: [2] }]);
    }
  });

  it('built-in errors: undefined on wrong types and invalid values, OPA runtime errors where OPA raises them', async () => {
    const w = compile(`package test
num := to_number(input.s)
dec := base64.decode(input.s)
add := input.a + input.b
quot := input.a / input.b
mod := input.a % input.b
fmt := format_int(input.a, input.b)
cat := array.concat(input.a, input.b)
neg if { not count(input.a) }
`, ['test/num', 'test/dec', 'test/add', 'test/quot', 'test/mod', 'test/fmt', 'test/cat', 'test/neg']);
    for (const path of PATHS) {
      const ev = (ep: string, inp: unknown) => evalAll(w, path, ep, inp);
      // OPA's non-strict built-in errors (unparseable values) make the call undefined
      expect(await ev('test/num', { s: 'abc' })).toEqual([]);
      expect(await ev('test/num', { s: '12' })).toEqual([{ result: 12 }]);
      expect(await ev('test/dec', { s: '!!' })).toEqual([]);
      // operand type errors make the call undefined (OPA without strict built-in errors) ...
      expect(await ev('test/add', { a: 'x', b: 1 })).toEqual([]);
      expect(await ev('test/add', { a: 2, b: 1 })).toEqual([{ result: 3 }]);
      expect(await ev('test/neg', { a: 1 })).toEqual([{ result: true }]);
      expect(await ev('test/neg', { a: [] })).toEqual([]);
      // ... except for the built-ins OPA raises them for, and division errors
      await expect(ev('test/cat', { a: {}, b: [] })).rejects.toThrow('eval_type_error: array.concat: operand 1 must be array but got object');
      expect(await ev('test/cat', { a: [1], b: [2] })).toEqual([{ result: [1, 2] }]);
      await expect(ev('test/quot', { a: 1, b: 0 })).rejects.toThrow('eval_builtin_error: div: divide by zero');
      await expect(ev('test/mod', { a: 1.5, b: 1 })).rejects.toThrow('eval_builtin_error: rem: modulo on floating-point number');
      await expect(ev('test/mod', { a: 3, b: 0 })).rejects.toThrow('eval_builtin_error: rem: modulo by zero');
      expect(await ev('test/mod', { a: 7, b: 4 })).toEqual([{ result: 3 }]);
      expect(await ev('test/quot', { a: 7, b: 2 })).toEqual([{ result: 3.5 }]);
      await expect(ev('test/fmt', { a: 7, b: 3 })).rejects.toThrow('eval_type_error: format_int: operand 2 must be one of {2, 8, 10, 16}');
      expect(await ev('test/fmt', { a: 255, b: 16 })).toEqual([{ result: 'ff' }]);
    }
  });

  it('strictBuiltinErrors raises every operand type error; deprecated v0 built-ins and any_prefix_match are inlined', async () => {
    const text = 'package test\nadd := input.a + 1\n';
    const strict = compilePolicy([{ file: 't.rego', text }], { entrypoints: ['test/add'], regoVersion: 'v1', strictBuiltinErrors: true });
    if (strict.errors) throw new Error(JSON.stringify(strict.errors));
    const v0 = compile(`package test
a = x { all(input.xs, x) }
b = x { any(input.xs, x) }
d = x { set_diff({1, 2}, {2}, x) }
m = x { x := strings.any_prefix_match(input.s, ["ab", "x"]) }
j = x { x := [json.is_valid(input.s), json.is_valid("{")] }
`, ['test/a', 'test/b', 'test/d', 'test/m', 'test/j'], 'v0');
    for (const path of PATHS) {
      await expect(evalAll(strict.wasm, path, 'test/add', { a: 's' })).rejects.toThrow('eval_type_error: plus: operand 1 must be number but got string');
      expect(await evalAll(compile(text, ['test/add']), path, 'test/add', { a: 's' })).toEqual([]);
      expect(await evalAll(v0, path, 'test/a', { xs: [true, true] })).toEqual([{ result: true }]);
      expect(await evalAll(v0, path, 'test/a', { xs: [true, 1] })).toEqual([{ result: false }]);
      expect(await evalAll(v0, path, 'test/b', { xs: [false, true] })).toEqual([{ result: true }]);
      expect(await evalAll(v0, path, 'test/d', {})).toEqual([{ result: [1] }]);
      expect(await evalAll(v0, path, 'test/m', { s: 'abc' })).toEqual([{ result: true }]);
      expect(await evalAll(v0, path, 'test/m', { s: ['q', 'xy'] })).toEqual([{ result: true }]);
      expect(await evalAll(v0, path, 'test/m', { s: ['q'] })).toEqual([{ result: false }]);
      expect(await evalAll(v0, path, 'test/m', { s: [1] })).toEqual([]);
      // a host built-in of the SDK, through opa_builtin1
      expect(await evalAll(v0, path, 'test/j', { s: '[1]' })).toEqual([{ result: [true, false] }]);
    }
  });

  it('with replaces functions and built-ins, also in the rules it calls', async () => {
    const w = compile(`package test
f(x) := x + 1
g(x) := x * 10
h(xs) := 99
n := count(input.xs)
by_value := y if { y := f(1) with f as 7 }
by_fn := y if { y := f(1) with f as g }
builtin := y if { y := n with count as h }
unmocked := [f(1), n]
`, ['test/by_value', 'test/by_fn', 'test/builtin', 'test/unmocked']);
    for (const path of PATHS) {
      const ev = (ep: string) => evalAll(w, path, ep, { xs: [1, 2] });
      expect(await ev('test/by_value')).toEqual([{ result: 7 }]);
      expect(await ev('test/by_fn')).toEqual([{ result: 10 }]);
      expect(await ev('test/builtin')).toEqual([{ result: 99 }]);
      expect(await ev('test/unmocked')).toEqual([{ result: [2, 2] }]);
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
