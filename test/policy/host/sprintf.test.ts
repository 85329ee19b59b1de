import { describe, expect, it } from 'vitest';
import { SPRINTF_BUILTINS, regoString } from '../../../src/policy/host/sprintf.js';
import { RegoSet, type HostContext, type RegoValue, type SetAwareBuiltin } from '../../../src/policy/host/types.js';

const ctx: HostContext = { nowNs: 0n, cache: new Map() };
const sprintf = (format: string, args: RegoValue[]): RegoValue | undefined => (SPRINTF_BUILTINS['sprintf'] as SetAwareBuiltin).impl([format, args], ctx);

describe('sprintf: OPA conformance cases', () => {
  it.each<[string, RegoValue[], string]>([
    ['%s', [123456789123456789123n], '123456789123456789123'],
    ['%s', [1208925819614629174706175n], '1208925819614629174706175'],
    ['%f', [13], '13.000000'],
    ['%.1f', [13], '13.0'],
    ['%v', ['hello!'], 'hello!'],
    ['%d %s %v', [13, 1208925819614629174706175n, 'hello!'], '13 1208925819614629174706175 hello!'],
    ['%.3f %v %v', [13, 2424284525425, 'hello!'], '13.000 2424284525425 hello!'],
    ['%.3f %d %v', [13, 2424284525425, 'hello!'], '13.000 2424284525425 hello!'],
    ['%.3[1]f %d %v', [13, 'hello!'], '13.000 13 hello!'],
    ['%.3f %d %[1]v', [13, 45835334], '13.000 45835334 13'],
  ])('sprintf(%s, …) #%#', (format, args, want) => {
    expect(sprintf(format, args)).toBe(want);
  });

  it('regorus cases that agree with Go', () => {
    expect(sprintf('User %s from %s has access', ['alice', 'engineering'])).toBe('User alice from engineering has access');
    expect(sprintf('No spaces%s%s', ['A', 'B'])).toBe('No spacesAB');
    expect(sprintf('Number: %d', [42])).toBe('Number: 42');
    expect(sprintf('Hex: %x', [255])).toBe('Hex: ff');
    expect(sprintf('Binary: %b', [15])).toBe('Binary: 1111');
    expect(sprintf('String: %s, Number: %d, Percent: %%', ['hello', 123])).toBe('String: hello, Number: 123, Percent: %');
    expect(sprintf('Value: %v', [{ key: 'value' }])).toBe('Value: {"key": "value"}');
    expect(sprintf('Padded: %5d', [42])).toBe('Padded:    42');
    expect(sprintf('Zero padded: %05d', [42])).toBe('Zero padded: 00042');
    expect(sprintf('Decimal: %.2f', [3.14159])).toBe('Decimal: 3.14');
  });
});

