// Two gateway instances sharing one real redis-server (started by the test on a spare port): exact admission
// under a concurrent burst, Redis killed mid-traffic (high tier fails closed with 503, low tier falls back and is
// counted), Redis back (shared counting resumes without restarting the gateways).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, yamlConfig, type TestGateway } from '../helpers/gateway.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { registerSecret } from '../helpers/run-artifacts.js';
import { hs256Issuer, hs256Token } from '../helpers/tokens.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const SECRET = registerSecret('ratelimit-redis-e2e-secret-0123456789');
const env = { ...process.env, RLR_E2E_SECRET: SECRET };

let redis: TestRedis;
let upstream: TestUpstream;
let gws: TestGateway[] = [];

const mint = (clientId: string): Promise<string> => hs256Token(SECRET, { client_id: clientId });

function config(): string {
  return yamlConfig({
    issuers: hs256Issuer('RLR_E2E_SECRET'),
    upstreams: `  app: { url: "${upstream.url}" }`,
    routes: `  - id: burst
    match: { prefix: /burst }
    upstream: app
    auth: { issuer: local }
    risk: low
    rateLimits: { policies: [burst], quotas: [daily] }
  - id: quota
    match: { prefix: /quota }
    upstream: app
    auth: { issuer: local }
    risk: low
    rateLimits: { policies: [], quotas: [daily] }
  - id: low
    match: { prefix: /low }
    upstream: app
    auth: { issuer: local }
    risk: low
  - id: high
    match: { prefix: /high }
    upstream: app
    auth: { issuer: local }
    risk: high
    # this test is about something else: the high-risk replay and idempotency checks are off here
    highRisk: { idempotency: false, replay: false }`,
    rateLimits: `  store: redis
  redis: { url: "${redis.url}", connectTimeoutMs: 300, commandTimeoutMs: 200 }
  policies:
    burst: { points: 50, windowSeconds: 60, key: client }
    normal: { points: 1000, windowSeconds: 60, key: client }
  quotas:
    daily: { points: 70, period: day, key: client }
  defaults: { policies: [normal] }`,
  });
}

beforeAll(async () => {
  redis = await startRedis();
  upstream = await startUpstream();
  gws = [await startGateway(config, { env }), await startGateway(config, { env })];
}, 30_000);

afterAll(async () => {
  for (const g of gws) await g.close();
  await upstream?.close();
  await redis?.close();
});

const call = (gw: TestGateway, path: string, token: string) => fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

async function statuses(reqs: Promise<Response>[]): Promise<number[]> {
  return Promise.all(reqs.map(async (p) => { const r = await p; await r.arrayBuffer(); return r.status; }));
}

const metric = async (gw: TestGateway, name: string): Promise<string[]> => (await gw.metrics.registry.metrics()).split('\n').filter((l) => l.startsWith(name));

describe('rate limits shared through Redis', () => {
  it('admits exactly the limit in total across two instances under a concurrent burst', async () => {
    const token = await mint('burst-client');
    const reqs: Promise<Response>[] = [];
    for (let i = 0; i < 200; i++) reqs.push(call(gws[i % 2] as TestGateway, '/burst', token));
    const got = await statuses(reqs);
    expect(got.filter((s) => s === 200)).toHaveLength(50);
    expect(got.filter((s) => s === 429)).toHaveLength(150);
  });

  it('counts a quota exactly across instances too', async () => {
    const token = await mint('quota-client');
    const got = await statuses(Array.from({ length: 150 }, (_, i) => call(gws[i % 2] as TestGateway, '/quota', token)));
    expect(got.filter((s) => s === 200)).toHaveLength(70);
    expect(got.filter((s) => s === 429)).toHaveLength(80);
  });

  it('fails closed on high-risk routes and falls back on low-risk ones while Redis is down, then recovers', async () => {
    const token = await mint('outage-client');
    expect((await call(gws[0] as TestGateway, '/high', token)).status).toBe(200);
    await redis.stop();
    const high = await call(gws[0] as TestGateway, '/high', token);
    expect(high.status).toBe(503);
    expect(high.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await high.json()) as Record<string, unknown>)['code']).toBe('rate_limit_unavailable');
    const low = await call(gws[1] as TestGateway, '/low', token);
    expect(low.status).toBe(200);
    await low.arrayBuffer();
    expect((await metric(gws[1] as TestGateway, 'tollgate_ratelimit_fallback_total')).join('\n')).toMatch(/tier="low"} [1-9]/);
    expect((await metric(gws[0] as TestGateway, 'tollgate_ratelimit_decisions_total')).join('\n')).toMatch(/outcome="unavailable"} [1-9]/);

    await redis.restart();
    // ioredis reconnects by itself; wait (bounded) until the high-risk route is served again
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      const r = await call(gws[0] as TestGateway, '/high', token);
      status = r.status;
      await r.arrayBuffer();
      if (status !== 200) await new Promise((res) => setTimeout(res, 100));
    }
    expect(status).toBe(200);
    // and counting is shared again: a fresh client's burst is exact across both instances
    const fresh = await mint('after-outage');
    const got = await statuses(Array.from({ length: 80 }, (_, i) => call(gws[i % 2] as TestGateway, '/burst', fresh)));
    expect(got.filter((s) => s === 200)).toHaveLength(50);
  }, 30_000);
});
