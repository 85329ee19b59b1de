// The SHIPPED default policy (policy/tollgate/decision.rego + data.yaml, loaded from the repository's policy/ directory,
// its Rego tests run at load) through the real gateway, with access tokens from a real authorization server
// (oidc-provider, client-credentials grant, RFC 9068 JWT access tokens carrying `tenant` and `partner` claims) and
// dual-control approval tokens signed with an ES256 key the gateway knows from a keysFile JWKS.
//
// For each rule of the default policy: allowed and denied; tenant and partner confused deputies (a valid token used
// on another tenant, a partner named by the request instead of the token); bodies that are not JSON, too big,
// ambiguous or carry prototype-pollution keys; dual control (0/1/2 approvers, self-approval, the same approver twice,
// unbound and forged approvals); the policy raising a route's risk tier and the tier's token age that follows.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestHash } from '../../src/stages/policy.js';
import { startAuthServer, type AuthServer } from '../fixtures/oidc.js';
import { auditRecordOf, startGateway, yamlConfig, type TestGateway } from '../helpers/gateway.js';
import { registerSecret } from '../helpers/run-artifacts.js';
import { startUpstream, type SeenRequest, type TestUpstream } from '../helpers/upstream.js';

const RESOURCE = 'https://api.tollgate.test';
const APPROVALS_ISSUER = 'https://approvals.tollgate.test';
const POLICY_DIR = join(process.cwd(), 'policy');
const DECISION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ALL_SCOPES = 'orders:read orders:write payments:write';

let as: AuthServer;
let upstream: TestUpstream;
let gw: TestGateway;
let work: string;
let approvalKey: CryptoKey;
let foreignKey: CryptoKey;
const APPROVAL_KID = 'approvals-1';

/** One access token per client, issued by the authorization server (client credentials). */
const tokens: Record<string, string> = {};

/** Clients of the authorization server and the extra claims their tokens carry. */
const CLIENTS = [
  { clientId: 'acme-app', scope: ALL_SCOPES, claims: { tenant: 'acme', partner: 'acme' } },
  { clientId: 'acme-reader', scope: 'orders:read', claims: { tenant: 'acme', partner: 'acme' } },
  { clientId: 'globex-app', scope: ALL_SCOPES, claims: { tenant: 'globex', partner: 'globex' } },
  { clientId: 'initech-app', scope: ALL_SCOPES, claims: { tenant: 'initech', partner: 'initech' } },
  { clientId: 'hooli-app', scope: ALL_SCOPES, claims: { tenant: 'hooli', partner: 'hooli' } },
  // a tenant but no partner claim
  { clientId: 'acme-nopartner', scope: ALL_SCOPES, claims: { tenant: 'acme' } },
  // a partner but no tenant claim
  { clientId: 'no-tenant', scope: ALL_SCOPES, claims: { partner: 'acme' } },
  // claims of the wrong type: an array is not the string "acme"
  { clientId: 'odd-claims', scope: ALL_SCOPES, claims: { tenant: ['acme'], partner: ['acme'] } },
  // valid tokens, issued 10 minutes / 2 hours ago (iat back-dated by the authorization server)
  { clientId: 'acme-stale-10m', scope: ALL_SCOPES, claims: { tenant: 'acme', partner: 'acme' }, issuedAgoSec: 600 },
  { clientId: 'acme-stale-2h', scope: ALL_SCOPES, claims: { tenant: 'acme', partner: 'acme' }, issuedAgoSec: 7200 },
];