describe('sprintf: Go fmt semantics', () => {
  it('formats floats like strconv (shortest %v, %e exponents, %g switch, half-even on exact ties)', () => {
    expect(sprintf('%f', [3.14])).toBe('3.140000');
    expect(sprintf('%v %v', [1.5, 1234567.5])).toBe('1.5 1.2345675e+06');
    expect(sprintf('%e', [123456.789])).toBe('1.234568e+05');
    expect(sprintf('%g %G', [1e-7, 1e21])).toBe('1e-07 1E+21');
    expect(sprintf('%.3g', [1.0])).toBe('1');
    expect(sprintf('%.0f %.0f %.0f', [0.5, 1.5, 2.5])).toBe('0 2 2');
    expect(sprintf('%.2f', [2.675])).toBe('2.67'); // 2.675 is 2.67499999… as a double
    expect(sprintf('%08.3f|%+.2e', [-3.14159, 12345.678])).toBe('-003.142|+1.23e+04');
    expect(sprintf('%10.4v|', [3.14159])).toBe('     3.142|');
    expect(sprintf('%x %X', [1.5, -3.75])).toBe('0x1.8p+00 -0X1.EP+01');
  });

  it('formats integers with flags, width and precision', () => {
    expect(sprintf('%o %O %#x %#o %#b', [64, 64, 255, 64, 5])).toBe('100 0o100 0xff 0100 0b101');
    expect(sprintf('%-5d|%+d|% d|%.4d|%6.3d', [42, 5, 5, 7, -7])).toBe('42   |+5| 5|0007|  -007');
    expect(sprintf('%X', [-255])).toBe('-FF');
    expect(sprintf('%d', [-9223372036854775808n])).toBe('-9223372036854775808');
    expect(sprintf('%x', [1n << 80n])).toBe('100000000000000000000');
    expect(sprintf('%c %U %#U %q', [65, 0x1f600, 65, 66])).toBe("A U+1F600 U+0041 'A' 'B'");
  });

  it('formats strings (%q quoting, %x bytes, precision truncates runes, width counts runes)', () => {
    expect(sprintf('%q', ['hi\n"é'])).toBe('"hi\\n\\"é"');
    expect(sprintf('%#q %#q', ['a`b', 'ab'])).toBe('"a`b" `ab`');
    expect(sprintf('%+q', ['é😀'])).toBe('"\\u00e9\\U0001f600"');
    expect(sprintf('%x|% x|%X', ['hi', 'hi', 'é'])).toBe('6869|68 69|C3A9');
    expect(sprintf('%.2s|%5s|%-5s|', ['héllo', 'é', 'ab'])).toBe('hé|    é|ab   |');
  });

  it('prints composite and other values as Rego does, and as strings to the verbs', () => {
    expect(sprintf('%v', [[1, 'a', true, null, { b: [], a: {} }]])).toBe('[1, "a", true, null, {"a": {}, "b": []}]');
    expect(sprintf('%s %v', [true, null])).toBe('true null');
    expect(sprintf('%d', [true])).toBe('%!d(string=true)');
    expect(sprintf('%t', [true])).toBe('%!t(string=true)');
    expect(sprintf('%v %v %s', [new RegoSet(['b', 1, null, [1]]), new RegoSet([]), { s: new RegoSet([2, 1]) }])).toBe('{null, 1, "b", [1]} set() {"s": {1, 2}}');
  });

  it('reports mismatches, missing and extra arguments as Go does', () => {
    expect(sprintf('%s %s', [1])).toBe('%!s(int=1) %!s(MISSING)');
    expect(sprintf('%d', [1.5])).toBe('%!d(float64=1.5)');
    expect(sprintf('%d', ['x'])).toBe('%!d(string=x)');
    expect(sprintf('%c', [1n << 70n])).toBe('%!c(big.Int=1180591620717411303424)');
    expect(sprintf('Value: %s %d', ['only_one'])).toBe('Value: only_one %!d(MISSING)');
    expect(sprintf('%d', [1, 'a', 2.5])).toBe('1%!(EXTRA string=a, float64=2.5)');
    expect(sprintf('%[2]d', [1, 2])).toBe('2'); // an explicit index turns the EXTRA check off
    expect(sprintf('%[3]d', [1])).toBe('%!d(BADINDEX)');
    expect(sprintf('%', [])).toBe('%!(NOVERB)');
    expect(sprintf('%!', [])).toBe('%!!(MISSING)');
    expect(sprintf('%z', [1])).toBe('%!z(int=1)');
    expect(sprintf('%T %T %T %T', ['a', 1, 1.5, 1n << 70n])).toBe('string int float64 *big.Int');
    expect(sprintf('%#v', ['a"b'])).toBe('"a\\"b"');
    expect(sprintf('%+v %+d %#v %#x', [0, 0, 255, 255])).toBe('0 +0 255 0xff');
  });

  it('takes width and precision from arguments', () => {
    expect(sprintf('%*d|%-*d|%.*f', [5, 1, 5, 1, 2, 3.14159])).toBe('    1|1    |3.14');
    expect(sprintf('%*d', ['x', 1])).toBe('%!(BADWIDTH)1');
  });
});

describe('regoString', () => {
  it('quotes like Go strconv.Quote and sorts object keys by code point', () => {
    expect(regoString({ '\u{1F600}': 1, '\ufffd': 2 })).toBe('{"\ufffd": 2, "\u{1F600}": 1}');
    expect(regoString('\uffff')).toBe('"\\uffff"'); // a noncharacter is not printable
    expect(regoString('a\u0001\t')).toBe('"a\\x01\\t"');
  });
});
