/**
 * The high-risk stores' contract (src/highrisk/types.ts), run against the memory stores and against a REAL
 * redis-server (no mocks), plus what only one of them has: memory caps, two Redis clients (two gateway
 * instances), Redis outages.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryIdempotencyStore, createMemoryNonceStore } from '../../src/highrisk/memory.js';
import { createRedisIdempotencyStore, createRedisNonceStore } from '../../src/highrisk/redis.js';
import { HighRiskStoreError, HighRiskStoreFullError, type BeginResult, type IdempotencyStore, type NonceStore, type StoredResponse } from '../../src/highrisk/types.js';
import { createRedisClient, type RedisClient } from '../../src/ratelimit/redis.js';
import { startRedis, startRedisCluster, type TestRedis } from '../helpers/redis.js';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const TTL = 24 * 3600_000;
const LEASE = 30_000;
const begin = (s: IdempotencyStore, key: string, fp: string, now = T0, o: { ttlMs?: number; leaseMs?: number } = {}): Promise<BeginResult> =>
  s.begin(key, fp, { ttlMs: o.ttlMs ?? TTL, leaseMs: o.leaseMs ?? Math.min(LEASE, o.ttlMs ?? TTL), now });

async function started(s: IdempotencyStore, key: string, fp = 'fp-1', now = T0, o: { ttlMs?: number; leaseMs?: number } = {}): Promise<string> {
  const r = await begin(s, key, fp, now, o);
  if (r.kind !== 'started') throw new Error(`expected started, got ${r.kind}`);
  return r.lease;
}

/** Bytes that are not UTF-8 (a lone continuation byte, an overlong form, 0xff/0xfe, NUL) plus random bytes. */
function binaryBody(): Buffer {
  return Buffer.concat([Buffer.from([0x00, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0x0d, 0x0a]), randomBytes(70_000)]);
}

function response(over: Partial<StoredResponse> = {}): StoredResponse {
  return {
    status: 201,
    headers: [
      ['content-type', 'application/octet-stream'],
      ['x-z', 'last-alphabetically-first'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
      ['x-latin1', 'caf\u00e9 \u00ff'],
      ['location', '/orders/42?x="y"'],
    ],
    body: binaryBody(),
    outcome: 'response',
    completedAt: T0 + 5,
    ...over,
  };
}

function expectSame(got: StoredResponse, want: StoredResponse): void {
  expect(got.status).toBe(want.status);
  expect(got.headers).toEqual(want.headers); // order and duplicates included
  expect(Buffer.isBuffer(got.body)).toBe(true);
  expect(got.body.equals(want.body)).toBe(true);
  expect(got.outcome).toBe(want.outcome);
  expect(got.completedAt).toBe(want.completedAt);
}

interface Kit {
  idem: IdempotencyStore;
  nonce: NonceStore;
  /** A second gateway instance's stores (for memory: the same ones — one instance). */
  idem2: IdempotencyStore;
  nonce2: NonceStore;
}

let redis: TestRedis;
const clients: RedisClient[] = [];

async function redisClient(url: string, commandTimeoutMs = 300): Promise<RedisClient> {
  const c = createRedisClient({ url, keyPrefix: 'unused:', connectTimeoutMs: 1000, commandTimeoutMs });
  clients.push(c);
  c.on('error', () => undefined); // reconnect noise during the outage tests
  if (c.status !== 'ready') await new Promise<void>((resolve, reject) => {
    c.once('ready', resolve);
    setTimeout(() => reject(new Error('redis client not ready')), 5000).unref();
  });
  return c;
}

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await redis?.close();
});

const kits: Kit[] = [];
afterEach(async () => {
  for (const k of kits.splice(0)) await Promise.all([k.idem.close(), k.nonce.close(), k.idem2.close(), k.nonce2.close()]);
});

const impls: Array<{ name: string; make(): Promise<Kit> }> = [
  {
    name: 'memory',
    async make() {
      const idem = createMemoryIdempotencyStore({ maxEntries: 1000 });
      const nonce = createMemoryNonceStore({ maxEntries: 1000 });
      return { idem, nonce, idem2: idem, nonce2: nonce };
    },
  },
  {
    name: 'redis',
    async make() {
      // A fresh prefix per test: tests never see each other's keys. Two clients = two gateway instances.
      const prefix = `{test:${randomBytes(6).toString('hex')}}:`;
      const [a, b] = [await redisClient(redis.url), await redisClient(redis.url)] as [RedisClient, RedisClient];
      return {
        idem: createRedisIdempotencyStore(a, { prefix }),
        nonce: createRedisNonceStore(a, { prefix }),
        idem2: createRedisIdempotencyStore(b, { prefix }),
        nonce2: createRedisNonceStore(b, { prefix }),
      };
    },
  },
];

