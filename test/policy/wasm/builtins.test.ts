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

// Unicode case mapping: Go's strings.ToLower/ToUpper (simple per-rune mapping, Unicode 15.0).
table('lower/upper (Unicode)', [
  ['lower', ['ÀÉÎÕÜÝÞ×÷àéîõüýþÿßµ'], 'àéîõüýþ×÷àéîõüýþÿßµ'],
  ['upper', ['ÀÉÎÕÜÝÞ×÷àéîõüýþÿßµ'], 'ÀÉÎÕÜÝÞ×÷ÀÉÎÕÜÝÞŸßΜ'], // ß has no simple uppercase; µ → Greek Μ
  ['lower', ['ĀĂĄĆĈĊČĎĐĒĲŁŸŽİāăąćĉċčďđēĳłžıſŉ'], 'āăąćĉċčďđēĳłÿžiāăąćĉċčďđēĳłžıſŉ'], // İ → i
  ['upper', ['ĀĂĄĆĈĊČĎĐĒĲŁŸŽİāăąćĉċčďđēĳłžıſŉ'], 'ĀĂĄĆĈĊČĎĐĒĲŁŸŽİĀĂĄĆĈĊČĎĐĒĲŁŽISŉ'], // ı → I, ſ → S
  ['lower', ['ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩΆΈΉΊΌΎΏΪΫ'], 'αβγδεζηθικλμνξοπρστυφχψωάέήίόύώϊϋ'],
  ['upper', ['αβγδεζηθικλμνξοπρστυφχψωςάέήίόύώϊϋΐΰ'], 'ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩΣΆΈΉΊΌΎΏΪΫΐΰ'],
  ['lower', ['ΣΑΣ'], 'σασ'], // no final-sigma rule
  ['lower', ['АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯЀЃЍЎЏӀӁ'], 'абвгдеёжзийклмнопрстуфхцчшщъыьэюяѐѓѝўџӏӂ'],
  ['upper', ['абвгдеёжзийклмнопрстуфхцчшщъыьэюяѐѓѝўџӏӂ'], 'АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯЀЃЍЎЏӀӁ'],
  ['lower', ['ԱԲԳԴԵԶԷԸԹԺԻԼԽԾԿՀՁՂՃՄՅՆՇՈՉՊՋՌՍՎՏՐՑՒՓՔՕՖ'], 'աբգդեզէըթժիլխծկհձղճմյնշոչպջռսվտրցւփքօֆ'],
  ['upper', ['աբգդեզէըթժիլխծկհձղճմյնշոչպջռսվտրցւփքօֆև'], 'ԱԲԳԴԵԶԷԸԹԺԻԼԽԾԿՀՁՂՃՄՅՆՇՈՉՊՋՌՍՎՏՐՑՒՓՔՕՖև'],
  ['lower', ['ＡＢＣＺａｂｃｚ０'], 'ａｂｃｚａｂｃｚ０'],
  ['upper', ['ＡＢＣＺａｂｃｚ０'], 'ＡＢＣＺＡＢＣＺ０'],
  ['lower', ['ǄǅǆǇǈǉǱǲǳ'], 'ǆǆǆǉǉǉǳǳǳ'], // titlecase digraphs
  ['upper', ['ǄǅǆǇǈǉǱǲǳ'], 'ǄǄǄǇǇǇǱǱǱ'],
  // width changes (K Kelvin 3 → 1 byte, Ⱥ 2 → 3 bytes), 4-byte Deseret, Georgian, Cherokee, ẞ
  ['lower', ['KÅȺⱥ𐐀𐐨ႠⴀꭰᏀẞ'], 'kåⱥⱥ𐐨𐐨ⴀⴀꭰꮐß'],
  ['upper', ['KÅȺⱥ𐐀𐐨ႠⴀꭰᏀẞ'], 'KÅȺȺ𐐀𐐀ႠႠᎠᏀẞ'],
  ['lower', ['Hello Wörld ΣΑΣ ÇA'], 'hello wörld σασ ça'],
  ['upper', ['Hello Wörld ΣΑΣ ÇA'], 'HELLO WÖRLD ΣΑΣ ÇA'],
  ['lower', [''], ''],
  ['upper', [''], ''],
  ['lower', ['abc-é😀'], 'abc-é😀'],
  ['upper', ['ABC-1 €😀'], 'ABC-1 €😀'],
  ['lower', [['A']], undefined],
]);

describe('lower/upper on raw bytes', () => {
  function rawString(bytes: number[]): number {
    const p = ex.opa_malloc!(bytes.length);
    new Uint8Array(memory.buffer).set(bytes, p);
    return ex.tg_string!(p, bytes.length);
  }
  function bytesOf(v: number): number[] {
    const dv = new DataView(memory.buffer);
    const p = dv.getUint32(v + 4, true);
    return [...new Uint8Array(memory.buffer, p, dv.getUint32(v + 8, true))];
  }
  it('invalid UTF-8 bytes become U+FFFD (Go strings.Map), valid text is still mapped', () => {
    ex.opa_heap_ptr_set!(base);
    // "a" FF "b" "é" E2 82 (truncated €) → "A" FFFD "B" "É" FFFD FFFD
    const r = ex.tg_bi_upper!(rawString([0x61, 0xff, 0x62, 0xc3, 0xa9, 0xe2, 0x82]));
    expect(bytesOf(r)).toEqual([0x41, 0xef, 0xbf, 0xbd, 0x42, 0xc3, 0x89, 0xef, 0xbf, 0xbd, 0xef, 0xbf, 0xbd]);
    // already lower-case but invalid: still rewritten
    const l = ex.tg_bi_lower!(rawString([0x78, 0xc0, 0xaf]));
    expect(bytesOf(l)).toEqual([0x78, 0xef, 0xbf, 0xbd, 0xef, 0xbf, 0xbd]);
    // a genuine U+FFFD stays as it is
    const f = ex.tg_bi_lower!(rawString([0xef, 0xbf, 0xbd, 0x41]));
    expect(bytesOf(f)).toEqual([0xef, 0xbf, 0xbd, 0x61]);
  });
});

