import { describe, expect, it } from 'vitest';
import { TIME_BUILTINS } from '../../../src/policy/host/time.js';
import { BuiltinError, BuiltinTypeError, type HostBuiltin, type HostContext, type HostValue } from '../../../src/policy/host/types.js';

const ctx: HostContext = { nowNs: 1_700_000_000_123_456_789n, cache: new Map() };
const call = (name: string, ...args: HostValue[]): HostValue | undefined => (TIME_BUILTINS[name] as HostBuiltin).impl(args, ctx);
const fails = (name: string, ...args: HostValue[]) => expect(() => call(name, ...args));

describe('time.now_ns', () => {
  it('returns the evaluation time, exactly', () => {
    expect(call('time.now_ns')).toBe(1_700_000_000_123_456_789n);
    expect((TIME_BUILTINS['time.now_ns'] as HostBuiltin).impl([], { nowNs: 5n, cache: new Map() })).toBe(5);
  });
});

describe('time.parse_ns / time.parse_rfc3339_ns (OPA conformance cases)', () => {
  it.each<[string, string, HostValue]>([
    ['2006-01-02T15:04:05Z07:00', '2017-06-02T19:00:00-07:00', 1496455200000000000n],
    ['2006-01-02T15:04:05Z07:00', '1677-09-21T00:12:43.145224192-00:00', -9223372036854775808n],
    ['2006-01-02T15:04:05Z07:00', '2262-04-11T23:47:16.854775807-00:00', 9223372036854775807n],
    ["01/02 03:04:05PM '06 -0700", "06/02 07:00:00PM '17 -0700", 1496455200000000000n],
    ['02 Jan 06 15:04 -0700', '02 Jun 17 19:00 -0700', 1496455200000000000n],
    ['2006-01-02T15:04:05', '2016-05-10T19:06:42', 1462907202000000000n],
    ['2006-01-02 15:04:05', '2015-09-05 23:56:04', 1441497364000000000n],
    ['2006-01-02T15:04:05.999999999', '2023-12-24T18:58:45.73439', 1703444325734390000n],
  ])('parse_ns(%j, %j)', (layout, value, want) => {
    expect(call('time.parse_ns', layout, value)).toBe(want);
  });

  it('rejects instants outside int64 nanoseconds', () => {
    fails('time.parse_ns', '2006-01-02T15:04:05Z07:00', '1677-09-21T00:12:43.145224191-00:00').toThrow('time outside of valid range');
    fails('time.parse_ns', '2006-01-02T15:04:05Z07:00', '2262-04-11T23:47:16.854775808-00:00').toThrow('time outside of valid range');
    // no year in the layout is year 0
    fails('time.parse_ns', '15:04', '10:30').toThrow('time outside of valid range');
  });

  it('parses RFC 3339, with or without a fraction', () => {
    expect(call('time.parse_rfc3339_ns', '2017-06-02T19:00:00-07:00')).toBe(1496455200000000000n);
    expect(call('time.parse_rfc3339_ns', '2017-06-02T19:00:00.123456789Z')).toBe(1496430000123456789n);
    expect(call('time.parse_rfc3339_ns', '1970-01-01T00:00:01.5+00:00')).toBe(1_500_000_000);
  });

  it('reports Go parse errors', () => {
    fails('time.parse_ns', '2006-01-02', '20x').toThrow('parsing time "20x" as "2006-01-02": cannot parse "20x" as "2006"');
    fails('time.parse_ns', '2006-01-02', '2023-02-30').toThrow('parsing time "2023-02-30": day out of range');
    fails('time.parse_ns', '2006-01-02', '2023-13-01').toThrow('month out of range');
    fails('time.parse_ns', '2006-01-02', '2023-01-01 ').toThrow('extra text: " "');
    fails('time.parse_ns', '2006-01-02', 1 as HostValue).toThrow(BuiltinTypeError);
  });

  it('reads names, 12-hour clocks, day of year, zone abbreviations and GMT offsets', () => {
    expect(call('time.parse_ns', 'Monday, January 2 2006 3:04pm', 'sunday, december 24 2023 6:58pm')).toBe(1703444280000000000n);
    expect(call('time.parse_ns', '2006 002', '2024 060')).toBe(call('time.parse_ns', '2006-01-02', '2024-02-29'));
    expect(call('time.parse_ns', 'Jan _2 15:04:05 MST 2006', 'Dec  4 18:58:45 UTC 2023')).toBe(1701716325000000000n);
    expect(call('time.parse_ns', '15:04 MST 2006', '10:00 GMT+2 2023')).toBe(call('time.parse_ns', '15:04 -07 2006', '10:00 +02 2023'));
    expect(call('time.parse_ns', '2006-01-02 15:04:05,000', '2023-01-01 00:00:00,250')).toBe(1672531200250000000n);
  });
});

