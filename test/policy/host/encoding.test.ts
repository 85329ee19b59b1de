import { describe, expect, it } from 'vitest';
import { ENCODING_BUILTINS, yamlKeyLess } from '../../../src/policy/host/encoding.js';
import { BuiltinError, BuiltinTypeError, type HostBuiltin, type HostContext, type HostValue } from '../../../src/policy/host/types.js';

const newCtx = (): HostContext => ({ nowNs: 0n, cache: new Map() });
const ctx = newCtx();
const call = (name: string, ...args: HostValue[]): HostValue | undefined => (ENCODING_BUILTINS[name] as HostBuiltin).impl(args, ctx);
const fails = (name: string, ...args: HostValue[]) => expect(() => call(name, ...args));

describe('urlquery', () => {
  it('OPA conformance cases', () => {
    expect(call('urlquery.encode', 'a=b+1')).toBe('a%3Db%2B1');
    expect(call('urlquery.encode', '')).toBe('');
    expect(call('urlquery.decode', 'a%3Db%2B1')).toBe('a=b+1');
    expect(call('urlquery.encode_object', { a: 'b', c: 'd' })).toBe('a=b&c=d');
    expect(call('urlquery.encode_object', { a: 'c=b+1' })).toBe('a=c%3Db%2B1');
    expect(call('urlquery.encode_object', { a: ['b+1', 'c+2'] })).toBe('a=b%2B1&a=c%2B2');
    expect(call('urlquery.decode_object', 'a=value_a1&b=value_b&a=value_a2')).toEqual({ a: ['value_a1', 'value_a2'], b: ['value_b'] });
    expect(call('urlquery.decode_object', 'a=value_a1&b')).toEqual({ a: ['value_a1'], b: [''] });
    expect(call('urlquery.decode_object', '')).toEqual({});
  });

  it('escapes like url.QueryEscape and unescapes like url.QueryUnescape', () => {
    expect(call('urlquery.encode', 'a b~-_.é/?&')).toBe('a+b~-_.%C3%A9%2F%3F%26');
    expect(call('urlquery.decode', 'a+b%20%C3%A9')).toBe('a b é');
    fails('urlquery.decode', 'a%zz').toThrow('invalid URL escape "%zz"');
    fails('urlquery.decode', '100%').toThrow('invalid URL escape "%"');
  });

  it('sorts keys, repeats array values, rejects other values', () => {
    expect(call('urlquery.encode_object', { z: 'x y', b: [], a: ['2', '1'] })).toBe('a=2&a=1&z=x+y');
    fails('urlquery.encode_object', { a: 1 }).toThrow(BuiltinTypeError);
    fails('urlquery.encode_object', { a: ['x', 1] }).toThrow('values must be string, array[string], or set[string]');
  });

  it('parses queries like url.ParseQuery', () => {
    expect(call('urlquery.decode_object', 'a=1&&a=&=x&b=c%3Dd+e')).toEqual({ a: ['1', ''], '': ['x'], b: ['c=d e'] });
    fails('urlquery.decode_object', 'a=1;b=2').toThrow('invalid semicolon separator in query');
    fails('urlquery.decode_object', 'a=%zz&b=1').toThrow(BuiltinError);
  });
});

describe('json.marshal_with_options / json.marshal_indent (OPA conformance cases)', () => {
  const nums = [1234567890, 2000000, 1000000000];
  it.each<[HostValue, HostValue, string]>([
    [nums, { indent: '  ', prefix: null }, '[\n  1234567890,\n  2000000,\n  1000000000\n]'],
    [nums, null, '[\n\t1234567890,\n\t2000000,\n\t1000000000\n]'],
    [nums, { indent: null, prefix: 'JSON => ' }, 'JSON => [\nJSON => \t1234567890,\nJSON => \t2000000,\nJSON => \t1000000000\nJSON => ]'],
    [{ foo: 'bar', bar: 'baz' }, { indent: null, prefix: 'JSON => ' }, 'JSON => {\nJSON => \t"bar": "baz",\nJSON => \t"foo": "bar"\nJSON => }'],
    [{ foo: 'bar', bar: 'baz' }, { prefix: 'JSON => ' }, 'JSON => {\nJSON => \t"bar": "baz",\nJSON => \t"foo": "bar"\nJSON => }'],
    [[], { indent: '    ', prefix: '---' }, '---[]'],
    [[[[[[[[]]]]]]], { indent: '    ', prefix: null }, '[\n    [\n        [\n            [\n                [\n                    [\n                        []\n                    ]\n                ]\n            ]\n        ]\n    ]\n]'],
  ])('marshal_with_options #%#', (v, opts, want) => {
    expect(call('json.marshal_with_options', v, opts)).toBe(want);
  });

  it('validates options as type errors', () => {
    fails('json.marshal_with_options', [], { indent: '    ', prefix: null, include_winning_lottery_numbers: true })
      .toThrow('object contained unknown key "include_winning_lottery_numbers"');
    fails('json.marshal_with_options', [], { indent: {}, prefix: null }).toThrow('"indent" contained invalid type');
    fails('json.marshal_with_options', [], { pretty: 'yes' }).toThrow(BuiltinTypeError);
  });

  it('"pretty" overrides the implicit choice', () => {
    expect(call('json.marshal_with_options', { a: [1] }, { pretty: true })).toBe('{\n\t"a": [\n\t\t1\n\t]\n}');
    expect(call('json.marshal_with_options', { a: [1] }, { pretty: false, indent: '  ' })).toBe('{"a":[1]}');
    expect(call('json.marshal_with_options', { a: [1] }, {})).toBe('{"a":[1]}');
  });

  it('escapes strings and writes numbers as Go does', () => {
    expect(call('json.marshal_with_options', ['<a & b>', '\u2028', '\u0001\b', 12345678901234567890n, 1.5], {}))
      .toBe('["\\u003ca \\u0026 b\\u003e","\\u2028","\\u0001\\b",12345678901234567890,1.5]');
    // null options pretty-print with a tab (OPA's marshal_with_options-nulled case)
    expect(call('json.marshal_with_options', [1], null)).toBe('[\n\t1\n]');
  });

  it('marshal_indent defaults to a tab', () => {
    expect(call('json.marshal_indent', nums, '  ')).toBe('[\n  1234567890,\n  2000000,\n  1000000000\n]');
    expect(call('json.marshal_indent', nums, null)).toBe('[\n\t1234567890,\n\t2000000,\n\t1000000000\n]');
    expect(call('json.marshal_indent', { b: {}, a: [] }, ' ')).toBe('{\n "a": [],\n "b": {}\n}');
  });
});

