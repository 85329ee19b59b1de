// The audit trail wired into the gateway: one record per decision (allowed or rejected at any stage), records for
// start, stop, configuration reloads and signing-key rotation, nothing secret in any record, and back-pressure:
// while the sink cannot store records, fail-closed tiers answer 503 and the others keep working.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAuditVerify } from '../../src/audit/cli.js';
import { listSegments, segmentName } from '../../src/audit/file-sink.js';
import { auditRecordOf, readAuditRecords, startGateway, yamlConfig, type TestGateway } from '../helpers/gateway.js';
import { auditDirPath, registerSecret } from '../helpers/run-artifacts.js';
import { hs256Issuer, hs256Token } from '../helpers/tokens.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const SECRET = registerSecret('audit-e2e-shared-secret-0123456789abcdef');
const env = { ...process.env, AUDIT_E2E_SECRET: SECRET };

let upstream: TestUpstream;
beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(async () => {
  await upstream.close();
});

const routes = () => `  - id: orders
    match: { prefix: /orders }
    upstream: app
    auth: { issuer: local, scopes: [orders:read] }
    risk: low
  - id: reports
    match: { prefix: /reports }
    upstream: app
    auth: { issuer: local, scopes: [reports:read] }
    risk: medium
    rateLimits: { policies: [tiny] }
  - id: payments
    match: { prefix: /payments }
    upstream: app
    auth: { issuer: local, scopes: [payments:write] }
    risk: high
    # this test is about something else: the high-risk replay and idempotency checks are off here
    highRisk: { idempotency: false, replay: false }`;

function config(audit: string): string {
  return `${yamlConfig({
    issuers: hs256Issuer('AUDIT_E2E_SECRET'),
    upstreams: `  app: { url: "${upstream.url}" }`,
    routes: routes(),
    rateLimits: `  policies:
    tiny: { points: 1, windowSeconds: 60, key: client }
  partners: { claims: [partner] }`,
  })}${audit}`;
}

function pemKey(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

const allScopes = 'orders:read reports:read payments:write';
const token = (clientId: string, scope = allScopes, extra: Record<string, unknown> = {}) =>
  hs256Token(SECRET, { client_id: clientId, scope, ...extra });

async function call(gw: TestGateway, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  const res = await fetch(`${gw.url}${path}`, { method, headers });
  await res.arrayBuffer();
  return res;
}

async function verifyDir(dir: string, jwks: string): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await runAuditVerify(['verify', ...listSegments(dir), '--public-key', jwks], {
    out: (l) => out.push(l),
    err: (l) => out.push(l),
  });
  return { code, out: out.join('\n') };
}