// object.subset: OPA's topdown semantics (corpus opa/subset plus edge cases).
const SUP: V = { a: 5, b: 7, c: 15, nested: { x: 10, y: 15, z: 20, set1: S(1, 2, 3, 4), arr1: [6, 7, 8, 9] } };
table('object.subset', [
  ['object.subset', [{ a: 5, b: 7, c: 15 }, { a: 5 }], true],
  ['object.subset', [{ a: 5 }, { a: 5, b: 7, c: 15 }], false],
  ['object.subset', [{ a: 5, b: 7, c: 15 }, { a: 5, b: 10 }], false],
  ['object.subset', [{ a: 5, b: 10 }, { a: 5, b: 7, c: 15 }], false],
  ['object.subset', [SUP, { a: 5, nested: { x: 10, y: 15, z: 20, set1: S(1, 2, 3, 4), arr1: [6, 7, 8, 9] } }], true],
  ['object.subset', [SUP, { a: 5, nested: { x: 10, y: 15 } }], true],
  ['object.subset', [{ a: 5, nested: { x: 10, y: 15 } }, SUP], false],
  ['object.subset', [SUP, { a: 5, nested: { x: 10, y: 15, set1: S(4, 1), arr1: [6, 7] } }], true],
  ['object.subset', [{ a: 5, nested: { x: 10, y: 15, set1: S(4, 1), arr1: [6, 7] } }, SUP], false],
  ['object.subset', [SUP, { nested: { arr1: [6, 8] } }], false], // arrays: contiguous run only
  ['object.subset', [SUP, { nested: { arr1: [8, 9] } }], true],
  ['object.subset', [SUP, { nested: { set1: S(5) } }], false],
  ['object.subset', [SUP, { nested: { arr1: S(6, 7) } }], false], // nested array ⊇ set: not supported
  ['object.subset', [SUP, { nested: { x: { y: 1 } } }], false], // type mismatch
  ['object.subset', [SUP, { nested: 5 }], false],
  ['object.subset', [SUP, { d: 5 }], false],
  ['object.subset', [{ a: { b: { c: { d: 1, e: 2 } } } }, { a: { b: { c: { d: 1 } } } }], true],
  ['object.subset', [{ a: { b: { c: { d: 1, e: 2 } } } }, { a: { b: { c: { d: 2 } } } }], false],
  ['object.subset', [{ a: [S(1, 2)] }, { a: [S(1)] }], false], // array elements compared by equality
  ['object.subset', [{ a: S(S(1, 2)) }, { a: S(S(1)) }], false], // set members by equality
  ['object.subset', [{ a: null, b: 'x' }, { a: null, b: 'x' }], true],
  ['object.subset', [{}, {}], true],
  ['object.subset', [{ a: 1 }, {}], true],
  ['object.subset', [{}, { a: 1 }], false],
  // sets
  ['object.subset', [S(1, 2, 3), S(3, 2)], true],
  ['object.subset', [S(3, 2), S(1, 2, 3)], false],
  ['object.subset', [S(1, 2, 3, S('a', 'b', 'c')), S(3, 2, S('a', 'b', 'c'))], true],
  ['object.subset', [S(3, 2, S('a', 'b', 'c')), S(1, 2, 3, S('a', 'b', 'c'))], false],
  ['object.subset', [S(1, 2, 3, S('a', 'b', 'c')), S(3, 2, S('a', 'b'))], false],
  ['object.subset', [S(3, 2, S('a', 'b')), S(1, 2, 3, S('a', 'b', 'c'))], false],
  ['object.subset', [S(1, 'a', [1], { k: 1 }), S({ k: 1 }, 'a')], true],
  ['object.subset', [S(1, 'a', [1], { k: 1 }), S({ k: 2 })], false],
  ['object.subset', [S(), S()], true],
  ['object.subset', [S(1), S()], true],
  ['object.subset', [S(), S(1)], false],
  // arrays: sub must appear as a contiguous run of super
  ['object.subset', [[1, 2, 3, 4, 5, 6], [3, 4, 5]], true],
  ['object.subset', [[3, 4, 5], [1, 2, 3, 4, 5, 6]], false],
  ['object.subset', [[1, 2, 3, 4, 5, 6], [1, 2, 3]], true],
  ['object.subset', [[1, 2, 3], [1, 2, 3, 4, 5, 6]], false],
  ['object.subset', [[1, 2, 3, 4, 5, 6], [4, 5, 6]], true],
  ['object.subset', [[4, 5, 6], [1, 2, 3, 4, 5, 6]], false],
  ['object.subset', [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]], true],
  ['object.subset', [[1, 2, 3, 4, 5, 6], [1, 3]], false],
  ['object.subset', [[1, 2, 1, 2, 3], [1, 2, 3]], true],
  ['object.subset', [[1, 1, 2], [1, 2]], true],
  ['object.subset', [[1, 2, 3], [3, 2]], false],
  ['object.subset', [[[1, 2], { a: 1 }], [{ a: 1 }]], true],
  ['object.subset', [[{ a: 1, b: 2 }], [{ a: 1 }]], false], // no recursion into array elements
  ['object.subset', [[], []], true],
  ['object.subset', [[1], []], true],
  ['object.subset', [[], [1]], false],
  // array super, set sub (OPA counts super elements that are members of sub)
  ['object.subset', [[1, 2, 3, 4, 5, 6], S(4, 3, 2)], true],
  ['object.subset', [[1, 2, 3, 4, 5, 6], S(9, 8, 7)], false],
  ['object.subset', [[1, 2, 3, 4, 5, 6], S(6, 7)], false],
  ['object.subset', [['a', S(1)], S(S(1))], true],
  ['object.subset', [[1], S()], true],
  ['object.subset', [[], S()], false], // OPA quirk: an empty array matches nothing
  ['object.subset', [[1, 1], S(1, 2)], true], // OPA quirk: duplicates count again
  // operand types OPA rejects (type error) → undefined
  ['object.subset', [S(4, 3, 2), [1, 2, 3, 4, 5, 6]], undefined],
  ['object.subset', [S(9, 8, 7), [1, 2, 3, 4, 5, 6]], undefined],
  ['object.subset', [{ a: 1 }, S('a')], undefined],
  ['object.subset', [{ a: 1 }, ['a']], undefined],
  ['object.subset', [[1], { a: 1 }], undefined],
  ['object.subset', [1, 1], undefined],
  ['object.subset', ['ab', 'a'], undefined],
  ['object.subset', [null, null], undefined],
]);

