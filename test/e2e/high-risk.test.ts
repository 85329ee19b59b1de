// High-risk routes through real gateways on one real Redis: idempotency keys (one upstream call for N concurrent
// requests, replay identical in status, headers and body, 422 on a different request, keys per client, expiry with
// a controlled clock, each upstream-failure choice) and nonce + timestamp replay protection (across instances,
// window edges, malformed headers), and Redis down → 503.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecordOf, startGateway, yamlConfig, type TestGateway } from '../helpers/gateway.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { registerSecret } from '../helpers/run-artifacts.js';
import { hs256Issuer, hs256Token } from '../helpers/tokens.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const SECRET = registerSecret('high-risk-e2e-shared-secret-0123456789ab');
const env = { ...process.env, HR_E2E_SECRET: SECRET };

let redis: TestRedis;
let upstream: TestUpstream;
let served = 0;
const gws: TestGateway[] = [];
// Whole seconds, so the timestamp window edges are exact.
let clock = Math.floor(Date.now() / 1000) * 1000;
const now = () => clock;

beforeAll(async () => {
  redis = await startRedis();
  upstream = await startUpstream((req, res) => {
    served++;
    if (req.url.startsWith('/pay/slow')) {
      setTimeout(() => answer(res, 201), 300);
    } else if (req.url.startsWith('/pay/fail')) {
      answer(res, 500);
    } else if (req.url.startsWith('/pay/big')) {
      res.writeHead(201, { 'content-type': 'application/octet-stream' });
      res.end(randomBytes(4096));
    } else if (req.url.startsWith('/pay/hang')) {
      // no answer: the gateway's response timeout fires
    } else {
      answer(res, 201);
    }
  });
});
afterAll(async () => {
  for (const gw of gws) await gw.close();
  await upstream.close();
  await redis.close();
});

/** A response with something unique in it, so a replay can be told from a second execution. */
function answer(res: import('node:http').ServerResponse, status: number): void {
  const body = JSON.stringify({ payment: randomUUID(), status });
  res.writeHead(status, { 'content-type': 'application/json', location: `/pay/${randomUUID()}`, etag: `"${randomUUID()}"`, 'x-not-stored': 'x' });
  res.end(body);
}

function config(store: 'memory' | 'redis'): string {
  return `${yamlConfig({
    issuers: hs256Issuer('HR_E2E_SECRET'),
    upstreams: `  app: { url: "${upstream.url}", responseTimeoutMs: 500 }
  dead: { url: "http://127.0.0.1:1" }`,
    routes: `  - id: pay
    match: { prefix: /pay }
    upstream: app
    auth: { issuer: local }
    risk: high
  - id: dead
    match: { prefix: /dead }
    upstream: dead
    auth: { issuer: local }
    risk: high
  - id: read
    match: { prefix: /read }
    upstream: app
    auth: { issuer: local }
    risk: low
  - id: once
    match: { prefix: /once }
    upstream: app
    auth: { issuer: local }
    risk: low
    highRisk: { jtiOnce: true }`,
  })}highRisk:
  store: ${store}
${store === 'redis' ? `  redis: { url: "${redis.url}", commandTimeoutMs: 300 }\n` : ''}  idempotency: { ttlSeconds: 60, leaseSeconds: 30, maxStoredBodyBytes: 1024 }
  replay: { windowSeconds: 300, clockSkewSeconds: 0 }
`;
}

async function gateway(store: 'memory' | 'redis'): Promise<TestGateway> {
  const gw = await startGateway(config(store), { env, now });
  gws.push(gw);
  return gw;
}

const nonce = () => randomBytes(16).toString('base64url');
const ts = (offset = 0) => String(Math.floor(clock / 1000) + offset);
const key = () => `"${randomUUID()}"`;

