/**
 * What the chain appender writes to. Two implementations: the append-only JSONL file sink (file-sink.ts, the
 * default) and the Redis Streams sink (redis-sink.ts, many instances, one stream).
 *
 * The contract every sink keeps, because the gateway's fail-closed rule depends on it:
 *  - `write` never blocks on I/O for long and never drops a record: a record that cannot be stored now stays
 *    buffered (in order) and is retried; past the buffer limit `write` throws AuditBackpressureError;
 *  - `healthy()` is false from the first failed store until a later store succeeds;
 *  - `writeCheckpoint` stores the latest signed checkpoint where a verifier finds it (the trust anchor that turns
 *    "the log ends early" into a detectable truncation).
 */
import type { AuditRecord } from './record.js';

export class AuditBackpressureError extends Error {
  override readonly name = 'AuditBackpressureError';
}

export interface RecoveryInfo {
  /** Where the torn data was (a file path, or a Redis key). */
  file: string;
  droppedBytes: number;
  droppedSha256: string;
}

export interface AuditSinkStats {
  /** Successful store operations (a batch of records counts once). */
  writes: number;
  fsyncs: number;
  rotations: number;
  /** Failed store operations. */
  errors: number;
}

export interface AuditSink {
  /** What the sink is, for logs and the `start` record (`file`, `redis`). */
  readonly kind: string;
  /** The last record of this instance's chain found in storage when the sink was opened (restart continuity). */
  readonly lastOnDisk: AuditRecord | undefined;
  /** Set when opening found and removed a torn tail (the chain then records a `recovery`). */
  readonly recovered: RecoveryInfo | undefined;
  readonly stats: AuditSinkStats;
  /** Records accepted but not yet stored. */
  readonly pending: number;
  write(record: AuditRecord): void;
  writeCheckpoint(record: AuditRecord): void;
  healthy(): boolean;
  /** Stores what is buffered and releases the storage. True when everything was stored. */
  close(): boolean | Promise<boolean>;
}