// walk: pre-order [path, value] pairs; children in array / key / element order.
const WALK_OBJ: V = {
  bar: 'baz',
  qux: [1, { p: 'rego', q: 'rules' }, S(1, 2, 3, { a: 'b', c: S('d', 'e', 1) })],
};
const WO: V = { a: 'b', c: S(1, 'd', 'e') };
const WQ: V = [1, { p: 'rego', q: 'rules' }, S(1, 2, 3, WO)];
const Q975_A0: V = { b: { foo: 1, bar: 2 } };
const Q975_A1: V = { b: { baz: 3, qux: 4 } };
const Q975: V = { a: [Q975_A0, Q975_A1] };
const C971_0: V = { x: [true, false, 'foo'], y: [null, 3.14159], z: { p: true, q: false } };
const C971: V = [C971_0];
table('walk', [
  ['walk', [1], [[[], 1]]],
  ['walk', ['s'], [[[], 's']]],
  ['walk', [null], [[[], null]]],
  ['walk', [[]], [[[], []]]],
  ['walk', [{}], [[[], {}]]],
  ['walk', [S()], [[[], S()]]],
  ['walk', [[1, 2, 3, 4]], [[[], [1, 2, 3, 4]], [[0], 1], [[1], 2], [[2], 3], [[3], 4]]],
  ['walk', [{ v2: 'goodbye', v1: 'hello' }], [
    [[], { v1: 'hello', v2: 'goodbye' }], [['v1'], 'hello'], [['v2'], 'goodbye'],
  ]],
  ['walk', [[{ foo: 1, bar: 2, bazoo: 3 }]], [
    [[], [{ bar: 2, bazoo: 3, foo: 1 }]],
    [[0], { bar: 2, bazoo: 3, foo: 1 }],
    [[0, 'bar'], 2], [[0, 'bazoo'], 3], [[0, 'foo'], 1],
  ]],
  ['walk', [Q975], [
    [[], Q975],
    [['a'], [Q975_A0, Q975_A1]],
    [['a', 0], Q975_A0],
    [['a', 0, 'b'], { bar: 2, foo: 1 }],
    [['a', 0, 'b', 'bar'], 2],
    [['a', 0, 'b', 'foo'], 1],
    [['a', 1], Q975_A1],
    [['a', 1, 'b'], { baz: 3, qux: 4 }],
    [['a', 1, 'b', 'baz'], 3],
    [['a', 1, 'b', 'qux'], 4],
  ]],
  ['walk', [C971], [
    [[], C971],
    [[0], C971_0],
    [[0, 'x'], [true, false, 'foo']],
    [[0, 'x', 0], true], [[0, 'x', 1], false], [[0, 'x', 2], 'foo'],
    [[0, 'y'], [null, 3.14159]],
    [[0, 'y', 0], null], [[0, 'y', 1], 3.14159],
    [[0, 'z'], { p: true, q: false }],
    [[0, 'z', 'p'], true], [[0, 'z', 'q'], false],
  ]],
  // sets: elements in sorted order (numbers < strings < … < objects), the element is its own key
  ['walk', [WALK_OBJ], [
    [[], { bar: 'baz', qux: WQ }],
    [['bar'], 'baz'],
    [['qux'], WQ],
    [['qux', 0], 1],
    [['qux', 1], { p: 'rego', q: 'rules' }],
    [['qux', 1, 'p'], 'rego'],
    [['qux', 1, 'q'], 'rules'],
    [['qux', 2], S(1, 2, 3, WO)],
    [['qux', 2, 1], 1],
    [['qux', 2, 2], 2],
    [['qux', 2, 3], 3],
    [['qux', 2, WO], WO],
    [['qux', 2, WO, 'a'], 'b'],
    [['qux', 2, WO, 'c'], S(1, 'd', 'e')],
    [['qux', 2, WO, 'c', 1], 1],
    [['qux', 2, WO, 'c', 'd'], 'd'],
    [['qux', 2, WO, 'c', 'e'], 'e'],
  ]],
  ['walk', [S(S(), [])], [[[], S([], S())], [[[]], []], [[S()], S()]]],
]);

