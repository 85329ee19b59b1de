/**
 * Verifier for the Redis Streams audit store (layout: redis-sink.ts).
 *
 * Reads the chain heads and latest checkpoints FIRST, then the whole stream (XRANGE, pages of 1000). Appends are
 * atomic with their head / checkpoint update, so everything the snapshot names is in the stream when it is read;
 * records appended while the stream is read are simply newer than the snapshot (reported as unprotected until a
 * later checkpoint covers them), never mistaken for tampering.
 *
 * Per chain (grouped by the chain id inside each record, in stream order):
 *   - the core checks of verify.ts (hashes, links, checkpoint statements and signatures), labels
 *     "redis:<stream key>";
 *   - the latest checkpoint (checkpoint hash): signature, stream reaches its seq ("truncated"), same records
 *     ("modified") — the signed anchor;
 *   - the head (head hash): the stream must contain the head record ("truncated" when the stream ends before
 *     it, "modified" when the record at its seq differs). A chain without a head, or a head / checkpoint
 *     without records, is "truncated" too: the anchor or the records were removed.
 * A stream entry whose `chain` / `seq` fields disagree with its record is "modified"; an unparseable `rec` is
 * "malformed". Trimming the stream's front (retention) is accepted: chains may start mid-way.
 */
import type { KeyObject } from 'node:crypto';
import { loadJwks } from './keys.js';
import { parseRecord, type AuditRecord } from './record.js';
import type { RedisClient } from '../ratelimit/redis.js';
import { DEFAULT_REDIS_AUDIT_PREFIX, redisAuditKeys } from './redis-sink.js';
import { checkTrustedCheckpoint, verifyAuditEntries, type AuditEntry, type TamperKind, type VerifyResult } from './verify.js';

export interface RedisVerifyOptions {
  prefix?: string;
  /** kid → Ed25519 public key, or a JWKS-style file path. Without it signatures are not checked. */
  publicKeys?: Map<string, KeyObject> | string;
}

export interface RedisChainSummary {
  chain: string;
  fromSeq: number;
  toSeq: number;
  /** Seq of the stored head and latest checkpoint (undefined when absent). */
  headSeq?: number;
  checkpointSeq?: number;
  /** Valid records after the chain's last checkpoint (not covered by a signature). */
  unprotected?: { fromSeq: number; toSeq: number };
}

export interface RedisVerifyResult extends VerifyResult {
  stream: string;
  /** One per chain with records, in order of first appearance in the stream. */
  chains: RedisChainSummary[];
}

const PAGE = 1000;

/** Next stream id after `id` ("ms-seq"), for exclusive paging that also works before Redis 6.2's "(" syntax. */
function nextId(id: string): string {
  const [ms, seq] = id.split('-');
  return `${ms}-${BigInt(seq ?? '0') + 1n}`;
}

