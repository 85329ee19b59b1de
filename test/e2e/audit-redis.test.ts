// The Redis Streams audit sink through the gateway: two instances (one chain each) in one stream, verified with
// `tollgate audit verify redis://…`; back-pressure while Redis is down (high fails closed, low keeps working) and
// nothing lost once it is back; and two instances misconfigured with one chain id (a fork, refused).
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAuditVerify } from '../../src/audit/cli.js';
import { startGateway, yamlConfig, type TestGateway } from '../helpers/gateway.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { auditDirPath, registerSecret } from '../helpers/run-artifacts.js';
import { hs256Issuer, hs256Token } from '../helpers/tokens.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const SECRET = registerSecret('audit-redis-e2e-shared-secret-0123456789');
const env = { ...process.env, AUDIT_REDIS_SECRET: SECRET };

let upstream: TestUpstream;
const closers: Array<() => Promise<void>> = [];
beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await upstream?.close();
});

/** Closes the gateway now (idempotent: afterAll closes it again only if a test failed before). */
function track(gw: TestGateway): TestGateway {
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= gw.close());
  closers.push(close);
  return { ...gw, close };
}

async function redis(): Promise<TestRedis> {
  const r = await startRedis({ persist: true });
  closers.push(() => r.close());
  return r;
}

/** A fresh key directory in the run folder: the signing key (a secret) and the JWKS the gateways publish to. */
function keys(name: string): { dir: string; jwks: string; newKey(): string } {
  const dir = auditDirPath(name);
  let n = 0;
  return {
    dir,
    jwks: join(dir, 'audit.jwks.json'),
    newKey() {
      const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      registerSecret(pem);
      const file = join(dir, `signing-${++n}.pem`);
      writeFileSync(file, pem, { mode: 0o600 });
      return file;
    },
  };
}

const routes = `  - id: orders
    match: { prefix: /orders }
    upstream: app
    auth: { issuer: local, scopes: [orders:read] }
    risk: low
  - id: payments
    match: { prefix: /payments }
    upstream: app
    auth: { issuer: local, scopes: [payments:write] }
    risk: high
    # this test is about something else: the high-risk replay and idempotency checks are off here
    highRisk: { idempotency: false, replay: false }`;

function config(o: { chainId: string; url: string; keyFile: string; jwks: string; prefix?: string }): string {
  return `${yamlConfig({ issuers: hs256Issuer('AUDIT_REDIS_SECRET'), upstreams: `  app: { url: "${upstream.url}" }`, routes })}audit:
  sink: redis
  chainId: ${o.chainId}
  redis: { url: "${o.url}"${o.prefix !== undefined ? `, keyPrefix: "${o.prefix}"` : ''} }
  signingKey: { file: ${JSON.stringify(o.keyFile)} }
  publicKeysFile: ${JSON.stringify(o.jwks)}
  checkpoint: { every: 10 }
  chainLeaseMs: 1000
`;
}

const token = (clientId: string) => hs256Token(SECRET, { client_id: clientId, scope: 'orders:read payments:write' });

async function call(gw: TestGateway, path: string, headers: Record<string, string>, method = 'GET'): Promise<Response> {
  const res = await fetch(`${gw.url}${path}`, { method, headers });
  await res.arrayBuffer();
  return res;
}

type Rec = Record<string, unknown>;

/** Every record in the stream under `prefix`, in stream order. */
async function streamRecords(url: string, prefix = '{tollgate:audit}:'): Promise<Rec[]> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const entries = await client.xrange(`${prefix}stream`, '-', '+');
    return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('rec') + 1]!) as Rec);
  } finally {
    client.disconnect();
  }
}

async function verify(url: string, jwks: string, prefix?: string): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runAuditVerify(['verify', url, ...(prefix !== undefined ? ['--prefix', prefix] : []), '--public-key', jwks], {
    out: (l) => lines.push(l),
    err: (l) => lines.push(l),
  });
  return { code, out: lines.join('\n') };
}

/** Waits until the record of request `id` is in the stream (nothing of it is in flight any more). */
async function stored(url: string, id: string): Promise<void> {
  const ok = await until(async () => (await streamRecords(url)).some((x) => x['requestId'] === id), 3000);
  expect(ok, `record of ${id} stored`).toBe(true);
}

const metricsOf = async (gw: TestGateway) => (await fetch(`${gw.adminUrl}/metrics`)).text();
const sinkUp = async (gw: TestGateway) => /^tollgate_audit_sink_up 1$/m.test(await metricsOf(gw));

