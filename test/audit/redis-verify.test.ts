/**
 * `tollgate audit verify redis://…` against attacks made with raw Redis commands on a store written by two real
 * sinks. Each attack must exit 1 naming the first bad seq and the kind of tampering.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAuditVerify } from '../../src/audit/cli.js';
import { startAuditChain } from '../../src/audit/log.js';
import { computeRecordHash, type AuditRecord } from '../../src/audit/record.js';
import { openRedisAuditSink, redisAuditKeys } from '../../src/audit/redis-sink.js';
import { verifyAuditRedis } from '../../src/audit/redis-verify.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import {
  captureIo,
  entryRecord,
  fastRedisClient,
  freshPrefix,
  jwksFor,
  newSigner,
  readStream,
  rehash,
  rewriteStream,
  tempDir,
  withRecord,
  type StreamEntry,
} from './helpers.js';

const signerA = newSigner();
const signerB = newSigner();

let redis: TestRedis;
let c: Redis;
let dir: string;
let cleanupDir: () => void;
let jwks: string;
beforeAll(async () => {
  redis = await startRedis();
  c = fastRedisClient(redis.url, 2000);
  ({ dir, cleanup: cleanupDir } = tempDir());
  jwks = jwksFor(dir, signerA, signerB);
});
afterAll(async () => {
  c.disconnect();
  await redis.close();
  cleanupDir();
});

let prefix: string;
let keys: ReturnType<typeof redisAuditKeys>;
const sinkClients: Redis[] = [];

/** Two instances (gw-a, gw-b) with 20 decisions each, checkpoints every 5 records, closed cleanly. */
beforeEach(async () => {
  prefix = freshPrefix();
  keys = redisAuditKeys(prefix);
  const logs = [];
  for (const [chainId, signer] of [['gw-a', signerA], ['gw-b', signerB]] as const) {
    const client = fastRedisClient(redis.url);
    sinkClients.push(client);
    logs.push(startAuditChain(await openRedisAuditSink({ client, prefix, chainId }), { chainId, signer, checkpointEvery: 5 }));
  }
  for (let i = 0; i < 20; i++) {
    for (const log of logs) log.chain.append('decision', { requestId: `r-${i}`, clientId: 'c1', decision: i % 3 ? 'allow' : 'deny', status: 200 });
    if (i % 4 === 3) await new Promise((r) => setImmediate(r));
  }
  for (const log of logs) expect(await log.close()).toBe(true);
});
afterEach(() => {
  for (const s of sinkClients.splice(0)) s.disconnect();
});

async function cli(...extra: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const { io, out, err } = captureIo();
  const code = await runAuditVerify(['verify', redis.url, '--prefix', prefix, ...extra], io);
  return { code, out, err };
}