describe('walk on deep and wide inputs', () => {
  it('handles the parser nesting limit (2048) for arrays and objects without recursion', () => {
    for (const [open, close] of [['[', ']'], ['{"k":', '}']] as const) {
      ex.opa_heap_ptr_set!(base);
      const d = 2048;
      const v = parse(open.repeat(d - 1) + '1' + close.repeat(d - 1));
      const r = ex.tg_bi_walk!(v);
      expect(ex.tg_len!(r)).toBe(d);
      for (const i of [0, 1, 1000, d - 1]) {
        const p = ex.tg_elem!(r, i);
        const path = ex.tg_elem!(p, 0);
        expect(ex.tg_len!(path)).toBe(i);
        if (i > 0) expect(fromVal(ex.tg_elem!(path, i - 1))).toBe(open === '[' ? 0 : 'k');
        if (i === d - 1) expect(fromVal(ex.tg_elem!(p, 1))).toBe(1);
      }
    }
  });

  it('nesting deeper than the parser allows (built with tg_array) still works', () => {
    ex.opa_heap_ptr_set!(base);
    let v = toVal('leaf');
    const d = 20000;
    for (let i = 0; i < d; i++) {
      const a = ex.tg_array!(1);
      ex.tg_array_push!(a, v);
      v = a;
    }
    const before = ex.opa_heap_ptr_get!();
    const r = ex.tg_bi_walk!(v);
    // paths of a chain share one buffer: memory grows linearly with depth, not quadratically
    expect((ex.opa_heap_ptr_get!() - before) / d).toBeLessThan(256);
    expect(ex.tg_len!(r)).toBe(d + 1);
    const last = ex.tg_elem!(r, d);
    expect(ex.tg_len!(ex.tg_elem!(last, 0))).toBe(d);
    expect(fromVal(ex.tg_elem!(last, 1))).toBe('leaf');
    const mid = fromVal(ex.tg_elem!(ex.tg_elem!(r, 700), 0));
    expect(mid).toEqual(Array(700).fill(0));
  });

  it('paths sharing a buffer stay independent (siblings, first children, pushes on a result path)', () => {
    const doc = [[[1, 2], [3]], { a: [4, { b: 5 }], c: S([6], 7) }];
    const r = call('walk', [doc]);
    if (!('addr' in r)) throw new Error('walk failed');
    const paths = (fromVal(r.addr) as V[][]).map((p) => p[0]);
    expect(paths).toEqual([
      [], [0], [0, 0], [0, 0, 0], [0, 0, 1], [0, 1], [0, 1, 0],
      [1], [1, 'a'], [1, 'a', 0], [1, 'a', 1], [1, 'a', 1, 'b'], [1, 'c'], [1, 'c', 7], [1, 'c', [6]], [1, 'c', [6], 0],
    ]);
    // a (forbidden, but harmless) push onto a result path reallocates instead of clobbering a longer path
    const p00 = ex.tg_elem!(ex.tg_elem!(r.addr, 2), 0);
    ex.tg_array_push!(p00, toVal('x'));
    expect(fromVal(p00)).toEqual([0, 0, 'x']);
    expect(fromVal(ex.tg_elem!(ex.tg_elem!(r.addr, 3), 0))).toEqual([0, 0, 0]);
  });

  it('visits every node of a wide, mixed document in pre-order', () => {
    const doc = { a: Array.from({ length: 300 }, (_, i) => ({ i, s: S(i, `x${i}`) })), b: 'end' };
    const want: [V[], V][] = [];
    const visit = (path: V[], x: V): void => {
      want.push([path, x]);
      if (Array.isArray(x)) x.forEach((e, i) => visit([...path, i], e));
      else if (x !== null && typeof x === 'object' && '$set' in x) for (const e of x.$set as V[]) visit([...path, e], e);
      else if (x !== null && typeof x === 'object') for (const k of Object.keys(x).sort()) visit([...path, k], (x as Record<string, V>)[k]!);
    };
    visit([], doc);
    expect(run('walk', [doc])).toEqual(want);
  });
});

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
      .filter((e) => e.name.startsWith('tg_bi_') && !e.name.startsWith('tg_bi_error_'))
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
      'object.subset', 'walk',
      'base64.encode', 'base64.decode', 'base64url.encode', 'base64url.encode_no_pad', 'base64url.decode',
      'json.marshal', 'json.unmarshal', 'units.parse_bytes', 'semver.compare',
    ].map((n) => `tg_bi_${n.replace(/\./g, '_')}:function`).sort();
    expect(names).toEqual(want);
  });
});