async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('two gateway instances on one Redis stream', () => {
  it('each decision is recorded once, on the chain of the instance that answered; both chains verify', async () => {
    const r = await redis();
    const k = keys('e2e-redis-two');
    const a = track(await startGateway(config({ chainId: 'gw-a', url: r.url, keyFile: k.newKey(), jwks: k.jwks }), { env }));
    const b = track(await startGateway(config({ chainId: 'gw-b', url: r.url, keyFile: k.newKey(), jwks: k.jwks }), { env }));
    const tk = await token('two-instances');
    const answeredBy = new Map<string, { chain: string; status: number }>();
    // 16 concurrent clients, alternating between the instances and between an allowed, a denied (no token) and a
    // high-risk request.
    let n = 0;
    const client = async (w: number) => {
      for (let i = 0; i < 25; i++) {
        const id = `two-${w}-${i}-${n++}`;
        const [gw, chain] = (w + i) % 2 === 0 ? [a, 'gw-a'] : [b, 'gw-b'];
        const kind = i % 5;
        const res =
          kind === 4
            ? await call(gw, `/orders/${i}`, { 'x-request-id': id })
            : kind === 3
              ? await call(gw, `/payments/${i}`, { authorization: `Bearer ${tk}`, 'x-request-id': id }, 'POST')
              : await call(gw, `/orders/${i}`, { authorization: `Bearer ${tk}`, 'x-request-id': id });
        expect(res.headers.get('x-request-id')).toBe(id);
        answeredBy.set(id, { chain, status: res.status });
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, w) => client(w)));
    expect(answeredBy.size).toBe(400);
    expect([...answeredBy.values()].filter((v) => v.status === 401).length).toBeGreaterThan(0);
    await Promise.all([a.close(), b.close()]);

    const { code, out } = await verify(r.url, k.jwks);
    expect(code, out).toBe(0);
    expect(out).toMatch(/^ok chain gw-a seq 0\.\.\d+ redis:\{tollgate:audit\}:stream$/m);
    expect(out).toMatch(/^ok chain gw-b seq 0\.\.\d+ redis:\{tollgate:audit\}:stream$/m);
    expect(Number(/checkpoints verified: (\d+)/.exec(out)?.[1])).toBeGreaterThan(0);
    expect(out).not.toContain('unprotected');

    const records = await streamRecords(r.url);
    expect(new Set(records.map((x) => x['chain']))).toEqual(new Set(['gw-a', 'gw-b']));
    const decisions = records.filter((x) => x['kind'] === 'decision');
    expect(decisions).toHaveLength(answeredBy.size);
    for (const [id, { chain, status }] of answeredBy) {
      const found = decisions.filter((x) => x['requestId'] === id);
      expect(found, id).toHaveLength(1);
      expect(found[0]).toMatchObject({ chain, status });
    }
    for (const chain of ['gw-a', 'gw-b']) {
      const mine = records.filter((x) => x['chain'] === chain);
      expect(mine.map((x) => x['kind']).slice(0, 2)).toEqual(['genesis', 'start']);
      expect(mine.slice(-2).map((x) => x['kind'])).toEqual(['stop', 'checkpoint']);
    }
  });
});

describe('back-pressure: Redis goes down and comes back', () => {
  it('fails closed on high while the sink is down, keeps low running, and stores the outage records once Redis is back', async () => {
    const r = await redis();
    const k = keys('e2e-redis-outage');
    const gw = track(await startGateway(config({ chainId: 'gw-outage', url: r.url, keyFile: k.newKey(), jwks: k.jwks }), { env }));
    const tk = await token('outage-client');
    const auth = { authorization: `Bearer ${tk}` };

    expect((await call(gw, '/payments/before', { ...auth, 'x-request-id': 'out-high-before' }, 'POST')).status).toBe(200);
    expect(await sinkUp(gw)).toBe(true);
    await stored(r.url, 'out-high-before');

    await r.stop();
    // The sink learns of the outage from a failed store: a low-risk request (fail_open) is answered and its
    // record cannot be stored.
    expect((await call(gw, '/orders/detect', { ...auth, 'x-request-id': 'out-low-detect' })).status).toBe(200);
    expect(await until(async () => !(await sinkUp(gw)), 3000), 'sink reported down').toBe(true);

    const seenBefore = upstream.seen.length;
    const high = await fetch(`${gw.url}/payments/during-outage`, { method: 'POST', headers: { ...auth, 'x-request-id': 'out-high-503' } });
    expect(high.status).toBe(503);
    expect(high.headers.get('retry-after')).toBe('5');
    expect(await high.json()).toMatchObject({ code: 'audit_unavailable', status: 503 });
    expect(upstream.seen.some((s) => s.url === '/payments/during-outage')).toBe(false);
    const low = await call(gw, '/orders/during-outage', { ...auth, 'x-request-id': 'out-low-200' });
    expect(low.status).toBe(200);
    expect(upstream.seen.slice(seenBefore).map((s) => s.url)).toEqual(['/orders/during-outage']);

    const metrics = await metricsOf(gw);
    expect(metrics).toMatch(/^tollgate_audit_sink_up 0$/m);
    expect(metrics).toMatch(/^tollgate_audit_rejections_total\{tier="high"\} 1$/m);
    expect(metrics).toMatch(/^tollgate_audit_sink_errors_total [1-9]/m);
    expect(metrics).toMatch(/^tollgate_audit_pending_records [1-9]/m);
    expect(gw.logText()).toContain('audit sink cannot store records');

    // Redis comes back with its AOF (persist: true): the chain's head is there, the buffered records are stored.
    await r.restart();
    expect(await until(() => sinkUp(gw), 8000), 'sink recovered').toBe(true);
    expect(await metricsOf(gw)).toMatch(/^tollgate_audit_pending_records 0$/m);
    expect((await call(gw, '/payments/after', { ...auth, 'x-request-id': 'out-high-after' }, 'POST')).status).toBe(200);
    expect(upstream.seen.some((s) => s.url === '/payments/after')).toBe(true);
    await gw.close();

    const { code, out } = await verify(r.url, k.jwks);
    expect(code, out).toBe(0);
    expect(out).toMatch(/^ok chain gw-outage seq 0\.\.\d+ /m);
    const records = await streamRecords(r.url);
    const byId = (id: string) => records.filter((x) => x['requestId'] === id);
    for (const id of ['out-high-before', 'out-low-detect', 'out-high-503', 'out-low-200', 'out-high-after']) expect(byId(id), id).toHaveLength(1);
    expect(byId('out-high-503')[0]).toMatchObject({
      kind: 'decision',
      decision: 'deny',
      stage: 'audit_gate',
      reasons: ['audit_unavailable', 'audit_sink_down'],
      status: 503,
      riskTier: 'high',
    });
    expect(byId('out-low-200')[0]).toMatchObject({ kind: 'decision', decision: 'allow', status: 200, riskTier: 'low' });
    expect(byId('out-low-detect')[0]).toMatchObject({ decision: 'allow', status: 200 });
    expect(byId('out-high-after')[0]).toMatchObject({ decision: 'allow', status: 200 });
    // One chain, no restart of it: one genesis, one start, one stop.
    expect(records.filter((x) => x['kind'] === 'genesis')).toHaveLength(1);
    expect(records.filter((x) => x['kind'] === 'start')).toHaveLength(1);
    expect(records.filter((x) => x['kind'] === 'stop')).toHaveLength(1);
  });
});

