/**
 * Offline verifier for audit JSONL files (given in rotation order).
 *
 * Checks, for every record: the hash recomputes (record.ts documents the bytes), seq is the previous seq + 1,
 * and `prev` is the previous record's hash; checkpoint statements cover the record before them and carry a
 * valid Ed25519 signature (RFC 8032) from a key in the JWKS-style file; the files reach at least the seq of the
 * trusted latest checkpoint (<prefix>.checkpoint.json, or `checkpoint` option) — otherwise "truncated".
 *
 * The first failure is classified as (see classify()):
 *   modified      the record's hash does not recompute, or a record's hash was recomputed so its successor's
 *                 `prev` no longer matches (reported at the altered record), or a rewritten chain fails a checkpoint
 *   deleted       seq jumps forward and the missing seq is nowhere later in the files
 *   inserted      a record that does not link into the chain (its successor links to its predecessor, or it
 *                 duplicates the seq of its predecessor with the same `prev`)
 *   reordered     seq/links out of order but the records are all present
 *   truncated     the files end before the last signed checkpoint
 *   bad_signature a checkpoint signature does not verify (or its kid is unknown)
 *   fork          two records (not adjacent duplicates) share one `prev`
 *   malformed     a line is not a record
 * Records after the last in-file checkpoint are valid but not signed: reported as `unprotected`.
 *
 * The checks themselves (verifyAuditEntries, checkTrustedCheckpoint) work on an in-memory ordered list of
 * { rec, label } entries, so other stores reuse them: verifyAuditFiles reads files, redis-verify.ts a stream.
 * A list may start mid-chain (older segments deleted, a stream trimmed), also at a checkpoint record whose
 * covered record is gone: its statement must then name its own predecessor (seq - 1, prev) and still verify.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadJwks, verifyEd25519 } from './keys.js';
import { checkpointPayload, computeRecordHash, GENESIS_PREV, parseRecord, type AuditRecord } from './record.js';

export type TamperKind =
  | 'modified'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'truncated'
  | 'bad_signature'
  | 'fork'
  | 'malformed';

export interface VerifiedRange {
  chain: string;
  fromSeq: number;
  toSeq: number;
  /** Where the records are: a file path, or e.g. "redis:<stream key>". */
  file: string;
}

export interface VerifyResult {
  ok: boolean;
  ranges: VerifiedRange[];
  /** Checkpoints whose signature was checked. */
  checkpointsVerified: number;
  /** Valid records after the last in-file checkpoint (not covered by a signature). */
  unprotected?: { chain: string; fromSeq: number; toSeq: number };
  /** True when no public key was given: checkpoint signatures were NOT checked. */
  signaturesUnchecked: boolean;
  error?: { seq: number; kind: TamperKind; detail: string; file?: string };
}

export interface VerifyOptions {
  /** kid → Ed25519 public key, or a JWKS-style file path. Without it signatures are not checked. */
  publicKeys?: Map<string, KeyObject> | string;
  /** The trusted latest checkpoint record (or a path to <prefix>.checkpoint.json). */
  checkpoint?: AuditRecord | string;
}

/** One record and where it came from (a file path, or e.g. "redis:<stream key>"): the core's input. */
export interface AuditEntry {
  rec: AuditRecord;
  label: string;
}

type Entry = AuditEntry;
type Failure = { seq: number; kind: TamperKind; detail: string; file?: string };

export function verifyAuditFiles(files: string[], options: VerifyOptions = {}): VerifyResult {
  const keys = typeof options.publicKeys === 'string' ? loadJwks(options.publicKeys) : options.publicKeys;

  // Parse everything first: classification looks ahead (e.g. is a missing seq later in the files?).
  const entries: Entry[] = [];
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      if (line.length === 0) continue;
      const rec = parseRecord(line);
      const prevSeq = entries[entries.length - 1]?.rec.seq ?? -1;
      if (typeof rec === 'string') {
        return failed(keys, { seq: prevSeq + 1, kind: 'malformed', detail: `${file}:${i + 1}: ${rec}`, file });
      }
      entries.push({ rec, label: file });
    }
  }

  const result = verifyAuditEntries(entries, keys);
  if (!result.ok || options.checkpoint === undefined) return result;

  let cpRec: AuditRecord | string;
  if (typeof options.checkpoint === 'string') {
    try {
      cpRec = parseRecord(readFileSync(options.checkpoint, 'utf8').trim());
    } catch (err) {
      cpRec = (err as Error).message;
    }
  } else cpRec = options.checkpoint;
  const error = checkTrustedCheckpoint(entries, cpRec, keys);
  if (!error) return result;
  const { unprotected: _checkedLast, ...rest } = result;
  return { ...rest, ok: false, error };
}

