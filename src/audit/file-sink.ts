/**
 * Append-only JSONL file sink for the audit chain.
 *
 * Files (in `dir`, with `prefix` default "audit"):
 *   <prefix>.000001.jsonl, <prefix>.000002.jsonl, …   segments in rotation order; only the highest is written.
 *   <prefix>.checkpoint.json                          the latest checkpoint record (atomically replaced), so a
 *                                                     verifier can tell a truncated file from a complete one.
 * Segments are never renamed or rewritten: rotation just opens the next number (O_APPEND), and the first record
 * of a new segment links (`prev`) to the last record of the previous one because the chain is continuous.
 *
 * Durability: fsync "always" writes and fsyncs every record synchronously inside write(); { intervalMs } batches
 * the records of one event-loop turn into one write and fsyncs every intervalMs.
 *
 * Crash recovery (on open): if the last segment does not end with "\n" the last line is torn (the process died
 * mid-write). Everything before it is kept, the torn tail is truncated away, and the caller (openAuditLog)
 * appends a `recovery` record saying how many bytes were dropped and their SHA-256.
 *
 * Back-pressure: a failed write/fsync/rotation marks the sink unhealthy (healthy() === false), calls onError,
 * and KEEPS the records buffered (retried on the next flush) — nothing is dropped silently. When the buffer
 * exceeds maxBufferedRecords, write() throws AuditBackpressureError so the caller can fail closed.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { AuditChainOptions } from './chain.js';
import { startAuditChain, type AuditLog } from './log.js';
import { parseRecord, recordLine, type AuditRecord } from './record.js';
import { AuditBackpressureError, type AuditSink, type RecoveryInfo } from './sink.js';

export { AuditBackpressureError, type RecoveryInfo };

export type FsyncPolicy = 'always' | { intervalMs: number };


export interface FileSinkOptions {
  dir: string;
  prefix?: string;
  /** Default { intervalMs: 100 }. */
  fsync?: FsyncPolicy;
  /** Rotate to a new segment once the current one reaches this many bytes (default 64 MiB; 0 disables). */
  maxBytes?: number;
  maxBufferedRecords?: number;
  onError?: (err: Error) => void;
}


const SEGMENT_RE = /^(.*)\.(\d{6,})\.jsonl$/;

/** With an fsync interval: buffered records are written after this delay, or at once when this many wait. */
const WRITE_DELAY_MS = 5;
const WRITE_BATCH_RECORDS = 512;

export function segmentName(prefix: string, n: number): string {
  return `${prefix}.${String(n).padStart(6, '0')}.jsonl`;
}

export function checkpointFileName(prefix: string): string {
  return `${prefix}.checkpoint.json`;
}

/** Segment paths of `prefix` in `dir`, in rotation order. */
export function listSegments(dir: string, prefix = 'audit'): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => ({ n, m: SEGMENT_RE.exec(n) }))
    .filter((x) => x.m !== null && x.m[1] === prefix)
    .map((x) => ({ name: x.n, num: Number(x.m?.[2]) }))
    .sort((a, b) => a.num - b.num)
    .map((x) => join(dir, x.name));
}

function lastRecordOf(content: string): AuditRecord | undefined {
  const lines = content.split('\n').filter((l) => l.length > 0);
  const line = lines[lines.length - 1];
  if (line === undefined) return undefined;
  const rec = parseRecord(line);
  if (typeof rec === 'string') throw new Error(`last audit record is unreadable (${rec}); run "tollgate audit verify"`);
  return rec;
}

export class AuditFileSink implements AuditSink {
  readonly kind = 'file';
  private fd: number | undefined;
  private segment: number;
  private size = 0;
  private buffer: string[] = [];
  private ok = true;
  private flushTimer: NodeJS.Timeout | undefined;
  private fsyncTimer: NodeJS.Timeout | undefined;
  private dirty = false;
  private pendingCheckpoint: AuditRecord | undefined;
  private lockFile: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly prefix: string;
  readonly fsyncPolicy: FsyncPolicy;
  private readonly maxBytes: number;
  private readonly maxBuffered: number;
  /** Set by open() when a torn tail was truncated. */
  recovered: RecoveryInfo | undefined;
  /** Counters for metrics and tests: write batches, fsyncs, rotations, failures. */
  readonly stats = { writes: 0, fsyncs: 0, rotations: 0, errors: 0 };
  /** Last record found on disk at open (undefined for an empty log). */
  lastOnDisk: AuditRecord | undefined;