export async function verifyAuditRedis(client: RedisClient, options: RedisVerifyOptions = {}): Promise<RedisVerifyResult> {
  const keys = typeof options.publicKeys === 'string' ? loadJwks(options.publicKeys) : options.publicKeys;
  const { stream, head: headKey, checkpoint: cpKey } = redisAuditKeys(options.prefix ?? DEFAULT_REDIS_AUDIT_PREFIX);
  const label = `redis:${stream}`;
  const result: RedisVerifyResult = { ok: false, ranges: [], checkpointsVerified: 0, signaturesUnchecked: !keys, stream, chains: [] };
  const fail = (chain: string | undefined, seq: number, kind: TamperKind, detail: string): RedisVerifyResult => {
    result.error = { seq, kind, detail, file: chain === undefined ? label : `${label} chain ${chain}` };
    return result;
  };

  // Snapshot of the anchors before the records (module comment).
  const heads = await client.hgetall(headKey);
  const checkpoints = await client.hgetall(cpKey);

  const byChain = new Map<string, AuditEntry[]>();
  let start = '-';
  for (;;) {
    const page = (await client.xrange(stream, start, '+', 'COUNT', PAGE)) as [string, string[]][];
    for (const [id, flat] of page) {
      const fields = new Map<string, string>();
      for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i] as string, flat[i + 1] as string);
      const fChain = fields.get('chain');
      const fSeq = Number(fields.get('seq'));
      const seqHint = Number.isInteger(fSeq) ? fSeq : -1;
      const raw = fields.get('rec');
      const rec = raw === undefined ? 'no rec field' : parseRecord(raw);
      if (typeof rec === 'string') return fail(fChain, seqHint, 'malformed', `stream entry ${id}: ${rec}`);
      if (fChain !== rec.chain || fSeq !== rec.seq) {
        return fail(rec.chain, rec.seq, 'modified', `stream entry ${id} says chain ${fChain} seq ${fields.get('seq')} but holds record ${rec.seq} of chain ${rec.chain}`);
      }
      let list = byChain.get(rec.chain);
      if (!list) byChain.set(rec.chain, (list = []));
      list.push({ rec, label });
    }
    if (page.length < PAGE) break;
    start = nextId((page[page.length - 1] as [string, string[]])[0]);
  }

  for (const [chain, entries] of byChain) {
    const core = verifyAuditEntries(entries, keys);
    result.ranges.push(...core.ranges);
    result.checkpointsVerified += core.checkpointsVerified;
    if (!core.ok && core.error) return fail(chain, core.error.seq, core.error.kind, core.error.detail);
    const first = (entries[0] as AuditEntry).rec;
    const last = (entries[entries.length - 1] as AuditEntry).rec;
    const summary: RedisChainSummary = { chain, fromSeq: first.seq, toSeq: last.seq };
    if (core.unprotected) summary.unprotected = { fromSeq: core.unprotected.fromSeq, toSeq: core.unprotected.toSeq };

    const cpJson = checkpoints[chain];
    if (cpJson !== undefined) {
      const cpRec = parseRecord(cpJson);
      if (typeof cpRec !== 'string' && cpRec.chain !== chain) {
        return fail(chain, cpRec.seq, 'modified', `the checkpoint stored for chain ${chain} belongs to chain ${cpRec.chain}`);
      }
      const err = checkTrustedCheckpoint(entries, cpRec, keys, {
        source: `checkpoint in ${cpKey}`,
        unreadable: `checkpoint in ${cpKey}`,
        records: 'the stream entries',
      });
      if (err) return fail(chain, err.seq, err.kind, err.detail);
      if (typeof cpRec !== 'string') summary.checkpointSeq = cpRec.seq;
    }

    const headJson = heads[chain];
    if (headJson === undefined) {
      return fail(chain, last.seq + 1, 'truncated', `${headKey} has no head for chain ${chain}: cannot tell whether records after seq ${last.seq} were removed`);
    }
    const head = parseRecord(headJson);
    if (typeof head === 'string') return fail(chain, last.seq + 1, 'malformed', `head of chain ${chain} in ${headKey}: ${head}`);
    const err = checkHead(entries, head);
    if (err) return fail(chain, err.seq, err.kind, err.detail);
    summary.headSeq = head.seq;
    result.chains.push(summary);
  }

  // Anchors without any record: every record of that chain was removed.
  for (const [chain, json] of [...Object.entries(heads), ...Object.entries(checkpoints)]) {
    if (byChain.has(chain)) continue;
    const rec = parseRecord(json);
    const seq = typeof rec === 'string' ? -1 : rec.seq;
    return fail(chain, 0, 'truncated', `the stream has no records of chain ${chain} but ${heads[chain] === json ? headKey : cpKey} names seq ${seq}`);
  }

  result.ok = true;
  return result;
}

/** The head is the last record the sink stored: the stream must hold exactly that record at its seq. */
function checkHead(entries: AuditEntry[], head: AuditRecord): { seq: number; kind: TamperKind; detail: string } | undefined {
  const last = (entries[entries.length - 1] as AuditEntry).rec;
  if (head.chain !== last.chain) return { seq: head.seq, kind: 'modified', detail: `the head stored for chain ${last.chain} belongs to chain ${head.chain}` };
  if (last.seq < head.seq) {
    return { seq: last.seq + 1, kind: 'truncated', detail: `the stream ends at seq ${last.seq} but the chain's head is at seq ${head.seq}` };
  }
  const atHead = entries.find((e) => e.rec.seq === head.seq);
  if (!atHead) {
    return { seq: head.seq, kind: 'deleted', detail: `the chain's head record ${head.seq} is not in the stream` };
  }
  if (atHead.rec.hash !== head.hash) {
    return { seq: head.seq, kind: 'modified', detail: `record ${head.seq} differs from the chain's stored head` };
  }
  return undefined;
}