describe.each(impls)('$name stores: the contract', ({ make }) => {
  const kit = async (): Promise<Kit> => {
    const k = await make();
    kits.push(k);
    return k;
  };

  it('50 concurrent begins with one key: exactly one started, the rest in_flight (across both instances)', async () => {
    const { idem, idem2 } = await kit();
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => begin(i % 2 === 0 ? idem : idem2, 'k-race', 'fp-1')));
    expect(rs.filter((r) => r.kind === 'started')).toHaveLength(1);
    expect(rs.filter((r) => r.kind === 'in_flight')).toHaveLength(49);
  });

  it('50 concurrent begins with one key and two fingerprints: one started, the same fingerprint in_flight, the other mismatch', async () => {
    const { idem, idem2 } = await kit();
    const rs = await Promise.all(
      Array.from({ length: 50 }, (_, i) => begin(i % 2 === 0 ? idem : idem2, 'k-race2', i % 3 === 0 ? 'fp-a' : 'fp-b').then((r) => ({ r, fp: i % 3 === 0 ? 'fp-a' : 'fp-b' }))),
    );
    const winner = rs.filter((x) => x.r.kind === 'started');
    expect(winner).toHaveLength(1);
    for (const x of rs) {
      if (x === winner[0]) continue;
      expect(x.r.kind).toBe(x.fp === winner[0]!.fp ? 'in_flight' : 'mismatch');
    }
  });

  it('same key, different fingerprint: mismatch while in flight and once completed; other keys are independent', async () => {
    const { idem, idem2 } = await kit();
    const lease = await started(idem, 'k-m', 'fp-1');
    expect(await begin(idem2, 'k-m', 'fp-2')).toEqual({ kind: 'mismatch' });
    expect((await begin(idem2, 'k-other', 'fp-2')).kind).toBe('started');
    expect(await idem.complete('k-m', lease, response(), { ttlMs: TTL, now: T0 + 5 })).toBe(true);
    expect(await begin(idem2, 'k-m', 'fp-2', T0 + 10)).toEqual({ kind: 'mismatch' });
    expect((await begin(idem2, 'k-m', 'fp-1', T0 + 10)).kind).toBe('completed');
  });

  it('complete, then a retry replays status, headers (order, duplicates) and body bytes exactly, on either instance', async () => {
    const { idem, idem2 } = await kit();
    const lease = await started(idem, 'k-r');
    const want = response();
    expect(await idem.complete('k-r', lease, want, { ttlMs: TTL, now: T0 + 5 })).toBe(true);
    for (const s of [idem, idem2, idem]) {
      const r = await begin(s, 'k-r', 'fp-1', T0 + 100);
      expect(r.kind).toBe('completed');
      expectSame((r as Extract<BeginResult, { kind: 'completed' }>).response, want);
    }
    // An empty body and no headers survive too.
    const l2 = await started(idem, 'k-r-empty');
    const empty = response({ status: 204, headers: [], body: Buffer.alloc(0) });
    expect(await idem.complete('k-r-empty', l2, empty, { ttlMs: TTL, now: T0 + 5 })).toBe(true);
    expectSame(((await begin(idem2, 'k-r-empty', 'fp-1', T0 + 6)) as Extract<BeginResult, { kind: 'completed' }>).response, empty);
  });

  it('a replay cannot alter the stored response', async () => {
    const { idem } = await kit();
    const lease = await started(idem, 'k-alias');
    const want = response();
    const mine = { ...want, body: Buffer.from(want.body), headers: want.headers.map((h) => [...h] as [string, string]) };
    await idem.complete('k-alias', lease, mine, { ttlMs: TTL, now: T0 + 5 });
    mine.body.fill(0); // the caller reuses its buffer
    const r1 = (await begin(idem, 'k-alias', 'fp-1', T0 + 6)) as Extract<BeginResult, { kind: 'completed' }>;
    r1.response.body.fill(1);
    r1.response.headers.pop();
    expectSame(((await begin(idem, 'k-alias', 'fp-1', T0 + 7)) as Extract<BeginResult, { kind: 'completed' }>).response, want);
  });

  it('too_large and unknown outcomes keep status and headers, never a body', async () => {
    const { idem, idem2 } = await kit();
    for (const outcome of ['too_large', 'unknown'] as const) {
      const key = `k-${outcome}`;
      const lease = await started(idem, key);
      expect(await idem.complete(key, lease, response({ outcome, status: outcome === 'unknown' ? 0 : 200 }), { ttlMs: TTL, now: T0 + 5 })).toBe(true);
      const r = (await begin(idem2, key, 'fp-1', T0 + 6)) as Extract<BeginResult, { kind: 'completed' }>;
      expect(r.kind).toBe('completed');
      expectSame(r.response, response({ outcome, status: outcome === 'unknown' ? 0 : 200, body: Buffer.alloc(0) }));
    }
  });

  it('only the lease holder completes; completing twice with that lease is a no-op', async () => {
    const { idem, idem2 } = await kit();
    const lease = await started(idem, 'k-l');
    expect(await idem2.complete('k-l', 'not-the-lease', response({ status: 500 }), { ttlMs: TTL, now: T0 + 1 })).toBe(false);
    expect(await begin(idem2, 'k-l', 'fp-1', T0 + 2)).toEqual({ kind: 'in_flight' });
    expect(await idem2.complete('k-never-begun', lease, response(), { ttlMs: TTL, now: T0 + 1 })).toBe(false);
    const want = response();
    expect(await idem.complete('k-l', lease, want, { ttlMs: TTL, now: T0 + 5 })).toBe(true);
    // The same holder again (a retried call whose reply was lost): true, and the stored answer does not change.
    expect(await idem2.complete('k-l', lease, response({ status: 500, body: Buffer.from('other') }), { ttlMs: TTL, now: T0 + 6 })).toBe(true);
    expect(await idem2.complete('k-l', 'not-the-lease', response({ status: 500 }), { ttlMs: TTL, now: T0 + 6 })).toBe(false);
    expectSame(((await begin(idem, 'k-l', 'fp-1', T0 + 7)) as Extract<BeginResult, { kind: 'completed' }>).response, want);
  });

  it('release by the holder frees the key; release by anyone else, or after completion, does nothing', async () => {
    const { idem, idem2 } = await kit();
    const lease = await started(idem, 'k-rel');
    await idem2.release('k-rel', 'not-the-lease');
    expect(await begin(idem2, 'k-rel', 'fp-1')).toEqual({ kind: 'in_flight' });
    await idem.release('k-rel', lease);
    // Free: the retry runs, with any fingerprint (nothing was stored).
    const lease2 = await started(idem2, 'k-rel', 'fp-2');
    expect(lease2).not.toBe(lease);
    // The old lease can neither complete nor release the new holder's entry.
    expect(await idem.complete('k-rel', lease, response(), { ttlMs: TTL, now: T0 + 1 })).toBe(false);
    await idem.release('k-rel', lease);
    expect(await begin(idem, 'k-rel', 'fp-2')).toEqual({ kind: 'in_flight' });
    expect(await idem2.complete('k-rel', lease2, response(), { ttlMs: TTL, now: T0 + 1 })).toBe(true);
    await idem2.release('k-rel', lease2);
    expect((await begin(idem, 'k-rel', 'fp-2', T0 + 2)).kind).toBe('completed');
  });

  it('a lease that ran out is never freed: the outcome is unknown until the key expires; a late completion is kept', async () => {
    const { idem, idem2 } = await kit();
    const lease = await started(idem, 'k-crash', 'fp-1', T0, { leaseMs: 1000, ttlMs: 60_000 });
    expect(await begin(idem2, 'k-crash', 'fp-1', T0 + 999)).toEqual({ kind: 'in_flight' });
    const r = await begin(idem2, 'k-crash', 'fp-1', T0 + 1000);
    expect(r).toEqual({ kind: 'completed', response: { status: 0, headers: [], body: Buffer.alloc(0), outcome: 'unknown', completedAt: T0 + 1000 } });
    expect(await begin(idem2, 'k-crash', 'fp-1', T0 + 59_999)).toMatchObject({ kind: 'completed', response: { outcome: 'unknown' } });
    expect(await begin(idem2, 'k-crash', 'fp-2', T0 + 5000)).toEqual({ kind: 'mismatch' });
    // The holder was slow, not dead: its completion is stored and replaces the unknown outcome.
    const want = response({ completedAt: T0 + 6000 });
    expect(await idem.complete('k-crash', lease, want, { ttlMs: 60_000, now: T0 + 6000 })).toBe(true);
    expectSame(((await begin(idem2, 'k-crash', 'fp-1', T0 + 6001)) as Extract<BeginResult, { kind: 'completed' }>).response, want);
  });

  it('an in-flight entry whose lease ran out and whose ttl passed starts fresh', async () => {
    const { idem, idem2 } = await kit();
    const lease = await started(idem, 'k-dead', 'fp-1', T0, { leaseMs: 1000, ttlMs: 10_000 });
    expect((await begin(idem2, 'k-dead', 'fp-1', T0 + 9_999, { ttlMs: 10_000 })).kind).toBe('completed'); // unknown
    const lease2 = await started(idem2, 'k-dead', 'fp-2', T0 + 10_000, { ttlMs: 10_000 });
    expect(await idem.complete('k-dead', lease, response(), { ttlMs: 10_000, now: T0 + 10_001 })).toBe(false);
    expect(await idem2.complete('k-dead', lease2, response(), { ttlMs: 10_000, now: T0 + 10_002 })).toBe(true);
  });

  it('completed keys answer until ttl after completion (frozen clock), then start fresh', async () => {
    const { idem, idem2 } = await kit();
    const lease = await started(idem, 'k-ttl', 'fp-1', T0, { ttlMs: 5000 });
    expect(await idem.complete('k-ttl', lease, response(), { ttlMs: 5000, now: T0 + 10 })).toBe(true);
    expect((await begin(idem2, 'k-ttl', 'fp-1', T0 + 5009, { ttlMs: 5000 })).kind).toBe('completed');
    expect((await begin(idem2, 'k-ttl', 'fp-9', T0 + 5009, { ttlMs: 5000 })).kind).toBe('mismatch');
    // Expired: a new request with the key — any fingerprint — runs afresh.
    const lease2 = await started(idem2, 'k-ttl', 'fp-9', T0 + 5010, { ttlMs: 5000 });
    expect(await begin(idem, 'k-ttl', 'fp-9', T0 + 5011, { ttlMs: 5000 })).toEqual({ kind: 'in_flight' });
    expect(await idem.complete('k-ttl', lease, response(), { ttlMs: 5000, now: T0 + 5012 })).toBe(false); // the old holder
    expect(await idem2.complete('k-ttl', lease2, response({ status: 202 }), { ttlMs: 5000, now: T0 + 5012 })).toBe(true);
    expect(await begin(idem, 'k-ttl', 'fp-9', T0 + 5013)).toMatchObject({ kind: 'completed', response: { status: 202 } });
  });

  it('a completion after the key expired in flight is refused (the key is fresh)', async () => {
    const { idem, idem2 } = await kit();
    const lease = await started(idem, 'k-late', 'fp-1', T0, { ttlMs: 1000, leaseMs: 500 });
    expect(await idem.complete('k-late', lease, response(), { ttlMs: 1000, now: T0 + 1000 })).toBe(false);
    expect((await begin(idem2, 'k-late', 'fp-2', T0 + 1001, { ttlMs: 1000 })).kind).toBe('started');
  });

  it('invalid arguments reject (never a silently wrong entry)', async () => {
    const { idem, nonce } = await kit();
    await expect(begin(idem, '', 'fp')).rejects.toThrow(TypeError);
    await expect(idem.begin('k', 'fp', { ttlMs: 0, leaseMs: 1, now: T0 })).rejects.toThrow(TypeError);
    await expect(idem.begin('k', 'fp', { ttlMs: 1, leaseMs: Number.NaN, now: T0 })).rejects.toThrow(TypeError);
    await expect(idem.begin('k', 'fp', { ttlMs: 1000, leaseMs: 1001, now: T0 })).rejects.toThrow(/leaseMs/);
    const lease = await started(idem, 'k-bad');
    await expect(idem.complete('k-bad', lease, { ...response(), body: 'text' as unknown as Buffer }, { ttlMs: TTL, now: T0 })).rejects.toThrow(TypeError);
    await expect(idem.complete('k-bad', lease, { ...response(), outcome: 'ok' as 'response' }, { ttlMs: TTL, now: T0 })).rejects.toThrow(TypeError);
    expect(await begin(idem, 'k-bad', 'fp-1')).toEqual({ kind: 'in_flight' });
    await expect(nonce.claim('n', { ttlMs: -5, now: T0 })).rejects.toThrow(TypeError);
  });

  it('nonce: the first claim wins, every replay is refused on every instance, other nonces are independent', async () => {
    const { nonce, nonce2 } = await kit();
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? nonce : nonce2).claim('client-a:n1', { ttlMs: 60_000, now: Date.now() })));
    expect(rs.filter(Boolean)).toHaveLength(1);
    expect(await nonce2.claim('client-a:n1', { ttlMs: 60_000, now: Date.now() })).toBe(false);
    expect(await nonce2.claim('client-b:n1', { ttlMs: 60_000, now: Date.now() })).toBe(true);
    expect(await nonce.claim('client-a:n2', { ttlMs: 60_000, now: Date.now() })).toBe(true);
  });

  it('fractional milliseconds are accepted (TTLs computed from seconds)', async () => {
    const { idem, idem2, nonce, nonce2 } = await kit();
    const lease = await started(idem, 'k-frac', 'fp-1', T0 + 0.5, { ttlMs: 1000.25, leaseMs: 500.5 });
    expect(await begin(idem2, 'k-frac', 'fp-1', T0 + 500.75, { ttlMs: 1000.25 })).toEqual({ kind: 'in_flight' });
    expect(await begin(idem2, 'k-frac', 'fp-1', T0 + 501, { ttlMs: 1000.25 })).toMatchObject({ kind: 'completed', response: { outcome: 'unknown' } });
    expect(await idem.complete('k-frac', lease, response({ completedAt: T0 + 600.5 }), { ttlMs: 1000.5, now: T0 + 600.5 })).toBe(true);
    expect(await begin(idem2, 'k-frac', 'fp-1', T0 + 1600.9, { ttlMs: 1000.25 })).toMatchObject({ kind: 'completed', response: { completedAt: T0 + 600.5 } });
    expect((await begin(idem2, 'k-frac', 'fp-1', T0 + 1601, { ttlMs: 1000.25 })).kind).toBe('started');
    expect(await nonce.claim('n-frac', { ttlMs: 60_000.7, now: T0 + 0.3 })).toBe(true);
    expect(await nonce2.claim('n-frac', { ttlMs: 60_000.7, now: T0 + 0.3 })).toBe(false);
  });

  it('nonce: refused while within ttl, claimable again once it expired (real clock: Redis expires nonces itself)', async () => {
    const { nonce, nonce2 } = await kit();
    expect(await nonce.claim('n-exp', { ttlMs: 300, now: Date.now() })).toBe(true);
    expect(await nonce2.claim('n-exp', { ttlMs: 300, now: Date.now() })).toBe(false);
    await new Promise((r) => setTimeout(r, 400));
    expect(await nonce2.claim('n-exp', { ttlMs: 300, now: Date.now() })).toBe(true);
    expect(await nonce.claim('n-exp', { ttlMs: 300, now: Date.now() })).toBe(false);
  });
});

