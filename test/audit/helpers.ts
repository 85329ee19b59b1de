import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditChain } from '../../src/audit/chain.js';
import { loadSigner, writeJwksFile, type AuditSigner } from '../../src/audit/keys.js';
import type { Redis } from 'ioredis';
import type { CliIo } from '../../src/audit/cli.js';
import { computeRecordHash, type AuditRecord } from '../../src/audit/record.js';
import { createRedisClient } from '../../src/ratelimit/redis.js';

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-audit-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function newSigner(): AuditSigner {
  return loadSigner(generateKeyPairSync('ed25519').privateKey);
}

/** Builds an in-memory chain of `n` decision records (plus genesis and checkpoints). */
export function buildChain(n: number, signer: AuditSigner, checkpointEvery = 5): AuditRecord[] {
  const out: AuditRecord[] = [];
  const chain = new AuditChain({ chainId: 'chain-a', signer, checkpointEvery, write: (r) => out.push(r) });
  for (let i = 0; i < n; i++) {
    chain.append('decision', { requestId: `req-${i}`, clientId: 'c1', method: 'GET', path: `/r/${i}`, decision: 'allow', status: 200 });
  }
  chain.close();
  return out;
}

export function writeJsonl(file: string, records: AuditRecord[]): void {
  writeFileSync(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

export function readJsonl(file: string): AuditRecord[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as AuditRecord);
}

export function jwksFor(dir: string, ...signers: AuditSigner[]): string {
  const file = join(dir, 'audit-jwks.json');
  writeJwksFile(file, signers.map((s) => s.publicKey));
  return file;
}

/**
 * A Redis client built the way the gateway builds them (createRedisClient: no offline queue, command timeout),
 * so an outage fails commands fast instead of queueing them. Errors are reported through the failed commands.
 */
export function fastRedisClient(url: string, commandTimeoutMs = 500): Redis {
  const client = createRedisClient({ url, keyPrefix: 'unused:', connectTimeoutMs: 1000, commandTimeoutMs }) as Redis;
  client.on('error', () => undefined);
  return client;
}

/** A fresh key prefix (with a Cluster hash tag) per test, so tests on one server do not see each other. */
export function freshPrefix(): string {
  return `test:{audit-${randomUUID().slice(0, 8)}}:`;
}

export type StreamEntry = [id: string, fields: string[]];

export async function readStream(client: Redis, key: string): Promise<StreamEntry[]> {
  return (await client.xrange(key, '-', '+')) as StreamEntry[];
}

/** The record held by a stream entry. */
export function entryRecord(e: StreamEntry): AuditRecord {
  const f = e[1];
  return JSON.parse(f[f.indexOf('rec') + 1] as string) as AuditRecord;
}

/** An entry with its `rec` (and the `chain` / `seq` fields) replaced by `rec`. */
export function withRecord(e: StreamEntry, rec: AuditRecord | string): StreamEntry {
  const r = typeof rec === 'string' ? rec : JSON.stringify(rec);
  const seq = typeof rec === 'string' ? fieldOf(e, 'seq') : String(rec.seq);
  const chain = typeof rec === 'string' ? fieldOf(e, 'chain') : rec.chain;
  return [e[0], ['chain', chain, 'seq', seq, 'rec', r]];
}

function fieldOf(e: StreamEntry, name: string): string {
  return e[1][e[1].indexOf(name) + 1] as string;
}

/**
 * Stream entries are immutable, but an attacker with write access can rebuild the key: DEL it and XADD the
 * (altered) entries again with their original ids — the realistic way to "modify" a stored record.
 */
export async function rewriteStream(client: Redis, key: string, mutate: (entries: StreamEntry[]) => StreamEntry[]): Promise<void> {
  const entries = mutate(await readStream(client, key));
  const multi = client.multi().del(key);
  let lastMs = 0;
  let lastSeq = 0;
  for (const [id, fields] of entries) {
    // Inserted entries may carry a placeholder id: give them the next free id after the previous one.
    let useId = id;
    const [ms, seq] = id.split('-').map(Number) as [number, number];
    if (id === '*' || ms < lastMs || (ms === lastMs && seq <= lastSeq)) useId = `${lastMs}-${lastSeq + 1}`;
    [lastMs, lastSeq] = useId.split('-').map(Number) as [number, number];
    multi.xadd(key, useId, ...fields);
  }
  await multi.exec();
}

/** Recompute hashes, prev links and checkpoint statements (not signatures) from index `from` on. */
export function rehash(recs: AuditRecord[], from: number): AuditRecord[] {
  const out = recs.map((r) => ({ ...r }));
  for (let i = from; i < out.length; i++) {
    const r = out[i]!;
    if (i > 0) r.prev = out[i - 1]!.hash;
    if (r.checkpoint) r.checkpoint = { ...r.checkpoint, seq: out[i - 1]!.seq, hash: out[i - 1]!.hash };
    r.hash = computeRecordHash(r);
  }
  return out;
}

export function captureIo(): { io: CliIo; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (l) => err.push(l) }, out, err };
}

/** Polls `cond` every 20 ms until true; throws after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
