import { describe, expect, it } from 'vitest';
import { canonicalize, canonicalBytes, CanonicalizationError } from '../../src/audit/canonical.js';

function fromHex(hex: string): number {
  const buf = Buffer.from(hex.padStart(16, '0'), 'hex');
  return buf.readDoubleBE(0);
}

describe('RFC 8785 JCS', () => {
  it('RFC 8785 §3.2.2 example: literals, numbers and strings', () => {
    // Parsed by JSON.parse exactly as the RFC's input text.
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        '"literals": [null, true, false]}',
    ) as unknown;
    expect(canonicalize(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('RFC 8785 §3.2.3 example: property sorting by UTF-16 code units', () => {
    const input = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh",' +
        '"1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control",' +
        '"\\u00f6": "Latin Small Letter O With Diaeresis"}',
    ) as Record<string, string>;
    const out = JSON.parse(canonicalize(input)) as Record<string, string>;
    // Integer-like key "1" would be reordered by JS objects, so check the text order directly.
    const text = canonicalize(input);
    const order = ['Carriage Return', 'One', 'Control', 'Latin Small', 'Euro Sign', 'Emoji', 'Hebrew'].map((s) =>
      text.indexOf(s),
    );
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(Object.keys(out)).toHaveLength(7);
  });

  it('RFC 8785 §3.2.4 example: UTF-8 output bytes', () => {
    expect(canonicalBytes({ a: '€' }).toString('hex')).toBe('7b2261223a22e282ac227d');
  });

  it('RFC 8785 Appendix B number serialization vectors', () => {
    const vectors: Array<[string, string]> = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'],
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef4f', '999999999999999900000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ];
    for (const [hex, expected] of vectors) expect(canonicalize(fromHex(hex)), hex).toBe(expected);
  });

  it('rejects values that are not JSON', () => {
    expect(() => canonicalize(fromHex('7fffffffffffffff'))).toThrow(CanonicalizationError); // NaN
    expect(() => canonicalize(fromHex('7ff0000000000000'))).toThrow(CanonicalizationError); // Infinity
    expect(() => canonicalize({ a: undefined })).toThrow(CanonicalizationError);
    expect(() => canonicalize([undefined])).toThrow(CanonicalizationError);
    expect(() => canonicalize({ a: 1n })).toThrow(CanonicalizationError);
    expect(() => canonicalize({ a: new Date(0) })).toThrow(CanonicalizationError);
    expect(() => canonicalize({ a: () => 1 })).toThrow(CanonicalizationError);
    expect(() => canonicalize('\ud800')).toThrow(CanonicalizationError);
  });

  it('edge cases: nesting, empty containers, control characters, key order independence', () => {
    expect(canonicalize({ b: [], a: {}, c: [{ z: 1, y: null }] })).toBe('{"a":{},"b":[],"c":[{"y":null,"z":1}]}');
    expect(canonicalize('\u0000\u0008\u0009\u001f\u007f')).toBe('"\\u0000\\b\\t\\u001f\u007f"');
    expect(canonicalize({ x: 1, y: 2 })).toBe(canonicalize({ y: 2, x: 1 }));
    expect(canonicalize(-0)).toBe('0');
    expect(canonicalize('😀')).toBe('"😀"');
    expect(canonicalize({ 'b': 1, 'a\u0000': 2, 'a': 3 })).toBe('{"a":3,"a\\u0000":2,"b":1}');
  });
});