describe('time.parse_duration_ns', () => {
  it.each<[string, HostValue]>([
    ['1h2m3.5s', 3723500000000], ['1.5µs', 1500], ['1.5μs', 1500], ['-1.5us', -1500], ['300ms', 300000000], ['0', 0],
    ['+2h', 7200000000000], ['.5s', 500000000], ['1.s', 1000000000], ['10ns', 10],
    ['2562047h47m16.854775807s', 9223372036854775807n], ['-2562047h47m16.854775808s', -9223372036854775808n],
  ])('%s', (s, want) => {
    expect(call('time.parse_duration_ns', s)).toBe(want);
  });

  it('rejects what Go rejects', () => {
    fails('time.parse_duration_ns', '1').toThrow('time: missing unit in duration "1"');
    fails('time.parse_duration_ns', '1x').toThrow('time: unknown unit "x" in duration "1x"');
    fails('time.parse_duration_ns', '').toThrow('time: invalid duration ""');
    fails('time.parse_duration_ns', '.s').toThrow('time: invalid duration ".s"');
    fails('time.parse_duration_ns', '2562047h47m16.854775808s').toThrow('invalid duration');
  });
});

describe('time.date / time.clock / time.weekday', () => {
  it('OPA conformance cases', () => {
    expect(call('time.date', 1517814000 * 1e9)).toEqual([2018, 2, 5]);
    expect(call('time.date', [1517814000 * 1e9, 'America/Los_Angeles'])).toEqual([2018, 2, 4]);
    expect(call('time.date', [1517832000 * 1e9, ''])).toEqual([2018, 2, 5]);
    fails('time.date', 1582977600 * 1e12).toThrow('timestamp too big');
    expect(call('time.clock', 1517832000 * 1e9)).toEqual([12, 0, 0]);
  });

  it('uses the zone of [ns, tz]', () => {
    expect(call('time.clock', [1517832000 * 1e9, 'Asia/Kolkata'])).toEqual([17, 30, 0]);
    expect(call('time.clock', [1517832000 * 1e9, 'UTC'])).toEqual([12, 0, 0]);
    expect(call('time.weekday', 1517832000 * 1e9)).toBe('Monday');
    expect(call('time.weekday', [1517832000 * 1e9, 'Pacific/Kiritimati'])).toBe('Tuesday');
    expect(call('time.date', -1)).toEqual([1969, 12, 31]);
    expect(call('time.date', -9223372036854775808n)).toEqual([1677, 9, 21]);
  });

  it('rejects unknown zones, non-integral and out-of-range timestamps', () => {
    fails('time.date', [0, 'Nowhere/Land']).toThrow('unknown time zone Nowhere/Land');
    fails('time.date', [0, 'utc']).toThrow(BuiltinError);
    fails('time.date', 1.5).toThrow('timestamp too big');
    fails('time.date', 9223372036854775808n).toThrow('timestamp too big');
    fails('time.date', []).toThrow(BuiltinTypeError);
    fails('time.date', [0, 1]).toThrow(BuiltinTypeError);
  });
});

