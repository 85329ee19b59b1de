import { describe, expect, it } from 'vitest';
import { createKeyCache, ipLimitKey, quotaPeriod, subjectKey } from '../../src/ratelimit/keys.js';

describe('limiter keys', () => {
  it('hash identities unambiguously: no concatenation collisions, kinds never collide, fixed length', () => {
    expect(subjectKey('client_route', 'a:b', 'c')).not.toBe(subjectKey('client_route', 'a', 'b:c'));
    expect(subjectKey('client_route', 'a","b', 'c')).not.toBe(subjectKey('client_route', 'a', 'b","c'));
    expect(subjectKey('client', 'x')).not.toBe(subjectKey('partner', 'x'));
    expect(subjectKey('client', 'x')).not.toBe(subjectKey('ip', 'x'));
    const long = subjectKey('client', 'x'.repeat(10_000));
    expect(long).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(subjectKey('client', 'secret-client')).not.toContain('secret');
  });

  it('the memoised keys equal the direct ones and keep kinds and routes apart', () => {
    const keys = createKeyCache();
    expect(keys.client('x')).toBe(subjectKey('client', 'x'));
    expect(keys.partner('x')).toBe(subjectKey('partner', 'x'));
    expect(keys.partner('x')).not.toBe(keys.client('x'));
    expect(keys.clientRoute('c', 'r1')).toBe(subjectKey('client_route', 'c', 'r1'));
    expect(keys.clientRoute('c', 'r2')).not.toBe(keys.clientRoute('c', 'r1'));
    expect(keys.ip('::ffff:192.0.2.1')).toBe(keys.ip('192.0.2.1'));
    for (let i = 0; i < 60_000; i++) keys.client(`c${i}`); // past the bound: the cache empties and recomputes
    expect(keys.client('x')).toBe(subjectKey('client', 'x'));
  });

  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:192.0.2.1', '192.0.2.1'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:DB8:0:0:1::1', '2001:db8:0:0::/64'],
    ['2001:db8:a:b:c:d:e:f', '2001:db8:a:b::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['not-an-ip', 'not-an-ip'],
  ])('ip key of %s is %s', (ip, key) => {
    expect(ipLimitKey(ip)).toBe(key);
  });

  it('quota periods are UTC calendar days and months', () => {
    expect(quotaPeriod('day', Date.UTC(2026, 10, 25, 23, 59, 59, 999))).toEqual({
      id: '2026-11-25',
      start: Date.UTC(2026, 10, 25),
      end: Date.UTC(2026, 10, 26),
    });
    expect(quotaPeriod('day', Date.UTC(2026, 10, 26)).id).toBe('2026-11-26');
    expect(quotaPeriod('month', Date.UTC(2026, 11, 31, 23, 0))).toEqual({ id: '2026-12', start: Date.UTC(2026, 11, 1), end: Date.UTC(2027, 0, 1) });
    const feb = quotaPeriod('month', Date.UTC(2028, 1, 10));
    expect((feb.end - feb.start) / 86_400_000).toBe(29);
    expect(quotaPeriod('day', Date.UTC(2028, 1, 29, 12)).id).toBe('2028-02-29');
  });
});
