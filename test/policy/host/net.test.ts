import { describe, expect, it } from 'vitest';
import { NET_BUILTINS } from '../../../src/policy/host/net.js';
import { BuiltinError, RegoSet, type HostContext, type RegoValue } from '../../../src/policy/host/types.js';

const ctx: HostContext = { nowNs: 0n, cache: new Map() };
const call = (name: string, ...args: RegoValue[]): RegoValue | undefined =>
  (NET_BUILTINS[name]!.impl as (a: RegoValue[], c: HostContext) => RegoValue | undefined)(args, ctx);
const items = (v: RegoValue | undefined): RegoValue[] => {
  expect(v).toBeInstanceOf(RegoSet);
  return (v as RegoSet).items;
};

describe('net.cidr_contains', () => {
  it.each<[string, string, boolean]>([
    // opa/netcidrcontains
    ['10.0.0.0/8', '10.1.0.0/24', true],
    ['172.17.0.0/24', '172.17.0.0/16', false],
    ['10.0.0.0/8', '192.168.1.0/24', false],
    ['2001:4860:4860::8888/32', '2001:4860:4860:1234::8888/40', true],
    ['2001:4860:4860::8888/32', '2001:4860:4860:1234:5678:1234:5678:8888/128', true],
    ['2001:4860::/96', '2001:4860::/32', false],
    // addresses
    ['10.0.0.0/8', '10.1.2.3', true],
    ['10.0.0.0/8', '11.1.2.3', false],
    ['192.168.1.0/24', '192.168.1.255', true],
    ['0.0.0.0/0', '255.255.255.255', true],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    // IPv4 vs IPv6 (Go compares an IPv4-mapped address as IPv4)
    ['10.0.0.0/8', '::ffff:10.1.2.3', true],
    ['::ffff:10.0.0.0/104', '10.1.2.3', true],
    ['::/0', '10.1.2.3', false],
    ['10.0.0.0/8', '2001:db8::1', false],
    ['10.0.0.5/8', '10.200.0.1', true], // the host part of the CIDR is masked off
  ])('net.cidr_contains(%j, %j) = %j', (a, b, want) => {
    expect(call('net.cidr_contains', a, b)).toBe(want);
  });

  it.each<[string, string]>([
    ['not-a-cidr', '192.168.1.67'],
    ['192.168.1.0/28', 'not-a-cidr'],
    ['10.0.0.0', '10.0.0.1'], // no prefix length
    ['10.0.0.0/33', '10.0.0.1'],
    ['010.0.0.0/8', '10.0.0.1'], // Go ≥ 1.17 rejects leading zeros
    ['fe80::1%eth0/64', 'fe80::1'], // zones are not allowed
    ['10.0.0.0/8', '10.0.0.01'],
    ['10.0.0.0/8', '10.0.0.256'],
    ['10.0.0.0/+8', '10.0.0.1'],
  ])('net.cidr_contains(%j, %j) is a built-in error', (a, b) => {
    expect(() => call('net.cidr_contains', a, b)).toThrow(BuiltinError);
  });

  it('reports Go/OPA messages', () => {
    expect(() => call('net.cidr_contains', 'x', '1.2.3.4')).toThrow('invalid CIDR address: x');
    expect(() => call('net.cidr_contains', '1.0.0.0/8', 'y')).toThrow('not a valid textual representation of an IP address or CIDR: y');
  });
});

describe('net.cidr_is_valid', () => {
  it.each<[RegoValue, boolean]>([
    ['10.0.0.0/8', true],
    ['10.0.0.0/08', true], // Go dtoi takes leading zeros in the prefix length
    ['10.0.0.0/32', true],
    ['10.0.0.0/33', false],
    ['10.0.0.0', false],
    ['::/0', true],
    ['::ffff:1.2.3.4/128', true],
    ['2001:db8::/129', false],
    ['2001:db8:::/32', false],
    ['1:2:3:4:5:6:7:8/64', true],
    ['1:2:3:4:5:6:7::/64', true],
    ['1:2:3:4:5:6:7:8::/64', false], // `::` must stand for at least one group
    ['1:2:3:4:5:6:1.2.3.4/64', true],
    ['1:2:3:4:5:1.2.3.4/64', false], // embedded IPv4 must replace the last two groups
    ['::1.2.3.4/64', true],
    ['12345::/16', false],
    ['', false],
    [1, false],
    [null, false],
  ])('net.cidr_is_valid(%j) = %j', (v, want) => {
    expect(call('net.cidr_is_valid', v)).toBe(want);
  });
});