async function pay(gw: TestGateway, path: string, o: { token: string; key?: string; body?: string; nonce?: string; ts?: string; extra?: Record<string, string> }) {
  const headers: Record<string, string> = { authorization: `Bearer ${o.token}`, 'content-type': 'application/json', 'x-tollgate-nonce': o.nonce ?? nonce(), 'x-tollgate-timestamp': o.ts ?? ts(), ...o.extra };
  if (o.key !== undefined) headers['idempotency-key'] = o.key;
  const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers, body: o.body ?? '{"amount": 10}' });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString('utf8')) as Record<string, unknown> };
}

describe('idempotency keys on Redis, two instances', () => {
  let a: TestGateway;
  let b: TestGateway;
  let alice: string;
  let bob: string;
  beforeAll(async () => {
    a = await gateway('redis');
    b = await gateway('redis');
    alice = await hs256Token(SECRET, { client_id: 'alice' });
    bob = await hs256Token(SECRET, { client_id: 'bob' });
  });

  it('N concurrent requests with one key across two instances: one upstream call; the rest 409 or the same response', async () => {
    const k = key();
    const before = served;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => pay(i % 2 ? a : b, '/pay/slow', { token: alice, key: k })));
    expect(served - before, JSON.stringify(results.map((r) => [r.status, r.status >= 400 ? r.json()['code'] : '']))).toBe(1);
    const created = results.filter((r) => r.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(results.every((r) => r.status === 201 || r.status === 409), JSON.stringify(results.map((r) => [r.status, r.status >= 400 ? r.json()['code'] : '']))).toBe(true);
    for (const r of results.filter((x) => x.status === 409)) expect(r.json()['code']).toBe('idempotency_key_in_use');
    // after completion every retry, on either instance, gets the stored response
    const first = created.find((r) => r.headers.get('idempotent-replayed') === null)!;
    for (const gw of [a, b]) {
      const again = await pay(gw, '/pay/slow', { token: alice, key: k });
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.bytes.equals(first.bytes)).toBe(true);
      for (const h of ['content-type', 'location', 'etag']) expect(again.headers.get(h)).toBe(first.headers.get(h));
      expect(again.headers.get('x-not-stored')).toBeNull();
    }
    expect(served - before).toBe(1);
  });

  it('same key, different request → 422; missing or malformed key → 400; keys are per client', async () => {
    const k = key();
    expect((await pay(a, '/pay/ok', { token: alice, key: k, body: '{"amount": 10}' })).status).toBe(201);
    const other = await pay(b, '/pay/ok', { token: alice, key: k, body: '{"amount": 11}' });
    expect(other.status).toBe(422);
    expect(other.json()['code']).toBe('idempotency_key_mismatch');
    // Bob's identical key is his own: it runs and does not see Alice's response
    const before = served;
    const bobs = await pay(a, '/pay/ok', { token: bob, key: k, body: '{"amount": 10}' });
    expect(bobs.status).toBe(201);
    expect(bobs.headers.get('idempotent-replayed')).toBeNull();
    expect(served - before).toBe(1);
    for (const bad of [undefined, 'bare-token', '""', '"a\\b"', `"${'x'.repeat(256)}"`, '"é"']) {
      const r = await pay(a, '/pay/ok', { token: alice, ...(bad !== undefined ? { key: bad } : {}) });
      expect(r.status, String(bad)).toBe(400);
      expect(r.json()['code']).toBe('idempotency_key_invalid');
    }
    expect((await pay(a, '/pay/ok', { token: alice, key: `"${'x'.repeat(255)}"` })).status).toBe(201);
  });

  it('upstream failures: 5xx is replayed; too big to store → 409 naming the status; no answer → outcome unknown; never sent → key freed', async () => {
    const k500 = key();
    const first = await pay(a, '/pay/fail', { token: alice, key: k500 });
    expect(first.status).toBe(500);
    const before = served;
    const again = await pay(b, '/pay/fail', { token: alice, key: k500 });
    expect(again.status).toBe(500);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.bytes.equals(first.bytes)).toBe(true);

    const kBig = key();
    expect((await pay(a, '/pay/big', { token: alice, key: kBig })).status).toBe(201);
    const big = await pay(b, '/pay/big', { token: alice, key: kBig });
    expect(big.status).toBe(409);
    expect(big.json()).toMatchObject({ code: 'idempotency_replay_unavailable' });
    expect(String(big.json()['detail'])).toContain('201');

    const kHang = key();
    expect((await pay(a, '/pay/hang', { token: alice, key: kHang })).status).toBe(504);
    const hung = await pay(b, '/pay/hang', { token: alice, key: kHang });
    expect(hung.status).toBe(409);
    expect(String(hung.json()['detail'])).toMatch(/outcome is unknown/);
    expect(served - before).toBe(2); // big and hang ran once each; the retries did not reach the upstream

    const kDead = key();
    expect((await pay(a, '/dead/x', { token: alice, key: kDead })).status).toBe(502);
    // never reached the upstream: the key is free, the retry runs (and fails the same way, not 409)
    expect((await pay(b, '/dead/x', { token: alice, key: kDead })).status).toBe(502);
  });

  it('keys expire: after the TTL (controlled clock) the same key starts fresh', async () => {
    const k = key();
    expect((await pay(a, '/pay/ok', { token: alice, key: k })).status).toBe(201);
    expect((await pay(a, '/pay/ok', { token: alice, key: k })).headers.get('idempotent-replayed')).toBe('true');
    const before = served;
    clock += 61_000;
    try {
      const fresh = await pay(b, '/pay/ok', { token: alice, key: k });
      expect(fresh.status).toBe(201);
      expect(fresh.headers.get('idempotent-replayed')).toBeNull();
      expect(served - before).toBe(1);
    } finally {
      clock -= 61_000;
    }
  });

  it('replays are audited as allowed with the key hashed; a low route needs no key', async () => {
    const k = key();
    await pay(a, '/pay/ok', { token: alice, key: k });
    const r = await pay(a, '/pay/ok', { token: alice, key: k, extra: { 'x-request-id': 'hr-replay-1' } });
    expect(r.headers.get('idempotent-replayed')).toBe('true');
    const rec = await auditRecordOf(a, 'hr-replay-1');
    expect(rec).toMatchObject({ decision: 'allow', reasons: ['idempotent_replay'], status: 201, riskTier: 'high' });
    expect(rec['idempotencyKeyHash']).toMatch(/^[0-9a-f]{64}$/);
    const read = await fetch(`${a.url}/read/1`, { method: 'POST', headers: { authorization: `Bearer ${alice}` }, body: '{}' });
    expect(read.status).toBe(201);
  });
});

