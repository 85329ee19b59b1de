/**
 * The Redis Streams audit sink against a real redis-server: two instances on one stream, restart continuity,
 * a misconfigured shared chain id (fork), outages (lost store, persistent store, hung store) and back-pressure.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runAuditVerify } from '../../src/audit/cli.js';
import { startAuditChain, type AuditLog } from '../../src/audit/log.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { hasHashTag, openRedisAuditSink, redisAuditKeys, redisAuditOwnerKey } from '../../src/audit/redis-sink.js';
import { verifyAuditRedis } from '../../src/audit/redis-verify.js';
import { AuditBackpressureError } from '../../src/audit/sink.js';
import { createRedisClient } from '../../src/ratelimit/redis.js';
import { startRedis, startRedisCluster, type TestRedis } from '../helpers/redis.js';
import { captureIo, entryRecord, fastRedisClient, freshPrefix, jwksFor, newSigner, readStream, tempDir, until } from './helpers.js';

const signerA = newSigner();
const signerB = newSigner();
const keys = new Map([
  [signerA.kid, signerA.publicKey],
  [signerB.kid, signerB.publicKey],
]);

let redis: TestRedis;
let dir: string;
let cleanupDir: () => void;
const clients: Redis[] = [];
function client(commandTimeoutMs?: number): Redis {
  const c = fastRedisClient(redis.url, commandTimeoutMs);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  redis = await startRedis();
  ({ dir, cleanup: cleanupDir } = tempDir());
});
afterAll(async () => {
  await redis.close();
  cleanupDir();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
});

function decide(log: AuditLog, i: number): AuditRecord {
  return log.chain.append('decision', { requestId: `req-${i}`, clientId: 'c1', method: 'GET', path: `/r/${i}?token=x`, decision: 'allow', status: 200 });
}

/** The records of `chain` in stream order. */
async function chainRecords(c: Redis, prefix: string, chain: string): Promise<AuditRecord[]> {
  return (await readStream(c, redisAuditKeys(prefix).stream)).map(entryRecord).filter((r) => r.chain === chain);
}