  private constructor(private readonly opts: FileSinkOptions) {
    this.prefix = opts.prefix ?? 'audit';
    this.fsyncPolicy = opts.fsync ?? { intervalMs: 100 };
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.maxBuffered = opts.maxBufferedRecords ?? 10_000;
    this.segment = 1;
  }

  /**
   * Opens (creating `dir` if needed), recovers a torn tail and finds the last record.
   * Throws if the existing segments cannot be read or the torn tail cannot be truncated (the chain cannot be
   * continued safely). Failing to open the current segment for writing does NOT throw: the sink starts
   * unhealthy, onError is called, and writes stay buffered until a flush succeeds.
   */
  static open(opts: FileSinkOptions): AuditFileSink {
    const sink = new AuditFileSink(opts);
    mkdirSync(opts.dir, { recursive: true });
    sink.lock();
    const segs = listSegments(opts.dir, sink.prefix);
    for (let i = segs.length - 1; i >= 0; i--) {
      const file = segs[i] as string;
      if (i === segs.length - 1) {
        const m = SEGMENT_RE.exec(file);
        sink.segment = Number(m?.[2] ?? 1);
      }
      if (!statSync(file).isFile()) continue;
      let content = readFileSync(file);
      if (i === segs.length - 1 && content.length > 0 && content[content.length - 1] !== 0x0a) {
        const keep = content.lastIndexOf(0x0a) + 1;
        const dropped = content.subarray(keep);
        sink.recovered = {
          file,
          droppedBytes: dropped.length,
          droppedSha256: createHash('sha256').update(dropped).digest('hex'),
        };
        truncateSync(file, keep);
        content = content.subarray(0, keep);
      }
      const last = lastRecordOf(content.toString('utf8'));
      if (last) {
        sink.lastOnDisk = last;
        break;
      }
    }
    sink.openSegment();
    if (typeof sink.fsyncPolicy === 'object' && sink.fsyncPolicy.intervalMs > 0) {
      sink.fsyncTimer = setInterval(() => sink.sync(), sink.fsyncPolicy.intervalMs);
      sink.fsyncTimer.unref();
    }
    return sink;
  }

  get currentFile(): string {
    return join(this.opts.dir, segmentName(this.prefix, this.segment));
  }

  healthy(): boolean {
    return this.ok;
  }

  /** Records waiting to be written (non-zero while unhealthy). */
  get pending(): number {
    return this.buffer.length;
  }