function gatewayYaml(): string {
  return `${yamlConfig({
    issuers: `  corp:
    issuer: ${as.issuer}
    audiences: [${RESOURCE}]
    algorithms: [ES256]
    jwks: { uri: ${JSON.stringify(as.jwksUri)} }
    typ: at+jwt
    clockToleranceSec: 5
    requiredClaims: [exp, iat, client_id]
  approvals:
    issuer: ${APPROVALS_ISSUER}
    audiences: [${RESOURCE}]
    algorithms: [ES256]
    keysFile: ${JSON.stringify(join(work, 'approvals.jwks.json'))}
    requiredClaims: [exp, iat, req_hash]`,
    upstreams: `  orders:
    url: ${JSON.stringify(upstream.url)}`,
    // The route ids data.yaml classifies, on the paths of config/gateway.yaml. Two deliberate differences:
    // orders-create has no gateway-level scope (so the POLICY's scope check decides) and is configured `low`
    // (data.yaml says medium: the policy raises it); orders-export is not classified at all.
    routes: `  - id: orders-read
    match: { methods: [GET], path: "/v1/tenants/{tenant}/orders/{id}" }
    upstream: orders
    auth: { issuer: corp, scopes: [orders:read] }
    risk: low
  - id: orders-list
    match: { methods: [GET], path: "/v1/tenants/{tenant}/orders" }
    upstream: orders
    auth: { issuer: corp, scopes: [orders:read] }
    risk: low
  - id: orders-create
    match: { methods: [POST], path: "/v1/tenants/{tenant}/orders" }
    upstream: orders
    auth: { issuer: corp }
    risk: low
    maxBodyBytes: 65536
  - id: payments-create
    match: { methods: [POST], path: "/v1/tenants/{tenant}/payments" }
    upstream: orders
    auth: { issuer: corp, scopes: [payments:write] }
    risk: high
    # this test is about something else: the high-risk replay and idempotency checks are off here
    highRisk: { idempotency: false, replay: false }
    maxBodyBytes: 65536
    policy: { body: { maxBytes: 2048 } }
  - id: public
    match: { methods: [GET, HEAD], prefix: /public }
    upstream: orders
    auth: false
    risk: low
  - id: orders-export
    match: { methods: [GET], path: "/v1/tenants/{tenant}/exports/{id}" }
    upstream: orders
    auth: { issuer: corp, scopes: [orders:read] }
    risk: low`,
    rateLimits: `  partners: { claims: [partner] }`,
  })}policy:
  dir: ${JSON.stringify(POLICY_DIR)}
  entrypoint: tollgate/decision
  watch: false
  headers: [x-agent-id]
  obligationHeaders: [x-approved-by]
  approvals: { issuer: approvals }
`;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tollgate-default-policy-'));
  as = await startAuthServer({ scopes: ['orders:read', 'orders:write', 'payments:write'], clients: CLIENTS });
  for (const c of as.clients) registerSecret(c.clientSecret);
  for (const c of CLIENTS) {
    tokens[c.clientId] = registerSecret(await as.issueToken({ clientId: c.clientId, scope: c.scope, resource: RESOURCE }));
  }

  const pair = await generateKeyPair('ES256', { extractable: true });
  approvalKey = pair.privateKey;
  registerSecret((await exportJWK(pair.privateKey)).d!);
  const foreign = await generateKeyPair('ES256', { extractable: true });
  foreignKey = foreign.privateKey;
  registerSecret((await exportJWK(foreign.privateKey)).d!);
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: APPROVAL_KID, alg: 'ES256', use: 'sig' };
  writeFileSync(join(work, 'approvals.jwks.json'), JSON.stringify({ keys: [publicJwk] }));

  upstream = await startUpstream();
  gw = await startGateway(gatewayYaml());
}, 30_000);

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
  await as?.close();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

// --- helpers ------------------------------------------------------------------------------------------------------

interface CallResult {
  status: number;
  body: Record<string, unknown>;
  text: string;
  headers: Headers;
  /** What the upstream received because of this call. */
  forwarded: SeenRequest[];
  requestId: string;
}

let seq = 0;

async function call(
  path: string,
  opts: { method?: string; token?: string; headers?: Record<string, string>; body?: string | Buffer; approvals?: string[] } = {},
): Promise<CallResult> {
  const requestId = `dp-${process.pid}-${++seq}`;
  const headers = new Headers({ 'x-request-id': requestId, ...opts.headers });
  if (opts.token !== undefined) headers.set('authorization', `Bearer ${opts.token}`);
  for (const a of opts.approvals ?? []) headers.append('approval-token', a);
  const before = upstream.seen.length;
  const res = await fetch(`${gw.url}${path}`, { method: opts.method ?? 'GET', headers, ...(opts.body !== undefined ? { body: opts.body } : {}) });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = {};
  }
  // Requests are sequential within this file, and the upstream records a request before it answers it.
  return { status: res.status, body, text, headers: res.headers, forwarded: upstream.seen.slice(before), requestId };
}

/** An approval token (ES256, the approvals issuer) by `approver`, bound to the request given by its parts. */
async function approval(
  approver: string,
  req: { method?: string; path: string; query?: string; body?: string | undefined },
  opts: { key?: CryptoKey; expiresIn?: string | number; issuer?: string } = {},
): Promise<string> {
  const hash = requestHash(req.method ?? 'POST', req.path, req.query ?? '', req.body === undefined ? undefined : Buffer.from(req.body));
  const jwt = new SignJWT({ req_hash: hash })
    .setProtectedHeader({ alg: 'ES256', kid: APPROVAL_KID })
    .setIssuer(opts.issuer ?? APPROVALS_ISSUER)
    .setAudience(RESOURCE)
    .setSubject(approver)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '5m');
  return registerSecret(await jwt.sign(opts.key ?? approvalKey));
}

const JSON_CT = { 'content-type': 'application/json' };

