// In-module built-ins (tg_bi_* exports of runtime.wasm), called directly on a raw instance.
// Arguments are built from JS values ({ $set: [...] } marks a set), results are read back the
// same way; `undefined` = the built-in returned 0 (OPA: undefined), { error } = opa_abort.
import { beforeAll, describe, expect, it } from 'vitest';
import { buildRuntime, readCString, Wasm } from './helpers.js';

type Fn = (...a: number[]) => number;

type V = null | boolean | number | string | V[] | { $set: V[] } | { [k: string]: V };
type Want = V | undefined | { error: string };

let runtime: Uint8Array;
let memory: { buffer: ArrayBuffer };
let ex: Record<string, Fn>;
let base = 0;

beforeAll(() => {
  runtime = buildRuntime();
  memory = new Wasm.Memory({ initial: 5 });
  const env: Record<string, unknown> = { memory };
  env.opa_abort = (addr: number): never => {
    throw new Error(`abort: ${readCString(memory, addr)}`);
  };
  for (const n of ['opa_println', 'opa_builtin0', 'opa_builtin1', 'opa_builtin2', 'opa_builtin3', 'opa_builtin4']) {
    env[n] = () => {
      throw new Error(`${n} called`);
    };
  }
  const inst = new Wasm.Instance(new Wasm.Module(runtime), { env });
  ex = inst.exports as Record<string, Fn>;
  base = ex.opa_heap_ptr_get!();
});

function parse(json: string): number {
  const buf = new TextEncoder().encode(json);
  const p = ex.opa_malloc!(buf.length);
  new Uint8Array(memory.buffer).set(buf, p);
  const v = ex.opa_json_parse!(p, buf.length);
  if (v === 0) throw new Error(`parse failed: ${json}`);
  return v;
}

function toVal(x: V): number {
  if (x === null || typeof x !== 'object') return parse(JSON.stringify(x));
  if (Array.isArray(x)) {
    const a = ex.tg_array!(x.length);
    for (const e of x) ex.tg_array_push!(a, toVal(e));
    return a;
  }
  if ('$set' in x && Array.isArray(x.$set)) {
    const s = ex.tg_set!(0);
    for (const e of x.$set) ex.tg_set_add!(s, toVal(e));
    return s;
  }
  const o = ex.tg_object!(0);
  for (const [k, v] of Object.entries(x)) ex.tg_object_insert!(o, toVal(k), toVal(v as V));
  return o;
}

const T = { NULL: 1, BOOLEAN: 2, NUMBER: 3, STRING: 4, ARRAY: 5, OBJECT: 6, SET: 7 };

function fromVal(v: number): V {
  const t = ex.tg_type!(v);
  const n = ex.tg_len!;
  switch (t) {
    case T.ARRAY:
    case T.SET: {
      const out: V[] = [];
      for (let i = 0; i < n(v); i++) out.push(fromVal(ex.tg_elem!(v, i)));
      return t === T.SET ? { $set: out } : out;
    }
    case T.OBJECT: {
      const out: Record<string, V> = {};
      for (let i = 0; i < n(v); i++) {
        const k = fromVal(ex.tg_elem!(v, i));
        out[typeof k === 'string' ? k : JSON.stringify(k)] = fromVal(ex.tg_object_value_at!(v, i));
      }
      return out;
    }
    default:
      return JSON.parse(readCString(memory, ex.opa_json_dump!(v))) as V;
  }
}

/** Raw JSON text of a result (to check number formatting such as `3.5` vs `3`). */
function dumpText(v: number): string {
  return readCString(memory, ex.opa_json_dump!(v));
}