  write(record: AuditRecord): void {
    if (this.closed) throw new Error('audit sink is closed');
    if (this.buffer.length >= this.maxBuffered) {
      throw new AuditBackpressureError(`audit sink has ${this.buffer.length} unwritten records`);
    }
    this.buffer.push(`${recordLine(record)}\n`);
    if (this.fsyncPolicy === 'always') {
      this.flush();
    } else if (this.buffer.length >= WRITE_BATCH_RECORDS) {
      this.flush();
    } else if (this.flushTimer === undefined) {
      // One write() per few milliseconds instead of one per event-loop turn: under load a turn holds a record or
      // two, and a syscall per record cost more CPU than building it. Records are at most WRITE_DELAY_MS later in
      // the page cache; durability is the fsync interval's anyway.
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.flush();
      }, WRITE_DELAY_MS);
    }
  }

  /** Writes buffered records now. Returns false (and reports via onError) when that failed. */
  flush(): boolean {
    if (this.buffer.length === 0) return this.ok;
    try {
      if (this.fd === undefined) this.openSegment(true);
      const fd = this.fd as number;
      const data = Buffer.from(this.buffer.join(''), 'utf8');
      // The directory lock makes this process the only writer, so the size it tracks is the file's.
      const before = this.size;
      try {
        let off = 0;
        while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      } catch (err) {
        // Remove a partially written batch so the retry does not leave a torn line in the middle of the file.
        try {
          ftruncateSync(fd, before);
        } catch {
          /* the next open's torn-tail recovery handles it */
        }
        // The next attempt opens the segment again: a file that was replaced or a device that failed may work then.
        try {
          closeSync(fd);
        } catch {
          /* reported through the write error */
        }
        this.fd = undefined;
        throw err;
      }
      this.size = before + data.length;
      this.stats.writes++;
      this.buffer = [];
      this.dirty = true;
      if (this.fsyncPolicy === 'always') this.syncOrThrow();
      this.ok = true;
      if (this.maxBytes > 0 && this.size >= this.maxBytes) this.rotate();
      return true;
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  /**
   * Makes `record` the latest trusted checkpoint: <prefix>.checkpoint.json is atomically replaced with it once the
   * record is durable in the segment — never before, or a crash could make an honest log look "truncated". With
   * fsync "always" that is now; with an interval it is at the next interval fsync, so a checkpoint never puts an
   * extra fsync on the request path.
   */
  writeCheckpoint(record: AuditRecord): void {
    this.pendingCheckpoint = record;
    if (this.fsyncPolicy === 'always') this.sync();
  }

  /** Writes what is buffered, fsyncs, then publishes the pending checkpoint (used by the interval timer and close()). */
  sync(): boolean {
    if (!this.flush()) return false;
    try {
      this.syncOrThrow();
      const cp = this.pendingCheckpoint;
      if (cp !== undefined) {
        const target = join(this.opts.dir, checkpointFileName(this.prefix));
        const tmp = `${target}.tmp`;
        writeFileSync(tmp, `${JSON.stringify(cp)}\n`);
        renameSync(tmp, target);
        this.pendingCheckpoint = undefined;
      }
      return true;
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  close(): boolean {
    const ok = this.sync();
    if (this.fsyncTimer) clearInterval(this.fsyncTimer);
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        /* already reported or irrelevant at close */
      }
    }
    this.fd = undefined;
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.lockFile !== undefined) rmSync(this.lockFile, { force: true });
    return ok;
  }

  /**
   * One writer per directory: two processes appending to one segment would interleave two chains' records (a fork
   * nobody meant). `<prefix>.lock` holds the writer's pid; a lock whose process is gone (kill -9, a crash) is taken
   * over, since that is exactly the restart the torn-tail recovery is for.
   */
  private lock(): void {
    const file = join(this.opts.dir, `${this.prefix}.lock`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o640 });
        this.lockFile = file;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
        throw new Error(`audit directory ${this.opts.dir} is in use by process ${holder} (${file})`);
      }
      rmSync(file, { force: true });
    }
    throw new Error(`cannot take the audit directory lock ${file}`);
  }

  private syncOrThrow(): void {
    if (this.fd !== undefined && this.dirty) {
      fsyncSync(this.fd);
      this.stats.fsyncs++;
      this.dirty = false;
    }
  }

  private fail(err: unknown): void {
    this.ok = false;
    this.stats.errors++;
    const e = err instanceof Error ? err : new Error(String(err));
    this.opts.onError?.(e);
    // With fsync "always" there is no interval timer to retry buffered records while no new ones arrive.
    if (this.fsyncTimer === undefined && this.retryTimer === undefined && !this.closed) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!this.closed && this.buffer.length > 0) this.sync();
      }, 1000);
      this.retryTimer.unref();
    }
  }

  private openSegment(throwOnError = false): void {
    try {
      // 'a' = O_WRONLY | O_CREAT | O_APPEND: every write lands at the end, even with another writer.
      const fd = openSync(this.currentFile, 'a', 0o640);
      this.fd = fd;
      this.size = fstatSync(fd).size;
    } catch (err) {
      this.fd = undefined;
      if (throwOnError) throw err;
      this.fail(err);
    }
  }

  private rotate(): void {
    this.syncOrThrow();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.segment += 1;
    this.stats.rotations++;
    this.openSegment(true);
  }
}

export interface AuditLogOptions extends FileSinkOptions, Omit<AuditChainOptions, 'write' | 'last' | 'onCheckpoint'> {}

/** Opens the file sink and starts (or continues) its chain: see startAuditChain. */
export function openAuditLog(opts: AuditLogOptions): AuditLog<AuditFileSink> {
  return startAuditChain(AuditFileSink.open(opts), opts);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
