// Rate limits and quotas through the real gateway: memory store on one instance, headers, 429 bodies, ip limits
// before authentication, trusted proxies. (Redis sharing and outages: ratelimit-redis.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, yamlConfig, type TestGateway } from '../helpers/gateway.js';
import { registerSecret } from '../helpers/run-artifacts.js';
import { hs256Issuer, hs256Token } from '../helpers/tokens.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const SECRET = registerSecret('ratelimit-e2e-shared-secret-0123456789');
const env = { ...process.env, RL_E2E_SECRET: SECRET };

let upstream: TestUpstream;
let gw: TestGateway;
const tokens: Record<string, string> = {};

const mint = (clientId: string, extra: Record<string, unknown> = {}): Promise<string> => hs256Token(SECRET, { client_id: clientId, scope: 'read', ...extra });

function config(): string {
  return yamlConfig({
    issuers: hs256Issuer('RL_E2E_SECRET'),
    upstreams: `  app: { url: "${upstream.url}" }`,
    routes: `  - id: orders
    match: { prefix: /orders }
    upstream: app
    auth: { issuer: local, scopes: [read] }
    risk: low
  - id: reports
    match: { prefix: /reports }
    upstream: app
    auth: { issuer: local, scopes: [read] }
    risk: medium
    rateLimits: { policies: [per-client], quotas: [daily], cost: 2 }
  - id: login
    match: { prefix: /login }
    upstream: app
    auth: { issuer: local }
    risk: low
    rateLimits: { policies: [per-ip] }
  - id: open
    match: { prefix: /open }
    upstream: app
    auth: false
    risk: low
    rateLimits: { policies: [per-ip-xff] }`,
    rateLimits: `  policies:
    per-client: { points: 3, windowSeconds: 60, key: client }
    per-ip: { points: 2, windowSeconds: 60, key: ip }
    per-ip-xff: { points: 1, windowSeconds: 60, key: ip }
  quotas:
    daily: { points: 5, period: day, key: partner }
  defaults: { policies: [per-client] }
  partners: { claims: [partner] }
  plans:
    gold: { policies: { per-client: { points: 6 } } }
  partnerPlans: { acme: gold }
  trustedProxies: [127.0.0.1/32]`,
  });
}

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startGateway(config, { env });
  tokens['a'] = await mint('svc-a');
  tokens['b'] = await mint('svc-b');
  tokens['gold'] = await mint('svc-gold', { partner: 'acme' });
  tokens['p1'] = await mint('svc-p1', { partner: 'initech' });
  tokens['p2'] = await mint('svc-p2', { partner: 'initech' });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

const call = (path: string, token?: string, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}${path}`, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });

describe('rate limits (memory store)', () => {
  it('admits the limit per client, reports it in RateLimit headers, then answers 429 with Retry-After', async () => {
    const seen: { status: number; policy: string | null; limit: string | null }[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await call('/orders/1', tokens['a']);
      seen.push({ status: res.status, policy: res.headers.get('ratelimit-policy'), limit: res.headers.get('ratelimit') });
      if (res.status === 429) {
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        const body = (await res.json()) as Record<string, unknown>;
        expect(body['code']).toBe('rate_limited');
        expect(body['detail']).toContain('"per-client"');
        // nothing about the client or another client in the body
        expect(JSON.stringify(body)).not.toContain('svc-a');
      } else await res.arrayBuffer();
    }
    expect(seen.map((s) => s.status)).toEqual([200, 200, 200, 429]);
    expect(seen[0]?.policy).toBe('"per-client";q=3;w=60');
    expect(seen.map((s) => s.limit?.replace(/t=\d+/, 't=T'))).toEqual([
      '"per-client";r=2;t=T', '"per-client";r=1;t=T', '"per-client";r=0;t=T', '"per-client";r=0;t=T',
    ]);
    // another client has its own budget
    expect((await call('/orders/1', tokens['b'])).status).toBe(200);
  });

  it('gives a partner plan its higher limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await call('/orders/2', tokens['gold'])).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429]);
  });

  it('spends the route cost and counts quotas per partner, with their remaining budget in the headers', async () => {
    // cost 2, daily partner quota 5: the partner's two clients share it; the third request of the partner is refused
    const r1 = await call('/reports', tokens['p1']);
    expect(r1.status).toBe(200);
    expect(r1.headers.get('ratelimit-policy')).toContain('"daily";q=5;w=86400');
    expect(r1.headers.get('ratelimit')).toMatch(/"daily";r=3;t=\d+/);
    const r2 = await call('/reports', tokens['p2']);
    expect(r2.status).toBe(200);
    expect(r2.headers.get('ratelimit')).toMatch(/"daily";r=1;t=\d+/);
    const r3 = await call('/reports', tokens['p1']);
    expect(r3.status).toBe(429);
    expect(((await r3.json()) as Record<string, unknown>)['detail']).toContain('quota "daily"');
    // the quota resets at the next UTC midnight, not a rolling day from the first request
    const reset = Number(r3.headers.get('retry-after'));
    const now = new Date();
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    expect(Math.abs(reset - (midnight - now.getTime()) / 1000)).toBeLessThan(5);
  });

  it('limits by source address before token verification', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await call('/login', 'not-a-token')).status);
    // two unauthenticated attempts reach the token check (401), the third is refused before it
    expect(statuses).toEqual([401, 401, 429]);
  });

  it('believes X-Forwarded-For only from trusted proxies', async () => {
    // the test client connects from 127.0.0.1, a trusted proxy here: each forwarded address has its own budget
    expect((await call('/open', undefined, { 'x-forwarded-for': '198.51.100.1' })).status).toBe(200);
    expect((await call('/open', undefined, { 'x-forwarded-for': '198.51.100.2' })).status).toBe(200);
    expect((await call('/open', undefined, { 'x-forwarded-for': '198.51.100.1' })).status).toBe(429);
    // a client cannot escape by prepending its own entry: the right-most untrusted address counts
    expect((await call('/open', undefined, { 'x-forwarded-for': '6.6.6.6, 198.51.100.2' })).status).toBe(429);
  });
});