describe('a record per gateway decision', () => {
  let gw: TestGateway;
  let dir: string;
  let keyFile: string;
  beforeAll(async () => {
    dir = auditDirPath('e2e-decisions');
    keyFile = join(dir, 'signing.pem');
    writeFileSync(keyFile, pemKey());
    gw = await startGateway(
      config(`audit:
  file: { dir: ${JSON.stringify(dir)} }
  signingKey: { file: ${JSON.stringify(keyFile)} }
  checkpoint: { every: 5 }
`),
      { env },
    );
  });
  afterAll(async () => {
    await gw.close();
  });

  it('records who, what, the verdict and its stage for allowed and rejected requests; nothing secret', async () => {
    const alice = await token('alice', allScopes, { partner: 'acme' });
    const readOnly = await token('bob', 'orders:read');

    const allowed = await call(gw, '/orders/1?access_token=query-secret-value&page=2', {
      authorization: `Bearer ${alice}`,
      'x-request-id': 'req-allowed',
      'idempotency-key': 'idem-key-123',
      cookie: 'session=cookie-secret-value',
    });
    expect(allowed.status).toBe(200);
    const missing = await call(gw, '/orders/2', { 'x-request-id': 'req-no-token' });
    expect(missing.status).toBe(401);
    const scope = await call(gw, '/payments/9', { authorization: `Bearer ${readOnly}`, 'x-request-id': 'req-scope' }, 'POST');
    expect(scope.status).toBe(403);
    const unknown = await call(gw, '/nowhere', { 'x-request-id': 'req-no-route' });
    expect(unknown.status).toBe(404);
    const first = await call(gw, '/reports/1', { authorization: `Bearer ${alice}`, 'x-request-id': 'req-limit-1' });
    expect(first.status).toBe(200);
    const limited = await call(gw, '/reports/1', { authorization: `Bearer ${alice}`, 'x-request-id': 'req-limit-2' });
    expect(limited.status).toBe(429);

    const ok = await auditRecordOf(gw, 'req-allowed');
    expect(ok).toMatchObject({
      kind: 'decision',
      decision: 'allow',
      clientId: 'alice',
      partner: 'acme',
      routeId: 'orders',
      method: 'GET',
      riskTier: 'low',
      scopes: ['orders:read'],
      status: 200,
      upstreamStatus: 200,
      // query names kept for correlation, values removed
      path: '/orders/1',
    });
    expect(ok['reasons']).toBeUndefined();
    expect(ok['idempotencyKeyHash']).toMatch(/^[0-9a-f]{64}$/);
    expect(ok['idempotencyKeyHash']).not.toContain('idem-key-123');
    expect((ok['durations'] as Record<string, number>)['total']).toBeGreaterThan(0);
    expect((ok['durations'] as Record<string, number>)['upstream']).toBeGreaterThanOrEqual(0);

    expect(await auditRecordOf(gw, 'req-no-token')).toMatchObject({
      decision: 'deny',
      stage: 'authenticate',
      reasons: ['token_missing', 'missing'],
      status: 401,
      routeId: 'orders',
    });
    const denied = await auditRecordOf(gw, 'req-scope');
    expect(denied).toMatchObject({ decision: 'deny', stage: 'authenticate', status: 403, clientId: 'bob', riskTier: 'high', method: 'POST' });
    expect(denied['reasons']).toContain('insufficient_scope');
    const noRoute = await auditRecordOf(gw, 'req-no-route');
    expect(noRoute).toMatchObject({ decision: 'deny', stage: 'route', status: 404 });
    expect((noRoute['reasons'] as string[])[0]).toBe('route_not_found');
    expect(await auditRecordOf(gw, 'req-limit-2')).toMatchObject({ decision: 'deny', stage: 'client_limit', status: 429, clientId: 'alice' });
    expect((await auditRecordOf(gw, 'req-limit-2'))['reasons']).toContain('rate_limited');

    // Nothing secret reached the files: tokens (or their signatures), the shared secret, cookies, query values,
    // the idempotency key itself.
    const text = listSegments(dir).map((f) => readFileSync(f, 'utf8')).join('');
    for (const secret of [alice, alice.split('.')[2]!, readOnly, SECRET, 'cookie-secret-value', 'query-secret-value', 'idem-key-123']) {
      expect(text).not.toContain(secret);
    }
    expect(text.toLowerCase()).not.toContain('authorization');
    expect(text.toLowerCase()).not.toContain('bearer');
  });

  it('the records of this gateway verify with checkpoints signed by the configured key', async () => {
    const jwks = join(dir, 'audit.jwks.json');
    expect(existsSync(jwks)).toBe(true);
    const { code, out } = await verifyDir(dir, jwks);
    expect(code, out).toBe(0);
    expect(out).toMatch(/checkpoints verified: [1-9]/);
    const kinds = gw.auditRecords().map((r) => r['kind']);
    expect(kinds.slice(0, 2)).toEqual(['genesis', 'start']);
  });
});