describe('undefined arguments', () => {
  it('a 0 (undefined) argument gives undefined, never a crash', () => {
    for (const name of ['count', 'sum', 'sort', 'abs', 'round', 'lower', 'trim_space', 'type_name', 'is_string',
      'object.keys', 'upper', 'walk']) {
      ex.opa_heap_ptr_set!(base);
      expect(ex[`tg_bi_${name.replace(/\./g, '_')}`]!(0), name).toBe(0);
    }
    for (const name of ['plus', 'minus', 'div', 'concat', 'split', 'contains', 'indexof', 'array.concat',
      'object.union', 'or', 'numbers.range', 'format_int', 'object.subset']) {
      ex.opa_heap_ptr_set!(base);
      expect(ex[`tg_bi_${name.replace(/\./g, '_')}`]!(0, 0), name).toBe(0);
    }
  });
});

// ---- strict built-in errors: tg_bi_error_clear / tg_bi_error_raise (builtins/README.md)

/** Calls a built-in on operand addresses built by `mk` (after tg_bi_error_clear), then tg_bi_error_raise. */
function raiseAfterAddrs(name: string, mk: () => number[]): { result: 'defined' | 'undefined'; raised?: string } {
  ex.opa_heap_ptr_set!(base);
  ex.tg_bi_error_clear!();
  const f = ex[`tg_bi_${name.replace(/\./g, '_')}`];
  if (!f) throw new Error(`no export for ${name}`);
  const addr = f(...mk());
  try {
    ex.tg_bi_error_raise!();
  } catch (e) {
    return { result: addr === 0 ? 'undefined' : 'defined', raised: (e as Error).message.replace(/^abort: /, '') };
  }
  return { result: addr === 0 ? 'undefined' : 'defined' };
}

/** The message tg_bi_error_raise aborts with after name(args) (undefined: no abort). */
function strictError(name: string, args: V[]): string | undefined {
  const r = raiseAfterAddrs(name, () => args.map(toVal));
  if (r.raised !== undefined) expect(r.result, `${name}: a recorded error must come with an undefined result`).toBe('undefined');
  return r.raised;
}

/** Object with arbitrary (non-string) keys. */
function objOf(pairs: [V, V][]): number {
  const o = ex.tg_object!(0);
  for (const [k, v] of pairs) ex.tg_object_insert!(o, toVal(k), toVal(v));
  return o;
}

describe('strict built-in errors: mechanism', () => {
  it('raise aborts with the recorded message once, then is a no-op', () => {
    ex.opa_heap_ptr_set!(base);
    ex.tg_bi_error_clear!();
    expect(ex.tg_bi_indexof!(toVal('abc'), toVal(''))).toBe(0);
    expect(() => ex.tg_bi_error_raise!()).toThrow('abort: eval_builtin_error: indexof: empty search character');
    expect(() => ex.tg_bi_error_raise!()).not.toThrow();
  });

  it('raise does nothing after a successful call', () => {
    ex.opa_heap_ptr_set!(base);
    ex.tg_bi_error_clear!();
    expect(ex.tg_bi_indexof!(toVal('abc'), toVal('c'))).not.toBe(0);
    expect(() => ex.tg_bi_error_raise!()).not.toThrow();
  });

  it('raise does nothing after an undefined result that is not an error', () => {
    expect(strictError('max', [[]])).toBeUndefined();
    expect(raiseAfterAddrs('object.get', () => [toVal({ a: 1 }), toVal('b'), 0])).toEqual({ result: 'undefined' });
  });

  it('tg_bi_error_clear forgets a recorded error', () => {
    ex.opa_heap_ptr_set!(base);
    ex.tg_bi_error_clear!();
    expect(ex.tg_bi_substring!(toVal('abc'), toVal(-1), toVal(1))).toBe(0);
    ex.tg_bi_error_clear!();
    expect(() => ex.tg_bi_error_raise!()).not.toThrow();
  });

  it('a later failure replaces an earlier one (non-strict mode never clears)', () => {
    ex.opa_heap_ptr_set!(base);
    ex.tg_bi_error_clear!();
    ex.tg_bi_indexof!(toVal('abc'), toVal(''));
    ex.tg_bi_substring!(toVal('abc'), toVal(-1), toVal(1));
    expect(() => ex.tg_bi_error_raise!()).toThrow('abort: eval_builtin_error: substring: negative offset');
  });

  it('successful calls allocate nothing extra and failing ones record without allocating', () => {
    ex.opa_heap_ptr_set!(base);
    const s = toVal('1.0.0'), bad = toVal('1');
    const before = ex.opa_heap_ptr_get!();
    expect(ex.tg_bi_semver_compare!(bad, s)).toBe(0);
    expect(ex.opa_heap_ptr_get!()).toBe(before);
  });

  it('messages are ASCII: non-ASCII escaped like strconv.QuoteToASCII, invalid UTF-8 as \\xNN', () => {
    expect(strictError('semver.compare', ['é😀\u0001"\\\n', '1.0.0'])).toBe(
      'eval_builtin_error: semver.compare: operand 1: string "\\u00e9\\U0001f600\\x01\\"\\\\\\n" is not a valid SemVer',
    );
    const r = raiseAfterAddrs('base64url.decode', () => {
      const bytes = [0x61, 0xff, 0xc3, 0xa9, 0x62, 0x00, 0x63, 0x64, 0x65];
      const p = ex.opa_malloc!(bytes.length);
      new Uint8Array(memory.buffer).set(bytes, p);
      return [ex.tg_string!(p, bytes.length)];
    });
    expect(r.raised).toBe('eval_builtin_error: base64url.decode: illegal base64url string: a\\xff\\u00e9b\\x00cde');
  });
});