/** Exit 1 with "FAIL seq <seq>: <kind>: …" naming the chain. */
async function expectFail(seq: number, kind: string, chain: string, withKey = true): Promise<string> {
  const r = await cli(...(withKey ? ['--public-key', jwks] : []));
  expect(r.out).toEqual([]);
  expect(r.err).toHaveLength(1);
  expect(r.err[0]).toMatch(new RegExp(`^FAIL seq ${seq}: ${kind}: .*\\(redis:${escape(keys.stream)} chain ${chain}\\)$`));
  expect(r.code).toBe(1);
  return r.err[0]!;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function entries(): Promise<StreamEntry[]> {
  return readStream(c, keys.stream);
}

function find(es: StreamEntry[], chain: string, pred: (r: AuditRecord) => boolean): StreamEntry {
  const e = es.find((x) => entryRecord(x).chain === chain && pred(entryRecord(x)));
  if (!e) throw new Error('no such entry');
  return e;
}

describe('audit verify redis://', () => {
  it('an untouched store verifies (exit 0, both chains)', async () => {
    const r = await cli('--public-key', jwks);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const heads = await c.hgetall(keys.head);
    for (const chain of ['gw-a', 'gw-b']) {
      expect(r.out).toContain(`ok chain ${chain} seq 0..${JSON.parse(heads[chain]!).seq} redis:${keys.stream}`);
    }
  });

  it('deleted: XDEL of one entry in the middle of a chain', async () => {
    const victim = find(await entries(), 'gw-a', (r) => r.seq === 7);
    expect(await c.xdel(keys.stream, victim[0])).toBe(1);
    await expectFail(7, 'deleted', 'gw-a');
  });

  it('modified: the stream rebuilt with the original ids and one field of one record changed', async () => {
    const target = entryRecord(find(await entries(), 'gw-b', (r) => r.seq === 9 && r.kind === 'decision'));
    await rewriteStream(c, keys.stream, (es) => es.map((e) => (entryRecord(e).hash === target.hash ? withRecord(e, { ...target, decision: 'allow', status: 201 }) : e)));
    await expectFail(9, 'modified', 'gw-b');
  });

  it('truncated: the tail of a chain deleted (the signed checkpoint is past the end)', async () => {
    const es = (await entries()).filter((e) => entryRecord(e).chain === 'gw-a');
    const tail = es.slice(-3);
    expect(await c.xdel(keys.stream, ...tail.map((e) => e[0]))).toBe(3);
    const newLast = entryRecord(es[es.length - 4]!).seq;
    const msg = await expectFail(newLast + 1, 'truncated', 'gw-a');
    expect(msg).toContain('signed checkpoint');
  });

  it('truncated: tail deleted and an older checkpoint put back — the head still names the removed records', async () => {
    const es = (await entries()).filter((e) => entryRecord(e).chain === 'gw-b');
    const cps = es.filter((e) => entryRecord(e).kind === 'checkpoint');
    const older = cps[cps.length - 2]!; // the checkpoint before the final one
    const olderIdx = es.indexOf(older);
    await c.xdel(keys.stream, ...es.slice(olderIdx + 1).map((e) => e[0]));
    await c.hset(keys.checkpoint, 'gw-b', JSON.stringify(entryRecord(older)));
    const msg = await expectFail(entryRecord(older).seq + 1, 'truncated', 'gw-b');
    expect(msg).toContain("chain's head");
  });

  it('truncated: the head of a chain removed', async () => {
    await c.hdel(keys.head, 'gw-a');
    const last = entryRecord((await entries()).filter((e) => entryRecord(e).chain === 'gw-a').at(-1)!);
    await expectFail(last.seq + 1, 'truncated', 'gw-a');
  });

  it('truncated: every record of a chain removed while its head and checkpoint remain', async () => {
    const es = (await entries()).filter((e) => entryRecord(e).chain === 'gw-b');
    await c.xdel(keys.stream, ...es.map((e) => e[0]));
    await expectFail(0, 'truncated', 'gw-b');
  });

  it('inserted: a forged record spliced into the middle of a chain', async () => {
    const es = await entries();
    const before = entryRecord(find(es, 'gw-a', (r) => r.seq === 10));
    const forged = { ...before, seq: 11, prev: before.hash, requestId: 'forged', ts: new Date().toISOString() };
    forged.hash = computeRecordHash(forged);
    const at = es.indexOf(find(es, 'gw-a', (r) => r.seq === 11));
    await rewriteStream(c, keys.stream, (all) => [...all.slice(0, at), withRecord(['*', []], forged), ...all.slice(at)]);
    await expectFail(11, 'inserted', 'gw-a');
  });

  it('bad_signature: a whole chain rewritten with every hash recomputed (and its head and checkpoint)', async () => {
    const es = await entries();
    const recs = es.map(entryRecord).filter((r) => r.chain === 'gw-b');
    const i = recs.findIndex((r) => r.seq === 2);
    const forged = rehash(recs.map((r, j) => (j === i ? { ...r, decision: 'allow' as const } : r)), i);
    const byHash = new Map(recs.map((r, j) => [r.hash, forged[j]!]));
    await rewriteStream(c, keys.stream, (all) => all.map((e) => (byHash.has(entryRecord(e).hash) ? withRecord(e, byHash.get(entryRecord(e).hash)!) : e)));
    await c.hset(keys.head, 'gw-b', JSON.stringify(forged[forged.length - 1]));
    await c.hset(keys.checkpoint, 'gw-b', JSON.stringify(forged[forged.length - 1]));
    const firstCp = forged.find((r) => r.kind === 'checkpoint' && r.seq > 2)!;
    await expectFail(firstCp.checkpoint!.seq, 'bad_signature', 'gw-b');
    // Without the public key the rewrite is consistent: that is what the key is for.
    const r = await cli();
    expect(r.code).toBe(0);
    expect(r.out).toContain('warning: no --public-key given, checkpoint signatures were not checked');
  });

  it('malformed: an entry whose rec is not a record', async () => {
    const victim = find(await entries(), 'gw-a', (r) => r.seq === 4);
    await rewriteStream(c, keys.stream, (all) => all.map((e) => (e[0] === victim[0] ? withRecord(e, '{"seq": 4, "oops"') : e)));
    const msg = await expectFail(4, 'malformed', 'gw-a');
    expect(msg).toContain(`stream entry ${victim[0]}`);
  });

  it('modified: an entry moved to another chain by its fields', async () => {
    const victim = find(await entries(), 'gw-a', (r) => r.seq === 6);
    await rewriteStream(c, keys.stream, (all) => all.map((e) => (e[0] === victim[0] ? [e[0], ['chain', 'gw-b', 'seq', '6', 'rec', JSON.stringify(entryRecord(e))]] : e)));
    await expectFail(6, 'modified', 'gw-a');
  });

  it('retention: trimming the front (XTRIM) leaves chains that start mid-way, still verified', async () => {
    const es = await entries();
    // Trim so that the oldest remaining entry is a checkpoint record (its covered record is gone).
    const firstCp = es.findIndex((e, i) => i > es.length / 3 && entryRecord(e).kind === 'checkpoint');
    expect(await c.xtrim(keys.stream, 'MAXLEN', es.length - firstCp)).toBe(firstCp);
    const res = await verifyAuditRedis(c, { prefix, publicKeys: jwks });
    expect(res.error).toBeUndefined();
    expect(res.ok).toBe(true);
    const firstLeft = entryRecord(es[firstCp]!);
    expect(res.chains.find((ch) => ch.chain === firstLeft.chain)?.fromSeq).toBe(firstLeft.seq);
    expect(res.chains.every((ch) => ch.fromSeq > 0)).toBe(true);
  });

  it('usage and connection errors exit 2 and never hang', async () => {
    const gone = await startRedis();
    const url = gone.url;
    await gone.close();
    const { io, err } = captureIo();
    const t0 = Date.now();
    expect(await runAuditVerify(['verify', url], io)).toBe(2);
    expect(err[0]).toMatch(/^audit verify: cannot connect to redis:\/\/127\.0\.0\.1:\d+/);
    expect(Date.now() - t0).toBeLessThan(6000);
    const u = captureIo();
    expect(await runAuditVerify(['verify', redis.url, '--checkpoint', 'x.json'], u.io)).toBe(2);
    expect(await runAuditVerify(['verify', 'a.jsonl', '--prefix', 'p:'], u.io)).toBe(2);
    expect(u.err.join('\n')).toContain('--prefix is for a Redis URL');
    const empty = captureIo();
    expect(await runAuditVerify(['verify', redis.url, '--prefix', 'nothing:{here}:'], empty.io)).toBe(2);
    expect(empty.err).toEqual(['audit verify: no audit records under nothing:{here}:stream (wrong --prefix?)']);
  });
});
