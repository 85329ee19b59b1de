import { describe, expect, it } from 'vitest';
import { UNITS_BUILTINS } from '../../../src/policy/host/units.js';
import type { HostBuiltin, HostContext, HostValue } from '../../../src/policy/host/types.js';

const ctx: HostContext = { nowNs: 0n, cache: new Map() };
const parse = (s: string): HostValue | undefined => (UNITS_BUILTINS['units.parse'] as HostBuiltin).impl([s], ctx);

describe('units.parse (OPA conformance cases)', () => {
  it.each<[string, HostValue]>([
    ['0', 0], ['0.0', 0], ['.0', 0], ['12345', 12345], ['"100TI"', 109951162777600],
    ['10K', 10000], ['10KI', 10240], ['10k', 10000], ['10Ki', 10240], ['200M', 200000000], ['300Gi', 322122547200],
    ['1.1K', 1100], ['1.1Ki', 1126.4], ['.5K', 500], ['100k', 100000], ['100ki', 102400], ['100Ki', 102400],
    ['100M', 100000000], ['100mi', 104857600], ['100Mi', 104857600], ['100g', 100000000000], ['100gi', 107374182400],
    ['100t', 100000000000000], ['100T', 100000000000000], ['100ti', 109951162777600], ['100Ti', 109951162777600],
    ['100p', 100000000000000000n], ['100P', 100000000000000000n], ['100pi', 112589990684262400n], ['100Pi', 112589990684262400n],
    ['10e', 10000000000000000000n], ['10E', 10000000000000000000n], ['10ei', 11529215046068469760n], ['10Ei', 11529215046068469760n],
    ['500m', 0.5], ['0.0005K', 0.5], ['0.0000005M', 0.5], ['128Gi', 137438953472], ['2Mi', 2097152],
  ])('units.parse(%j)', (s, want) => {
    expect(parse(s)).toBe(want);
  });

  it('compares as OPA expects', () => {
    expect(parse('8g')! > parse('8m')!).toBe(true);
    expect(parse('1234k')! < parse('1g')!).toBe(true);
    expect(parse('3Mi')! > parse('3M')!).toBe(true);
    expect(parse('4.1Mi')! > parse('4Mi')!).toBe(true);
    expect(Math.round((parse('100m') as number) * 1000)).toBe(100);
  });

  it.each<[string, string]>([
    ['', 'no amount provided'], ['G', 'no amount provided'], ['foo', 'no amount provided'], ['-1k', 'no amount provided'],
    ['0.0.0', 'could not parse amount to a number'], ['.5.2', 'could not parse amount to a number'], ['.', 'could not parse amount to a number'],
    ['100 k', 'spaces not allowed in resource strings'], [' 327Mi ', 'spaces not allowed in resource strings'],
    ['1mb', 'unit mb not recognized'], ['1Q', 'unit Q not recognized'], ['1ms', 'unit ms not recognized'],
  ])('units.parse(%j) fails: %s', (s, msg) => {
    expect(() => parse(s)).toThrow(msg);
  });
});

describe('units.parse: exactness', () => {
  it('"m" is the binary double 0.001, so milli results are never integral but print rounded to 10 places', () => {
    expect(parse('1m')).toBe(0.001);
    expect(parse('1000m')).toBe(1);
    expect(parse('1.5')).toBe(1.5);
    expect(parse('1.')).toBe(1);
  });

  it('keeps large integers exact', () => {
    expect(parse('9007199254740993')).toBe(9007199254740993n);
    expect(parse('1024Ei')).toBe(1n << 70n);
    expect(parse('0.5Ki')).toBe(512);
  });
});