describe('yaml', () => {
  it('round-trips (OPA conformance case)', () => {
    const text = call('yaml.marshal', [{ foo: [1, 2, 3] }]) as string;
    expect(text).toBe('- foo:\n  - 1\n  - 2\n  - 3\n');
    expect(call('yaml.unmarshal', text)).toEqual([{ foo: [1, 2, 3] }]);
  });

  it('is_valid (OPA conformance cases)', () => {
    expect(call('yaml.is_valid', 'foo:\n - qux: bar\n - baz: 2')).toBe(true);
    expect(call('yaml.is_valid', 'foo:\n - qux: bar\n - baz: {')).toBe(false);
    expect(call('yaml.is_valid', '{"json": "ok"}')).toBe(true);
    expect(call('yaml.is_valid', 1)).toBe(false);
  });

  it('marshals like go-yaml v2: block style, unindented sequences in mappings, natural key order', () => {
    expect(call('yaml.marshal', { b: { c: [{ x: 1 }, [1, 2], [], {}], d: null }, a10: 1, a9: true })).toBe(
      'a9: true\na10: 1\nb:\n  c:\n  - x: 1\n  - - 1\n    - 2\n  - []\n  - {}\n  d: null\n',
    );
    expect(call('yaml.marshal', 'foo')).toBe('foo\n');
    expect(call('yaml.marshal', [])).toBe('[]\n');
    expect(call('yaml.marshal', { f: 1.5, big: 1e21, n: 12345678901234567890n })).toBe('big: 1e+21\nf: 1.5\n"n": 12345678901234567890\n');
  });

  it('quotes strings YAML 1.1 would read as something else, and strings plain style cannot hold', () => {
    expect(call('yaml.marshal', { a: 'yes', b: '123', c: '', d: '2001-12-14', e: '1.5e3', f: 'e5', g: 'null', h: '0x1F' }))
      .toBe('a: "yes"\nb: "123"\nc: ""\nd: "2001-12-14"\ne: "1.5e3"\nf: e5\ng: "null"\nh: "0x1F"\n');
    expect(call('yaml.marshal', { a: 'a: b', b: "it's #", c: '- x', d: '-x', e: ' lead', f: '#x', g: 'x #y', h: 'tab\there' }))
      .toBe("a: 'a: b'\nb: 'it''s #'\nc: '- x'\nd: -x\ne: ' lead'\nf: '#x'\ng: 'x #y'\nh: \"tab\\there\"\n");
  });

  it('writes multi-line strings as literal blocks', () => {
    expect(call('yaml.marshal', { a: 'one\ntwo' })).toBe('a: |-\n  one\n  two\n');
    expect(call('yaml.marshal', ['one\ntwo\n'])).toBe('- |\n  one\n  two\n');
    expect(call('yaml.marshal', { a: 'trailing \nspace' })).toBe('a: "trailing \\nspace"\n');
    expect(call('yaml.marshal', 'one\ntwo')).toBe('|-\n  one\n  two\n');
  });

  it('folds long strings at 80 columns as go-yaml v2 does', () => {
    const long = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const out = call('yaml.marshal', { k: long }) as string;
    const words = long.split(' ');
    expect(out).toBe(`k: ${words.slice(0, 13).join(' ')}\n  ${words.slice(13, 25).join(' ')}\n  ${words.slice(25).join(' ')}\n`);
    expect(call('yaml.unmarshal', out)).toEqual({ k: long });
  });

  it('unmarshals YAML 1.1 the way sigs.k8s.io/yaml does', () => {
    expect(call('yaml.unmarshal', 'a: yes\nb: 2001-12-14\nc: 12345678901234567890\nd: 1.5\n1: x\ne: [1, {f: null}]\n---\nx: 1'))
      .toEqual({ a: true, b: '2001-12-14', c: 12345678901234567890n, d: 1.5, '1': 'x', e: [1, { f: null }] });
    expect(call('yaml.unmarshal', '')).toBe(null);
    expect(call('yaml.unmarshal', 'a: 1:20\nb: 0777\nc: 1_000\nd: 0x1F\ne: 1e3')).toEqual({ a: '1:20', b: 511, c: 1000, d: 31, e: 1000 });
    expect(call('yaml.unmarshal', 'base: &b {x: 1}\nderived:\n  <<: *b\n  z: 2')).toEqual({ base: { x: 1 }, derived: { x: 1, z: 2 } });
    // YAML 1.1: a plain y is a boolean, and a non-string key becomes its text
    expect(call('yaml.unmarshal', 'y: 1\n2.5: 2\n0.1: 3\n7: 4')).toEqual({ true: 1, '2.5': 2, '0.1': 3, '7': 4 });
    fails('yaml.unmarshal', '~: 3').toThrow(BuiltinError);
    fails('yaml.unmarshal', 'a: 1\na: 2').toThrow(BuiltinError);
    fails('yaml.unmarshal', 'a: b: c').toThrow(BuiltinError);
  });
});