function call(name: string, args: V[]): { addr: number } | { error: string } {
  ex.opa_heap_ptr_set!(base);
  const f = ex[`tg_bi_${name.replace(/\./g, '_')}`];
  if (!f) throw new Error(`no export for ${name}`);
  const addrs = args.map(toVal);
  try {
    return { addr: f(...addrs) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function run(name: string, args: V[]): Want {
  const r = call(name, args);
  if ('error' in r) return { error: r.error };
  return r.addr === 0 ? undefined : fromVal(r.addr);
}

type Case = [name: string, args: V[], want: Want];

function table(title: string, cases: Case[]): void {
  describe(title, () => {
    it.each(cases.map((c) => [`${c[0]}(${c[1].map((a) => JSON.stringify(a)).join(', ')})`, ...c] as const))(
      '%s',
      (_label, name, args, want) => {
        expect(run(name, args)).toEqual(want);
      },
    );
  });
}

const S = (...xs: V[]): V => ({ $set: xs });
const ERR = (m: string): Want => ({ error: `abort: ${m}` });

table('aggregates', [
  ['count', ['héllo'], 5],
  ['count', ['😀a'], 2],
  ['count', [''], 0],
  ['count', [[1, 2, 3]], 3],
  ['count', [S(1, 2, 2)], 2],
  ['count', [{ a: 1, b: 2 }], 2],
  ['count', [1], undefined],
  ['count', [null], undefined],
  ['sum', [[1, 2.5]], 3.5],
  ['sum', [[]], 0],
  ['sum', [S(1, 2, 3)], 6],
  ['sum', [[1, 'a']], undefined],
  ['sum', ['abc'], undefined],
  ['product', [[2, 3, 4]], 24],
  ['product', [[]], 1],
  ['product', [[1.5, 2]], 3],
  ['max', [[1, 3, 2]], 3],
  ['max', [[1, 'a', null]], 'a'],
  ['max', [[]], undefined],
  ['max', [S(4, 9, 1)], 9],
  ['min', [[3, 1, 2]], 1],
  ['min', [[1, 'a', null]], null],
  ['min', [S()], undefined],
  ['min', [{ a: 1 }], undefined],
  ['sort', [[3, 1, 2]], [1, 2, 3]],
  ['sort', [['b', 1, null, [1], true, 'a']], [null, true, 1, 'a', 'b', [1]]],
  ['sort', [S(3, 1, 2)], [1, 2, 3]],
  ['sort', [[2, 1, 2]], [1, 2, 2]],
  ['sort', [[]], []],
  ['sort', ['abc'], undefined],
]);

table('arithmetic', [
  ['plus', [1, 2], 3],
  ['plus', [1.5, 2], 3.5],
  ['plus', [0.1, 0.2], 0.30000000000000004],
  ['plus', ['1', 2], undefined],
  ['minus', [1, 3], -2],
  ['minus', [S(1, 2, 3), S(2)], S(1, 3)],
  ['minus', [S(1, 2), S()], S(1, 2)],
  ['minus', [S(1), 1], undefined],
  ['mul', [3, 4], 12],
  ['mul', [2.5, 2], 5],
  ['mul', [1e10, 1e10], 1e20],
  ['div', [6, 3], 2],
  ['div', [7, 2], 3.5],
  ['div', [1, 3], 1 / 3],
  ['div', [1, 0], ERR('div: divide by zero')],
  ['div', [1.5, 0.0], ERR('div: divide by zero')],
  ['div', [1, 'a'], undefined],
  ['rem', [7, 3], 1],
  ['rem', [-7, 3], -1],
  ['rem', [7, -3], 1],
  ['rem', [7, 0], ERR('rem: modulo by zero')],
  ['rem', [7.5, 2], ERR('rem: modulo on floating-point number')],
  ['abs', [-5], 5],
  ['abs', [-5.5], 5.5],
  ['abs', [3], 3],
  ['abs', ['x'], undefined],
  ['round', [2.5], 3],
  ['round', [-2.5], -3],
  ['round', [2.4], 2],
  ['round', [-2.6], -3],
  ['round', [0.49999999999999994], 0],
  ['round', [7], 7],
  ['ceil', [1.2], 2],
  ['ceil', [-1.2], -1],
  ['floor', [1.8], 1],
  ['floor', [-1.2], -2],
  ['floor', ['1'], undefined],
  ['or', [S(1, 2), S(2, 3)], S(1, 2, 3)],
  ['and', [S(1, 2), S(2, 3)], S(2)],
  ['or', [[1], S(2)], undefined],
  ['numbers.range', [1, 4], [1, 2, 3, 4]],
  ['numbers.range', [2, -1], [2, 1, 0, -1]],
  ['numbers.range', [3, 3], [3]],
  ['numbers.range', [1.5, 3], undefined],
  ['union', [S(S(1, 2), S(2, 3), S())], S(1, 2, 3)],
  ['union', [S()], S()],
  ['union', [S(S(1), 2)], undefined],
  ['intersection', [S(S(1, 2, 3), S(2, 3, 4), S(3, 2))], S(2, 3)],
  ['intersection', [S(S(1, 2))], S(1, 2)],
  ['intersection', [S()], S()],
  ['intersection', [[S(1)]], undefined],
]);

describe('number formatting (raw JSON arguments, exact output text)', () => {
  function callRaw(name: string, args: string[]): string {
    ex.opa_heap_ptr_set!(base);
    const r = ex[`tg_bi_${name.replace(/\./g, '_')}`]!(...args.map(parse));
    return r === 0 ? 'undefined' : dumpText(r);
  }
  it.each([
    ['sum', ['[1, 2.5]'], '3.5'],
    ['plus', ['1.5', '1.5'], '3'],
    ['plus', ['9007199254740993', '1'], '9007199254740994'],
    ['mul', ['3037000499', '3037000499'], '9223372030926249001'],
    ['div', ['7', '2'], '3.5'],
    ['minus', ['-999999999999999999', '1'], '-1000000000000000000'],
    // gap: numbers with more than 18 digits are f64 (printed by Grisu2), not exact like OPA
    ['plus', ['12345678901234567890', '0'], '12345678901234567000.0'],
    ['round', ['1.0'], '1'],
    ['count', ['"\\u00e9"'], '1'],
  ] as [string, string[], string][])('%s %j → %s', (name, args, text) => {
    expect(callRaw(name, args)).toBe(text);
  });
});

table('strings', [
  ['concat', [',', ['a', 'b', 'c']], 'a,b,c'],
  ['concat', ['', []], ''],
  ['concat', ['-', S('b', 'a')], 'a-b'],
  ['concat', [',', ['a', 1]], undefined],
  ['concat', [1, ['a']], undefined],
  ['contains', ['abcdef', 'cde'], true],
  ['contains', ['abc', ''], true],
  ['contains', ['abc', 'x'], false],
  ['contains', ['abc', 1], undefined],
  ['startswith', ['abc', 'ab'], true],
  ['startswith', ['abc', 'abcd'], false],
  ['endswith', ['abc', 'bc'], true],
  ['endswith', ['abc', 'b'], false],
  ['endswith', [1, 'b'], undefined],
  ['lower', ['AbC-é'], 'abc-é'],
  ['upper', ['aBc-1'], 'ABC-1'],
  ['upper', [1], undefined],
  ['split', ['a,b', ','], ['a', 'b']],
  ['split', ['a,,b,', ','], ['a', '', 'b', '']],
  ['split', ['', ','], ['']],
  ['split', ['abc', ''], ['a', 'b', 'c']],
  ['split', ['héllo', ''], ['h', 'é', 'l', 'l', 'o']],
  ['split', ['a::b', '::'], ['a', 'b']],
  ['split', ['abc', 1], undefined],
  ['replace', ['aaa', 'a', 'bb'], 'bbbbbb'],
  ['replace', ['hello world', 'o', '0'], 'hell0 w0rld'],
  ['replace', ['abc', '', '-'], '-a-b-c-'],
  ['replace', ['héllo', 'é', 'e'], 'hello'],
  ['replace', ['abc', 'x', 'y'], 'abc'],
  ['strings.replace_n', [{ a: '1', b: '2' }, 'abcab'], '12c12'],
  // patterns are tried in key order (OPA sorts them): "a" < "ab"
  ['strings.replace_n', [{ ab: 'X', a: 'Y' }, 'aab'], 'YYb'],
  ['strings.replace_n', [{ b: 'X', ab: 'Y' }, 'aab'], 'aY'],
  ['strings.replace_n', [{ a: 'b', b: 'a' }, 'ab'], 'ba'],
  ['strings.replace_n', [{}, 'ab'], 'ab'],
  // Go's NewReplacer with an empty pattern: it matches before every byte not otherwise matched
  ['strings.replace_n', [{ '': '-', a: 'X' }, 'ab'], '-X-b-'],
  ['strings.replace_n', [{ '': '-' }, ''], '-'],
  ['strings.replace_n', [{ f: 'x', foo: 'xxx' }, 'foobar'], 'xoobar'],
  ['strings.replace_n', [{ '<': '&lt;', '>': '&gt;' }, 'This is <b>HTML</b>!'], 'This is &lt;b&gt;HTML&lt;/b&gt;!'],
  ['strings.replace_n', [{ a: 1 }, 'ab'], undefined],
  ['trim', ['  xx  ', ' '], 'xx'],
  ['trim', ['abcba', 'ab'], 'c'],
  ['trim', ['éaé', 'é'], 'a'],
  ['trim', ['abc', ''], 'abc'],
  ['trim_left', ['aabca', 'a'], 'bca'],
  ['trim_right', ['aabca', 'a'], 'aabc'],
  ['trim_prefix', ['abcd', 'ab'], 'cd'],
  ['trim_prefix', ['abcd', 'x'], 'abcd'],
  ['trim_suffix', ['abcd', 'cd'], 'ab'],
  ['trim_suffix', ['abcd', 'abcde'], 'abcd'],
  ['trim_space', ['  \t\n a b \r\n'], 'a b'],
  ['trim_space', ['\u00a0\u3000x\u2003'], 'x'],
  ['trim_space', ['   '], ''],
  ['trim_space', [1], undefined],
  ['indexof', ['abcdef', 'cd'], 2],
  ['indexof', ['héllo', 'l'], 2],
  ['indexof', ['abc', 'x'], -1],
  ['indexof', ['abc', ''], undefined],
  ['substring', ['abcde', 1, 3], 'bcd'],
  ['substring', ['abcde', 1, -1], 'bcde'],
  ['substring', ['abcde', 2, 100], 'cde'],
  ['substring', ['abcde', 5, 1], ''],
  ['substring', ['abcde', 9, 1], ''],
  ['substring', ['abcde', -1, 1], undefined],
  ['substring', ['héllo', 1, 2], 'él'],
  ['substring', ['abc', 1.5, 1], undefined],
  ['substring', ['', 0, 1], ''],
  ['format_int', [255, 16], 'ff'],
  ['format_int', [255, 2], '11111111'],
  ['format_int', [8, 8], '10'],
  ['format_int', [-42, 10], '-42'],
  ['format_int', [12.9, 10], '12'],
  ['format_int', [-12.9, 16], '-c'],
  ['format_int', [0, 2], '0'],
  ['format_int', [10, 3], undefined],
  ['format_int', ['10', 10], undefined],
  ['to_number', ['42'], 42],
  ['to_number', ['-3.5'], -3.5],
  ['to_number', ['1e3'], 1000],
  ['to_number', ['+7'], 7],
  ['to_number', ['007'], 7],
  ['to_number', [null], 0],
  ['to_number', [true], 1],
  ['to_number', [false], 0],
  ['to_number', [12], 12],
  ['to_number', ['abc'], undefined],
  ['to_number', [''], undefined],
  ['to_number', ['1 '], undefined],
  ['to_number', [[1]], undefined],
]);

table('arrays, objects, types', [
  ['array.concat', [[1, 2], [3]], [1, 2, 3]],
  ['array.concat', [[], []], []],
  ['array.concat', [[1], S(2)], undefined],
  ['array.slice', [[1, 2, 3, 4, 5], 1, 3], [2, 3]],
  ['array.slice', [[1, 2, 3], -5, 2], [1, 2]],
  ['array.slice', [[1, 2, 3], 1, 10], [2, 3]],
  ['array.slice', [[1, 2, 3], 2, 1], []],
  ['array.slice', [[1, 2, 3], 0, -1], []],
  ['array.slice', ['abc', 0, 1], undefined],
  ['object.get', [{ a: 1 }, 'a', 2], 1],
  ['object.get', [{ a: 1 }, 'b', 2], 2],
  ['object.get', [{ a: { b: 1 } }, ['a', 'b'], 2], 1],
  ['object.get', [{ a: 1 }, [], 2], { a: 1 }],
  ['object.get', [{ a: { b: 1 } }, ['b', 'a'], 2], 2],
  ['object.get', [{ a: [{ b: true }] }, ['a', 0, 'b'], false], true],
  ['object.get', [{ a: S('x') }, ['a', 'x'], false], 'x'],
  ['object.get', [{ a: 'str' }, ['a', 0], 'd'], 'd'],
  ['object.get', [[1], 0, 2], undefined],
  ['object.keys', [{ b: 1, a: 2 }], S('a', 'b')],
  ['object.keys', [{}], S()],
  ['object.keys', [[1]], undefined],
  ['object.remove', [{ a: 1, b: 2, c: 3 }, ['a', 'c']], { b: 2 }],
  ['object.remove', [{ a: 1, b: 2 }, S('b')], { a: 1 }],
  ['object.remove', [{ a: 1, b: 2 }, { a: 'x' }], { b: 2 }],
  ['object.remove', [{ a: 1 }, ['z']], { a: 1 }],
  ['object.remove', [{ a: 1 }, 'a'], undefined],
  ['object.filter', [{ a: 1, b: 2, c: 3 }, ['a', 'c']], { a: 1, c: 3 }],
  ['object.filter', [{ a: 1, b: 2 }, S('b', 'z')], { b: 2 }],
  ['object.filter', [{ a: 1, b: 2 }, { a: 0 }], { a: 1 }],
  ['object.filter', [{ a: 1 }, 1], undefined],
  ['object.union', [{ a: 1, b: 2 }, { b: 3, c: 4 }], { a: 1, b: 3, c: 4 }],
  ['object.union', [{ a: { x: 1, y: 2 } }, { a: { y: 3, z: 4 } }], { a: { x: 1, y: 3, z: 4 } }],
  ['object.union', [{ a: { x: 1 } }, { a: 5 }], { a: 5 }],
  ['object.union', [{ a: 5 }, { a: { x: 1 } }], { a: { x: 1 } }],
  ['object.union', [{ a: 1 }, [1]], undefined],
  ['is_null', [null], true],
  ['is_null', [0], false],
  ['is_boolean', [false], true],
  ['is_boolean', ['true'], false],
  ['is_number', [1.5], true],
  ['is_number', ['1'], false],
  ['is_string', ['abc'], true],
  ['is_string', [[]], false],
  ['is_array', [[]], true],
  ['is_array', [S()], false],
  ['is_object', [{}], true],
  ['is_object', [[]], false],
  ['is_set', [S()], true],
  ['is_set', [{}], false],
  ['type_name', [null], 'null'],
  ['type_name', [true], 'boolean'],
  ['type_name', [1], 'number'],
  ['type_name', ['s'], 'string'],
  ['type_name', [[]], 'array'],
  ['type_name', [{}], 'object'],
  ['type_name', [S()], 'set'],
]);

table('encoding, json, units, semver', [
  ['base64.encode', ['hello'], 'aGVsbG8='],
  ['base64.encode', ['hi'], 'aGk='],
  ['base64.encode', ['abc'], 'YWJj'],
  ['base64.encode', [''], ''],
  ['base64.encode', ['é?>'], 'w6k/Pg=='],
  ['base64.decode', ['aGVsbG8='], 'hello'],
  ['base64.decode', ['aGk='], 'hi'],
  ['base64.decode', ['YWJj\nZA=='], 'abcd'],
  ['base64.decode', ['aGVsbG8'], undefined],
  ['base64.decode', ['a==='], undefined],
  ['base64.decode', ['aGk=aGk='], undefined],
  ['base64.decode', ['w6k_Pg=='], undefined],
  ['base64.decode', [1], undefined],
  ['base64url.encode', ['é?>'], 'w6k_Pg=='],
  ['base64url.encode_no_pad', ['é?>'], 'w6k_Pg'],
  ['base64url.encode_no_pad', ['abc'], 'YWJj'],
  ['base64url.decode', ['w6k_Pg=='], 'é?>'],
  ['base64url.decode', ['w6k_Pg'], 'é?>'],
  ['base64url.decode', ['aGk'], 'hi'],
  ['base64url.decode', ['YWJj'], 'abc'],
  ['base64url.decode', ['a'], undefined],
  ['base64url.decode', ['w6k/Pg'], undefined],
  ['json.marshal', [{ b: [1, 'x'], a: null }], '{"a":null,"b":[1,"x"]}'],
  ['json.marshal', [S(2, 1)], '[1,2]'],
  ['json.marshal', ['<a&b>'], '"\\u003ca\\u0026b\\u003e"'],
  ['json.marshal', ['\u2028'], '"\\u2028"'],
  ['json.marshal', ['é"\n'], '"é\\"\\n"'],
  ['json.unmarshal', ['{"b":[1,2],"a":"x"}'], { a: 'x', b: [1, 2] }],
  ['json.unmarshal', ['"s"'], 's'],
  ['json.unmarshal', ['{"a":'], undefined],
  ['json.unmarshal', [1], undefined],
  ['units.parse_bytes', ['1K'], 1000],
  ['units.parse_bytes', ['1KiB'], 1024],
  ['units.parse_bytes', ['2mb'], 2000000],
  ['units.parse_bytes', ['1.5Mi'], 1572864],
  ['units.parse_bytes', ['12'], 12],
  ['units.parse_bytes', ['"10GB"'], 10000000000],
  ['units.parse_bytes', ['1.1'], 1],
  ['units.parse_bytes', ['4.1Mi'], 4299161],
  ['units.parse_bytes', ['1.001k'], 1001],
  ['units.parse_bytes', ['0.3kb'], 300],
  ['units.parse_bytes', ['.5k'], 500],
  ['units.parse_bytes', ['128Gi'], 137438953472],
  ['units.parse_bytes', [''], undefined],
  ['units.parse_bytes', ['GB'], undefined],
  ['units.parse_bytes', ['0.0.0'], undefined],
  ['units.parse_bytes', ['3ei'], 3458764513820540928],
  ['units.parse_bytes', ['1 kb'], undefined],
  ['units.parse_bytes', ['kb'], undefined],
  ['units.parse_bytes', ['1xb'], undefined],
  ['units.parse_bytes', ['1.2.3k'], undefined],
  ['units.parse_bytes', [1], undefined],
  ['semver.compare', ['1.0.0', '1.0.0'], 0],
  ['semver.compare', ['1.0.0', '1.0.1'], -1],
  ['semver.compare', ['2.0.0', '1.9.9'], 1],
  ['semver.compare', ['1.10.0', '1.9.0'], 1],
  ['semver.compare', ['1.0.0-alpha', '1.0.0'], -1],
  ['semver.compare', ['1.0.0-alpha', '1.0.0-alpha.1'], -1],
  ['semver.compare', ['1.0.0-alpha.1', '1.0.0-alpha.beta'], -1],
  ['semver.compare', ['1.0.0-beta.2', '1.0.0-beta.11'], -1],
  ['semver.compare', ['1.0.0-rc.1', '1.0.0-beta.11'], 1],
  ['semver.compare', ['1.0.0+build.1', '1.0.0+build.2'], 0],
  ['semver.compare', ['1.0', '1.0.0'], undefined],
  ['semver.compare', ['01.0.0', '1.0.0'], undefined],
  ['semver.compare', ['1.0.0-01', '1.0.0'], undefined],
  ['semver.compare', ['v1.0.0', '1.0.0'], undefined],
  ['semver.compare', ['1.0.0', 1], undefined],
]);

describe('larger inputs', () => {
  it('sort uses the merge-sort path beyond 16 elements and keeps duplicates', () => {
    const xs = Array.from({ length: 50 }, (_, i) => (i * 37) % 23);
    expect(run('sort', [xs])).toEqual([...xs].sort((a, b) => a - b));
    const words = Array.from({ length: 30 }, (_, i) => `w${(i * 7) % 30}`);
    expect(run('sort', [words])).toEqual([...words].sort());
  });

  it('set operations on larger sets', () => {
    const a = Array.from({ length: 40 }, (_, i) => i * 2);
    const b = Array.from({ length: 40 }, (_, i) => i * 3);
    const sa = new Set(a);
    const sb = new Set(b);
    const num = (x: number, y: number): number => x - y;
    expect(run('or', [S(...a), S(...b)])).toEqual(S(...[...new Set([...a, ...b])].sort(num)));
    expect(run('and', [S(...a), S(...b)])).toEqual(S(...a.filter((x) => sb.has(x)).sort(num)));
    expect(run('minus', [S(...b), S(...a)])).toEqual(S(...b.filter((x) => !sa.has(x)).sort(num)));
    expect(run('union', [S(S(...a), S(...b))])).toEqual(run('or', [S(...a), S(...b)]));
  });

  it('string built-ins on a long multi-byte string', () => {
    const s = 'ab€😀'.repeat(1000);
    expect(run('count', [s])).toBe(4000);
    expect(run('substring', [s, 3998, 10])).toBe('€😀');
    expect(run('indexof', [s + 'X', 'X'])).toBe(4000);
    expect(run('replace', [s, '€', 'E'])).toBe(s.replaceAll('€', 'E'));
    expect((run('split', [s, '😀']) as string[]).length).toBe(1001);
    expect(run('upper', [s])).toBe('AB€😀'.repeat(1000));
    expect(run('base64.decode', [run('base64.encode', [s]) as string])).toBe(s);
    expect(run('json.unmarshal', [run('json.marshal', [{ s, n: [1, 2] }]) as string])).toEqual({ n: [1, 2], s });
  });
});

describe('export surface', () => {
  it('exports exactly these tg_bi_* functions (OPA name with "." → "_")', () => {
    const names = Wasm.Module.exports(new Wasm.Module(runtime))
      .filter((e) => e.name.startsWith('tg_bi_'))
      .map((e) => `${e.name}:${e.kind}`)
      .sort();
    const want = [
      'count', 'sum', 'product', 'max', 'min', 'sort', 'abs', 'round', 'ceil', 'floor', 'plus', 'minus', 'mul', 'div',
      'rem', 'or', 'and', 'numbers.range', 'union', 'intersection',
      'concat', 'contains', 'startswith', 'endswith', 'lower', 'upper', 'split', 'replace', 'strings.replace_n', 'trim',
      'trim_left', 'trim_right', 'trim_prefix', 'trim_suffix', 'trim_space', 'indexof', 'substring', 'format_int',
      'to_number',
      'array.concat', 'array.slice', 'object.get', 'object.keys', 'object.remove', 'object.filter', 'object.union',
      'is_null', 'is_boolean', 'is_number', 'is_string', 'is_array', 'is_object', 'is_set', 'type_name',
      'base64.encode', 'base64.decode', 'base64url.encode', 'base64url.encode_no_pad', 'base64url.decode',
      'json.marshal', 'json.unmarshal', 'units.parse_bytes', 'semver.compare',
    ].map((n) => `tg_bi_${n.replace(/\./g, '_')}:function`).sort();
    expect(names).toEqual(want);
  });
});

describe('undefined arguments', () => {
  it('a 0 (undefined) argument gives undefined, never a crash', () => {
    for (const name of ['count', 'sum', 'sort', 'abs', 'round', 'lower', 'trim_space', 'type_name', 'is_string',
      'object.keys']) {
      ex.opa_heap_ptr_set!(base);
      expect(ex[`tg_bi_${name.replace(/\./g, '_')}`]!(0), name).toBe(0);
    }
    for (const name of ['plus', 'minus', 'div', 'concat', 'split', 'contains', 'indexof', 'array.concat',
      'object.union', 'or', 'numbers.range', 'format_int']) {
      ex.opa_heap_ptr_set!(base);
      expect(ex[`tg_bi_${name.replace(/\./g, '_')}`]!(0, 0), name).toBe(0);
    }
  });
});