/** POST /v1/tenants/{tenant}/payments with a body and approvals bound to exactly this request by `approvers`. */
async function pay(
  client: string,
  body: string | undefined,
  opts: { tenant?: string; query?: string; approvers?: string[]; extraApprovals?: string[]; headers?: Record<string, string> } = {},
): Promise<CallResult> {
  const ownTenant = (CLIENTS.find((c) => c.clientId === client)?.claims as { tenant?: unknown } | undefined)?.tenant;
  const path = `/v1/tenants/${opts.tenant ?? (typeof ownTenant === 'string' ? ownTenant : 'acme')}/payments`;
  const approvals: string[] = [];
  for (const a of opts.approvers ?? ['alice', 'bob']) approvals.push(await approval(a, { path, ...(opts.query !== undefined ? { query: opts.query } : {}), body }));
  approvals.push(...(opts.extraApprovals ?? []));
  return call(`${path}${opts.query !== undefined ? `?${opts.query}` : ''}`, {
    method: 'POST',
    token: tokens[client]!,
    headers: { ...JSON_CT, ...opts.headers },
    ...(body !== undefined ? { body } : {}),
    approvals,
  });
}

function expectAllowed(r: CallResult): SeenRequest {
  expect(r.status, r.text).toBe(200);
  expect(r.headers.get('x-tollgate-decision-id')).toMatch(DECISION_ID);
  expect(r.forwarded).toHaveLength(1);
  return r.forwarded[0]!;
}

/** A policy denial: 403 policy_denied, exactly these public reasons (none: no `reasons` member), nothing upstream. */
function expectDenied(r: CallResult, publicReasons: string[]): void {
  expect(r.status, r.text).toBe(403);
  expect(r.body['code']).toBe('policy_denied');
  expect(r.headers.get('content-type')).toBe('application/problem+json');
  if (publicReasons.length > 0) expect(r.body['reasons']).toEqual(publicReasons);
  else expect(r.body['reasons']).toBeUndefined();
  expect(r.headers.get('x-tollgate-decision-id')).toMatch(DECISION_ID);
  expect(r.forwarded).toHaveLength(0);
}

/** A refusal before or outside the policy decision: status and code, nothing upstream. */
function expectRefused(r: CallResult, status: number, code: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.body['code']).toBe(code);
  expect(r.forwarded).toHaveLength(0);
}

async function expectAudit(r: CallResult, expected: Record<string, unknown>): Promise<Record<string, unknown>> {
  const rec = await auditRecordOf(gw, r.requestId);
  expect(rec).toMatchObject(expected);
  const id = r.headers.get('x-tollgate-decision-id');
  if (id !== null) expect(rec['policyDecisionId']).toBe(id);
  return rec;
}