describe('memory stores: caps and the frozen clock', () => {
  it('a full store evicts the least recently used completed entry, never an in-flight one', async () => {
    const s = createMemoryIdempotencyStore({ maxEntries: 3 });
    const la = await started(s, 'a');
    const lb = await started(s, 'b');
    await s.complete('a', la, response({ status: 200 }), { ttlMs: TTL, now: T0 + 1 });
    await s.complete('b', lb, response({ status: 201 }), { ttlMs: TTL, now: T0 + 2 });
    await started(s, 'c'); // in flight
    expect((await begin(s, 'a', 'fp-1', T0 + 3)).kind).toBe('completed'); // a is now more recently used than b
    await started(s, 'd', 'fp-1', T0 + 4); // evicts b
    expect(s.stats()).toMatchObject({ inFlight: 2, completed: 1, evictions: 1 });
    expect((await begin(s, 'a', 'fp-1', T0 + 5)).kind).toBe('completed');
    expect(await begin(s, 'c', 'fp-1', T0 + 5)).toEqual({ kind: 'in_flight' });
    expect(await begin(s, 'd', 'fp-1', T0 + 5)).toEqual({ kind: 'in_flight' });
    // b was forgotten: it starts fresh (evicts a, the only completed entry).
    await started(s, 'b', 'fp-1', T0 + 6);
    expect(s.stats()).toMatchObject({ inFlight: 3, completed: 0, evictions: 2 });
    await s.close();
  });

  it('every entry in flight: a new key is refused with HighRiskStoreFullError, existing keys still answer', async () => {
    const s = createMemoryIdempotencyStore({ maxEntries: 2 });
    const la = await started(s, 'a', 'fp-1', T0, { ttlMs: 100_000, leaseMs: 1000 });
    await started(s, 'b', 'fp-1', T0 + 1, { ttlMs: 200_000, leaseMs: 1000 });
    await expect(begin(s, 'c', 'fp-1', T0 + 2)).rejects.toThrow(HighRiskStoreFullError);
    expect(await begin(s, 'a', 'fp-1', T0 + 2)).toEqual({ kind: 'in_flight' });
    // A lease that ran out keeps the entry (never freed), so the store stays full.
    expect(await begin(s, 'a', 'fp-1', T0 + 1000)).toMatchObject({ kind: 'completed', response: { outcome: 'unknown' } });
    await expect(begin(s, 'c', 'fp-1', T0 + 1000)).rejects.toThrow(HighRiskStoreFullError);
    // Once a completes, its slot can be reused by eviction.
    expect(await s.complete('a', la, response(), { ttlMs: TTL, now: T0 + 1001 })).toBe(true);
    await started(s, 'c', 'fp-1', T0 + 1002);
    expect(await begin(s, 'b', 'fp-1', T0 + 1002)).toMatchObject({ kind: 'completed', response: { outcome: 'unknown' } });
    // a was evicted: a new key again, and the store is full of in-flight entries (b, c).
    await expect(begin(s, 'a', 'fp-1', T0 + 1003)).rejects.toThrow(HighRiskStoreFullError);
    // In-flight entries past their ttl make room (b: ttl 200 s from T0+1).
    await expect(begin(s, 'e', 'fp-1', T0 + 200_000)).rejects.toThrow(HighRiskStoreFullError);
    expect((await begin(s, 'e', 'fp-1', T0 + 200_001)).kind).toBe('started');
    expect(s.stats()).toMatchObject({ inFlight: 2, completed: 0 });
    await s.close();
  });

  it('maxBytes: completed entries are evicted to fit; a response that cannot fit is kept as too_large', async () => {
    const s = createMemoryIdempotencyStore({ maxEntries: 100, maxBytes: 10_000 });
    const l1 = await started(s, 'a');
    await s.complete('a', l1, response({ headers: [], body: Buffer.alloc(6000, 1) }), { ttlMs: TTL, now: T0 + 1 });
    const l2 = await started(s, 'b');
    await s.complete('b', l2, response({ headers: [], body: Buffer.alloc(6000, 2) }), { ttlMs: TTL, now: T0 + 2 });
    expect((await begin(s, 'a', 'fp-1', T0 + 3)).kind).toBe('started'); // evicted to make room for b
    const rb = (await begin(s, 'b', 'fp-1', T0 + 3)) as Extract<BeginResult, { kind: 'completed' }>;
    expect(rb.response.body.equals(Buffer.alloc(6000, 2))).toBe(true);
    const l3 = await started(s, 'big');
    await s.complete('big', l3, response({ body: Buffer.alloc(20_000, 3) }), { ttlMs: TTL, now: T0 + 4 });
    const r = (await begin(s, 'big', 'fp-1', T0 + 5)) as Extract<BeginResult, { kind: 'completed' }>;
    expect(r.response).toMatchObject({ status: 201, outcome: 'too_large', headers: response().headers });
    expect(r.response.body.length).toBe(0);
    expect(s.stats().bytes).toBeLessThanOrEqual(10_000);
    await s.close();
  });

  it('nonce store: expiry with a frozen clock; a full store refuses new nonces rather than forgetting live ones', async () => {
    const n = createMemoryNonceStore({ maxEntries: 2 });
    expect(await n.claim('a', { ttlMs: 1000, now: T0 })).toBe(true);
    expect(await n.claim('b', { ttlMs: 5000, now: T0 + 1 })).toBe(true);
    expect(await n.claim('a', { ttlMs: 1000, now: T0 + 999 })).toBe(false);
    await expect(n.claim('c', { ttlMs: 1000, now: T0 + 999 })).rejects.toThrow(HighRiskStoreFullError);
    // Still refused as replays: nothing live was forgotten.
    expect(await n.claim('a', { ttlMs: 1000, now: T0 + 999 })).toBe(false);
    expect(await n.claim('b', { ttlMs: 1000, now: T0 + 999 })).toBe(false);
    // a expired: c takes its place, a may be claimed again only when there is room.
    expect(await n.claim('c', { ttlMs: 1000, now: T0 + 1000 })).toBe(true);
    await expect(n.claim('a', { ttlMs: 1000, now: T0 + 1000 })).rejects.toThrow(HighRiskStoreFullError);
    expect(await n.claim('b', { ttlMs: 1000, now: T0 + 5000 })).toBe(false);
    expect(await n.claim('b', { ttlMs: 1000, now: T0 + 5001 })).toBe(true);
    expect(n.stats().size).toBe(2);
    await n.close();
  });

  it('a closed store rejects', async () => {
    const s = createMemoryIdempotencyStore();
    await s.close();
    await expect(begin(s, 'a', 'fp')).rejects.toThrow(/closed/);
  });
});

