// buildRecord writes the canonical JSON while it picks the members (one pass, no key sorting): it must produce
// exactly what RFC 8785 canonicalization of the resulting record gives, for every member and every kind of value.
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../../src/audit/canonical.js';
import { AUDIT_KINDS, buildRecord, computeRecordHash, parseRecord, pickAuditFields, recordLine, type AuditFields } from '../../src/audit/record.js';

const WEIRD = ['', 'plain', 'quote " and \\ backslash', 'ctrl \u0000\u001f\u007f', 'é€𝄞', 'lone \ud800 surrogate', '\u2028\u2029', '</script>'];
const NUMBERS = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789012345680000, Number.MAX_SAFE_INTEGER, 5e-324];

function pick<T>(xs: readonly T[], i: number): T {
  return xs[i % xs.length] as T;
}

function fieldsFor(i: number): AuditFields & Record<string, unknown> {
  const s = (k: number) => pick(WEIRD, i + k);
  const f: AuditFields & Record<string, unknown> = {};
  // Each member present or absent depending on a bit of i, so all combinations of neighbours occur.
  if (i & 1) f.requestId = s(1);
  if (i & 2) f.clientId = s(2);
  if (i & 4) f.partner = s(3);
  if (i & 8) f.routeId = s(4);
  if (i & 16) f.method = s(5);
  if (i & 32) f.path = `/a/${s(6)}?q=${s(7)}&x`;
  if (i & 64) f.riskTier = s(8);
  if (i & 128) f.decision = i & 256 ? 'allow' : 'deny';
  if (i & 512) f.stage = s(9);
  if (i & 1024) f.reasons = [s(10), s(11)];
  if (i & 2048) f.policyDecisionId = s(12);
  if (i & 4096) f.scopes = [];
  if (i & 8192) f.status = pick(NUMBERS, i);
  if (i & 16384) f.upstreamStatus = pick(NUMBERS, i + 3);
  if (i & 1) f.durations = { total: pick(NUMBERS, i + 1), upstream: pick(NUMBERS, i + 2), '10': 1, '9': 2, [s(13)]: 3 };
  if (i & 2) f.detail = { b: true, a: null, [s(14)]: s(15), n: pick(NUMBERS, i), z: 'x', '2': 'two' };
  if (i & 4) f.idempotencyKeyHash = 'ab'.repeat(32);
  // Things that must never reach a record.
  f['authorization'] = 'Bearer secret';
  f['token'] = 'eyJ.secret';
  if (i & 8) (f as Record<string, unknown>)['status'] = 'not a number';
  return f;
}

describe('buildRecord', () => {
  it('emits RFC 8785 canonical JSON equal to canonicalize() of the record, for every member combination', () => {
    for (let i = 0; i < 40_000; i += 37) {
      const fields = fieldsFor(i);
      const rec = buildRecord({
        seq: i,
        ts: '2026-11-25T00:00:00.000Z',
        chain: pick(WEIRD, i),
        kind: pick(AUDIT_KINDS, i),
        prev: 'f'.repeat(64),
        fields,
        ...(i % 5 === 0 ? { checkpoint: { seq: i - 1, hash: 'e'.repeat(64), kid: 'k', alg: 'EdDSA' as const, sig: 's' } } : {}),
      });
      const { hash, ...body } = rec;
      // the hash is over the canonical form, and verifiers recompute the same
      expect(hash).toBe(computeRecordHash(rec));
      // the line is the canonical body with `hash` appended, and parses back to the same record
      const line = recordLine(rec);
      expect(line).toBe(`${canonicalize(body).slice(0, -1)},"hash":"${hash}"}`);
      const parsed = parseRecord(line);
      expect(parsed).toStrictEqual(JSON.parse(JSON.stringify(rec)));
      // only AuditFields members, filtered like pickAuditFields (lone surrogates made well-formed)
      expect(line).not.toContain('secret');
      const picked = pickAuditFields(fields);
      for (const key of Object.keys(picked)) expect(Object.keys(rec)).toContain(key);
      for (const key of Object.keys(rec)) {
        expect(['v', 'seq', 'ts', 'chain', 'kind', 'prev', 'hash', 'checkpoint', ...Object.keys(picked)]).toContain(key);
      }
    }
  });

  it('never fails on text from a request: lone surrogates become U+FFFD', () => {
    const rec = buildRecord({ seq: 1, ts: 't', chain: 'c', kind: 'decision', prev: '0'.repeat(64), fields: { path: '/\ud800x' } });
    expect(rec.path).toBe('/\ufffdx');
    expect(() => canonicalize(rec)).not.toThrow();
  });
});
