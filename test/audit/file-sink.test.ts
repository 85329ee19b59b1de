import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, readFileSync, rmdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  AuditBackpressureError,
  AuditFileSink,
  checkpointFileName,
  listSegments,
  openAuditLog,
  segmentName,
  type AuditLogOptions,
} from '../../src/audit/file-sink.js';
import { verifyAuditFiles } from '../../src/audit/verify.js';
import { jwksFor, newSigner, readJsonl, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const signer = newSigner();
const tick = () => new Promise((r) => setImmediate(r));

function opts(extra: Partial<AuditLogOptions> = {}): AuditLogOptions {
  return { dir, chainId: 'inst-1', signer, checkpointEvery: 10, fsync: 'always', ...extra };
}

function verifyDir() {
  return verifyAuditFiles(listSegments(dir), {
    publicKeys: jwksFor(dir, signer),
    checkpoint: join(dir, checkpointFileName('audit')),
  });
}

function appendDecisions(log: ReturnType<typeof openAuditLog>, n: number, from = 0): void {
  for (let i = from; i < from + n; i++) {
    log.chain.append('decision', { requestId: `r${i}`, clientId: 'c', routeId: 'pay', method: 'POST', path: '/pay?amount=5', decision: 'allow', status: 200, upstreamStatus: 200, durations: { total: 1.5 }, scopes: ['pay:write'] });
  }
}

describe('audit file sink', () => {
  it('writes a genesis-started chain that verifies, with start/stop and a checkpoint file', () => {
    const log = openAuditLog(opts());
    appendDecisions(log, 25);
    expect(log.close()).toBe(true);
    const recs = readJsonl(join(dir, segmentName('audit', 1)));
    expect(recs.map((r) => r.kind).slice(0, 2)).toEqual(['genesis', 'start']);
    expect(recs.at(-2)?.kind).toBe('stop');
    expect(recs.at(-1)?.kind).toBe('checkpoint');
    const res = verifyDir();
    expect(res.error).toBeUndefined();
    expect(res.ok && res.unprotected).toBe(undefined); // closed with a final checkpoint: everything signed
    // Nothing secret: query values are gone.
    expect(readFileSync(join(dir, segmentName('audit', 1)), 'utf8')).not.toContain('amount=5');
  });

  it('torn tail: keeps everything before it, truncates the tail, records the recovery, verifies clean', () => {
    const log = openAuditLog(opts());
    appendDecisions(log, 5);
    log.chain.checkpoint();
    log.sink.close(); // simulate a crash: no stop record
    log.chain.close();
    const file = join(dir, segmentName('audit', 1));
    const before = readJsonl(file).length;
    const torn = '{"v":1,"seq":99,"ts":"2026';
    appendFileSync(file, torn); // the process died mid-write
    const log2 = openAuditLog(opts());
    log2.close();
    const recs = readJsonl(file);
    const recovery = recs[before];
    expect(recovery?.kind).toBe('recovery');
    expect(recovery?.detail).toMatchObject({ droppedBytes: Buffer.byteLength(torn) });
    expect(recs[before + 1]?.kind).toBe('start');
    expect(verifyDir().error).toBeUndefined();
  });

  it('rotation by size and restart continuity: segments link, the chain continues, all verify', () => {
    const log = openAuditLog(opts({ maxBytes: 2_000 }));
    appendDecisions(log, 30);
    log.close();
    const segsAfterFirst = listSegments(dir);
    expect(segsAfterFirst.length).toBeGreaterThan(2);
    const log2 = openAuditLog(opts({ maxBytes: 2_000 }));
    appendDecisions(log2, 30, 30);
    log2.close();
    // Rotation happens right after a write crosses maxBytes, so the newest segment may still be empty.
    const segs = listSegments(dir).filter((f) => readJsonl(f).length > 0);
    expect(segs.length).toBeGreaterThan(segsAfterFirst.length - 1);
    for (let i = 1; i < segs.length; i++) {
      const prevLast = readJsonl(segs[i - 1]!).at(-1)!;
      const first = readJsonl(segs[i]!)[0]!;
      expect(first.prev).toBe(prevLast.hash);
      expect(first.seq).toBe(prevLast.seq + 1);
    }
    const all = segs.flatMap(readJsonl);
    expect(all.filter((r) => r.kind === 'genesis')).toHaveLength(1);
    expect(all.filter((r) => r.kind === 'start')).toHaveLength(2);
    const res = verifyDir();
    expect(res.error).toBeUndefined();
    expect(res.ranges.map((r) => r.file)).toEqual(segs);
  });

  it('fsync "always": each record is on disk and fsynced before write() returns', () => {
    const log = openAuditLog(opts());
    const fsyncs = log.sink.stats.fsyncs;
    log.chain.append('decision', { requestId: 'now' });
    expect(readFileSync(log.sink.currentFile, 'utf8')).toContain('"requestId":"now"');
    expect(log.sink.stats.fsyncs).toBe(fsyncs + 1);
    log.close();
  });

  it('fsync every N ms: records of a few milliseconds are batched into one write, fsynced by the timer', async () => {
    // fsync timer at 40, 80 ms: the appends and their one write (5 ms later) fall between
    const log = openAuditLog(opts({ fsync: { intervalMs: 40 }, checkpointEvery: 0 }));
    await new Promise((r) => setTimeout(r, 10));
    const writes = log.sink.stats.writes;
    const fsyncs = log.sink.stats.fsyncs;
    for (let i = 0; i < 25; i++) log.chain.append('decision', { requestId: `b${i}` });
    await tick();
    // across event-loop turns, still one batch
    for (let i = 25; i < 50; i++) log.chain.append('decision', { requestId: `b${i}` });
    expect(readFileSync(log.sink.currentFile, 'utf8')).not.toContain('"requestId":"b0"');
    await new Promise((r) => setTimeout(r, 10));
    expect(log.sink.stats.writes).toBe(writes + 1);
    expect(readFileSync(log.sink.currentFile, 'utf8')).toContain('"requestId":"b49"');
    await new Promise((r) => setTimeout(r, 80));
    expect(log.sink.stats.fsyncs).toBeGreaterThan(fsyncs);
    log.close();
    expect(verifyDir().error).toBeUndefined();
  });

  it('back-pressure: an unwritable segment (a directory) → healthy() false, error callback, nothing dropped', () => {
    const errors: Error[] = [];
    const log = openAuditLog(opts({ maxBytes: 1_500, onError: (e) => errors.push(e) }));
    // Make the next rotation target unwritable.
    const blocked = join(dir, segmentName('audit', 2));
    mkdirSync(blocked);
    appendDecisions(log, 20);
    expect(log.sink.healthy()).toBe(false);
    expect(errors.length).toBeGreaterThan(0);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('EISDIR');
    expect(log.sink.pending).toBeGreaterThan(0);
    // The operator fixes the disk: buffered records are written, the chain verifies without gaps.
    rmdirSync(blocked);
    expect(log.sink.flush()).toBe(true);
    expect(log.sink.healthy()).toBe(true);
    log.close();
    expect(verifyDir().error).toBeUndefined();
  });

  it('back-pressure: disk full (ENOSPC via /dev/full) is surfaced, and the buffer limit throws', () => {
    const errors: Error[] = [];
    symlinkSync('/dev/full', join(dir, segmentName('audit', 1)));
    const sink = AuditFileSink.open({ dir, fsync: 'always', maxBufferedRecords: 3, onError: (e) => errors.push(e) });
    const rec = { v: 1, seq: 0, ts: 't', chain: 'c', kind: 'genesis', prev: '0'.repeat(64), hash: '1'.repeat(64) } as const;
    sink.write({ ...rec });
    expect(sink.healthy()).toBe(false);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ENOSPC');
    sink.write({ ...rec });
    sink.write({ ...rec });
    expect(() => sink.write({ ...rec })).toThrow(AuditBackpressureError);
    expect(sink.pending).toBe(3);
  });

  it('starts unhealthy (not throwing) when the current segment cannot be opened, and recovers later', () => {
    const errors: Error[] = [];
    const blocked = join(dir, segmentName('audit', 1));
    mkdirSync(blocked, { recursive: true });
    const log = openAuditLog(opts({ onError: (e) => errors.push(e) }));
    expect(log.sink.healthy()).toBe(false);
    expect(errors.length).toBeGreaterThan(0);
    expect(log.sink.pending).toBe(2); // genesis + start, kept
    rmdirSync(blocked);
    expect(log.sink.flush()).toBe(true);
    log.close();
    expect(verifyDir().error).toBeUndefined();
  });

  it('nothing secret reaches disk even when a caller passes secrets in extra properties', () => {
    const secrets = ['eyJhbGciOiJFZERTQSJ9.payload.SIGNATURE123', 'Bearer abcdefgh12345', 'sid=cookie-secret-999', 'client-secret-xyz', 'body-text-secret'];
    const log = openAuditLog(opts());
    log.chain.append('decision', {
      requestId: 'r',
      path: `/x?access_token=${secrets[0]}`,
      authorization: secrets[1],
      cookie: secrets[2],
      clientSecret: secrets[3],
      body: secrets[4],
      detail: { nested: { token: secrets[0] } },
    } as never);
    log.close();
    for (const f of listSegments(dir)) {
      const text = readFileSync(f, 'utf8');
      for (const s of secrets) expect(text).not.toContain(s);
      expect(text).not.toMatch(/authorization|cookie|clientSecret|"body"/i);
    }
  });
});