type ErrCase = [name: string, args: V[], message: string | undefined];

function errTable(title: string, cases: ErrCase[]): void {
  describe(title, () => {
    it.each(cases.map((c) => [`${c[0]}(${c[1].map((a) => JSON.stringify(a)).join(', ')})`, ...c] as const))(
      '%s',
      (_label, name, args, want) => {
        expect(strictError(name, args)).toBe(want);
      },
    );
  });
}

const BE = (name: string, m: string): string => `eval_builtin_error: ${name}: ${m}`;
const TE = (name: string, m: string): string => `eval_type_error: ${name}: ${m}`;

errTable('strict built-in errors: encoding.ts', [
  // conformance units/test-parse-bytes-errors.yaml
  ['units.parse_bytes', [''], BE('units.parse_bytes', 'units.parse_bytes error: no byte amount provided')],
  ['units.parse_bytes', ['GB'], BE('units.parse_bytes', 'units.parse_bytes error: no byte amount provided')],
  ['units.parse_bytes', ['foo'], BE('units.parse_bytes', 'units.parse_bytes error: no byte amount provided')],
  ['units.parse_bytes', ['0.0.0'], BE('units.parse_bytes', 'units.parse_bytes error: could not parse byte amount to a number')],
  ['units.parse_bytes', ['.5.2'], BE('units.parse_bytes', 'units.parse_bytes error: could not parse byte amount to a number')],
  ['units.parse_bytes', ['100 kb'], BE('units.parse_bytes', 'units.parse_bytes error: spaces not allowed in resource strings')],
  ['units.parse_bytes', [' 327MiB '], BE('units.parse_bytes', 'units.parse_bytes error: spaces not allowed in resource strings')],
  ['units.parse_bytes', ['12"FOO"'], BE('units.parse_bytes', 'units.parse_bytes error: byte unit foo not recognized')],
  ['units.parse_bytes', ['1kibx'], BE('units.parse_bytes', 'units.parse_bytes error: byte unit kibx not recognized')],
  ['units.parse_bytes', ['1ÄB'], BE('units.parse_bytes', 'units.parse_bytes error: byte unit \\u00e4b not recognized')],
  ['units.parse_bytes', ['1..2kb'], BE('units.parse_bytes', 'units.parse_bytes error: could not parse byte amount to a number')],
  ['units.parse_bytes', ['1e3'], undefined], // OPA: scientific notation (gap: undefined, no message)
  ['units.parse_bytes', ['10KiB'], undefined],
  ['units.parse_bytes', [1], TE('units.parse_bytes', 'operand 1 must be string but got number')],
  // conformance semvercompare/test-semvercompare-0347.yaml
  ['semver.compare', ['1', '1.0.0'], BE('semver.compare', 'operand 1: string "1" is not a valid SemVer')],
  ['semver.compare', ['1.0.0', '1.0'], BE('semver.compare', 'operand 2: string "1.0" is not a valid SemVer')],
  ['semver.compare', ['1.0.0', 2], TE('semver.compare', 'operand 2 must be string but got number')],
  ['semver.compare', ['1.0.0', '1.0.1'], undefined],
  // Go's base64.CorruptInputError offsets
  ['base64.decode', ['YWJj!'], BE('base64.decode', 'illegal base64 data at input byte 4')],
  ['base64.decode', ['YQ'], BE('base64.decode', 'illegal base64 data at input byte 0')],
  ['base64.decode', ['YWJjYQ'], BE('base64.decode', 'illegal base64 data at input byte 4')],
  ['base64.decode', ['YQ='], BE('base64.decode', 'illegal base64 data at input byte 3')],
  ['base64.decode', ['YQ==x'], BE('base64.decode', 'illegal base64 data at input byte 4')],
  ['base64.decode', ['YWJjZA=x'], BE('base64.decode', 'illegal base64 data at input byte 6')],
  ['base64.decode', ['Y==='], BE('base64.decode', 'illegal base64 data at input byte 1')],
  ['base64.decode', ['=QQQ'], BE('base64.decode', 'illegal base64 data at input byte 0')],
  ['base64.decode', ['YWJj\nYQ==\n'], undefined],
  ['base64.decode', ['YWJj-_'], BE('base64.decode', 'illegal base64 data at input byte 4')],
  ['base64url.decode', ['YWJjZ'], BE('base64url.decode', 'illegal base64url string: YWJjZ')],
  ['base64url.decode', ['YW+j'], BE('base64url.decode', 'illegal base64 data at input byte 2')],
  ['base64url.decode', ['YQ'], undefined],
  ['base64.encode', [1], TE('base64.encode', 'operand 1 must be string but got number')],
  // Go's json.Decoder messages (util.UnmarshalJSON)
  ['json.unmarshal', [''], BE('json.unmarshal', 'EOF')],
  ['json.unmarshal', [' \n'], BE('json.unmarshal', 'EOF')],
  ['json.unmarshal', ['x'], BE('json.unmarshal', "invalid character 'x' looking for beginning of value")],
  ['json.unmarshal', ['{"a" 1}'], BE('json.unmarshal', "invalid character '1' after object key")],
  ['json.unmarshal', ['{"a": 1 "b"}'], BE('json.unmarshal', `invalid character '"' after object key:value pair`)],
  ['json.unmarshal', ['{1: 2}'], BE('json.unmarshal', "invalid character '1' looking for beginning of object key string")],
  ['json.unmarshal', ['[1 2]'], BE('json.unmarshal', "invalid character '2' after array element")],
  ['json.unmarshal', ['[1,]'], BE('json.unmarshal', "invalid character ']' looking for beginning of value")],
  ['json.unmarshal', ['[01]'], BE('json.unmarshal', "invalid character '1' after array element")],
  ['json.unmarshal', ['[1'], BE('json.unmarshal', 'unexpected EOF')],
  ['json.unmarshal', ['{"a":'], BE('json.unmarshal', 'unexpected EOF')],
  ['json.unmarshal', ['"abc'], BE('json.unmarshal', 'unexpected EOF')],
  ['json.unmarshal', ['"a\tb"'], BE('json.unmarshal', "invalid character '\\t' in string literal")],
  ['json.unmarshal', ['"\\x"'], BE('json.unmarshal', "invalid character 'x' in string escape code")],
  ['json.unmarshal', ['"\\u12g4"'], BE('json.unmarshal', "invalid character 'g' in \\u hexadecimal character escape")],
  ['json.unmarshal', ['-a'], BE('json.unmarshal', "invalid character 'a' in numeric literal")],
  ['json.unmarshal', ['1.e5'], BE('json.unmarshal', "invalid character 'e' after decimal point in numeric literal")],
  ['json.unmarshal', ['[1e+]'], BE('json.unmarshal', "invalid character ']' in exponent of numeric literal")],
  ['json.unmarshal', ['tru'], BE('json.unmarshal', 'unexpected EOF')],
  ['json.unmarshal', ['[nul!]'], BE('json.unmarshal', "invalid character '!' in literal null (expecting 'l')")],
  ['json.unmarshal', ["'a'"], BE('json.unmarshal', "invalid character '\\'' looking for beginning of value")],
  ['json.unmarshal', ['\\'], BE('json.unmarshal', "invalid character '\\\\' looking for beginning of value")],
  ['json.unmarshal', ['\u00e9'], BE('json.unmarshal', "invalid character '\\u00c3' looking for beginning of value")],
  ['json.unmarshal', ['12x'], BE('json.unmarshal', "invalid character 'x' after top-level value")],
  ['json.unmarshal', ['{}x'], BE('json.unmarshal', "invalid character 'x' looking for beginning of value")],
  ['json.unmarshal', ['{} ]'], BE('json.unmarshal', "invalid character ']' looking for beginning of value")],
  ['json.unmarshal', ['1 2'], BE('json.unmarshal', "error: invalid character '2' after top-level value")],
  ['json.unmarshal', ['[] {'], BE('json.unmarshal', "error: invalid character '{' after top-level value")],
  ['json.unmarshal', ['1 "ab"'], BE('json.unmarshal', "error: invalid character 'ab' after top-level value")],
  ['json.unmarshal', ['1 true'], BE('json.unmarshal', "error: invalid character '%!s(bool=true)' after top-level value")],
  ['json.unmarshal', ['1 tru'], BE('json.unmarshal', 'unexpected EOF')],
  ['json.unmarshal', ['{"a": [1, 2]}'], undefined],
]);