describe('time.format', () => {
  it('defaults to RFC 3339 with trimmed nanoseconds in UTC', () => {
    expect(call('time.format', 1703444325734390000n)).toBe('2023-12-24T18:58:45.73439Z');
    expect(call('time.format', 1257894000000000000n)).toBe('2009-11-10T23:00:00Z');
    expect(call('time.format', [1703444325734390000n, 'UTC'])).toBe('2023-12-24T18:58:45.73439Z');
    expect(call('time.format', [1703444325734390000n, 'Europe/Berlin'])).toBe('2023-12-24T19:58:45.73439+01:00');
  });

  it('applies Go layouts', () => {
    expect(call('time.format', [1703444325734390000n, 'UTC', '2006-01-02T15:04:05'])).toBe('2023-12-24T18:58:45');
    expect(call('time.format', [1257894000000000000n, '', '02/01/2006 15:04'])).toBe('10/11/2009 23:00');
    expect(call('time.format', [1703444325734390000n, 'America/New_York', 'Mon, 02 Jan 2006 03:04:05.000 PM MST -07:00 Z07'])).toBe('Sun, 24 Dec 2023 01:58:45.734 PM EST -05:00 -05');
    expect(call('time.format', [1703444325734390000n, 'UTC', 'Monday January _2 __2 002 06 3 4 5 pm .000000 ,999 Z0700'])).toBe('Sunday December 24 358 358 23 6 58 45 pm .734390 ,734 Z');
    expect(call('time.format', [0, 'UTC', '2006-01-02T15:04:05.999999999Z07:00 MST'])).toBe('1970-01-01T00:00:00Z UTC');
  });
});

describe('time.add_date', () => {
  it('normalises like Go time.AddDate', () => {
    const t = 1703444325734390000n;
    expect(call('time.add_date', t, 0, 0, 0)).toBe(t);
    expect(call('time.add_date', t, 1, 0, 0)).toBe(1735066725734390000n);
    expect(call('time.add_date', t, -60, 0, 0)).toBe(-190011674265610000n);
    expect(call('time.add_date', t, 0, 15, 0)).toBe(1742842725734390000n);
    expect(call('time.add_date', t, 0, -19, 0)).toBe(1653418725734390000n);
    expect(call('time.add_date', t, 0, 0, 16)).toBe(1704826725734390000n);
    // Jan 31 + 1 month is Mar 2 (Feb 31 normalised)
    const jan31 = call('time.parse_ns', '2006-01-02', '2023-01-31') as bigint;
    expect(call('time.add_date', jan31, 0, 1, 0)).toBe(call('time.parse_ns', '2006-01-02', '2023-03-03'));
  });

  it('keeps the wall clock in the zone across a DST change', () => {
    const before = call('time.parse_ns', '2006-01-02T15:04:05Z07:00', '2023-03-25T12:00:00+01:00') as bigint;
    const after = call('time.add_date', [before, 'Europe/Berlin'], 0, 0, 1);
    expect(after).toBe(call('time.parse_ns', '2006-01-02T15:04:05Z07:00', '2023-03-26T12:00:00+02:00'));
  });

  it('fails outside the valid range and on non-integers', () => {
    fails('time.add_date', 1703444325734390000n, 2147483647, 0, 0).toThrow('time outside of valid range');
    fails('time.add_date', 0, 1.5, 0, 0).toThrow(BuiltinTypeError);
  });
});

describe('time.diff', () => {
  it('is a calendar difference, whichever order', () => {
    expect(call('time.diff', 1703444325734390000n, 1257894000000000000n)).toEqual([14, 1, 13, 19, 58, 45]);
    expect(call('time.diff', [1703444325734390000n, 'UTC'], [1257894000000000000n, ''])).toEqual([14, 1, 13, 19, 58, 45]);
    expect(call('time.diff', 1257894000000000000n, 1703444325734390000n)).toEqual([14, 1, 13, 19, 58, 45]);
    const p = (s: string) => call('time.parse_ns', '2006-01-02', s) as HostValue;
    expect(call('time.diff', p('2020-02-02'), p('2020-03-01'))).toEqual([0, 0, 28, 0, 0, 0]);
    expect(call('time.diff', p('2021-01-31'), p('2021-03-01'))).toEqual([0, 1, 1, 0, 0, 0]);
  });

  it('compares wall clocks in the first operand’s zone', () => {
    expect(call('time.diff', [0, 'Europe/Berlin'], 1257894000000000000n)).toEqual([39, 10, 9, 23, 0, 0]);
  });
});