function failed(keys: Map<string, KeyObject> | undefined, error: Failure): VerifyResult {
  return { ok: false, ranges: [], checkpointsVerified: 0, signaturesUnchecked: !keys, error };
}

/**
 * The checking core: verifies an ordered list of records (one chain, or consecutive chains each starting with a
 * genesis record) — hashes, seq / prev links, checkpoint statements and (with `keys`) their signatures.
 * Does not know about a trusted latest checkpoint: see checkTrustedCheckpoint.
 */
export function verifyAuditEntries(entries: AuditEntry[], keys: Map<string, KeyObject> | undefined): VerifyResult {
  const result: VerifyResult = { ok: false, ranges: [], checkpointsVerified: 0, signaturesUnchecked: !keys };
  const fail = (seq: number, kind: TamperKind, detail: string, file?: string): VerifyResult => {
    result.error = { seq, kind, detail, ...(file ? { file } : {}) };
    return result;
  };
  const allHashes = new Set(entries.map((e) => e.rec.hash));

  const prevSeen = new Map<string, number>(); // prev → seq of the record that used it
  let last: AuditRecord | undefined;
  let lastCheckpointSeq = -1;
  let range: VerifiedRange | undefined;

  for (let i = 0; i < entries.length; i++) {
    const { rec, label: file } = entries[i] as Entry;
    if (computeRecordHash(rec) !== rec.hash) {
      return fail(rec.seq, 'modified', `record ${rec.seq} does not match its hash`, file);
    }
    if (rec.kind === 'genesis') {
      // A genesis record starts a chain (normally the first record; a later one starts a new chain id).
      if (rec.prev !== GENESIS_PREV || rec.seq !== 0 || (last && last.chain === rec.chain)) {
        return fail(rec.seq, 'modified', 'genesis record must have seq 0, a zero prev and a new chain id', file);
      }
      lastCheckpointSeq = -1;
    } else if (!last) {
      // The records start mid-chain (older segments not given, or a trimmed stream): verify from here.
    } else {
      const err = classify(entries, i, last, prevSeen, allHashes);
      if (err) return fail(err.seq, err.kind, err.detail, file);
      if (rec.chain !== last.chain) return fail(rec.seq, 'modified', `chain id changed from ${last.chain}`, file);
    }
    if (rec.kind === 'checkpoint') {
      const cp = rec.checkpoint;
      // Starting mid-chain at a checkpoint record: the record it covers is not given, but its statement must
      // still name the record's own predecessor (seq - 1, prev) and carry a valid signature.
      const covers = last ? cp?.seq === last.seq && cp.hash === last.hash : cp?.seq === rec.seq - 1;
      if (!cp || !covers || cp.hash !== rec.prev) {
        return fail(rec.seq, 'modified', 'checkpoint does not cover the record before it', file);
      }
      if (keys) {
        const key = keys.get(cp.kid);
        if (!key) return fail(rec.seq, 'bad_signature', `unknown checkpoint key ${cp.kid}`, file);
        if (!verifyEd25519(key, checkpointPayload(rec.chain, cp.seq, cp.hash), cp.sig)) {
          return fail(cp.seq, 'bad_signature', `checkpoint at seq ${rec.seq} has a bad signature over seq ${cp.seq}`, file);
        }
        result.checkpointsVerified++;
      }
      lastCheckpointSeq = rec.seq;
    }
    if (rec.kind !== 'genesis') prevSeen.set(rec.prev, rec.seq);
    if (range && range.file === file && range.chain === rec.chain) range.toSeq = rec.seq;
    else {
      range = { chain: rec.chain, fromSeq: rec.seq, toSeq: rec.seq, file };
      result.ranges.push(range);
    }
    last = rec;
  }

  if (last && last.seq > lastCheckpointSeq) {
    const fromSeq = lastCheckpointSeq >= 0 ? lastCheckpointSeq + 1 : (entries[0]?.rec.seq ?? 0);
    result.unprotected = { chain: last.chain, fromSeq, toSeq: last.seq };
  }
  result.ok = true;
  return result;
}