describe('json.unmarshal: what OPA accepts past the first value', () => {
  it('a `null` token after the value is ignored (OPA reads exactly one more token)', () => {
    expect(run('json.unmarshal', ['{"a": 1} null'])).toEqual({ a: 1 });
    expect(run('json.unmarshal', ['1 null x'])).toEqual(1);
    expect(strictError('json.unmarshal', ['[1] null'])).toBeUndefined();
  });
});

errTable('strict built-in errors: numbers.ts', [
  // conformance numbersrange/test-numbersrange-0260/0261.yaml
  ['numbers.range', [3.14, 4], TE('numbers.range', 'operand 1 must be integer number but got floating-point number')],
  ['numbers.range', [1, 4.5], TE('numbers.range', 'operand 2 must be integer number but got floating-point number')],
  ['numbers.range', ['1', 4], TE('numbers.range', 'operand 1 must be integer but got string')],
  ['numbers.range', [1, 3], undefined],
  ['sum', [[1, 'a']], TE('sum', 'operand 1 must be array of numbers but got array containing string')],
  ['sum', [S(1, null)], TE('sum', 'operand 1 must be set of numbers but got set containing null')],
  ['product', [[2, [3]]], TE('product', 'operand 1 must be array of numbers but got array containing array')],
  ['union', [S(S(1), 2)], TE('union', 'operand 1 must be set but got number')],
  ['intersection', [S(S(1), 'x')], TE('intersection', 'operand 1 must be set but got string')],
  ['count', [1], TE('count', 'operand 1 must be one of {array, object, set, string} but got number')],
  ['max', [true], TE('max', 'operand 1 must be one of {set, array} but got boolean')],
  ['plus', [1, 'a'], TE('plus', 'operand 2 must be number but got string')],
  ['minus', [1, S()], TE('minus', 'operand 2 must be number but got set')],
  ['minus', [S(), 1], TE('minus', 'operand 2 must be set but got number')],
  ['minus', ['a', 1], TE('minus', 'operand 1 must be one of {number, set} but got string')],
  ['or', [S(), [1]], TE('or', 'operand 2 must be set but got array')],
  ['abs', [null], TE('abs', 'operand 1 must be number but got null')],
  ['floor', [{}], TE('floor', 'operand 1 must be number but got object')],
  ['max', [[]], undefined],
]);