describe('redis stores: layout, scripts, outages', () => {
  it('stores the absolute expiry in the entry and a Redis TTL a bit longer; the body as raw bytes', async () => {
    const c = await redisClient(redis.url);
    const prefix = `{t:${randomBytes(4).toString('hex')}}:`;
    const s = createRedisIdempotencyStore(c, { prefix, gcGraceMs: 60_000 });
    const lease = await started(s, 'k', 'fp-1', T0, { ttlMs: 120_000, leaseMs: 5000 });
    const rk = s.redisKey('k');
    expect(rk).toBe(`${prefix}idem:k`);
    expect(await c.hgetall(rk)).toEqual({ state: 'in_flight', fp: 'fp-1', lease, leaseUntil: String(T0 + 5000), exp: String(T0 + 120_000) });
    expect(await c.pttl(rk)).toBeGreaterThan(170_000);
    expect(await c.pttl(rk)).toBeLessThanOrEqual(180_000);
    const want = response();
    await s.complete('k', lease, want, { ttlMs: 300_000, now: T0 + 10 });
    expect(await c.hget(rk, 'exp')).toBe(String(T0 + 300_010));
    expect(await c.hget(rk, 'leaseUntil')).toBeNull();
    expect((await c.hgetBuffer(rk, 'body'))!.equals(want.body)).toBe(true);
    expect(await c.pttl(rk)).toBeGreaterThan(350_000);
    // The default prefix.
    expect(createRedisIdempotencyStore(c).redisKey('x')).toBe('{tollgate:hr}:idem:x');
    expect(createRedisNonceStore(c).redisKey('x')).toBe('{tollgate:hr}:nonce:x');
    const n = createRedisNonceStore(c, { prefix });
    expect(await n.claim('nn', { ttlMs: 45_000, now: T0 })).toBe(true);
    expect(await c.pttl(n.redisKey('nn'))).toBeGreaterThan(40_000);
    await s.close();
  });

  it('scripts are reloaded with EVAL after SCRIPT FLUSH (NOSCRIPT)', async () => {
    const c = await redisClient(redis.url);
    const s = createRedisIdempotencyStore(c, { prefix: `{t:${randomBytes(4).toString('hex')}}:` });
    const lease = await started(s, 'k');
    await c.script('FLUSH');
    expect(await s.complete('k', lease, response(), { ttlMs: TTL, now: T0 + 1 })).toBe(true);
    await c.script('FLUSH');
    expect((await begin(s, 'k', 'fp-1', T0 + 2)).kind).toBe('completed');
    await c.script('FLUSH');
    await s.release('k', lease);
    await s.close();
  });

  it('a corrupt or foreign entry rejects (fail closed), never answers started', async () => {
    const c = await redisClient(redis.url);
    const prefix = `{t:${randomBytes(4).toString('hex')}}:`;
    const s = createRedisIdempotencyStore(c, { prefix });
    await c.set(s.redisKey('str'), 'not a hash');
    await expect(begin(s, 'str', 'fp-1')).rejects.toThrow(/WRONGTYPE/);
    await c.hset(s.redisKey('noexp'), 'state', 'in_flight', 'fp', 'fp-1');
    await expect(begin(s, 'noexp', 'fp-1')).rejects.toThrow(/TOLLGATE_CORRUPT/);
    await c.hset(s.redisKey('weird'), 'state', 'exploded', 'fp', 'fp-1', 'exp', String(T0 + 1000));
    await expect(begin(s, 'weird', 'fp-1')).rejects.toThrow(/TOLLGATE_CORRUPT/);
    await c.hset(s.redisKey('badhdr'), 'state', 'completed', 'fp', 'fp-1', 'exp', String(T0 + 1000), 'status', '200', 'headers', '{', 'body', '', 'outcome', 'response', 'completedAt', '1');
    await expect(begin(s, 'badhdr', 'fp-1')).rejects.toThrow(HighRiskStoreError);
    await s.close();
  });

  it('Redis killed: every operation rejects promptly (no hang), and works again after a restart', async () => {
    const own = await startRedis();
    try {
      const c = await redisClient(own.url, 300);
      const s = createRedisIdempotencyStore(c, { prefix: 'p:', releaseRetryDelaysMs: [] });
      const n = createRedisNonceStore(c, { prefix: 'p:' });
      const lease = await started(s, 'k');
      await own.stop();
      const t = Date.now();
      const ops: Array<Promise<unknown>> = [
        begin(s, 'k2', 'fp-1'),
        s.complete('k', lease, response(), { ttlMs: TTL, now: T0 + 1 }),
        s.release('k', lease),
        n.claim('n', { ttlMs: 1000, now: T0 }),
      ];
      const results = await Promise.allSettled(ops);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
      expect(Date.now() - t).toBeLessThan(1500);
      await own.restart();
      const end = Date.now() + 10_000;
      while (c.status !== 'ready' && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect((await begin(s, 'k3', 'fp-1')).kind).toBe('started');
      expect(await n.claim('n', { ttlMs: 1000, now: T0 })).toBe(true);
      await s.close();
    } finally {
      await own.close();
    }
  });

  it('Redis hung (SIGSTOP): operations reject after commandTimeout; a begin whose reply was lost is released in the background', async () => {
    const own = await startRedis();
    try {
      const c = await redisClient(own.url, 200);
      const other = await redisClient(own.url, 1000);
      const s = createRedisIdempotencyStore(c, { prefix: 'p:', releaseRetryDelaysMs: [100, 300, 1000] });
      const noCleanup = createRedisIdempotencyStore(c, { prefix: 'p:', releaseRetryDelaysMs: [] });
      const s2 = createRedisIdempotencyStore(other, { prefix: 'p:' });
      const n = createRedisNonceStore(c, { prefix: 'p:' });
      await started(s, 'warm-up'); // the server knows the script: the paused EVALSHA will really run later
      own.pause();
      let resumed = false;
      try {
        const t = Date.now();
        const results = await Promise.allSettled([begin(s, 'k-lost', 'fp-1'), begin(noCleanup, 'k-stuck', 'fp-1'), n.claim('n', { ttlMs: 1000, now: T0 })]);
        expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
        expect(Date.now() - t).toBeLessThan(1000);
        own.resume();
        resumed = true;
      } finally {
        if (!resumed) own.resume();
      }
      // The server ran the begin when it woke up (the command was already on the wire); nobody got that lease,
      // so the store frees it and a retry runs.
      const end = Date.now() + 10_000;
      let r: BeginResult = { kind: 'in_flight' };
      while (Date.now() < end) {
        r = await begin(s2, 'k-lost', 'fp-1');
        if (r.kind !== 'in_flight') break;
        await new Promise((res) => setTimeout(res, 50));
      }
      expect(r.kind).toBe('started');
      // Without the background release the lost begin's entry stays in flight: it really was stored.
      expect(await begin(s2, 'k-stuck', 'fp-1')).toEqual({ kind: 'in_flight' });
      await s.close();
      await s2.close();
    } finally {
      await own.close();
    }
  });
});

describe('redis stores on a Redis Cluster', () => {
  it('scripts are routed by their one key, with the default prefix and with one that spreads keys over the shards', async () => {
    const cluster = await startRedisCluster();
    const c = createRedisClient({ cluster: { nodes: cluster.nodes }, keyPrefix: 'unused:', connectTimeoutMs: 2000, commandTimeoutMs: 1000 });
    c.on('error', () => undefined);
    try {
      await new Promise<void>((resolve, reject) => {
        c.once('ready', resolve);
        setTimeout(() => reject(new Error('cluster client not ready')), 10_000).unref();
      });
      for (const prefix of [undefined, 'tollgate-hr:']) {
        const s = createRedisIdempotencyStore(c, prefix === undefined ? {} : { prefix });
        const n = createRedisNonceStore(c, prefix === undefined ? {} : { prefix });
        for (let i = 0; i < 12; i++) {
          const key = `k-${prefix ?? 'default'}-${i}`;
          const rs = await Promise.all(Array.from({ length: 10 }, () => begin(s, key, 'fp-1')));
          const lease = (rs.find((r) => r.kind === 'started') as { lease: string } | undefined)?.lease;
          expect(rs.filter((r) => r.kind === 'started')).toHaveLength(1);
          const want = response();
          expect(await s.complete(key, lease!, want, { ttlMs: TTL, now: T0 + 1 })).toBe(true);
          expectSame(((await begin(s, key, 'fp-1', T0 + 2)) as Extract<BeginResult, { kind: 'completed' }>).response, want);
          expect(await n.claim(key, { ttlMs: 10_000, now: T0 })).toBe(true);
          expect(await n.claim(key, { ttlMs: 10_000, now: T0 })).toBe(false);
        }
        await s.close();
      }
    } finally {
      c.disconnect();
      await cluster.close();
    }
  }, 60_000);
});