describe('redis audit sink: many instances, one stream', () => {
  it('two instances append concurrently; both chains and all checkpoints verify, offline and with the CLI', async () => {
    const prefix = freshPrefix();
    const sa = await openRedisAuditSink({ client: client(), prefix, chainId: 'gw-a' });
    const sb = await openRedisAuditSink({ client: client(), prefix, chainId: 'gw-b' });
    expect(sa.lastOnDisk).toBeUndefined();
    const la = startAuditChain(sa, { chainId: 'gw-a', signer: signerA, checkpointEvery: 7 });
    const lb = startAuditChain(sb, { chainId: 'gw-b', signer: signerB, checkpointEvery: 5 });
    for (let i = 0; i < 150; i++) {
      decide(la, i);
      decide(lb, i);
      // Let both sinks' batches go out between appends, so the two chains interleave in the stream.
      if (i % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    expect(await la.close()).toBe(true);
    expect(await lb.close()).toBe(true);

    const entries = (await readStream(clients[0]!, redisAuditKeys(prefix).stream)).map(entryRecord);
    const order = entries.map((r) => r.chain);
    const switches = order.filter((c, i) => i > 0 && c !== order[i - 1]).length;
    expect(switches).toBeGreaterThan(2); // really interleaved, not one chain after the other
    const checkpointRecords = entries.filter((r) => r.kind === 'checkpoint').length;

    const res = await verifyAuditRedis(clients[0]!, { prefix, publicKeys: keys });
    expect(res.error).toBeUndefined();
    expect(res.ok).toBe(true);
    expect(res.checkpointsVerified).toBe(checkpointRecords);
    // Chains are listed in order of first appearance in the stream (whichever sink flushed first).
    const summary = res.chains.map((c) => [c.chain, c.fromSeq, c.toSeq, c.headSeq, c.checkpointSeq]);
    expect(summary.sort((x, y) => String(x[0]).localeCompare(String(y[0])))).toEqual([
      ['gw-a', 0, la.chain.last!.seq, la.chain.last!.seq, la.chain.last!.seq],
      ['gw-b', 0, lb.chain.last!.seq, lb.chain.last!.seq, lb.chain.last!.seq],
    ]);
    expect(sa.stats.errors + sb.stats.errors).toBe(0);

    const jwks = jwksFor(dir, signerA, signerB);
    const { io, out, err } = captureIo();
    expect(await runAuditVerify(['verify', redis.url, '--prefix', prefix, '--public-key', jwks], io)).toBe(0);
    expect(err).toEqual([]);
    expect(out).toContain(`ok chain gw-a seq 0..${la.chain.last!.seq} redis:${prefix}stream`);
    expect(out).toContain(`ok chain gw-b seq 0..${lb.chain.last!.seq} redis:${prefix}stream`);
    expect(out).toContain(`checkpoints verified: ${checkpointRecords}`);
  });

  it('restart continuity: reopening with the same chain id continues the chain from its head', async () => {
    const prefix = freshPrefix();
    const first = startAuditChain(await openRedisAuditSink({ client: client(), prefix, chainId: 'gw-r' }), { chainId: 'gw-r', signer: signerA, checkpointEvery: 4 });
    for (let i = 0; i < 10; i++) decide(first, i);
    expect(await first.close()).toBe(true);
    const oldHead = first.chain.last!;

    const sink = await openRedisAuditSink({ client: client(), prefix, chainId: 'gw-r' });
    expect(sink.lastOnDisk).toEqual(oldHead);
    expect(sink.recovered).toBeUndefined();
    const second = startAuditChain(sink, { chainId: 'ignored-when-continuing', signer: signerA, checkpointEvery: 4 });
    expect(second.chain.chainId).toBe('gw-r');
    for (let i = 0; i < 5; i++) decide(second, i);
    expect(await second.close()).toBe(true);

    const recs = await chainRecords(clients[0]!, prefix, 'gw-r');
    const firstNew = recs.find((r) => r.seq === oldHead.seq + 1)!;
    expect(firstNew.prev).toBe(oldHead.hash);
    expect(firstNew.kind).toBe('start');
    expect(recs.filter((r) => r.kind === 'genesis')).toHaveLength(1);
    expect(recs.map((r) => r.seq)).toEqual(recs.map((_, i) => i));
    const res = await verifyAuditRedis(clients[0]!, { prefix, publicKeys: keys });
    expect(res.error).toBeUndefined();
    expect(res.chains).toMatchObject([{ chain: 'gw-r', fromSeq: 0, toSeq: second.chain.last!.seq }]);
  });

  it('one writer per chain: a second live instance with the same chain id is refused at open (owner lease)', async () => {
    const prefix = freshPrefix();
    const s1 = await openRedisAuditSink({ client: client(), prefix, chainId: 'same', leaseMs: 1000 });
    const l1 = startAuditChain(s1, { chainId: 'same', signer: signerA, checkpointEvery: 3 }, { instance: 1 });
    const started = Date.now();
    await expect(openRedisAuditSink({ client: client(), prefix, chainId: 'same', leaseMs: 1000 })).rejects.toThrow(
      /chain "same" is in use by another running instance/,
    );
    // It waited a whole lease for a crashed owner's lease to expire: the live owner renewed it meanwhile.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    for (let i = 0; i < 5; i++) decide(l1, i);
    expect(await l1.close()).toBe(true);
    expect(s1.stats.errors).toBe(0);
    // A graceful close releases the lease: the next instance opens at once and continues the chain.
    const t0 = Date.now();
    const s2 = await openRedisAuditSink({ client: client(), prefix, chainId: 'same', leaseMs: 1000 });
    expect(Date.now() - t0).toBeLessThan(500);
    expect(s2.lastOnDisk?.hash).toBe(l1.chain.last!.hash);
    const l2 = startAuditChain(s2, { chainId: 'same', signer: signerA, checkpointEvery: 3 }, { instance: 2 });
    expect(await l2.close()).toBe(true);
    const res = await verifyAuditRedis(clients[0]!, { prefix, publicKeys: keys });
    expect(res.error).toBeUndefined();
    expect(res.ok).toBe(true);
  });

  it("a crashed owner's lease expires: the restarted instance waits for it, then continues the chain", async () => {
    const prefix = freshPrefix();
    const l1 = startAuditChain(await openRedisAuditSink({ client: client(), prefix, chainId: 'crashy', leaseMs: 1000 }), { chainId: 'crashy', signer: signerA });
    decide(l1, 1);
    await l1.sink.flush();
    // The crash: the process is gone (no close, no release); its lease stays until it expires.
    l1.chain.close();
    await clients[0]!.set(redisAuditOwnerKey(prefix, 'crashy'), 'a-dead-process', 'PX', 800);
    const t0 = Date.now();
    const s2 = await openRedisAuditSink({ client: client(), prefix, chainId: 'crashy', leaseMs: 1000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    expect(s2.lastOnDisk?.hash).toBe(l1.chain.last!.hash);
    const l2 = startAuditChain(s2, { chainId: 'crashy', signer: signerA });
    expect(await l2.close()).toBe(true);
    expect((await verifyAuditRedis(clients[0]!, { prefix, publicKeys: keys })).ok).toBe(true);
  });

  it('fork: when another instance took the lease (after this one lost Redis for longer than it), this one stops writing', async () => {
    const prefix = freshPrefix();
    const errors: Error[] = [];
    const s1 = await openRedisAuditSink({ client: client(), prefix, chainId: 'taken', leaseMs: 1000, onError: (e) => errors.push(e) });
    const l1 = startAuditChain(s1, { chainId: 'taken', signer: signerA, checkpointEvery: 3 });
    expect(await s1.flush()).toBe(true);
    await clients[0]!.set(redisAuditOwnerKey(prefix, 'taken'), 'another-instance', 'PX', 60_000);
    decide(l1, 1);
    expect(await s1.flush()).toBe(false);
    expect(s1.healthy()).toBe(false);
    expect(s1.conflict?.reason).toBe('fork');
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/^audit chain fork: another instance holds chain "taken"/)]);
    expect(await l1.close()).toBe(false);
    const recs = await chainRecords(clients[0]!, prefix, 'taken');
    expect(recs.some((r) => r.kind === 'decision')).toBe(false);
    expect((await verifyAuditRedis(clients[0]!, { prefix, publicKeys: keys })).ok).toBe(true);
  });

  it('reports unhealthy as soon as the connection is gone, before any store fails', async () => {
    const own = await startRedis();
    try {
      const c = new Redis(own.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 500, lazyConnect: true });
      c.on('error', () => undefined);
      const sink = await openRedisAuditSink({ client: c, prefix: freshPrefix(), chainId: 'conn' });
      const log = startAuditChain(sink, { chainId: 'conn', signer: signerA });
      expect(await sink.flush()).toBe(true);
      expect(sink.healthy()).toBe(true);
      await own.stop();
      for (let i = 0; i < 50 && sink.healthy(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(sink.healthy()).toBe(false);
      expect(sink.stats.errors).toBe(0);
      log.chain.close();
      c.disconnect();
    } finally {
      await own.close();
    }
  });

  it('buffer limit: past maxBufferedRecords write throws AuditBackpressureError', async () => {
    const prefix = freshPrefix();
    const sink = await openRedisAuditSink({ client: client(), prefix, chainId: 'gw-bp', maxBufferedRecords: 20, retryIntervalMs: 50 });
    const log = startAuditChain(sink, { chainId: 'gw-bp' }); // genesis + start: 2 buffered
    for (let i = 0; i < 18; i++) decide(log, i); // synchronous: no flush has run yet
    expect(sink.pending).toBe(20);
    expect(() => decide(log, 18)).toThrow(AuditBackpressureError);
    expect(sink.pending).toBe(20);
    expect(log.chain.last!.seq).toBe(19); // the refused record did not advance the chain
    expect(await sink.flush()).toBe(true);
    expect(sink.pending).toBe(0);
    decide(log, 18); // room again
    expect(await log.close()).toBe(true);
    const res = await verifyAuditRedis(clients[0]!, { prefix });
    expect(res.error).toBeUndefined();
    expect(res.chains).toMatchObject([{ chain: 'gw-bp', fromSeq: 0, toSeq: log.chain.last!.seq }]);
  });

  it('refuses a prefix without a hash tag on Redis Cluster (the script keys must share a slot)', async () => {
    expect(hasHashTag('{tollgate:audit}:')).toBe(true);
    expect(hasHashTag('tollgate:audit:')).toBe(false);
    expect(hasHashTag('a{}b{c}')).toBe(false); // the first {…} is empty: the whole key is hashed
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    try {
      await expect(openRedisAuditSink({ client: cluster, prefix: 'tollgate:audit:', chainId: 'x' })).rejects.toThrow(/needs a hash tag/);
    } finally {
      cluster.disconnect();
    }
  });
});

describe('redis audit sink on Redis Cluster', () => {
  it('the default prefix keeps the script keys in one slot: appends and verify work across three masters', async () => {
    const topo = await startRedisCluster();
    const cluster = createRedisClient({ cluster: { nodes: topo.nodes }, keyPrefix: 'unused:', connectTimeoutMs: 2000, commandTimeoutMs: 1000 });
    cluster.on('error', () => undefined);
    try {
      const log = startAuditChain(await openRedisAuditSink({ client: cluster, chainId: 'gw-c' }), { chainId: 'gw-c', signer: signerA, checkpointEvery: 3 });
      for (let i = 0; i < 10; i++) decide(log, i);
      expect(await log.close()).toBe(true);
      expect(log.sink.stats.errors).toBe(0);
      const res = await verifyAuditRedis(cluster, { publicKeys: keys });
      expect(res.error).toBeUndefined();
      expect(res.chains).toMatchObject([{ chain: 'gw-c', fromSeq: 0, toSeq: log.chain.last!.seq, headSeq: log.chain.last!.seq }]);
      // A prefix without a hash tag is refused before anything is written (CROSSSLOT otherwise).
      await expect(openRedisAuditSink({ client: cluster, prefix: 'tollgate:audit:', chainId: 'x' })).rejects.toThrow(/needs a hash tag/);
    } finally {
      cluster.disconnect();
      await topo.close();
    }
  }, 30_000);
});

describe('redis audit sink: outages', () => {
  it('opening while Redis is down rejects with a clear error', async () => {
    const down = await startRedis();
    const url = down.url;
    await down.close();
    const c = fastRedisClient(url);
    clients.push(c);
    await expect(openRedisAuditSink({ client: c, chainId: 'gw-down', openTimeoutMs: 2000 })).rejects.toThrow(
      /^audit redis sink: cannot read the chain head from Redis \(.*ECONNREFUSED/,
    );
  });

  describe('with its own server', () => {
    let own: TestRedis;
    let ownClients: Redis[] = [];
    afterEach(async () => {
      for (const c of ownClients) c.disconnect();
      ownClients = [];
      await own.close();
    });
    function ownClient(commandTimeoutMs?: number): Redis {
      const c = fastRedisClient(own.url, commandTimeoutMs);
      ownClients.push(c);
      return c;
    }

    it('a store restarted without its data is a lost state: the sink refuses to write a chain that starts mid-way', async () => {
      own = await startRedis();
      const errors: Error[] = [];
      const c = ownClient();
      const sink = await openRedisAuditSink({ client: c, chainId: 'gw-lost', retryIntervalMs: 50, onError: (e) => errors.push(e) });
      const log = startAuditChain(sink, { chainId: 'gw-lost', signer: signerA, checkpointEvery: 4 });
      for (let i = 0; i < 6; i++) decide(log, i);
      expect(await sink.flush()).toBe(true);

      await own.stop();
      for (let i = 6; i < 11; i++) decide(log, i); // writes keep succeeding into the buffer
      await until(() => !sink.healthy() && errors.length > 0, 5000, 'the outage to be noticed');
      expect(sink.pending).toBeGreaterThanOrEqual(5);
      expect(sink.conflict).toBeUndefined(); // an outage is not (yet) a conflict: it retries

      await own.restart(); // a new, EMPTY server
      await until(() => sink.conflict !== undefined, 8000, 'the sink to reach the restarted server');
      expect(sink.conflict?.reason).toBe('lost_state');
      expect(errors[errors.length - 1]?.message).toMatch(/^audit store lost its state: Redis has no head for chain "gw-lost"/);
      expect(sink.healthy()).toBe(false);
      const pendingAtConflict = sink.pending;
      expect(pendingAtConflict).toBeGreaterThanOrEqual(5);
      expect(await c.xlen(sink.keys.stream)).toBe(0); // nothing written mid-way
      expect(await c.hget(sink.keys.head, 'gw-lost')).toBeNull();
      expect(await log.close()).toBe(false);
      expect(sink.pending).toBe(pendingAtConflict + 2); // stop + final checkpoint buffered too, none stored

      // A restarted instance starts a new chain on the empty store, which verifies.
      const fresh = startAuditChain(await openRedisAuditSink({ client: c, chainId: 'gw-lost' }), { chainId: 'gw-lost', signer: signerA });
      expect(fresh.sink.lastOnDisk).toBeUndefined();
      expect(await fresh.close()).toBe(true);
      const res = await verifyAuditRedis(c, { publicKeys: keys });
      expect(res.error).toBeUndefined();
      expect(res.chains).toMatchObject([{ chain: 'gw-lost', fromSeq: 0 }]);
    });

    it('a persistent store: records buffered during the outage are stored in order after recovery', async () => {
      own = await startRedis({ persist: true });
      const errors: Error[] = [];
      const c = ownClient();
      const sink = await openRedisAuditSink({ client: c, chainId: 'gw-aof', retryIntervalMs: 50, onError: (e) => errors.push(e) });
      const log = startAuditChain(sink, { chainId: 'gw-aof', signer: signerA, checkpointEvery: 4 });
      for (let i = 0; i < 6; i++) decide(log, i);
      expect(await sink.flush()).toBe(true);
      const storedBefore = log.chain.last!.seq;

      await own.stop();
      for (let i = 6; i < 16; i++) decide(log, i);
      await until(() => !sink.healthy() && errors.length > 0, 5000, 'the outage to be noticed');
      expect(sink.pending).toBeGreaterThanOrEqual(10);
      const failures = sink.stats.errors;
      expect(failures).toBeGreaterThan(0);

      await own.restart(); // same data (AOF)
      await until(() => sink.healthy() && sink.pending === 0, 8000, 'the buffered records to be stored');
      expect(sink.conflict).toBeUndefined();
      expect(await log.close()).toBe(true);

      const recs = await chainRecords(c, '{tollgate:audit}:', 'gw-aof');
      expect(recs.map((r) => r.seq)).toEqual(recs.map((_, i) => i));
      expect(recs.length).toBe(log.chain.last!.seq + 1);
      expect(recs.length).toBeGreaterThan(storedBefore + 10);
      const res = await verifyAuditRedis(c, { publicKeys: keys });
      expect(res.error).toBeUndefined();
      expect(res.ok).toBe(true);
    });

    it('a hung store: timed-out batches that Redis applied later are not stored twice', async () => {
      own = await startRedis();
      const errors: Error[] = [];
      const c = ownClient(300);
      const sink = await openRedisAuditSink({ client: c, chainId: 'gw-hung', retryIntervalMs: 50, onError: (e) => errors.push(e) });
      const log = startAuditChain(sink, { chainId: 'gw-hung', signer: signerA, checkpointEvery: 4 });
      expect(await sink.flush()).toBe(true);

      own.pause(); // SIGSTOP: connections stay open, commands queue in the socket, replies never come
      try {
        for (let i = 0; i < 8; i++) decide(log, i);
        await until(() => sink.stats.errors >= 2, 5000, 'two timed-out batches');
        expect(errors[0]?.message).toMatch(/timed out/i);
        expect(sink.healthy()).toBe(false);
      } finally {
        own.resume(); // the server now runs the commands whose replies the client gave up on
      }
      await until(() => sink.healthy() && sink.pending === 0, 5000, 'recovery');
      expect(sink.stats.duplicatesSkipped).toBeGreaterThan(0); // a retry found its batch already applied
      expect(await log.close()).toBe(true);

      const recs = await chainRecords(c, '{tollgate:audit}:', 'gw-hung');
      expect(recs.map((r) => r.seq)).toEqual(recs.map((_, i) => i));
      expect(recs.length).toBe(log.chain.last!.seq + 1);
      const res = await verifyAuditRedis(c, { publicKeys: keys });
      expect(res.error).toBeUndefined();
    });
  });
});