errTable('strict built-in errors: strings.ts', [
  ['indexof', ['abc', ''], BE('indexof', 'empty search character')],
  ['indexof', ['abc', 'x'], undefined],
  ['substring', ['abc', -1, 1], BE('substring', 'negative offset')],
  ['substring', ['abc', 1.5, 1], TE('substring', 'operand 2 must be integer number but got floating-point number')],
  ['substring', ['abc', 1, 'x'], TE('substring', 'operand 3 must be number but got string')],
  ['concat', ['-', ['a', 1]], TE('concat', 'operand 2 must be array of strings but got array containing number')],
  ['concat', ['-', [1]], TE('concat', 'operand 2 must be array of strings but got array containing number')],
  ['concat', ['-', S('a', true)], TE('concat', 'operand 2 must be set of strings but got set containing boolean')],
  ['concat', ['-', 'ab'], TE('concat', 'operand 2 must be one of {set, array} but got string')],
  ['format_int', [10, 7], TE('format_int', 'operand 2 must be one of {2, 8, 10, 16}')],
  ['format_int', [10, 2.5], TE('format_int', 'operand 2 must be one of {2, 8, 10, 16}')],
  ['format_int', ['10', 2], TE('format_int', 'operand 1 must be number but got string')],
  ['to_number', ['abc'], BE('to_number', 'strconv.ParseFloat: parsing "abc": invalid syntax')],
  ['to_number', [' 1'], BE('to_number', 'strconv.ParseFloat: parsing " 1": invalid syntax')],
  ['to_number', ['1e400'], BE('to_number', 'strconv.ParseFloat: parsing "1e400": value out of range')],
  ['to_number', ['-Inf'], TE('to_number', 'operand 1 must be valid number string but got string')],
  ['to_number', ['NaN'], TE('to_number', 'operand 1 must be valid number string but got string')],
  ['to_number', [[1]], TE('to_number', 'operand 1 must be one of {null, boolean, number, string} but got array')],
  ['to_number', ['+1.5'], undefined],
  ['strings.replace_n', [{ a: 1 }, 'abc'], TE('strings.replace_n', 'operand 1 non-string value found in pattern object')],
  ['strings.replace_n', [{ a: 'b' }, 100], TE('strings.replace_n', 'operand 2 must be string but got number')],
  ['strings.replace_n', [[], 'abc'], TE('strings.replace_n', 'operand 1 must be object but got array')],
  ['split', ['a', 1], TE('split', 'operand 2 must be string but got number')],
  ['replace', ['a', 'b', null], TE('replace', 'operand 3 must be string but got null')],
  ['trim_left', [1, 'b'], TE('trim_left', 'operand 1 must be string but got number')],
  ['upper', [[]], TE('upper', 'operand 1 must be string but got array')],
]);

describe('strict built-in errors: strings.replace_n non-string key (conformance replacen/test-replacen-bad-operands.yaml)', () => {
  it('reports the key before values of later keys', () => {
    expect(raiseAfterAddrs('strings.replace_n', () => [objOf([[2, 'x'], ['a', 'b']]), toVal('foo')]).raised).toBe(
      TE('strings.replace_n', 'operand 1 non-string key found in pattern object'),
    );
    expect(raiseAfterAddrs('strings.replace_n', () => [objOf([['a', 1], ['b', 'c']]), toVal('foo')]).raised).toBe(
      TE('strings.replace_n', 'operand 1 non-string value found in pattern object'),
    );
  });
});

errTable('strict built-in errors: collections.ts', [
  ['array.concat', [{}, []], TE('array.concat', 'operand 1 must be array but got object')],
  ['array.concat', [[], {}], TE('array.concat', 'operand 2 must be array but got object')],
  ['array.slice', [[1, 2], 0.5, 1], TE('array.slice', 'operand 2 must be integer number but got floating-point number')],
  ['array.slice', [[1, 2], 0, '1'], TE('array.slice', 'operand 3 must be number but got string')],
  ['object.get', ['x', 'a', 1], TE('object.get', 'operand 1 must be object but got string')],
  ['object.keys', ['x'], TE('object.keys', 'operand 1 must be object but got string')],
  ['object.remove', [true, []], TE('object.remove', 'operand 1 must be object but got boolean')],
  ['object.remove', [{}, 1], TE('object.remove', 'operand 2 must be one of {object, set, array} but got number')],
  ['object.filter', [[], []], TE('object.filter', 'operand 1 must be object but got array')],
  ['object.union', [{}, []], TE('object.union', 'operand 2 must be object but got array')],
  ['object.subset', [{}, []], TE('object.subset', 'both arguments object.subset must be of the same type or array and set')],
  ['object.subset', [{ a: 1 }, { a: 1 }], undefined],
  ['walk', [1], undefined],
]);