describe('net.cidr_intersects', () => {
  it.each<[string, string, boolean]>([
    ['192.168.0.0/16', '192.168.1.0/24', true],
    ['192.168.1.0/24', '192.168.0.0/16', true],
    ['192.168.0.0/24', '192.168.1.0/24', false],
    ['fd1e:5bfe:8af3:9ddc::/64', 'fd1e:5bfe:8af3:9ddc:1111::/72', true],
    ['fd1e:5bfe:8af3:9ddc::/64', 'fd1e:5bfe:8af3:9ddd::/64', false],
  ])('net.cidr_intersects(%j, %j) = %j', (a, b, want) => {
    expect(call('net.cidr_intersects', a, b)).toBe(want);
  });
  it('errors on a malformed operand', () => {
    expect(() => call('net.cidr_intersects', '10.0.0.0/8', '10.0.0.1')).toThrow(BuiltinError);
  });
});

describe('net.cidr_expand', () => {
  it('lists every address as a set', () => {
    expect(items(call('net.cidr_expand', '192.168.1.0/30'))).toEqual(['192.168.1.0', '192.168.1.1', '192.168.1.2', '192.168.1.3']);
    expect(items(call('net.cidr_expand', '10.0.0.7/32'))).toEqual(['10.0.0.7']);
    expect(items(call('net.cidr_expand', '255.255.255.254/31'))).toEqual(['255.255.255.254', '255.255.255.255']);
  });
  it('masks the host part first and sorts like OPA (string order)', () => {
    expect(items(call('net.cidr_expand', '10.0.0.9/28'))).toEqual([
      '10.0.0.0', '10.0.0.1', '10.0.0.10', '10.0.0.11', '10.0.0.12', '10.0.0.13', '10.0.0.14', '10.0.0.15',
      '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.0.7', '10.0.0.8', '10.0.0.9',
    ]);
  });
  it('formats IPv6 like Go', () => {
    expect(items(call('net.cidr_expand', '2001:db8::/126'))).toEqual(['2001:db8::', '2001:db8::1', '2001:db8::2', '2001:db8::3']);
    expect(items(call('net.cidr_expand', '::ffff:10.0.0.0/127'))).toEqual(['10.0.0.0', '10.0.0.1']);
  });
  it('refuses networks over 65,536 addresses and malformed CIDRs', () => {
    expect(items(call('net.cidr_expand', '10.0.0.0/16'))).toHaveLength(65_536);
    expect(() => call('net.cidr_expand', '10.0.0.0/15')).toThrow(BuiltinError);
    expect(() => call('net.cidr_expand', '::/0')).toThrow(BuiltinError);
    expect(() => call('net.cidr_expand', '10.0.0.1')).toThrow('invalid CIDR address: 10.0.0.1');
  });
});