describe('base64.is_valid', () => {
  it.each<[HostValue, boolean]>([
    ['aGVsbG8=', true], ["{'not':'base64'}", false], ['', true], ['aGVsbG8', false], ['aGVs\nbG8=', true],
    ['aGV=sbG8', false], ['aGVsbA==', true], ['aGVsbA=', false], ['c3ViamVjdHM/X2Q=', true], ['c3ViamVjdHM_X2Q=', false], [1, false],
  ])('%j → %s', (s, want) => {
    expect(call('base64.is_valid', s)).toBe(want);
  });
});

describe('object.union_n', () => {
  it('merges recursively, later objects winning', () => {
    expect(call('object.union_n', [{ a: 1, b: { c: 1, e: { f: 1 } } }, { b: { d: 2, e: 3 } }, { a: 3 }])).toEqual({ a: 3, b: { c: 1, d: 2, e: 3 } });
    expect(call('object.union_n', [{ a: { b: 1 } }, { a: { c: 2 } }])).toEqual({ a: { b: 1, c: 2 } });
    expect(call('object.union_n', [{ a: [1] }, { a: [2] }])).toEqual({ a: [2] });
    expect(call('object.union_n', [])).toEqual({});
  });

  it('rejects non-object elements as a type error', () => {
    fails('object.union_n', [{ a: 1 }, 2]).toThrow(BuiltinTypeError);
  });
});

describe('rand.intn', () => {
  it('is memoised per (str, |n|) within one evaluation', () => {
    const c = newCtx();
    const rand = (s: string, n: HostValue) => (ENCODING_BUILTINS['rand.intn'] as HostBuiltin).impl([s, n], c);
    const first = rand('x', 1000);
    expect(typeof first).toBe('number');
    expect(first as number).toBeGreaterThanOrEqual(0);
    expect(first as number).toBeLessThan(1000);
    for (let i = 0; i < 20; i++) expect(rand('x', 1000)).toBe(first);
    expect(rand('x', -1000)).toBe(first);
    expect(rand('x', 0)).toBe(0);
    expect(rand('y', 1)).toBe(0);
    const big = rand('z', 10n ** 30n);
    expect(typeof big === 'bigint' || typeof big === 'number').toBe(true);
    expect(() => rand('x', 1.5)).toThrow(BuiltinTypeError);
  });

  it('spreads over the range', () => {
    const seen = new Set<HostValue | undefined>();
    for (let i = 0; i < 200; i++) seen.add((ENCODING_BUILTINS['rand.intn'] as HostBuiltin).impl(['s', 4], newCtx()));
    expect(seen).toEqual(new Set([0, 1, 2, 3]));
  });
});

describe('yamlKeyLess (go-yaml v2 key order)', () => {
  it('compares digit runs numerically and letters before other characters', () => {
    const keys = ['b', 'a10', 'a9', 'a', '_x', 'A', 'a09', '1', '10', '2'];
    expect([...keys].sort((x, y) => (yamlKeyLess(x, y) ? -1 : yamlKeyLess(y, x) ? 1 : 0))).toEqual(
      ['_x', '1', '2', '10', 'A', 'a', 'a9', 'a09', 'a10', 'b'],
    );
  });
});
