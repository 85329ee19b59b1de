import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { QuotaConfig, RateLimitPolicyConfig, RateLimitsConfig } from '../../src/config/types.js';
import type { LimitDecision, RateLimitService } from '../../src/ratelimit/types.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { harness, limitsConfig, metricValue, redisConfig, route, subject, waitUntil, type Harness } from './fixtures.js';

function policy(name: string, points: number, key: RateLimitPolicyConfig['key'], windowSeconds = 60): RateLimitPolicyConfig {
  return { name, points, windowSeconds, blockSeconds: 0, key };
}
function quota(name: string, points: number, key: QuotaConfig['key'], period: QuotaConfig['period'] = 'day'): QuotaConfig {
  return { name, points, period, key };
}
function count(ds: LimitDecision[], outcome: LimitDecision['outcome']): number {
  return ds.filter((d) => d.outcome === outcome).length;
}

let redis: TestRedis;
const services: RateLimitService[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.close();
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});

/** A service on the test Redis, connected (its store state is `redis`) before it is returned. */
async function connected(config: RateLimitsConfig, deps: Parameters<typeof harness>[1] = {}): Promise<Harness> {
  const h = harness(config, deps);
  services.push(h.service);
  await waitUntil(() => h.service.storeState() === 'redis');
  return h;
}

function redisLimits(over: Partial<RateLimitsConfig>, keyPrefix?: string): RateLimitsConfig {
  const r = redisConfig(redis.url);
  return limitsConfig({ store: 'redis', redis: keyPrefix === undefined ? r : { ...r, keyPrefix }, ...over });
}