describe('net.cidr_contains_matches', () => {
  const matches = (a: RegoValue, b: RegoValue): RegoValue[] => items(call('net.cidr_contains_matches', a, b));
  it('keys array elements by index, strings by themselves', () => {
    expect(matches(['127.0.0.64/24', '10.0.0.64/24'], ['127.0.0.64/26', '127.0.0.1', '10.0.0.100', '1.0.0.1'])).toEqual([
      [0, 0], [0, 1], [1, 2],
    ]);
    expect(matches('1.1.1.0/24', '1.1.1.128')).toEqual([['1.1.1.0/24', '1.1.1.128']]);
    expect(matches(['1.1.1.0/24', '1.1.2.0/24'], '1.1.1.128')).toEqual([[0, '1.1.1.128']]);
  });
  it('keys object values by key and set elements by themselves; uses the first element of array elements', () => {
    expect(matches({ k1: '1.1.1.0/24', k2: ['1.1.2.0/24', 'extra'] }, new RegoSet(['1.1.2.3', '1.1.1.1', '9.9.9.9']))).toEqual([
      ['k1', '1.1.1.1'], ['k2', '1.1.2.3'],
    ]);
    expect(matches(new RegoSet([['10.0.0.0/8', 'net']]), ['10.1.1.1'])).toEqual([[['10.0.0.0/8', 'net'], 0]]);
  });
  it('rejects bad elements and bad CIDRs', () => {
    expect(() => matches([1], '1.1.1.1')).toThrow('operand 1: element must be string or non-empty array');
    expect(() => matches(['1.1.1.0/24'], [[]])).toThrow('operand 2: element must be string or non-empty array');
    expect(() => matches(['bad'], '1.1.1.1')).toThrow(BuiltinError);
  });
});

describe('net.cidr_merge', () => {
  const merge = (v: RegoValue): RegoValue[] => items(call('net.cidr_merge', v));
  it('merges adjacent and contained networks, drops duplicates', () => {
    expect(merge(['192.0.128.0/24', '192.0.129.0/24'])).toEqual(['192.0.128.0/23']);
    expect(merge(['192.0.128.0/24', '192.0.128.0/24'])).toEqual(['192.0.128.0/24']);
    expect(merge(['192.0.128.0/24'])).toEqual(['192.0.128.0/24']);
    expect(merge(['192.0.128.0/24', '0.0.0.0/0'])).toEqual(['0.0.0.0/0']);
    expect(merge(['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24'])).toEqual(['10.0.0.0/23', '10.0.2.0/24']);
    expect(merge(['10.0.0.0/8', '10.1.0.0/16', '192.168.0.0/16'])).toEqual(['10.0.0.0/8', '192.168.0.0/16']);
    expect(merge(new RegoSet(['10.0.0.1/32', '10.0.0.2/32', '10.0.0.0/32', '10.0.0.3/32']))).toEqual(['10.0.0.0/30']);
    expect(merge([])).toEqual([]);
  });
  it('splits a merged range into the fewest CIDRs', () => {
    expect(merge(['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/30'])).toEqual(['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/30']);
    expect(merge(['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/30', '10.0.0.0/32'])).toEqual(['10.0.0.0/29']);
  });
  it('handles IPv6 (opa netcidrmerge cases)', () => {
    expect(merge(['2601:600:8a80:207e:a57d:7567:e2c9:e7b3/128'])).toEqual(['2601:600:8a80:207e:a57d:7567:e2c9:e7b3/128']);
    expect(merge(['2601:600:8a80:207e:a57d:7567:e2c9:e7b3/128', '2601:600:8a80:207e:a57d:7567:e2c9:e7b3/128'])).toEqual([
      '2601:600:8a80:207e:a57d:7567:e2c9:e7b3/128',
    ]);
    expect(merge(['2601:600:8a80:207e:a57d:7567:e2c9:e7b3/64', '2601:600:8a80:207e:a57d:7567:e2c9:e7b3/128'])).toEqual([
      '2601:600:8a80:207e::/64',
    ]);
    expect(merge(['2001:db8::/33', '2001:db8:8000::/33', '10.0.0.0/8'])).toEqual(['10.0.0.0/8', '2001:db8::/32']);
  });
  it('gives a bare IPv4 address its classful mask, like OPA, and rejects a bare IPv6 address', () => {
    expect(merge(['192.168.1.5'])).toEqual(['192.168.1.5/24']);
    expect(merge(['10.1.2.3', '10.0.0.0/8'])).toEqual(['10.0.0.0/8']);
    expect(() => merge(['2601:600:8a80:207e:a57d:7567:e2c9:e7b3'])).toThrow('IPv6 invalid: needs prefix length');
  });
  it('rejects non-strings and malformed CIDRs', () => {
    expect(() => merge([1])).toThrow('element must be string');
    expect(() => merge(['10.0.0.0/40'])).toThrow('invalid CIDR address: 10.0.0.0/40');
  });
});