describe('privileged operations', () => {
  it('records start, accepted and rejected reloads (by hash), key rotation and stop; the chain verifies across them', async () => {
    const dir = auditDirPath('e2e-privileged');
    const keyFile = join(dir, 'signing.pem');
    writeFileSync(keyFile, pemKey());
    let broken = false;
    const audit = `audit:
  file: { dir: ${JSON.stringify(dir)}, fsyncIntervalMs: 0 }
  signingKey: { file: ${JSON.stringify(keyFile)} }
  checkpoint: { every: 1000 }
`;
    const yaml = () => (broken ? 'version: 1\nserver: {}\n' + audit : config(audit));
    const gw = await startGateway(yaml, { env });
    const startRecord = gw.auditRecords().find((r) => r['kind'] === 'start')!;
    const firstKid = (startRecord['detail'] as Record<string, string>)['kid'];
    expect(firstKid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((startRecord['detail'] as Record<string, string>)['config']).toBe(gw.gateway.runtime.config.sourceHash);

    // accepted reload with a rotated signing key
    writeFileSync(keyFile, pemKey());
    const accepted = await gw.gateway.reload();
    expect(accepted.ok).toBe(true);
    // rejected reload
    broken = true;
    const rejected = await gw.gateway.reload();
    expect(rejected.ok).toBe(false);
    broken = false;
    const badHash = (await import('node:crypto')).createHash('sha256').update('version: 1\nserver: {}\n' + audit).digest('hex');
    await gw.close();

    const records = readAuditRecords(dir);
    const reloads = records.filter((r) => r['kind'] === 'config_reload');
    expect(reloads).toHaveLength(2);
    expect(reloads[0]).toMatchObject({ decision: 'allow', detail: { result: 'accepted', hash: accepted.hash } });
    expect(reloads[1]).toMatchObject({ decision: 'deny', detail: { result: 'rejected', hash: badHash } });
    const rotation = records.find((r) => r['kind'] === 'key_rotation')!;
    const { oldKid, newKid } = rotation['detail'] as Record<string, string>;
    expect(oldKid).toBe(firstKid);
    expect(newKid).not.toBe(firstKid);
    // The rotation is checkpointed with the old key, later checkpoints with the new one.
    const after = records.slice(records.indexOf(rotation));
    expect((after[1]!['checkpoint'] as Record<string, string>)['kid']).toBe(oldKid);
    const last = records[records.length - 1]!;
    expect(last['kind']).toBe('checkpoint');
    expect((last['checkpoint'] as Record<string, string>)['kid']).toBe(newKid);
    expect(records[records.length - 2]!['kind']).toBe('stop');

    // Both keys are published; the whole chain verifies with them.
    const jwks = JSON.parse(readFileSync(join(dir, 'audit.jwks.json'), 'utf8')) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    const { code, out } = await verifyDir(dir, join(dir, 'audit.jwks.json'));
    expect(code, out).toBe(0);
  });

  it('refuses a reload that would move the audit trail to another sink (needs a restart)', async () => {
    const dir = auditDirPath('e2e-move');
    let target = dir;
    const gw = await startGateway(() => config(`audit:\n  file: { dir: ${JSON.stringify(target)} }\n`), { env });
    target = auditDirPath('e2e-move-elsewhere');
    const result = await gw.gateway.reload();
    expect(result.ok).toBe(false);
    expect(result.errors).toMatch(/audit sink, location or chain id changed/);
    await gw.close();
    expect(readAuditRecords(dir).some((r) => r['kind'] === 'config_reload' && r['decision'] === 'deny')).toBe(true);
    expect(listSegments(target)).toHaveLength(0);
  });
});

describe('back-pressure: the sink cannot store records', () => {
  it('fails closed on high (and medium when configured), keeps low running, counts it, and loses nothing once storage is back', async () => {
    const dir = auditDirPath('e2e-backpressure');
    const gw = await startGateway(
      config(`audit:
  file: { dir: ${JSON.stringify(dir)}, maxBytes: 4096, fsyncIntervalMs: 50 }
  onUnavailable: { medium: fail_closed }
`),
      { env },
    );
    const tk = await token('carol');
    const auth = { authorization: `Bearer ${tk}` };
    try {
      // The next segment is /dev/full: once the sink rotates into it, every write fails with ENOSPC.
      const next = (listSegments(dir).length || 1) + 1;
      const trap = join(dir, segmentName('audit', next));
      symlinkSync('/dev/full', trap);
      let n = 0;
      const sinkUp = async () => /^tollgate_audit_sink_up 1$/m.test(await (await fetch(`${gw.adminUrl}/metrics`)).text());
      while ((await sinkUp()) && n < 400) {
        expect((await call(gw, `/orders/${n++}`, auth)).status).toBe(200);
      }
      expect(await sinkUp()).toBe(false);
      const ready = await fetch(`${gw.adminUrl}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', audit: 'failing' });

      const high = await fetch(`${gw.url}/payments/1`, { method: 'POST', headers: { ...auth, 'x-request-id': 'req-during-outage' } });
      expect(high.status).toBe(503);
      expect(high.headers.get('retry-after')).toBe('5');
      expect(await high.json()).toMatchObject({ code: 'audit_unavailable', status: 503 });
      expect(upstream.seen.some((r) => r.url === '/payments/1')).toBe(false);
      expect((await call(gw, '/reports/1', auth)).status).toBe(503);
      expect((await call(gw, '/orders/x', { ...auth, 'x-request-id': 'req-low-during-outage' })).status).toBe(200);

      const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      expect(metrics).toMatch(/tollgate_audit_rejections_total\{tier="high"\} 1/);
      expect(metrics).toMatch(/tollgate_audit_rejections_total\{tier="medium"\} 1/);
      expect(metrics).toMatch(/^tollgate_audit_sink_errors_total [1-9]/m);
      expect(metrics).toMatch(/^tollgate_audit_pending_records [1-9]/m);
      expect(gw.logText()).toContain('audit sink cannot store records');

      // Storage comes back: the buffered records are written, high-risk routes run again.
      rmSync(trap);
      for (let i = 0; i < 100 && !(await sinkUp()); i++) await new Promise((r) => setTimeout(r, 20));
      expect(await sinkUp()).toBe(true);
      expect((await call(gw, '/payments/2', auth, 'POST')).status).toBe(200);
    } finally {
      await gw.close();
    }
    const records = readAuditRecords(dir);
    const during = records.find((r) => r['requestId'] === 'req-during-outage');
    expect(during).toMatchObject({ decision: 'deny', stage: 'audit_gate', reasons: ['audit_unavailable', 'audit_sink_down'], status: 503 });
    expect(records.find((r) => r['requestId'] === 'req-low-during-outage')).toMatchObject({ decision: 'allow', status: 200 });
    const { code, out } = await verifyDir(dir, join(dir, 'audit.jwks.json'));
    expect(code, out).toBe(0);
  });
});

describe('a gateway that cannot audit does not start', () => {
  it('exits 2 naming the problem when the audit directory cannot be created, or is held by another running gateway', async () => {
    const { runCli, spawnGateway } = await import('../helpers/process.js');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const work = mkdtempSync(join(tmpdir(), 'tollgate-audit-start-'));
    try {
      const fileNotDir = join(work, 'plain-file');
      writeFileSync(fileNotDir, 'x');
      const bad = join(work, 'bad.yaml');
      writeFileSync(bad, config(`audit:\n  file: { dir: ${JSON.stringify(join(fileNotDir, 'audit'))} }\n`));
      const r = await runCli(['start', '--config', bad], { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/tollgate cannot start: .*ENOTDIR/);

      // One writer per audit directory: a second gateway on the same directory is refused while the first runs.
      const shared = join(work, 'shared.yaml');
      writeFileSync(shared, config(`audit:\n  file: { dir: ${JSON.stringify(auditDirPath('e2e-lock'))} }\n`));
      const first = await spawnGateway(['start', '--config', shared], { env });
      try {
        const second = await runCli(['start', '--config', shared], { env });
        expect(second.code).toBe(2);
        expect(second.stderr).toMatch(new RegExp(`audit directory .* is in use by process ${first.child.pid}`));
        expect((await fetch(`${first.publicUrl}/orders/1`)).status).toBe(401);
      } finally {
        first.child.kill('SIGTERM');
        await first.exited;
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
