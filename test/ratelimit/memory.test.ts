import { afterEach, describe, expect, it } from 'vitest';
import type { RateLimitPolicyConfig, QuotaConfig } from '../../src/config/types.js';
import type { LimitDecision, RateLimitService } from '../../src/ratelimit/types.js';
import { harness, limitsConfig, metricValue, route, subject } from './fixtures.js';

function policy(name: string, points: number, key: RateLimitPolicyConfig['key'], windowSeconds = 60, blockSeconds = 0): RateLimitPolicyConfig {
  return { name, points, windowSeconds, blockSeconds, key };
}
function quota(name: string, points: number, key: QuotaConfig['key'], period: QuotaConfig['period'] = 'day'): QuotaConfig {
  return { name, points, period, key };
}

const services: RateLimitService[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});
function track<T extends { service: RateLimitService }>(h: T): T {
  services.push(h.service);
  return h;
}

function outcomes(ds: LimitDecision[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of ds) out[d.outcome] = (out[d.outcome] ?? 0) + 1;
  return out;
}

describe('memory store', () => {
  it('admits exactly the limit under a concurrent burst, then refuses with the limit named and Retry-After ≥ 1', async () => {
    const r = route('orders', { policies: ['per-client'] });
    const { service } = track(harness(limitsConfig({ policies: { 'per-client': policy('per-client', 10, 'client') } }), { routes: [r] }));
    const ds = await Promise.all(Array.from({ length: 30 }, () => service.checkAfterAuth(subject(r, { clientId: 'c1' }))));
    expect(outcomes(ds)).toEqual({ allowed: 10, limited: 20 });
    const refused = ds.find((d) => d.outcome === 'limited');
    expect(refused).toMatchObject({ outcome: 'limited', limit: { kind: 'rate', name: 'per-client', limit: 10, remaining: 0, windowSeconds: 60 } });
    if (refused?.outcome !== 'limited') throw new Error('unreachable');
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
  });

  it('reports the tightest limit and every quota on an allowed request', async () => {
    const r = route('orders', { policies: ['per-client', 'per-route'], quotas: ['daily'] });
    const { service } = track(
      harness(
        limitsConfig({
          policies: { 'per-client': policy('per-client', 5, 'client', 10), 'per-route': policy('per-route', 100, 'route', 60) },
          quotas: { daily: quota('daily', 1000, 'client') },
        }),
      ),
    );
    const d = await service.checkAfterAuth(subject(r, { clientId: 'c1' }));
    expect(d.outcome).toBe('allowed');
    if (d.outcome !== 'allowed') throw new Error('unreachable');
    expect(d.tightest).toMatchObject({ kind: 'rate', name: 'per-client', limit: 5, remaining: 4, windowSeconds: 10 });
    expect(d.tightest!.resetSeconds).toBeGreaterThan(0);
    expect(d.tightest!.resetSeconds).toBeLessThanOrEqual(10);
    expect(d.quotas).toEqual([expect.objectContaining({ kind: 'quota', name: 'daily', limit: 1000, remaining: 999, windowSeconds: 86_400 })]);
  });

  it('spends the route cost per request', async () => {
    const cheap = route('cheap', { policies: ['per-client'], cost: 1 });
    const costly = route('costly', { policies: ['per-client'], cost: 4 });
    const { service } = track(harness(limitsConfig({ policies: { 'per-client': policy('per-client', 10, 'client') } })));
    const s = (r: typeof cheap) => service.checkAfterAuth(subject(r, { clientId: 'c1' }));
    expect(await s(costly)).toMatchObject({ outcome: 'allowed', tightest: { remaining: 6 } });
    expect(await s(costly)).toMatchObject({ outcome: 'allowed', tightest: { remaining: 2 } });
    expect((await s(costly)).outcome).toBe('limited'); // 12 > 10
    // The refused costly request does not come back, but the shared client counter is over: a cheap call is refused too.
    expect((await s(cheap)).outcome).toBe('limited');
  });

  it('keys of different clients are independent and client × route separates routes', async () => {
    const a = route('a', { policies: ['per-client-route'] });
    const b = route('b', { policies: ['per-client-route'] });
    const { service } = track(harness(limitsConfig({ policies: { 'per-client-route': policy('per-client-route', 2, 'client_route') } })));
    for (let i = 0; i < 2; i++) expect((await service.checkAfterAuth(subject(a, { clientId: 'c1' }))).outcome).toBe('allowed');
    const refused = await service.checkAfterAuth(subject(a, { clientId: 'c1' }));
    expect(refused.outcome).toBe('limited');
    expect(JSON.stringify(refused)).not.toContain('c1');
    expect((await service.checkAfterAuth(subject(a, { clientId: 'c2' }))).outcome).toBe('allowed');
    expect((await service.checkAfterAuth(subject(b, { clientId: 'c1' }))).outcome).toBe('allowed');
    // A crafted id that would collide with naive "client:route" concatenation is a different key.
    expect((await service.checkAfterAuth(subject(route('x'), { clientId: 'c1:a' }))).outcome).toBe('allowed');
  });

  it('route keys are shared by all clients of the route', async () => {
    const r = route('r', { policies: ['per-route'] });
    const { service } = track(harness(limitsConfig({ policies: { 'per-route': policy('per-route', 3, 'route') } })));
    const ds = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((c) => service.checkAfterAuth(subject(r, { clientId: c }))));
    expect(outcomes(ds)).toEqual({ allowed: 3, limited: 2 });
  });

  it('partner plans raise limits; a client plan wins over its partner plan', async () => {
    const r = route('r', { policies: ['per-client'], quotas: ['daily'] });
    const config = limitsConfig({
      policies: { 'per-client': policy('per-client', 2, 'client') },
      quotas: { daily: quota('daily', 100, 'client') },
      plans: {
        gold: { name: 'gold', policies: { 'per-client': { points: 5 } }, quotas: { daily: { points: 5000 } } },
        tiny: { name: 'tiny', policies: { 'per-client': { points: 1 } }, quotas: {} },
      },
      partnerPlans: { acme: 'gold' },
      clientPlans: { 'acme-batch': 'tiny' },
    });
    const { service } = track(harness(config, { routes: [r] }));
    const run = async (clientId: string, partner: string | undefined, n: number) => {
      const ds: LimitDecision[] = [];
      for (let i = 0; i < n; i++) ds.push(await service.checkAfterAuth(subject(r, { clientId, ...(partner ? { partner } : {}) })));
      return ds;
    };
    expect(outcomes(await run('plain', undefined, 6))).toEqual({ allowed: 2, limited: 4 });
    const gold = await run('acme-app', 'acme', 6);
    expect(outcomes(gold)).toEqual({ allowed: 5, limited: 1 });
    expect(gold[0]).toMatchObject({ quotas: [{ name: 'daily', limit: 5000, remaining: 4999 }] });
    expect(outcomes(await run('acme-batch', 'acme', 3))).toEqual({ allowed: 1, limited: 2 });
  });

  it('a plan override counts in the same counter as the policy it overrides (a partner quota is one number)', async () => {
    const r = route('r', { quotas: ['partner-daily'], policies: ['route-wide'] });
    const { service } = track(
      harness(
        limitsConfig({
          quotas: { 'partner-daily': quota('partner-daily', 5, 'partner') },
          policies: { 'route-wide': policy('route-wide', 100, 'route') },
          plans: { vip: { name: 'vip', policies: { 'route-wide': { points: 200 } }, quotas: { 'partner-daily': { points: 10 } } } },
          clientPlans: { vip: 'vip' },
        }),
      ),
    );
    const s = (clientId: string) => service.checkAfterAuth(subject(r, { clientId, partner: 'acme' }));
    for (let i = 0; i < 5; i++) expect((await s('plain')).outcome).toBe('allowed');
    expect(await s('plain')).toMatchObject({ outcome: 'limited', limit: { name: 'partner-daily', limit: 5 } });
    // The refused request stays counted on the quota that refused it (6 of the partner's points used).
    for (let i = 0; i < 4; i++) expect(await s('vip')).toMatchObject({ outcome: 'allowed', quotas: [{ limit: 10, remaining: 3 - i }] });
    expect(await s('vip')).toMatchObject({ outcome: 'limited', limit: { name: 'partner-daily', limit: 10 } });
  });

  it('partner-keyed limits count per partner and skip requests without a partner', async () => {
    const r = route('r', { policies: ['per-partner'] });
    const { service } = track(harness(limitsConfig({ policies: { 'per-partner': policy('per-partner', 2, 'partner') } })));
    const ds = await Promise.all(['x', 'y', 'z'].map((c) => service.checkAfterAuth(subject(r, { clientId: c, partner: 'acme' }))));
    expect(outcomes(ds)).toEqual({ allowed: 2, limited: 1 });
    expect((await service.checkAfterAuth(subject(r, { clientId: 'x', partner: 'globex' }))).outcome).toBe('allowed');
    for (let i = 0; i < 5; i++) expect(await service.checkAfterAuth(subject(r, { clientId: 'solo' }))).toEqual({ outcome: 'allowed', quotas: [] });
  });

  it('ip policies run before authentication only; IPv4-mapped addresses and one IPv6 /64 share a key', async () => {
    const r = route('login', { policies: ['per-ip', 'per-client'] });
    const { service } = track(
      harness(limitsConfig({ policies: { 'per-ip': policy('per-ip', 2, 'ip'), 'per-client': policy('per-client', 100, 'client') } }), { routes: [r] }),
    );
    expect(service.hasBeforeAuth(r)).toBe(true);
    expect(service.hasAfterAuth(r)).toBe(true);
    expect(service.hasBeforeAuth(route('none'))).toBe(false);
    expect(service.hasAfterAuth(route('none'))).toBe(false);

    expect((await service.checkBeforeAuth(subject(r, { ip: '192.0.2.7' }))).outcome).toBe('allowed');
    expect((await service.checkBeforeAuth(subject(r, { ip: '::ffff:192.0.2.7' }))).outcome).toBe('allowed');
    expect((await service.checkBeforeAuth(subject(r, { ip: '192.0.2.7' }))).outcome).toBe('limited');
    expect((await service.checkBeforeAuth(subject(r, { ip: '192.0.2.8' }))).outcome).toBe('allowed');
    // The after-auth check does not spend ip points.
    expect((await service.checkAfterAuth(subject(r, { ip: '192.0.2.8', clientId: 'c' }))).outcome).toBe('allowed');
    expect((await service.checkBeforeAuth(subject(r, { ip: '192.0.2.8' }))).outcome).toBe('allowed');

    expect((await service.checkBeforeAuth(subject(r, { ip: '2001:db8:1:2::1' }))).outcome).toBe('allowed');
    expect((await service.checkBeforeAuth(subject(r, { ip: '2001:db8:1:2:ffff:ffff:ffff:ffff' }))).outcome).toBe('allowed');
    expect((await service.checkBeforeAuth(subject(r, { ip: '2001:0db8:0001:0002:abcd::9' }))).outcome).toBe('limited');
    expect((await service.checkBeforeAuth(subject(r, { ip: '2001:db8:1:3::1' }))).outcome).toBe('allowed');
  });

  it('a refused request spends nothing on the limits that admitted it (quota kept)', async () => {
    const r = route('r', { policies: ['burst'], quotas: ['daily'] });
    const { service } = track(
      harness(limitsConfig({ policies: { burst: policy('burst', 3, 'client') }, quotas: { daily: quota('daily', 100, 'client') } })),
    );
    const ds: LimitDecision[] = [];
    for (let i = 0; i < 10; i++) ds.push(await service.checkAfterAuth(subject(r, { clientId: 'c1' })));
    expect(outcomes(ds)).toEqual({ allowed: 3, limited: 7 });
    const last = ds[9]!;
    expect(last).toMatchObject({ outcome: 'limited', limit: { name: 'burst' }, quotas: [{ name: 'daily', remaining: 97 }] });
  });

  it('names the refusing limit with the longest retry when several refuse', async () => {
    const r = route('r', { policies: ['short', 'long'] });
    const { service } = track(
      harness(limitsConfig({ policies: { short: policy('short', 1, 'client', 5), long: policy('long', 1, 'client', 3600) } })),
    );
    await service.checkAfterAuth(subject(r, { clientId: 'c' }));
    const d = await service.checkAfterAuth(subject(r, { clientId: 'c' }));
    expect(d).toMatchObject({ outcome: 'limited', limit: { name: 'long' } });
    if (d.outcome !== 'limited') throw new Error('unreachable');
    expect(d.retryAfterSeconds).toBeGreaterThan(5);
  });

  it('block duration keeps refusing after the limit is hit', async () => {
    const r = route('r', { policies: ['strict'] });
    const { service } = track(harness(limitsConfig({ policies: { strict: policy('strict', 1, 'client', 1, 120) } })));
    expect((await service.checkAfterAuth(subject(r, { clientId: 'c' }))).outcome).toBe('allowed');
    const d = await service.checkAfterAuth(subject(r, { clientId: 'c' }));
    if (d.outcome !== 'limited') throw new Error(`expected limited, got ${d.outcome}`);
    expect(d.retryAfterSeconds).toBeGreaterThan(100);
  });

  it('a window resets after windowSeconds', async () => {
    const r = route('r', { policies: ['tiny'] });
    const { service } = track(harness(limitsConfig({ policies: { tiny: policy('tiny', 2, 'client', 1) } })));
    for (let i = 0; i < 2; i++) expect((await service.checkAfterAuth(subject(r, { clientId: 'c' }))).outcome).toBe('allowed');
    const refused = await service.checkAfterAuth(subject(r, { clientId: 'c' }));
    if (refused.outcome !== 'limited') throw new Error('expected limited');
    await new Promise((res) => setTimeout(res, refused.retryAfterSeconds * 1000 + 50));
    expect((await service.checkAfterAuth(subject(r, { clientId: 'c' }))).outcome).toBe('allowed');
  });

  it('daily quotas reset at the UTC day boundary, not 24 h after the first request', async () => {
    let clock = Date.UTC(2026, 10, 25, 23, 59, 0);
    const r = route('r', { quotas: ['daily'] });
    const { service } = track(harness(limitsConfig({ quotas: { daily: quota('daily', 3, 'client', 'day') } }), { now: () => clock }));
    const first = await service.checkAfterAuth(subject(r, { clientId: 'c' }));
    expect(first).toMatchObject({ outcome: 'allowed', quotas: [{ name: 'daily', remaining: 2, resetSeconds: 60, windowSeconds: 86_400 }] });
    await service.checkAfterAuth(subject(r, { clientId: 'c' }));
    await service.checkAfterAuth(subject(r, { clientId: 'c' }));
    const refused = await service.checkAfterAuth(subject(r, { clientId: 'c' }));
    expect(refused).toMatchObject({ outcome: 'limited', limit: { kind: 'quota', name: 'daily' }, retryAfterSeconds: 60 });
    clock = Date.UTC(2026, 10, 26, 0, 0, 0);
    expect(await service.checkAfterAuth(subject(r, { clientId: 'c' }))).toMatchObject({
      outcome: 'allowed',
      quotas: [{ remaining: 2, resetSeconds: 86_400 }],
    });
  });

  it('monthly quotas count across the whole month (a key longer than a Node timer does not expire early) and reset on the 1st', async () => {
    let clock = Date.UTC(2026, 0, 1, 0, 0, 5);
    const r = route('r', { quotas: ['monthly'] });
    const { service } = track(harness(limitsConfig({ quotas: { monthly: quota('monthly', 2, 'partner', 'month') } }), { now: () => clock }));
    const s = () => service.checkAfterAuth(subject(r, { clientId: 'c', partner: 'acme' }));
    expect(await s()).toMatchObject({ outcome: 'allowed', quotas: [{ remaining: 1, windowSeconds: 31 * 86_400 }] });
    // RateLimiterMemory's own setTimeout would overflow to 1 ms for a 31-day key: wait past that.
    await new Promise((res) => setTimeout(res, 30));
    expect((await s()).outcome).toBe('allowed');
    await new Promise((res) => setTimeout(res, 30));
    expect((await s()).outcome).toBe('limited');
    clock = Date.UTC(2026, 1, 1, 0, 0, 0);
    expect(await s()).toMatchObject({ outcome: 'allowed', quotas: [{ remaining: 1, windowSeconds: 28 * 86_400 }] });
  });

  it('partnerOf: first present claim, else the configured client mapping; prototype names are not mappings', () => {
    const { service } = track(
      harness(limitsConfig({ partners: { claims: ['partner', 'org'], clients: { 'client-a': 'acme' } } })),
    );
    expect(service.partnerOf('client-a', { org: 'globex' })).toBe('globex');
    expect(service.partnerOf('client-a', { partner: 'initech', org: 'globex' })).toBe('initech');
    expect(service.partnerOf('client-a', { partner: 42 })).toBe('acme');
    expect(service.partnerOf('client-b', {})).toBeUndefined();
    expect(service.partnerOf('constructor', {})).toBeUndefined();
    expect(service.partnerOf(undefined, {})).toBeUndefined();
  });

  it('a route of the same id with other limits (a reload that kept the service) is resolved afresh', async () => {
    const { service } = track(harness(limitsConfig({ policies: { one: policy('one', 1, 'client'), many: policy('many', 100, 'client') } })));
    const v1 = route('r', { policies: ['one'] });
    const v2 = route('r', { policies: ['many'] });
    expect((await service.checkAfterAuth(subject(v1, { clientId: 'c' }))).outcome).toBe('allowed');
    expect((await service.checkAfterAuth(subject(v1, { clientId: 'c' }))).outcome).toBe('limited');
    expect(await service.checkAfterAuth(subject(v2, { clientId: 'c' }))).toMatchObject({ outcome: 'allowed', tightest: { name: 'many' } });
    expect(service.hasBeforeAuth(v2)).toBe(false);
  });

  it('unknown limit names are rejected when routes are given at build time', () => {
    expect(() => harness(limitsConfig(), { routes: [route('r', { policies: ['nope'] })] })).toThrow(/route r: unknown rate-limit policy "nope"/);
  });

  it('counts decisions by limit and route, never by client, and reports the memory store', async () => {
    const r = route('r', { policies: ['p'], quotas: ['q'] });
    const h = track(
      harness(
        limitsConfig({
          policies: { p: policy('p', 1, 'client') },
          quotas: { q: quota('q', 10, 'partner') },
          partners: { claims: [], clients: { 'client-secret-id': 'acme' } },
        }),
      ),
    );
    await h.service.checkAfterAuth(subject(r, { clientId: 'client-secret-id', partner: 'acme' }));
    await h.service.checkAfterAuth(subject(r, { clientId: 'client-secret-id', partner: 'acme' }));
    await h.service.checkAfterAuth(subject(r, { clientId: 'other', partner: 'unlisted-partner' }));
    expect(await metricValue(h.metrics, 'tollgate_ratelimit_decisions_total', { limit: 'p', route: 'r', outcome: 'allowed' })).toBe(2);
    expect(await metricValue(h.metrics, 'tollgate_ratelimit_decisions_total', { limit: 'p', route: 'r', outcome: 'limited' })).toBe(1);
    expect(await metricValue(h.metrics, 'tollgate_quota_remaining', { quota: 'q', partner: 'acme' })).toBe(9);
    expect(await metricValue(h.metrics, 'tollgate_ratelimit_store_state')).toBe(0);
    const text = await h.metrics.registry.metrics();
    expect(text).not.toContain('client-secret-id');
    expect(text).not.toContain('unlisted-partner');
    expect(h.service.storeState()).toBe('memory');
  });
});
