// Ref-head rule trees, `with` on rules and computed replacements, host built-ins (operands as OPA value text, sets
// both ways), and robustness against malformed policies, huge inputs and deep nesting.
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../../src/policy/rego/codegen/index.js';
import { loadTollgatePolicy } from '../../../../src/policy/load.js';

function compile(text: string, entrypoints: string[], regoVersion: 'v0' | 'v1' = 'v1', strict = false): Uint8Array {
  const r = compilePolicy([{ file: 'test.rego', text }], { entrypoints, regoVersion, strictBuiltinErrors: strict });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.wasm;
}

async function run(wasm: Uint8Array, ep: string, input: unknown = {}, data: object = {}): Promise<unknown> {
  const p = await loadTollgatePolicy(wasm);
  p.setData(data);
  const rs = p.evaluate(input as object, ep) as { result: unknown }[];
  return rs[0]?.result;
}

describe('ref-head rule trees', () => {
  it('merges rules at and below a path, with set leaves and deep queries', async () => {
    const w = compile(`package test
p[q].r := i if { some i, q in ["a", "b", "c"] }
p.d.r := 3
s[k] contains v if { some k in ["x", "y"]; some v in [1, 2] }
s.x contains 9
t.u.v := 1
t.u.w contains "z"
deep := p.b.r
`, ['test/p', 'test/s', 'test/t', 'test/deep']);
    expect(await run(w, 'test/p')).toEqual({ a: { r: 0 }, b: { r: 1 }, c: { r: 2 }, d: { r: 3 } });
    expect(await run(w, 'test/s')).toEqual({ x: [1, 2, 9], y: [1, 2] });
    expect(await run(w, 'test/t')).toEqual({ u: { v: 1, w: ['z'] } });
    expect(await run(w, 'test/deep')).toBe(1);
  });

  it('raises eval_conflict_error when two rules give one path different values or one reaches into another', async () => {
    const same = compile('package test\np[q] := 1 if { some q in ["a", "a"] }\np.a := 1', ['test/p']);
    expect(await run(same, 'test/p')).toEqual({ a: 1 });
    const differ = compile('package test\np[q] := i if { some i, q in ["a", "a"] }', ['test/p']);
    await expect(run(differ, 'test/p')).rejects.toThrow(/eval_conflict_error/);
    const into = compile('package test\np[q].r := {"s": 1} if q := "q"\np.q.r.t := 2', ['test/p']);
    await expect(run(into, 'test/p')).rejects.toThrow(/eval_conflict_error/);
  });

  it('reads v0 `p.a { }` as a partial set and `p[q][r] { }` as a single value, as OPA does', async () => {
    const w = compile('package test\nx.a { true }\np[q][r] { q := ["a", "b"][r] }', ['test/x', 'test/p'], 'v0');
    expect(await run(w, 'test/x')).toEqual(['a']);
    expect(await run(w, 'test/p')).toEqual({ a: { 0: true }, b: { 1: true } });
  });

  it('gives a package without rules an empty object in its parent document', async () => {
    const r = compilePolicy([
      { file: 'a.rego', text: 'package a.b\n' },
      { file: 'x.rego', text: 'package x\np := data.a' },
    ], { entrypoints: ['x/p'], regoVersion: 'v1' });
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    expect(await run(r.wasm, 'x/p')).toEqual({ b: {} });
  });
});

describe('with', () => {
  it('replaces a rule by a value, also for the rules it calls', async () => {
    const w = compile(`package test
b := 15
c := b + 1
x := [b, c] if { true } 
y := v if { v := [b, c] with b as 10 }
z := v if { n := count(input.xs); v := c with b as n }
`, ['test/x', 'test/y', 'test/z']);
    expect(await run(w, 'test/x')).toEqual([15, 16]);
    expect(await run(w, 'test/y')).toEqual([10, 11]);
    expect(await run(w, 'test/z', { xs: [1, 2, 3] })).toBe(4);
  });

  it('replaces a function by a value computed where the `with` is', async () => {
    const w = compile(`package test
f(_) := 1
q if { f([1, 2, 3]) == 3 }
p if { q with f as count(input.xs) }
`, ['test/p']);
    expect(await run(w, 'test/p', { xs: [1, 2, 3] })).toBe(true);
    expect(await run(w, 'test/p', { xs: [1] })).toBeUndefined();
  });
});

