import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { AuditChain } from '../../src/audit/chain.js';
import { runAuditVerify } from '../../src/audit/cli.js';
import { checkpointFileName, segmentName } from '../../src/audit/file-sink.js';
import { signEd25519 } from '../../src/audit/keys.js';
import { buildRecord, checkpointPayload, computeRecordHash, type AuditRecord } from '../../src/audit/record.js';
import { verifyAuditFiles } from '../../src/audit/verify.js';
import { buildChain, jwksFor, newSigner, rehash, tempDir, writeJsonl } from './helpers.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const signer = newSigner();


function verify(recs: AuditRecord[], extra: { checkpoint?: AuditRecord } = {}) {
  const file = join(dir, 'audit.000001.jsonl');
  writeJsonl(file, recs);
  return verifyAuditFiles([file], { publicKeys: jwksFor(dir, signer), ...extra });
}

describe('audit verify', () => {
  it('accepts an intact chain and reports ranges and the unprotected tail', () => {
    const recs = buildChain(12, signer, 5); // 0 genesis … checkpoints at 5 and 11, then seq 12..14
    const res = verify(recs);
    expect(res.error).toBeUndefined();
    expect(res.ok).toBe(true);
    expect(res.ranges).toEqual([{ chain: 'chain-a', fromSeq: 0, toSeq: recs.length - 1, file: join(dir, 'audit.000001.jsonl') }]);
    expect(res.checkpointsVerified).toBe(2);
    expect(res.unprotected).toEqual({ chain: 'chain-a', fromSeq: 12, toSeq: 14 });
  });

  it('modified: a field changed', () => {
    const recs = buildChain(12, signer);
    recs[7] = { ...recs[7]!, status: 500 };
    expect(verify(recs).error).toMatchObject({ seq: 7, kind: 'modified' });
  });

  it('modified: a field changed and that record re-hashed', () => {
    const recs = buildChain(12, signer);
    recs[7] = { ...recs[7]!, clientId: 'someone-else' };
    recs[7].hash = computeRecordHash(recs[7]);
    expect(verify(recs).error).toMatchObject({ seq: 7, kind: 'modified' });
  });

  it('bad signature: the whole file rewritten with every hash recomputed', () => {
    const recs = buildChain(12, signer);
    recs[2] = { ...recs[2]!, decision: 'deny' };
    expect(verify(rehash(recs, 2)).error).toMatchObject({ seq: 4, kind: 'bad_signature' });
  });

  it('bad signature: a checkpoint signed by another key under the same kid', () => {
    const recs = buildChain(12, signer);
    const cp = recs[5]!;
    expect(cp.kind).toBe('checkpoint');
    const forged = signEd25519(newSigner().privateKey, checkpointPayload('chain-a', cp.checkpoint!.seq, cp.checkpoint!.hash));
    recs[5] = { ...cp, checkpoint: { ...cp.checkpoint!, sig: forged } };
    expect(verify(rehash(recs, 5)).error).toMatchObject({ seq: 4, kind: 'bad_signature' });
  });

  it('deleted: a record removed', () => {
    const recs = buildChain(12, signer);
    recs.splice(7, 1);
    expect(verify(recs).error).toMatchObject({ seq: 7, kind: 'deleted' });
  });

  it('inserted: a well-formed record with a valid hash slipped in', () => {
    const recs = buildChain(12, signer);
    const fake = buildRecord({ seq: 8, ts: recs[8]!.ts, chain: 'chain-a', kind: 'decision', prev: recs[7]!.hash, fields: { clientId: 'evil' } });
    recs.splice(8, 0, fake);
    expect(verify(recs).error).toMatchObject({ seq: 8, kind: 'inserted' });
  });

  it('inserted: a record that links to nothing', () => {
    const recs = buildChain(12, signer);
    const fake = buildRecord({ seq: 8, ts: recs[8]!.ts, chain: 'chain-a', kind: 'decision', prev: 'f'.repeat(64) });
    recs.splice(8, 0, fake);
    expect(verify(recs).error).toMatchObject({ seq: 8, kind: 'inserted' });
  });

  it('reordered: two records swapped', () => {
    const recs = buildChain(12, signer);
    [recs[7], recs[8]] = [recs[8]!, recs[7]!];
    expect(verify(recs).error).toMatchObject({ seq: 7, kind: 'reordered' });
  });

  it('truncated: the file ends before the last signed checkpoint', () => {
    const recs = buildChain(12, signer);
    const lastCp = [...recs].reverse().find((r) => r.kind === 'checkpoint')!;
    const truncated = recs.slice(0, lastCp.seq - 2);
    const res = verify(truncated, { checkpoint: lastCp });
    expect(res.error).toMatchObject({ seq: lastCp.seq - 2, kind: 'truncated' });
    // The same records with the complete file are fine.
    expect(verify(recs, { checkpoint: lastCp }).ok).toBe(true);
  });

  it('fork: two records share one prev', () => {
    const base = buildChain(3, signer, 100);
    const branch = (tag: string): AuditRecord[] => {
      const out: AuditRecord[] = [];
      const c = new AuditChain({ last: base[base.length - 1]!, write: (r) => out.push(r) });
      for (let i = 0; i < 3; i++) c.append('decision', { requestId: `${tag}${i}` });
      return out;
    };
    const a = branch('a');
    const b = branch('b');
    expect(verify([...base, ...a, ...b]).error).toMatchObject({ seq: a[0]!.seq, kind: 'fork' });
  });

  it('malformed: a line that is not a record', () => {
    const file = join(dir, 'x.jsonl');
    writeFileSync(file, '{"seq":1}\n');
    expect(verifyAuditFiles([file]).error).toMatchObject({ kind: 'malformed' });
  });

  it('CLI: exit 0 with ranges; non-zero naming the first bad seq and why', async () => {
    const recs = buildChain(12, signer);
    const file = join(dir, segmentName('audit', 1));
    writeJsonl(file, recs);
    const jwks = jwksFor(dir, signer);
    const lastCp = [...recs].reverse().find((r) => r.kind === 'checkpoint')!;
    writeFileSync(join(dir, checkpointFileName('audit')), `${JSON.stringify(lastCp)}\n`);
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    expect(await runAuditVerify(['verify', file, '--public-key', jwks], io)).toBe(0);
    expect(out.join('\n')).toContain(`ok chain chain-a seq 0..${recs.length - 1}`);

    out.length = 0;
    writeJsonl(file, recs.slice(0, 8)); // the checkpoint file next to it is found automatically
    expect(await runAuditVerify(['verify', file, '--public-key', jwks], io)).toBe(1);
    expect(out.join('\n')).toMatch(/FAIL seq 8: truncated/);

    out.length = 0;
    expect(await runAuditVerify(['verify'], io)).toBe(2);
  });
});
