import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuditChain } from '../../src/audit/chain.js';
import { canonicalize } from '../../src/audit/canonical.js';
import { exportJwks, loadJwks, loadSigner, verifyEd25519 } from '../../src/audit/keys.js';
import {
  buildRecord,
  checkpointPayload,
  computeRecordHash,
  GENESIS_PREV,
  sanitizePath,
  type AuditFields,
  type AuditRecord,
} from '../../src/audit/record.js';
import { buildChain, newSigner } from './helpers.js';

describe('audit record', () => {
  it('hash = SHA-256(prev || JCS(record without hash)) — the documented bytes', () => {
    const rec = buildRecord({ seq: 0, ts: '2026-01-01T00:00:00.000Z', chain: 'c', kind: 'genesis', prev: GENESIS_PREV });
    const { hash, ...body } = rec;
    const expected = createHash('sha256').update(GENESIS_PREV + canonicalize(body), 'utf8').digest('hex');
    expect(hash).toBe(expected);
    expect(computeRecordHash(rec)).toBe(hash);
  });

  it('keeps only whitelisted fields: no token, Authorization, cookie or body can be written', () => {
    const hostile = {
      requestId: 'r1',
      clientId: 'client',
      path: '/pay?access_token=SECRET1&x=SECRET2',
      authorization: 'Bearer SECRET3',
      token: 'SECRET4',
      cookie: 'sid=SECRET5',
      body: 'SECRET6',
      detail: { nested: { token: 'SECRET7' } },
      durations: { total: 3, bad: 'SECRET8' },
    } as unknown as AuditFields;
    const rec = buildRecord({ seq: 1, ts: 't', chain: 'c', kind: 'decision', prev: GENESIS_PREV, fields: hostile });
    const text = JSON.stringify(rec);
    expect(text).not.toMatch(/SECRET|authorization|cookie|"token"|"body"/i);
    expect(rec.path).toBe('/pay?access_token&x');
    expect(rec.durations).toEqual({ total: 3 });
  });

  it('sanitizePath drops query values and fragments', () => {
    expect(sanitizePath('/a/b')).toBe('/a/b');
    expect(sanitizePath('/a?')).toBe('/a');
    expect(sanitizePath('/a?k=v&flag&z=1#frag')).toBe('/a?k&flag&z');
  });
});

describe('audit chain', () => {
  it('starts with genesis, links prev/seq, and checkpoints every N records with a valid Ed25519 signature', () => {
    const signer = newSigner();
    const recs = buildChain(12, signer, 5);
    expect(recs[0]?.kind).toBe('genesis');
    expect(recs[0]?.prev).toBe(GENESIS_PREV);
    recs.forEach((r, i) => {
      expect(r.seq).toBe(i);
      if (i > 0) expect(r.prev).toBe(recs[i - 1]?.hash);
      expect(computeRecordHash(r)).toBe(r.hash);
    });
    const cps = recs.filter((r) => r.kind === 'checkpoint');
    expect(cps.length).toBe(2); // genesis + 4 decisions, then 5 more
    for (const cp of cps) {
      const st = cp.checkpoint!;
      expect(st.hash).toBe(cp.prev);
      expect(st.seq).toBe(cp.seq - 1);
      expect(verifyEd25519(signer.publicKey, checkpointPayload('chain-a', st.seq, st.hash), st.sig)).toBe(true);
    }
  });

  it('checkpoints every T ms when records were appended', async () => {
    const signer = newSigner();
    const out: AuditRecord[] = [];
    const chain = new AuditChain({ signer, checkpointEvery: 0, checkpointIntervalMs: 20, write: (r) => out.push(r) });
    chain.append('decision', { requestId: 'x' });
    await new Promise((r) => setTimeout(r, 80));
    chain.close();
    expect(out.filter((r) => r.kind === 'checkpoint')).toHaveLength(1);
  });

  it('continues an existing chain from its last record', () => {
    const signer = newSigner();
    const first = buildChain(3, signer, 100);
    const last = first[first.length - 1]!;
    const out: AuditRecord[] = [];
    const chain = new AuditChain({ last, signer, write: (r) => out.push(r) });
    chain.append('start');
    expect(out[0]?.seq).toBe(last.seq + 1);
    expect(out[0]?.prev).toBe(last.hash);
    expect(out[0]?.chain).toBe('chain-a');
  });

  it('key rotation is recorded and checkpointed with the old key; the JWKS holds both kids', () => {
    const a = newSigner();
    const b = newSigner();
    const out: AuditRecord[] = [];
    const chain = new AuditChain({ signer: a, checkpointEvery: 0, write: (r) => out.push(r) });
    chain.rotateKey(b);
    chain.append('decision');
    chain.checkpoint();
    const cps = out.filter((r) => r.kind === 'checkpoint');
    expect(cps.map((c) => c.checkpoint?.kid)).toEqual([a.kid, b.kid]);
    expect(out.find((r) => r.kind === 'key_rotation')?.detail).toEqual({ oldKid: a.kid, newKid: b.kid });
    const keys = loadJwks(exportJwks([a.publicKey, b.publicKey]));
    expect([...keys.keys()].sort()).toEqual([a.kid, b.kid].sort());
  });

  it('loads a signer from PEM and rejects non-Ed25519 keys', () => {
    const s = newSigner();
    const pem = s.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(loadSigner({ pem }).kid).toBe(s.kid);
    expect(() => loadSigner({ pem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' })).toThrow();
  });
});