describe('host built-ins', () => {
  it('pass exact big integers and sets both ways', async () => {
    const w = compile(`package test
a := bits.and(9223372036854775807, 255)
l := json.marshal(bits.lsh(1, 70))
patched := json.patch({"s": {"a", "b"}}, [{"op": "add", "path": ["s", "c"], "value": "c"}])
filtered := json.filter({"a": {1, 2, {"x"}}, "b": 2}, [["a", 1]])
`, ['test/a', 'test/l', 'test/patched', 'test/filtered']);
    expect(await run(w, 'test/a')).toBe(255);
    // 2^70 does not fit a double exactly; the module keeps every digit
    expect(await run(w, 'test/l')).toBe('1180591620717411303424');
    expect(await run(w, 'test/patched')).toEqual({ s: ['a', 'b', 'c'] });
    expect(await run(w, 'test/filtered')).toEqual({ a: [1] });
    const isSet = compile('package test\nok if { is_set(json.filter({"a": {1, 2}}, ["a"]).a) }', ['test/ok']);
    expect(await run(isSet, 'test/ok')).toBe(true);
  });

  it('make an errored call undefined, or an error with strict built-in errors', async () => {
    const text = 'package test\np := x if { x := bits.and(1.5, 1) }';
    expect(await run(compile(text, ['test/p']), 'test/p')).toBeUndefined();
    await expect(run(compile(text, ['test/p'], 'v1', true), 'test/p')).rejects.toThrow(/eval_type_error: bits.and: operand 1 must be integer/);
  });

  it('give one uuid.rfc4122 per key per evaluation', async () => {
    const w = compile('package test\np := [uuid.rfc4122("a"), uuid.rfc4122("a"), uuid.rfc4122("b")]', ['test/p']);
    const pol = await loadTollgatePolicy(w);
    pol.setData({});
    const [first] = pol.evaluate({}, 'test/p') as { result: string[] }[];
    const [a1, a2, b] = first?.result ?? [];
    expect(a1).toMatch(/^[0-9a-f-]{36}$/);
    expect(a1).toBe(a2);
    expect(b).not.toBe(a1);
    const [second] = pol.evaluate({}, 'test/p') as { result: string[] }[];
    expect(second?.result[0]).not.toBe(a1);
  });
});

describe('robustness', () => {
  it('malformed Rego gives a parse error with a location', () => {
    for (const text of ['package', 'package test\np := [1, 2', 'package test\np if {', 'package test\np := "unterminated', `package test\np := ${'['.repeat(5000)}`]) {
      const r = compilePolicy([{ file: 'bad.rego', text }], { entrypoints: ['test/p'], regoVersion: 'v1' });
      expect(r.errors?.[0]?.code).toBe('rego_parse_error');
      expect(r.errors?.[0]?.location.file).toBe('bad.rego');
    }
  });

  it('evaluates a huge input', async () => {
    const w = compile('package test\nn := count([x | some x in input.xs; x % 2 == 0])', ['test/n']);
    const xs = Array.from({ length: 200_000 }, (_, i) => i);
    expect(await run(w, 'test/n', { xs })).toBe(100_000);
  });

  it('refuses input nested deeper than the parser allows with an error, not a crash', async () => {
    const w = compile('package test\np := input', ['test/p']);
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    await expect(run(w, 'test/p', deep)).rejects.toThrow();
    // and the same policy keeps working afterwards
    expect(await run(w, 'test/p', { ok: true })).toEqual({ ok: true });
  });
});