describe('back-pressure: the first high-risk request after Redis died', () => {
  it('is refused (503, never forwarded) even when no record store has failed yet', async () => {
    const r = await redis();
    const k = keys('e2e-redis-outage-first');
    const gw = track(await startGateway(config({ chainId: 'gw-outage-first', url: r.url, keyFile: k.newKey(), jwks: k.jwks }), { env }));
    const tk = await token('outage-first-client');
    const auth = { authorization: `Bearer ${tk}` };
    expect((await call(gw, '/payments/before', { ...auth, 'x-request-id': 'first-high-before' }, 'POST')).status).toBe(200);
    // Nothing in flight when Redis dies: the sink has stored everything and has no failed store to learn from.
    await stored(r.url, 'first-high-before');
    expect(await metricsOf(gw)).toMatch(/^tollgate_audit_pending_records 0$/m);
    expect(await sinkUp(gw)).toBe(true);

    await r.stop();
    // The connection is gone (SIGKILL closes the socket at once); give the client a moment to see it.
    await new Promise((res) => setTimeout(res, 300));
    const high = await fetch(`${gw.url}/payments/right-after-the-outage`, { method: 'POST', headers: { ...auth, 'x-request-id': 'first-high-503' } });
    await high.arrayBuffer();
    expect(upstream.seen.some((s) => s.url === '/payments/right-after-the-outage'), 'a high-risk request was forwarded while Redis was down').toBe(false);
    expect(high.status).toBe(503);
    expect(await metricsOf(gw)).toMatch(/^tollgate_audit_sink_up 0$/m);
  });
});

describe('two instances configured with the same chain id', () => {
  it('the second instance does not start (the running one holds the chain); the running one keeps its chain', async () => {
    const r = await redis();
    const k = keys('e2e-redis-fork');
    const keyFile = k.newKey();
    const first = track(await startGateway(config({ chainId: 'gw-same', url: r.url, keyFile, jwks: k.jwks }), { env }));
    const tk = await token('fork-client');
    const auth = { authorization: `Bearer ${tk}` };
    expect((await call(first, '/orders/1', { ...auth, 'x-request-id': 'fork-first-1' })).status).toBe(200);

    // The misconfigured second instance is refused at start: a gateway that cannot audit does not start.
    await expect(startGateway(config({ chainId: 'gw-same', url: r.url, keyFile, jwks: k.jwks }), { env })).rejects.toThrow(
      /chain "gw-same" is in use by another running instance/,
    );
    for (let i = 0; i < 3; i++) expect((await call(first, `/orders/f${i}`, { ...auth, 'x-request-id': `fork-first-${i + 2}` })).status).toBe(200);
    expect(await sinkUp(first)).toBe(true);
    expect((await call(first, '/payments/ok', { ...auth, 'x-request-id': 'fork-first-high' }, 'POST')).status).toBe(200);

    await first.close();
    const { code, out } = await verify(r.url, k.jwks);
    expect(code, out).toBe(0);
    // Every decision the running instance made is stored, and only one instance ever started on the chain.
    const recs = await streamRecords(r.url);
    const ids = recs.map((x) => x['requestId']);
    for (const id of ['fork-first-1', 'fork-first-2', 'fork-first-3', 'fork-first-4', 'fork-first-high']) expect(ids, id).toContain(id);
    expect(recs.filter((x) => x['kind'] === 'start')).toHaveLength(1);
  });
});