async function metricsText(): Promise<string> {
  return (await fetch(`${gw.adminUrl}/metrics`)).text();
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const approvalsMetric = async (result: string) => metricValue(await metricsText(), `tollgate_policy_approvals_total{result="${result}"}`);

// --- tests --------------------------------------------------------------------------------------------------------

describe('the shipped default policy with tokens from a real authorization server', () => {
  it('the authorization server puts tenant and partner claims into client-credentials access tokens', () => {
    const payload = JSON.parse(Buffer.from(tokens['acme-app']!.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ iss: as.issuer, aud: RESOURCE, client_id: 'acme-app', sub: 'acme-app', tenant: 'acme', partner: 'acme' });
    const stale = JSON.parse(Buffer.from(tokens['acme-stale-10m']!.split('.')[1]!, 'base64url').toString()) as { iat: number; exp: number };
    expect(Math.floor(Date.now() / 1000) - stale.iat).toBeGreaterThanOrEqual(595);
    expect(stale.exp).toBeGreaterThan(Date.now() / 1000);
  });

  describe('1-4: classification, authentication, scopes, tenant scoping', () => {
    it('allows a read in the caller\'s own tenant (audited with the decision id)', async () => {
      const r = await call('/v1/tenants/acme/orders/17', { token: tokens['acme-app']! });
      const seen = expectAllowed(r);
      expect(seen.url).toBe('/v1/tenants/acme/orders/17');
      expect(seen.headers['x-client-id']).toBe('acme-app');
      expect(seen.headers['authorization']).toBeUndefined();
      await expectAudit(r, { decision: 'allow', routeId: 'orders-read', riskTier: 'low', clientId: 'acme-app', partner: 'acme', status: 200 });

      const list = await call('/v1/tenants/acme/orders?limit=10&status=open', { token: tokens['acme-reader']! });
      expect(expectAllowed(list).url).toBe('/v1/tenants/acme/orders?limit=10&status=open');
      // every decision has its own id
      expect(list.headers.get('x-tollgate-decision-id')).not.toBe(r.headers.get('x-tollgate-decision-id'));
    });

    it('confused deputy: a valid token for tenant acme used on tenant globex is denied (tenant_mismatch) on every route', async () => {
      const t = tokens['acme-app']!;
      const read = await call('/v1/tenants/globex/orders/17', { token: t });
      expectDenied(read, ['tenant_mismatch']);
      await expectAudit(read, { decision: 'deny', stage: 'policy', status: 403, routeId: 'orders-read', riskTier: 'low', clientId: 'acme-app', reasons: ['policy_denied', 'tenant_mismatch'] });
      expectDenied(await call('/v1/tenants/globex/orders', { token: t }), ['tenant_mismatch']);
      expectDenied(await call('/v1/tenants/globex/orders', { method: 'POST', token: t, headers: JSON_CT, body: '{"item":"x"}' }), ['tenant_mismatch']);
      expectDenied(await pay('acme-app', '{"amount": 10}', { tenant: 'globex' }), ['tenant_mismatch']);
      // the tenant is the path's, compared exactly with the token's claim
      expectDenied(await call('/v1/tenants/ACME/orders/17', { token: t }), ['tenant_mismatch']);
      // and nothing the request says about itself makes it match
      expectDenied(await call('/v1/tenants/globex/orders/17?tenant=globex', { token: t, headers: { tenant: 'globex', 'x-tenant': 'globex', 'x-agent-id': 'globex' } }), ['tenant_mismatch']);
    });

    it('path encodings cannot smuggle another tenant past the check: the policy decides on the normalised path the upstream gets', async () => {
      const t = tokens['acme-app']!;
      // %61 is "a": the same tenant, forwarded normalised
      expect(expectAllowed(await call('/v1/tenants/%61cme/orders/9', { token: t })).url).toBe('/v1/tenants/acme/orders/9');
      expectDenied(await call('/v1/tenants/%67lobex/orders/9', { token: t }), ['tenant_mismatch']);
      // an encoded slash in a later parameter (a lenient upstream would route it to globex) is refused outright
      expectRefused(await call('/v1/tenants/acme/orders/..%2F..%2Fglobex%2Forders%2F9', { token: t }), 400, 'invalid_path');
    });

    it('a token without a tenant claim (or with a non-string one) is denied on tenant routes', async () => {
      const none = await call('/v1/tenants/acme/orders/1', { token: tokens['no-tenant']! });
      expectDenied(none, ['tenant_mismatch']);
      await expectAudit(none, { decision: 'deny', stage: 'policy', reasons: ['policy_denied', 'tenant_mismatch'] });
      expectDenied(await call('/v1/tenants/acme/orders/1', { token: tokens['odd-claims']! }), ['tenant_mismatch']);
    });

    it('missing_scope: the policy\'s own scope check (route without gateway-level scopes)', async () => {
      const denied = await call('/v1/tenants/acme/orders', { method: 'POST', token: tokens['acme-reader']!, headers: JSON_CT, body: '{"item":"x"}' });
      expectDenied(denied, ['missing_scope']);
      await expectAudit(denied, { decision: 'deny', stage: 'policy', routeId: 'orders-create', reasons: ['policy_denied', 'missing_scope'] });
      // several reasons: all public, sorted
      expectDenied(await call('/v1/tenants/globex/orders', { method: 'POST', token: tokens['acme-reader']!, headers: JSON_CT, body: '{}' }), ['missing_scope', 'tenant_mismatch']);
      // with the scope: allowed, the body forwarded as sent
      const ok = await call('/v1/tenants/acme/orders', { method: 'POST', token: tokens['acme-app']!, headers: JSON_CT, body: '{"item":"x"}' });
      expect(expectAllowed(ok).body).toBe('{"item":"x"}');
    });

    it('the gateway-level scope check refuses first (403 insufficient_scope, the policy is not consulted)', async () => {
      const r = await pay('acme-reader', '{"amount": 10}');
      expectRefused(r, 403, 'insufficient_scope');
      expect(r.headers.get('www-authenticate')).toContain('scope="payments:write"');
      expect(r.headers.get('x-tollgate-decision-id')).toBeNull();
      const rec = await expectAudit(r, { decision: 'deny', stage: 'authenticate', routeId: 'payments-create' });
      expect(rec['policyDecisionId']).toBeUndefined();
    });

    it('a route data.yaml does not classify is denied; the reason (unknown_action) stays in the audit record', async () => {
      const r = await call('/v1/tenants/acme/exports/1', { token: tokens['acme-app']! });
      expectDenied(r, []);
      expect(r.text).not.toContain('unknown_action');
      await expectAudit(r, { decision: 'deny', stage: 'policy', routeId: 'orders-export', reasons: ['policy_denied', 'unknown_action'] });
    });

    it('the public route works without a token (still decided by the policy)', async () => {
      const r = await call('/public/status');
      expect(expectAllowed(r).url).toBe('/public/status');
      await expectAudit(r, { decision: 'allow', routeId: 'public', riskTier: 'low' });
      const head = await call('/public/status', { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('x-tollgate-decision-id')).toMatch(DECISION_ID);
    });

    it('no token on a protected route: 401 from the gateway before the policy', async () => {
      const r = await call('/v1/tenants/acme/orders/1');
      expectRefused(r, 401, 'token_missing');
      expect(r.headers.get('x-tollgate-decision-id')).toBeNull();
    });
  });

  describe('5-6: partner scoping and amount limits (payments-create)', () => {
    it('a partner not listed for payments is denied (partner_not_allowed), as is a client without a partner', async () => {
      const hooli = await pay('hooli-app', '{"amount": 10}');
      expectDenied(hooli, ['partner_not_allowed']);
      await expectAudit(hooli, { decision: 'deny', stage: 'policy', riskTier: 'high', partner: 'hooli', reasons: ['policy_denied', 'partner_not_allowed'] });
      expectDenied(await pay('acme-nopartner', '{"amount": 10}', { tenant: 'acme' }), ['partner_not_allowed']);
      expectDenied(await pay('odd-claims', '{"amount": 10}', { tenant: 'acme' }), ['partner_not_allowed', 'tenant_mismatch']);
    });

    it('confused deputy: the partner is the token\'s, never what the request says', async () => {
      // hooli names an allowed partner in the body, the query and headers: still hooli
      expectDenied(
        await pay('hooli-app', '{"amount": 10, "partner": "acme"}', { query: 'partner=acme', headers: { partner: 'acme', 'x-partner': 'acme', 'x-agent-id': 'acme' } }),
        ['partner_not_allowed'],
      );
      // globex (limit 2500) cannot borrow acme's limit (50000) by naming acme
      expectDenied(await pay('globex-app', '{"amount": 3000, "partner": "acme"}', { query: 'partner=acme', headers: { partner: 'acme' } }), ['amount_over_limit']);
      // nor by paying into acme's tenant
      expectDenied(await pay('globex-app', '{"amount": 3000}', { tenant: 'acme' }), ['amount_over_limit', 'tenant_mismatch']);
    });

    it.each([
      // [client, amount, allowed]: initech has no override (default_limit 1000), globex 2500, acme 50000
      ['initech-app', '999.99', true],
      ['initech-app', '1000', true],
      ['initech-app', '1000.0', true],
      ['initech-app', '1000.01', false],
      ['initech-app', '1e3', true],
      ['initech-app', '1001', false],
      ['globex-app', '2500', true],
      ['globex-app', '1500', true],
      ['globex-app', '2500.5', false],
      ['acme-app', '50000', true],
      ['acme-app', '50001', false],
      ['acme-app', '123456789012345678901234567890', false],
    ])('%s pays %s: allowed=%s', async (client, amount, allowed) => {
      const body = `{"amount": ${amount}, "currency": "EUR"}`;
      const r = await pay(client, body);
      if (allowed) {
        const seen = expectAllowed(r);
        expect(seen.body).toBe(body);
        expect(seen.headers['x-approved-by']).toBe('alice,bob');
      } else {
        expectDenied(r, ['amount_over_limit']);
      }
    });

    it('an amount beyond double range (1e400) is refused as an invalid body, not forwarded', async () => {
      // JSON.parse would make it Infinity (null in the policy input, something else to the upstream): refused.
      expectRefused(await pay('acme-app', '{"amount": 1e400}'), 400, 'invalid_body');
      expectRefused(await pay('acme-app', '{"amount": -1e400}'), 400, 'invalid_body');
    });

    it.each([
      ['a string', '{"amount": "100"}'],
      ['null', '{"amount": null}'],
      ['a boolean', '{"amount": true}'],
      ['an object', '{"amount": {"value": 100}}'],
      ['an array', '{"amount": [100]}'],
      ['missing', '{"value": 100}'],
      ['nested deeper', '{"payment": {"amount": 100}}'],
      ['a JSON array body', '[{"amount": 100}]'],
      ['a JSON number body', '100'],
      ['no body at all', undefined],
    ])('amount %s → amount_invalid', async (_what, body) => {
      const r = await pay('initech-app', body);
      expectDenied(r, ['amount_invalid']);
    });

    it('amount_invalid and amount_over_limit are audited with every reason', async () => {
      const r = await pay('globex-app', '{"amount": "lots"}', { approvers: ['alice'] });
      expectDenied(r, ['amount_invalid', 'approvals_missing']);
      await expectAudit(r, { decision: 'deny', stage: 'policy', riskTier: 'high', reasons: ['policy_denied', 'amount_invalid', 'approvals_missing'] });
    });
  });

  describe('bodies read for the policy', () => {
    const post = (body: string | Buffer, headers: Record<string, string> = JSON_CT) =>
      call('/v1/tenants/acme/payments', { method: 'POST', token: tokens['acme-app']!, headers, body });

    it('not JSON → 400 invalid_body, not forwarded, no decision', async () => {
      // (an empty body is "no body": amount_invalid, above)
      for (const body of ['{"amount": 1', 'amount=1', '{"amount": 1}}', "{'amount': 1}", 'NaN', '{"amount": 01}']) {
        const r = await post(body);
        expectRefused(r, 400, 'invalid_body');
        expect(r.headers.get('x-tollgate-decision-id')).toBeNull();
      }
      const r = await post('{"amount": 1');
      await expectAudit(r, { decision: 'deny', stage: 'policy', status: 400, reasons: ['invalid_body', 'not_json'] });
    });

    it('a JSON body under a non-JSON media type (or none) → 400 invalid_body; JSON media types with parameters or +json are accepted', async () => {
      const body = '{"amount": 10}';
      expectRefused(await post(body, { 'content-type': 'text/plain' }), 400, 'invalid_body');
      expectRefused(await post(body, { 'content-type': 'application/x-www-form-urlencoded' }), 400, 'invalid_body');
      expectRefused(await post(Buffer.from(body), {}), 400, 'invalid_body');
      for (const ct of ['application/json; charset=utf-8', 'application/payment+json']) {
        const r = await pay('acme-app', body, { headers: { 'content-type': ct } });
        expect(expectAllowed(r).body).toBe(body);
      }
    });

    it('too big → 413 (declared length and chunked), not forwarded', async () => {
      const big = JSON.stringify({ amount: 10, pad: 'x'.repeat(3000) });
      const r = await post(big);
      expectRefused(r, 413, 'payload_too_large');
      const chunked = await fetch(`${gw.url}/v1/tenants/acme/payments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens['acme-app']!}`, ...JSON_CT },
        body: new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode('{"amount": 10, "pad": "'));
            c.enqueue(new TextEncoder().encode('y'.repeat(3000)));
            c.enqueue(new TextEncoder().encode('"}'));
            c.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect(chunked.status).toBe(413);
      expect(((await chunked.json()) as { code: string }).code).toBe('payload_too_large');
      expect(upstream.seen.some((s) => s.body.includes('yyyy'))).toBe(false);
      // just under the limit: read and decided (no approvals here: approvals_missing)
      const near = JSON.stringify({ amount: 10, pad: 'z'.repeat(2048 - 30) });
      expect(Buffer.byteLength(near)).toBeLessThanOrEqual(2048);
      expectDenied(await post(near), ['approvals_missing']);
    });

    it('duplicate member names → 400 invalid_body (the policy and the upstream must read the same amount)', async () => {
      for (const body of [
        '{"amount": 1, "amount": 1000000}',
        '{"amount": 1, "\\u0061mount": 1000000}',
        '{"amount": 1000000, "amount": 1}',
        '{"amount": 1, "meta": {"a": 1, "a": 2}}',
      ]) {
        const r = await pay('initech-app', body);
        expectRefused(r, 400, 'invalid_body');
      }
      // the same name in different objects is not a duplicate
      expectAllowed(await pay('initech-app', '{"amount": 1, "meta": {"amount": 5000}}'));
    });

    it('invalid UTF-8 and a byte-order mark → 400 invalid_body', async () => {
      const bad = await call('/v1/tenants/initech/payments', {
        method: 'POST',
        token: tokens['initech-app']!,
        headers: JSON_CT,
        body: Buffer.from([0x7b, 0x22, 0x61, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]),
      });
      expectRefused(bad, 400, 'invalid_body');
      await expectAudit(bad, { decision: 'deny', stage: 'policy', reasons: ['invalid_body', 'not_utf8'] });
    });

    it('a body starting with a UTF-8 byte-order mark → 400 invalid_body (JSON text has no BOM; JSON.parse upstream would fail)', async () => {
      // Sent as a fully approved request, so that accepting it would show as forwarding it.
      const path = '/v1/tenants/initech/payments';
      const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"amount": 1}')]);
      const approvals: string[] = [];
      for (const who of ['alice', 'bob']) {
        approvals.push(registerSecret(
          await new SignJWT({ req_hash: requestHash('POST', path, '', bytes) })
            .setProtectedHeader({ alg: 'ES256', kid: APPROVAL_KID })
            .setIssuer(APPROVALS_ISSUER).setAudience(RESOURCE).setSubject(who).setIssuedAt().setExpirationTime('5m')
            .sign(approvalKey),
        ));
      }
      const bom = await call(path, { method: 'POST', token: tokens['initech-app']!, headers: JSON_CT, body: bytes, approvals });
      expect(() => JSON.parse(bytes.toString('utf8'))).toThrow();
      expectRefused(bom, 400, 'invalid_body');
    });

    it('__proto__ and constructor keys: decided as ordinary members, forwarded byte for byte, Object.prototype untouched', async () => {
      const raw = '{ "__proto__": {"amount": 999999, "polluted": "yes", "isAdmin": true},  "amount": 10, "constructor": {"prototype": {"polluted": "yes"}} }';
      const r = await pay('initech-app', raw);
      const seen = expectAllowed(r);
      expect(seen.body).toBe(raw);
      expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(raw)));
      // an amount only under __proto__ is no amount
      expectDenied(await pay('initech-app', '{"__proto__": {"amount": 10}}'), ['amount_invalid']);
      // the own amount is the one decided on, whatever __proto__ holds
      expectDenied(await pay('initech-app', '{"__proto__": {"amount": 10}, "amount": 5000}'), ['amount_over_limit']);
      expectDenied(await pay('initech-app', '{"amount": 5000, "__proto__": {"amount": 10}}'), ['amount_over_limit']);
      const probe = {} as Record<string, unknown>;
      expect(probe['polluted']).toBeUndefined();
      expect(probe['isAdmin']).toBeUndefined();
      expect(probe['amount']).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
      expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('amount');
    });
  });

  describe('7: dual control on payments-create', () => {
    const path = '/v1/tenants/acme/payments';
    const body = '{"amount": 750, "currency": "EUR"}';
    const send = (approvals: string[], headers: Record<string, string> = {}) =>
      call(path, { method: 'POST', token: tokens['acme-app']!, headers: { ...JSON_CT, ...headers }, body, approvals });

    it('0 and 1 approvers: approvals_missing; 2 distinct: allowed, the upstream gets the sorted approvers and no approval token', async () => {
      const none = await send([]);
      expectDenied(none, ['approvals_missing']);
      await expectAudit(none, { decision: 'deny', stage: 'policy', riskTier: 'high', reasons: ['policy_denied', 'approvals_missing'] });
      expectDenied(await send([await approval('alice', { path, body })]), ['approvals_missing']);

      // bob first, a forged x-approved-by from the client: the upstream sees only the policy's sorted list
      const ok = await send([await approval('bob', { path, body }), await approval('alice', { path, body })], { 'x-approved-by': 'mallory,eve' });
      const seen = expectAllowed(ok);
      expect(seen.headers['x-approved-by']).toBe('alice,bob');
      expect(seen.rawHeaders.filter((h) => h.toLowerCase() === 'x-approved-by')).toHaveLength(1);
      expect(seen.headers['approval-token']).toBeUndefined();
      expect(seen.rawHeaders.some((h) => /approval-token/i.test(h))).toBe(false);
      expect(seen.body).toBe(body);
      await expectAudit(ok, { decision: 'allow', riskTier: 'high', routeId: 'payments-create', partner: 'acme' });

      // comma-separated in one header works the same
      const combined = await call(path, {
        method: 'POST',
        token: tokens['acme-app']!,
        headers: { ...JSON_CT, 'approval-token': `${await approval('carol', { path, body })}, ${await approval('alice', { path, body })}` },
        body,
      });
      expect(expectAllowed(combined).headers['x-approved-by']).toBe('alice,carol');
    });

    it('approvals bind to the normalised target: an approval for /v1/tenants/acme/payments covers /v1/tenants/%61cme/payments', async () => {
      const r = await call('/v1/tenants/%61cme/payments', {
        method: 'POST',
        token: tokens['acme-app']!,
        headers: JSON_CT,
        body,
        approvals: [await approval('alice', { path, body }), await approval('bob', { path, body })],
      });
      expect(expectAllowed(r).url).toBe(path);
    });

    it('a client-sent x-approved-by never reaches the upstream on routes whose policy sets none', async () => {
      const r = await call('/v1/tenants/acme/orders/5', { token: tokens['acme-app']!, headers: { 'x-approved-by': 'alice,bob' } });
      expect(expectAllowed(r).headers['x-approved-by']).toBeUndefined();
    });

    it('the requester approving its own request: self_approval; with two others besides, allowed', async () => {
      const self = await send([await approval('acme-app', { path, body }), await approval('alice', { path, body })]);
      expectDenied(self, ['approvals_missing', 'self_approval']);
      await expectAudit(self, { decision: 'deny', reasons: ['policy_denied', 'approvals_missing', 'self_approval'] });
      expectDenied(await send([await approval('acme-app', { path, body })]), ['approvals_missing', 'self_approval']);
      const ok = await send([await approval('acme-app', { path, body }), await approval('alice', { path, body }), await approval('bob', { path, body })]);
      expect(expectAllowed(ok).headers['x-approved-by']).toBe('alice,bob');
    });

    it('the same approver twice counts once', async () => {
      const a1 = await approval('alice', { path, body });
      const a2 = await approval('alice', { path, body }, { expiresIn: '4m' });
      expect(a2).not.toBe(a1);
      expectDenied(await send([a1, a1]), ['approvals_missing']);
      expectDenied(await send([a1, a2]), ['approvals_missing']);
    });

    it('approvals bound to another request (body, amount, path, query, method) are dropped and counted unbound', async () => {
      const alice = await approval('alice', { path, body });
      const before = await approvalsMetric('unbound');
      const others = [
        await approval('bob', { path, body: '{"amount": 1, "currency": "EUR"}' }),
        await approval('bob', { path, body: `${body} ` }),
        await approval('bob', { path: '/v1/tenants/globex/payments', body }),
        await approval('bob', { path, query: 'x=1', body }),
        await approval('bob', { method: 'PUT', path, body }),
        await approval('bob', { path }),
      ];
      for (const other of others) expectDenied(await send([alice, other]), ['approvals_missing']);
      expect((await approvalsMetric('unbound')) - before).toBe(others.length);
      // and an approval for this request does not carry over to a request with another body
      const replay = await call(path, { method: 'POST', token: tokens['acme-app']!, headers: JSON_CT, body: '{"amount": 999, "currency": "EUR"}', approvals: [alice, await approval('bob', { path, body })] });
      expectDenied(replay, ['approvals_missing']);
    });

    it('approvals signed by another key, expired, from another issuer, or an access token are dropped and counted invalid', async () => {
      const alice = await approval('alice', { path, body });
      const before = await approvalsMetric('invalid');
      const forged = [
        await approval('bob', { path, body }, { key: foreignKey }),
        await approval('bob', { path, body }, { expiresIn: Math.floor(Date.now() / 1000) - 120 }),
        await approval('bob', { path, body }, { issuer: as.issuer }),
        tokens['globex-app']!,
      ];
      for (const bad of forged) expectDenied(await send([alice, bad]), ['approvals_missing']);
      expect((await approvalsMetric('invalid')) - before).toBe(forged.length);
      const metrics = await metricsText();
      expect(metricValue(metrics, 'tollgate_policy_approvals_total{result="verified"}')).toBeGreaterThan(0);
    });
  });

  describe('risk tiers', () => {
    it('payments-create is high: audited and counted as high', async () => {
      const r = await pay('acme-app', '{"amount": 5}');
      expectAllowed(r);
      await expectAudit(r, { decision: 'allow', riskTier: 'high' });
      expect(metricValue(await metricsText(), 'tollgate_policy_decisions_total{route="payments-create",tier="high",outcome="allow"}')).toBeGreaterThan(0);
    });

    it('the policy raises orders-create (configured low, classified medium) to medium, never the other way', async () => {
      const r = await call('/v1/tenants/acme/orders', { method: 'POST', token: tokens['acme-app']!, headers: JSON_CT, body: '{}' });
      expectAllowed(r);
      await expectAudit(r, { decision: 'allow', routeId: 'orders-create', riskTier: 'medium' });
      const denied = await call('/v1/tenants/globex/orders', { method: 'POST', token: tokens['acme-app']!, headers: JSON_CT, body: '{}' });
      expectDenied(denied, ['tenant_mismatch']);
      await expectAudit(denied, { decision: 'deny', riskTier: 'medium' });
      const metrics = await metricsText();
      expect(metricValue(metrics, 'tollgate_policy_decisions_total{route="orders-create",tier="medium",outcome="allow"}')).toBeGreaterThan(0);
      expect(metricValue(metrics, 'tollgate_policy_decisions_total{route="orders-create",tier="low",outcome="allow"}')).toBe(0);
      // orders-read stays low
      const read = await call('/v1/tenants/acme/orders/2', { token: tokens['acme-app']! });
      expectAllowed(read);
      await expectAudit(read, { riskTier: 'low' });
    });

    it('a 10-minute-old token: refused (401) on the high payments route even when everything else allows; accepted on low and medium routes', async () => {
      const t = tokens['acme-stale-10m']!;
      const r = await pay('acme-stale-10m', '{"amount": 5}');
      expectRefused(r, 401, 'token_invalid');
      expect(r.headers.get('www-authenticate')).toContain('invalid_token');
      await expectAudit(r, { decision: 'deny', stage: 'tier', riskTier: 'high', reasons: ['token_invalid', 'too_old_for_tier'] });
      expectAllowed(await call('/v1/tenants/acme/orders/3', { token: t }));
      expectAllowed(await call('/v1/tenants/acme/orders', { method: 'POST', token: t, headers: JSON_CT, body: '{}' }));
      // the same request with a fresh token goes through
      expectAllowed(await pay('acme-app', '{"amount": 5}'));
    });

    it('a 2-hour-old token: fine on a low route, refused on orders-create only because the policy raised it to medium (1 h)', async () => {
      const t = tokens['acme-stale-2h']!;
      expectAllowed(await call('/v1/tenants/acme/orders/4', { token: t }));
      const r = await call('/v1/tenants/acme/orders', { method: 'POST', token: t, headers: JSON_CT, body: '{}' });
      expectRefused(r, 401, 'token_invalid');
      await expectAudit(r, { decision: 'deny', stage: 'tier', riskTier: 'medium', reasons: ['token_invalid', 'too_old_for_tier'] });
    });
  });

  it('no access token, approval token or client secret appears in the gateway\'s logs', () => {
    const text = gw.logText();
    expect(text.length).toBeGreaterThan(0);
    for (const c of as.clients) expect(text).not.toContain(c.clientSecret);
    for (const t of Object.values(tokens)) expect(text).not.toContain(t);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
  });
});