describe('nonce and timestamp', () => {
  let a: TestGateway;
  let b: TestGateway;
  let tk: string;
  beforeAll(async () => {
    a = gws[0] ?? (await gateway('redis'));
    b = gws[1] ?? (await gateway('redis'));
    tk = await hs256Token(SECRET, { client_id: 'carol' });
  });

  it('a nonce works once, across instances', async () => {
    const n = nonce();
    expect((await pay(a, '/pay/ok', { token: tk, key: key(), nonce: n })).status).toBe(201);
    const replay = await pay(b, '/pay/ok', { token: tk, key: key(), nonce: n });
    expect(replay.status).toBe(409);
    expect(replay.json()['code']).toBe('replay_detected');
    // another client may use the same nonce value: nonces are per client
    const dave = await hs256Token(SECRET, { client_id: 'dave' });
    expect((await pay(b, '/pay/ok', { token: dave, key: key(), nonce: n })).status).toBe(201);
  });

  it('window edges: ±window accepted, ±(window + 1 s) refused; malformed headers refused', async () => {
    expect((await pay(a, '/pay/ok', { token: tk, key: key(), ts: ts(300) })).status).toBe(201);
    expect((await pay(a, '/pay/ok', { token: tk, key: key(), ts: ts(-300) })).status).toBe(201);
    for (const off of [301, -301]) {
      const r = await pay(a, '/pay/ok', { token: tk, key: key(), ts: ts(off) });
      expect(r.status, String(off)).toBe(400);
      expect(r.json()['code']).toBe('timestamp_invalid');
    }
    for (const [n, t, code] of [
      ['short', ts(), 'nonce_invalid'],
      ['x'.repeat(21), ts(), 'nonce_invalid'],
      ['has space in it aaaaaaaaaaaa', ts(), 'nonce_invalid'],
      [nonce(), 'yesterday', 'timestamp_invalid'],
      [nonce(), '-5', 'timestamp_invalid'],
      [nonce(), '1.5', 'timestamp_invalid'],
    ] as const) {
      const r = await pay(a, '/pay/ok', { token: tk, key: key(), nonce: n, ts: t });
      expect(r.status, `${n} ${t}`).toBe(400);
      expect(r.json()['code']).toBe(code);
    }
    const metrics = await (await fetch(`${a.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/tollgate_highrisk_checks_total\{check="replay",outcome="timestamp_outside_window"\} 2/);
    expect(metrics).toMatch(/tollgate_highrisk_checks_total\{check="replay",outcome="nonce_invalid"\} 3/);
    // the replay of the previous test was refused by the other instance
    expect(await (await fetch(`${b.adminUrl}/metrics`)).text()).toMatch(/tollgate_highrisk_checks_total\{check="replay",outcome="replayed"\} 1/);
  });

  it('Redis down → 503 on high-risk routes (never forwarded); back up → works', async () => {
    const before = served;
    await redis.stop();
    try {
      const r = await pay(a, '/pay/ok', { token: tk, key: key() });
      expect(r.status).toBe(503);
      expect(r.json()['code']).toBe('high_risk_store_unavailable');
      expect(served).toBe(before);
    } finally {
      await redis.restart();
    }
    let status = 0;
    for (let i = 0; i < 50 && status !== 201; i++) {
      status = (await pay(a, '/pay/ok', { token: tk, key: key() })).status;
      if (status !== 201) await new Promise((res) => setTimeout(res, 100));
    }
    expect(status).toBe(201);
  });
});

describe('one-time tokens (jtiOnce)', () => {
  it('a token works once on the route, across instances; a token without jti is refused', async () => {
    const a = gws[0] ?? (await gateway('redis'));
    const b = gws[1] ?? (await gateway('redis'));
    const once = await hs256Token(SECRET, { client_id: 'frank', jti: randomUUID() });
    expect((await fetch(`${a.url}/once/1`, { headers: { authorization: `Bearer ${once}` } })).status).toBe(201);
    const again = await fetch(`${b.url}/once/2`, { headers: { authorization: `Bearer ${once}` } });
    expect(again.status).toBe(409);
    expect((await again.json()) as Record<string, unknown>).toMatchObject({ code: 'replay_detected' });
    const noJti = await hs256Token(SECRET, { client_id: 'frank' });
    expect((await fetch(`${a.url}/once/3`, { headers: { authorization: `Bearer ${noJti}` } })).status).toBe(401);
    // other routes are not affected
    expect((await fetch(`${a.url}/read/1`, { headers: { authorization: `Bearer ${once}` } })).status).toBe(201);
  });
});

describe('memory store (one instance)', () => {
  it('behaves the same: one execution per key, replay, mismatch', async () => {
    const gw = await gateway('memory');
    const tk = await hs256Token(SECRET, { client_id: 'erin' });
    const k = key();
    const before = served;
    const results = await Promise.all(Array.from({ length: 10 }, () => pay(gw, '/pay/slow', { token: tk, key: k })));
    expect(served - before).toBe(1);
    expect(results.filter((r) => r.status === 201).length).toBeGreaterThanOrEqual(1);
    expect((await pay(gw, '/pay/slow', { token: tk, key: k })).headers.get('idempotent-replayed')).toBe('true');
    expect((await pay(gw, '/pay/slow', { token: tk, key: k, body: '{"amount": 99}' })).status).toBe(422);
  });
});