describe('Redis store (real redis-server)', () => {
  it('two instances sharing one Redis admit exactly the limit under a concurrent burst', async () => {
    const r = route('orders', { policies: ['per-client'] });
    const config = redisLimits({ policies: { 'per-client': policy('per-client', 50, 'client') } });
    const a = await connected(config, { routes: [r] });
    const b = await connected(config, { routes: [r] });
    const ds = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).service.checkAfterAuth(subject(r, { clientId: 'burst-client' }))),
    );
    expect(count(ds, 'allowed')).toBe(50);
    expect(count(ds, 'limited')).toBe(150);
    // Another client is unaffected.
    expect((await b.service.checkAfterAuth(subject(r, { clientId: 'someone-else' }))).outcome).toBe('allowed');
    expect(await metricValue(a.metrics, 'tollgate_ratelimit_store_state')).toBe(1);
  });

  it('two instances admit exactly a quota under a concurrent burst', async () => {
    const r = route('orders', { quotas: ['daily'], cost: 2 });
    const config = redisLimits({ quotas: { daily: quota('daily', 100, 'partner') }, partners: { claims: [], clients: { x: 'acme' } } });
    const a = await connected(config);
    const b = await connected(config);
    const ds = await Promise.all(
      Array.from({ length: 120 }, (_, i) => (i % 2 === 0 ? a : b).service.checkAfterAuth(subject(r, { clientId: `c${i % 7}`, partner: 'acme' }))),
    );
    expect(count(ds, 'allowed')).toBe(50); // 100 points at cost 2
    const after = await a.service.checkAfterAuth(subject(r, { clientId: 'c1', partner: 'acme' }));
    expect(after).toMatchObject({ outcome: 'limited', limit: { kind: 'quota', name: 'daily', limit: 100, remaining: 0 } });
  });

  it('quota calendar reset and the partner plan, with a frozen clock', async () => {
    let clock = Date.UTC(2026, 10, 30, 23, 59, 30);
    const r = route('r', { quotas: ['monthly'] });
    const config = redisLimits({
      quotas: { monthly: quota('monthly', 2, 'client', 'month') },
      plans: { gold: { name: 'gold', policies: {}, quotas: { monthly: { points: 4 } } } },
      partnerPlans: { acme: 'gold' },
    });
    const { service } = await connected(config, { now: () => clock });
    const s = (clientId: string, partner?: string) => service.checkAfterAuth(subject(r, { clientId, ...(partner ? { partner } : {}) }));
    expect(await s('c')).toMatchObject({ outcome: 'allowed', quotas: [{ remaining: 1, resetSeconds: 30, windowSeconds: 30 * 86_400 }] });
    expect((await s('c')).outcome).toBe('allowed');
    expect(await s('c')).toMatchObject({ outcome: 'limited', retryAfterSeconds: 30 });
    for (let i = 0; i < 4; i++) expect((await s('p', 'acme')).outcome).toBe('allowed');
    expect((await s('p', 'acme')).outcome).toBe('limited');
    clock = Date.UTC(2026, 11, 1, 0, 0, 0);
    expect(await s('c')).toMatchObject({ outcome: 'allowed', quotas: [{ remaining: 1, windowSeconds: 31 * 86_400 }] });
    expect((await s('p', 'acme')).outcome).toBe('allowed');
  });

  it('a rate window resets in Redis after windowSeconds', async () => {
    const r = route('r', { policies: ['tiny'] });
    const { service } = await connected(redisLimits({ policies: { tiny: policy('tiny', 1, 'client', 1) } }));
    expect((await service.checkAfterAuth(subject(r, { clientId: 'c' }))).outcome).toBe('allowed');
    const refused = await service.checkAfterAuth(subject(r, { clientId: 'c' }));
    if (refused.outcome !== 'limited') throw new Error('expected limited');
    await new Promise((res) => setTimeout(res, refused.retryAfterSeconds * 1000 + 100));
    expect((await service.checkAfterAuth(subject(r, { clientId: 'c' }))).outcome).toBe('allowed');
  });

  it('ip keys and costs count in Redis; keys carry no identities', async () => {
    const prefix = `tollgate-keys-${process.pid}:`;
    const r = route('login', { policies: ['per-ip', 'per-client'], quotas: ['daily'], cost: 3 });
    const config = redisLimits(
      { policies: { 'per-ip': policy('per-ip', 6, 'ip'), 'per-client': policy('per-client', 100, 'client') }, quotas: { daily: quota('daily', 1000, 'client') } },
      prefix,
    );
    const { service } = await connected(config);
    expect((await service.checkBeforeAuth(subject(r, { ip: '198.51.100.9' }))).outcome).toBe('allowed');
    expect((await service.checkBeforeAuth(subject(r, { ip: '198.51.100.9' }))).outcome).toBe('allowed');
    expect((await service.checkBeforeAuth(subject(r, { ip: '198.51.100.9' }))).outcome).toBe('limited');
    expect((await service.checkBeforeAuth(subject(r, { ip: '198.51.100.10' }))).outcome).toBe('allowed');
    await service.checkAfterAuth(subject(r, { clientId: 'visible-client-id', ip: '198.51.100.9' }));
    const raw = new Redis(redis.url, { lazyConnect: true });
    try {
      await raw.connect();
      const keys = await raw.keys(`${prefix}*`);
      expect(keys.length).toBeGreaterThanOrEqual(4);
      for (const k of keys) {
        expect(k).not.toContain('visible-client-id');
        expect(k).not.toContain('198.51.100');
      }
      expect(keys.some((k) => /^tollgate-keys-\d+:q:daily:[A-Za-z0-9_-]{22}:\d{4}-\d{2}-\d{2}$/.test(k))).toBe(true);
    } finally {
      raw.disconnect();
    }
  });

  it('Redis killed mid-burst: high tier answers unavailable, low tier falls back (counted, logged once); recovers without a restart', async () => {
    const high = route('payments', { policies: ['per-client'] }, 'high');
    const low = route('catalog', { policies: ['per-client'] }, 'low');
    const config = redisLimits({ policies: { 'per-client': policy('per-client', 1000, 'client') } });
    const h = await connected(config, { routes: [high, low] });
    const { service } = h;

    const burst = (n: number) =>
      Promise.all(
        Array.from({ length: n }, (_, i) => Promise.resolve(service.checkAfterAuth(subject(i % 2 === 0 ? high : low, { clientId: `c${i % 5}` }))).then((d) => ({ i, d }))),
      );
    const first = burst(100);
    await redis.stop();
    const during = await first;
    // Every request got an answer: allowed (Redis or fallback) or, for the high tier only, unavailable.
    for (const { i, d } of during) {
      if (i % 2 === 1) expect(d.outcome).toBe('allowed');
      else expect(['allowed', 'unavailable']).toContain(d.outcome);
    }
    await waitUntil(() => service.storeState() === 'fallback');

    const down = await burst(40);
    for (const { i, d } of down) {
      if (i % 2 === 0) expect(d).toEqual({ outcome: 'unavailable', retryAfterSeconds: 1 });
      else expect(d.outcome).toBe('allowed');
    }
    expect(await metricValue(h.metrics, 'tollgate_ratelimit_fallback_total', { tier: 'low' })).toBeGreaterThanOrEqual(20);
    expect(await metricValue(h.metrics, 'tollgate_ratelimit_fallback_total', { tier: 'high' })).toBe(0);
    expect(await metricValue(h.metrics, 'tollgate_ratelimit_store_errors_total')).toBeGreaterThanOrEqual(40);
    expect(await metricValue(h.metrics, 'tollgate_ratelimit_decisions_total', { route: 'payments', outcome: 'unavailable' })).toBeGreaterThanOrEqual(20);
    expect(await metricValue(h.metrics, 'tollgate_ratelimit_store_state')).toBe(2);
    expect(h.logs.filter((l) => l['event'] === 'ratelimit_store_down')).toHaveLength(1);

    await redis.restart();
    await waitUntil(() => service.storeState() === 'redis');
    expect(h.logs.filter((l) => l['event'] === 'ratelimit_store_up').length).toBe(2); // connected, then recovered
    expect(h.logs.filter((l) => l['event'] === 'ratelimit_store_down')).toHaveLength(1);
    const after = await burst(10);
    for (const { d } of after) expect(d.outcome).toBe('allowed');
    // Counting happens in Redis again: a second instance sees this (same, never recreated) one's counts.
    const other = await connected(config);
    for (let i = 0; i < 5; i++) await service.checkAfterAuth(subject(high, { clientId: 'shared' }));
    expect(await other.service.checkAfterAuth(subject(high, { clientId: 'shared' }))).toMatchObject({ outcome: 'allowed', tightest: { remaining: 994 } });
    expect(await service.checkAfterAuth(subject(low, { clientId: 'shared' }))).toMatchObject({ outcome: 'allowed', tightest: { remaining: 993 } });
    expect(await metricValue(h.metrics, 'tollgate_ratelimit_store_state')).toBe(1);
  });

  it('a hung Redis (connected, silent) times out per command: high tier unavailable, low tier fallback, then back', async () => {
    const high = route('payments', { policies: ['per-client'] }, 'high');
    const low = route('catalog', { policies: ['per-client'] }, 'low');
    const h = await connected(redisLimits({ policies: { 'per-client': policy('per-client', 1000, 'client') } }));
    redis.pause();
    try {
      // No assertion on speed: without commandTimeout these would never settle and the test would time out.
      const [a, b] = await Promise.all([
        h.service.checkAfterAuth(subject(high, { clientId: 'c' })),
        h.service.checkAfterAuth(subject(low, { clientId: 'c' })),
      ]);
      expect(a.outcome).toBe('unavailable');
      expect(b.outcome).toBe('allowed');
      expect(h.service.storeState()).toBe('fallback');
    } finally {
      redis.resume();
    }
    // The connection never dropped: the next Redis answer itself marks the store healthy again.
    expect((await h.service.checkAfterAuth(subject(low, { clientId: 'c' }))).outcome).toBe('allowed');
    expect(h.service.storeState()).toBe('redis');
    expect(await metricValue(h.metrics, 'tollgate_ratelimit_fallback_total', { tier: 'low' })).toBe(1);
  });

  it('Redis down at boot: fallback from the first request, one warning, close() does not wait for it', async () => {
    const dead = await startRedis();
    await dead.close(); // a port nothing listens on any more
    const r = route('r', { policies: ['p'] }, 'low');
    const h = harness(limitsConfig({ store: 'redis', redis: redisConfig(dead.url), policies: { p: policy('p', 1, 'client') } }));
    services.push(h.service);
    expect(h.service.storeState()).toBe('fallback');
    expect((await h.service.checkAfterAuth(subject(r, { clientId: 'c' }))).outcome).toBe('allowed');
    expect((await h.service.checkAfterAuth(subject(r, { clientId: 'c' }))).outcome).toBe('limited');
    expect(await h.service.checkAfterAuth(subject(route('h', { policies: ['p'] }, 'high'), { clientId: 'c' }))).toMatchObject({ outcome: 'unavailable' });
    await new Promise((res) => setTimeout(res, 300)); // a few reconnect attempts
    expect(h.logs.filter((l) => l['event'] === 'ratelimit_store_down')).toHaveLength(1);
    expect(JSON.stringify(h.logs)).not.toContain('ratelimit_store_up');
    await h.service.close();
  });

  it('memory fallback of a monthly quota keeps counting while Redis is down', async () => {
    const r = route('r', { quotas: ['monthly'] }, 'low');
    const config = redisLimits({ quotas: { monthly: quota('monthly', 2, 'client', 'month') } });
    // Early in a 31-day month: the key's duration is longer than a Node timer can hold.
    const h = await connected(config, { now: () => Date.UTC(2026, 0, 1, 0, 0, 5) });
    await redis.stop();
    try {
      await waitUntil(() => h.service.storeState() === 'fallback');
      expect((await h.service.checkAfterAuth(subject(r, { clientId: 'c' }))).outcome).toBe('allowed');
      await new Promise((res) => setTimeout(res, 20));
      expect((await h.service.checkAfterAuth(subject(r, { clientId: 'c' }))).outcome).toBe('allowed');
      await new Promise((res) => setTimeout(res, 20));
      expect((await h.service.checkAfterAuth(subject(r, { clientId: 'c' }))).outcome).toBe('limited');
    } finally {
      await redis.restart();
    }
  });
});
