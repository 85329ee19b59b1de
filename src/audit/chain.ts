/**
 * The chain appender: assigns seq / prev / hash, and emits signed checkpoint records every N records or T ms.
 *
 * A checkpoint record's `checkpoint` statement signs (Ed25519, RFC 8032) the canonical JSON (RFC 8785) of
 * { chain, seq, hash } of the record immediately before it. Because the signature is over a hash that depends
 * on every earlier record, an attacker who rewrites the file and recomputes every hash still cannot produce
 * valid checkpoint signatures without the private key.
 *
 * The appender is synchronous and storage-agnostic: every produced record is handed to `write` in order.
 */
import { randomUUID } from 'node:crypto';
import { checkpointPayload, buildRecord, GENESIS_PREV, type AuditFields, type AuditKind, type AuditRecord } from './record.js';
import { signEd25519, type AuditSigner } from './keys.js';

export interface AuditChainOptions {
  /** Chain id (one per gateway instance). Ignored when continuing from `last` (its chain id is kept). */
  chainId?: string;
  /** Where records go, in order. Throwing here propagates to the caller of append(). */
  write: (record: AuditRecord) => void;
  /** Last record of an existing chain (restart continuity). Without it a genesis record starts a new chain. */
  last?: AuditRecord;
  signer?: AuditSigner;
  /** Checkpoint after this many non-checkpoint records (default 100; 0 disables). */
  checkpointEvery?: number;
  /** Also checkpoint every this many ms if records were appended since the last one (0/undefined disables). */
  checkpointIntervalMs?: number;
  now?: () => Date;
  /** Called with each checkpoint record after it was written (e.g. to persist the latest checkpoint elsewhere). */
  onCheckpoint?: (record: AuditRecord) => void;
}

export class AuditChain {
  readonly chainId: string;
  private lastRecord: AuditRecord | undefined;
  private sinceCheckpoint = 0;
  private signer: AuditSigner | undefined;
  private readonly every: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => Date;

  constructor(private readonly opts: AuditChainOptions) {
    this.chainId = opts.last?.chain ?? opts.chainId ?? randomUUID();
    this.signer = opts.signer;
    this.every = opts.checkpointEvery ?? 100;
    this.now = opts.now ?? (() => new Date());
    this.lastRecord = opts.last;
    if (opts.last && opts.last.kind !== 'checkpoint') this.sinceCheckpoint = 1;
    if (!this.lastRecord) this.append('genesis', {});
    if (opts.checkpointIntervalMs && opts.checkpointIntervalMs > 0) {
      this.timer = setInterval(() => {
        if (this.sinceCheckpoint > 0) this.checkpoint();
      }, opts.checkpointIntervalMs);
      this.timer.unref();
    }
  }

  get last(): AuditRecord | undefined {
    return this.lastRecord;
  }

  /** Appends one record (and a checkpoint after it when due). Returns the appended (non-checkpoint) record. */
  append(kind: Exclude<AuditKind, 'checkpoint'>, fields: AuditFields = {}): AuditRecord {
    const rec = this.push(kind, fields);
    this.sinceCheckpoint++;
    if (this.signer && this.every > 0 && this.sinceCheckpoint >= this.every) this.checkpoint();
    return rec;
  }

  /** Writes a signed checkpoint covering the current last record (no-op without a signer). */
  checkpoint(): AuditRecord | undefined {
    const signer = this.signer;
    const last = this.lastRecord;
    if (!signer || !last) return undefined;
    const sig = signEd25519(signer.privateKey, checkpointPayload(this.chainId, last.seq, last.hash));
    const rec = this.push('checkpoint', {}, { seq: last.seq, hash: last.hash, kid: signer.kid, alg: 'EdDSA', sig });
    this.sinceCheckpoint = 0;
    this.opts.onCheckpoint?.(rec);
    return rec;
  }

  /**
   * Signing-key rotation: a `key_rotation` record naming both kids, checkpointed with the OLD key (so the
   * rotation is itself covered by the key the verifier already trusts), then the new key is used.
   */
  rotateKey(next: AuditSigner): void {
    this.append('key_rotation', { detail: { oldKid: this.signer?.kid ?? null, newKid: next.kid } });
    this.checkpoint();
    this.signer = next;
  }

  /** Stops the interval timer. Does not write anything (callers append 'stop' + checkpoint first if wanted). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private lastMs = -1;
  private lastTs = '';

  /** RFC 3339 UTC time of now; records appended in the same millisecond share one formatted string. */
  private timestamp(): string {
    if (this.opts.now !== undefined) return this.opts.now().toISOString();
    const ms = Date.now();
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastTs = new Date(ms).toISOString();
    }
    return this.lastTs;
  }

  private push(kind: AuditKind, fields: AuditFields, checkpoint?: AuditRecord['checkpoint']): AuditRecord {
    const last = this.lastRecord;
    const rec = buildRecord({
      seq: last ? last.seq + 1 : 0,
      ts: this.timestamp(),
      chain: this.chainId,
      kind,
      prev: last ? last.hash : GENESIS_PREV,
      fields,
      ...(checkpoint ? { checkpoint } : {}),
    });
    this.opts.write(rec);
    this.lastRecord = rec;
    return rec;
  }
}