/**
 * Checks the records against a trusted latest checkpoint record (stored apart from them: the file sink's
 * <prefix>.checkpoint.json, the Redis sink's checkpoint hash): its signature (with `keys`), that the records
 * reach its seq ("truncated" otherwise), and that the records it names are the ones present ("modified").
 * `names` words the messages (defaults: the file verifier's).
 */
export function checkTrustedCheckpoint(
  entries: AuditEntry[],
  cpRec: AuditRecord | string,
  keys: Map<string, KeyObject> | undefined,
  names: { source?: string; unreadable?: string; records?: string } = {},
): Failure | undefined {
  const what = names.source ?? 'trusted checkpoint file';
  const where = names.records ?? 'files';
  if (typeof cpRec === 'string' || cpRec.kind !== 'checkpoint' || !cpRec.checkpoint) {
    const why = typeof cpRec === 'string' ? cpRec : 'not a checkpoint';
    return { seq: -1, kind: 'malformed', detail: `${names.unreadable ?? 'trusted checkpoint'} unreadable: ${why}` };
  }
  const cp = cpRec.checkpoint;
  if (keys) {
    const key = keys.get(cp.kid);
    if (!key || !verifyEd25519(key, checkpointPayload(cpRec.chain, cp.seq, cp.hash), cp.sig)) {
      return { seq: cp.seq, kind: 'bad_signature', detail: `${what} has a bad signature` };
    }
  }
  const sameChain = entries.filter((e) => e.rec.chain === cpRec.chain);
  const lastSeq = sameChain[sameChain.length - 1]?.rec.seq ?? -1;
  if (lastSeq < cpRec.seq) {
    return { seq: lastSeq + 1, kind: 'truncated', detail: `${where} end at seq ${lastSeq} but a signed checkpoint exists at seq ${cpRec.seq}` };
  }
  const covered = sameChain.find((e) => e.rec.seq === cp.seq);
  const cpInFile = sameChain.find((e) => e.rec.seq === cpRec.seq);
  if (!covered || covered.rec.hash !== cp.hash || !cpInFile || cpInFile.rec.hash !== cpRec.hash) {
    return { seq: cp.seq, kind: 'modified', detail: 'records differ from the trusted checkpoint' };
  }
  return undefined;
}

function classify(
  entries: Entry[],
  i: number,
  last: AuditRecord,
  prevSeen: Map<string, number>,
  allHashes: Set<string>,
): { seq: number; kind: TamperKind; detail: string } | undefined {
  const rec = (entries[i] as Entry).rec;
  const next = entries[i + 1]?.rec;
  const expected = last.seq + 1;
  if (rec.prev === last.hash && rec.seq === expected) return undefined;
  if (prevSeen.has(rec.prev)) {
    if (last.prev === rec.prev && last.seq === rec.seq) {
      return { seq: last.seq, kind: 'inserted', detail: `record ${last.seq} is a duplicate inserted before the original` };
    }
    return { seq: rec.seq, kind: 'fork', detail: `records ${prevSeen.get(rec.prev)} and ${rec.seq} share prev ${rec.prev.slice(0, 12)}…` };
  }
  if (rec.seq > expected) {
    if (entries.slice(i + 1).some((e) => e.rec.seq === expected && e.rec.chain === last.chain)) {
      return { seq: expected, kind: 'reordered', detail: `record ${expected} appears after record ${rec.seq}` };
    }
    return { seq: expected, kind: 'deleted', detail: `records ${expected}..${rec.seq - 1} are missing` };
  }
  if (next && next.prev === last.hash) {
    return { seq: rec.seq, kind: 'inserted', detail: `record ${rec.seq} is not linked into the chain` };
  }
  if (rec.seq < expected) {
    return allHashes.has(rec.prev)
      ? { seq: rec.seq, kind: 'reordered', detail: `record ${rec.seq} appears after record ${last.seq}` }
      : { seq: rec.seq, kind: 'inserted', detail: `record ${rec.seq} is not linked into the chain` };
  }
  if (rec.prev !== last.hash && allHashes.has(rec.prev)) {
    return { seq: rec.seq, kind: 'reordered', detail: `record ${rec.seq} links to a record that is not its predecessor` };
  }
  return { seq: last.seq, kind: 'modified', detail: `record ${last.seq} was altered (record ${rec.seq}'s prev no longer matches it)` };
}
