import { createPublicKey } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthServer, type AuthServer } from '../fixtures/oidc.js';
import { startGateway, yamlConfig, type TestGateway } from '../helpers/gateway.js';
import { registerSecret } from '../helpers/run-artifacts.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * The gateway against a real OAuth 2.0 authorization server (oidc-provider, client credentials,
 * RFC 8707 resource indicators, RFC 9068 JWT access tokens), over loopback.
 */

const RESOURCE = 'https://orders.api.test';
let as: AuthServer;
let upstream: TestUpstream;
let gw: TestGateway;
let outageToken = '';

const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

async function token(scope: string, resource = RESOURCE, clientId?: string): Promise<string> {
  return registerSecret(await as.issueToken({ scope, resource, ...(clientId !== undefined ? { clientId } : {}) }));
}

async function call(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await fetch(`${gw.url}${path}`, { method, headers });
  const text = await res.text();
  return { status: res.status, www: res.headers.get('www-authenticate'), type: res.headers.get('content-type'), body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

beforeAll(async () => {
  as = await startAuthServer({
    scopes: ['orders:read', 'orders:write'],
    clients: [
      { clientId: 'crm-agent', scope: 'orders:read orders:write' },
      { clientId: 'reader', scope: 'orders:read' },
    ],
  });
  for (const c of as.clients) registerSecret(c.clientSecret);
  upstream = await startUpstream();
  gw = await startGateway(
    yamlConfig({
      issuers: `  corp:
    issuer: ${as.issuer}
    audiences: [${RESOURCE}]
    algorithms: [ES256, RS256]
    jwks: { uri: ${as.jwksUri}, cacheMaxAgeMs: 500, cooldownMs: 200 }
    typ: at+jwt
    clockToleranceSec: 0
    requiredClaims: [exp, iat, client_id]
  impostor:
    issuer: https://not-the-issuer.test
    audiences: [${RESOURCE}]
    algorithms: [ES256]
    jwks: { uri: ${as.jwksUri} }`,
      upstreams: `  orders:
    url: ${upstream.url}`,
      routes: `  - id: orders-read
    match: { methods: [GET], path: "/v1/orders/{id}" }
    upstream: orders
    auth: { issuer: corp, scopes: [orders:read] }
    risk: low
  - id: orders-write
    match: { methods: [POST], path: /v1/orders }
    upstream: orders
    auth: { issuer: corp, scopes: [orders:write] }
    risk: medium
  - id: impostor
    match: { methods: [GET], prefix: /impostor }
    upstream: orders
    auth: { issuer: impostor, scopes: [] }
    risk: low`,
    }),
  );
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
  await as?.close();
});

describe('tokens from a real authorization server', () => {
  it('a client-credentials token passes and the upstream learns who called', async () => {
    const t = await token('orders:read');
    const before = upstream.seen.length;
    const r = await call('/v1/orders/7', { authorization: `Bearer ${t}` });
    expect(r.status).toBe(200);
    const seen = upstream.seen.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.headers['x-client-id']).toBe('crm-agent');
    expect(seen[0]?.headers['x-client-scopes']).toBe('orders:read');
    expect(seen[0]?.headers.authorization).toBeUndefined();
  });

  it('missing scope → 403 insufficient_scope with the scope challenge', async () => {
    const t = await token('orders:read', RESOURCE, 'reader');
    const r = await call('/v1/orders', { authorization: `Bearer ${t}` }, 'POST');
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('insufficient_scope');
    expect(r.www).toMatch(/^Bearer .*error="insufficient_scope"/);
    expect(r.www).toContain('scope="orders:write"');
  });

  it('wrong audience (token minted for another resource) → 401 invalid_token', async () => {
    const t = await token('orders:read', 'https://billing.api.test');
    const r = await call('/v1/orders/7', { authorization: `Bearer ${t}` });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('token_invalid');
    expect(r.www).toContain('error="invalid_token"');
  });

  it('wrong issuer → 401', async () => {
    const t = await token('orders:read');
    const r = await call('/impostor/x', { authorization: `Bearer ${t}` });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('token_invalid');
  });

  it('tampered payload and tampered signature → 401', async () => {
    const t = await token('orders:read');
    const [h, p, s] = t.split('.') as [string, string, string];
    const claims = decodeJwt(t);
    const forged = `${h}.${b64url(JSON.stringify({ ...claims, scope: 'orders:read orders:write', client_id: 'admin' }))}.${s}`;
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const bad of [registerSecret(forged), registerSecret(flipped)]) {
      const r = await call('/v1/orders/7', { authorization: `Bearer ${bad}` });
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('token_invalid');
    }
  });

  it('alg none → 401', async () => {
    const claims = decodeJwt(await token('orders:read'));
    const none = registerSecret(`${b64url(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${b64url(JSON.stringify(claims))}.`);
    const r = await call('/v1/orders/7', { authorization: `Bearer ${none}` });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('token_invalid');
  });

  it('HS256 signed with the issuer public key as the HMAC secret → 401', async () => {
    const t = await token('orders:read');
    const jwks = (await (await fetch(as.jwksUri)).json()) as { keys: Array<Record<string, unknown>> };
    const jwk = jwks.keys.find((k) => k.kid === decodeProtectedHeader(t).kid)!;
    const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const forged = registerSecret(
      await new SignJWT(decodeJwt(t))
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid as string })
        .sign(new TextEncoder().encode(pem.toString())),
    );
    const r = await call('/v1/orders/7', { authorization: `Bearer ${forged}` });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('token_invalid');
  });

  it('unknown kid → 401, and the JWKS is not refetched on every such request', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const claims = decodeJwt(await token('orders:read'));
    const foreign = registerSecret(await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'not-a-known-kid', typ: 'at+jwt' }).sign(privateKey));
    const metric = async () => {
      const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      return Number(/tollgate_jwks_fetches_total\{issuer="corp",result="ok"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const fetchesBefore = await metric();
    for (let i = 0; i < 5; i++) {
      const r = await call('/v1/orders/7', { authorization: `Bearer ${foreign}` });
      expect(r.status).toBe(401);
    }
    expect((await metric()) - fetchesBefore).toBeLessThanOrEqual(1);
  });

  it('token only in the query string is never read → 401 token_missing', async () => {
    const t = await token('orders:read');
    const r = await call(`/v1/orders/7?access_token=${t}`);
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('token_missing');
    expect(r.www).toMatch(/^Bearer realm=/);
  });

  it('expired token → 401 token_expired', async () => {
    const short = await startAuthServer({ accessTokenTtlSec: 1, clients: [{ clientId: 'crm-agent' }] });
    try {
      const local = await startGateway(
        yamlConfig({
          issuers: `  short:
    issuer: ${short.issuer}
    audiences: [${RESOURCE}]
    algorithms: [ES256]
    jwks: { uri: ${short.jwksUri} }
    clockToleranceSec: 0`,
          upstreams: `  orders:\n    url: ${upstream.url}`,
          routes: `  - id: r\n    match: { prefix: /x }\n    upstream: orders\n    auth: { issuer: short, scopes: [] }\n    risk: low`,
        }),
      );
      try {
        const t = registerSecret(await short.issueToken({ resource: RESOURCE }));
        expect((await fetch(`${local.url}/x`, { headers: { authorization: `Bearer ${t}` } })).status).toBe(200);
        await new Promise((r) => setTimeout(r, 2100));
        const res = await fetch(`${local.url}/x`, { headers: { authorization: `Bearer ${t}` } });
        expect(res.status).toBe(401);
        expect(((await res.json()) as { code: string }).code).toBe('token_expired');
        expect(local.logText()).not.toContain(t);
      } finally {
        await local.close();
      }
    } finally {
      await short.close();
    }
  });

  it('problem bodies say nothing that helps an attacker', async () => {
    const t = await token('orders:read', 'https://billing.api.test');
    const r = await call('/v1/orders/7', { authorization: `Bearer ${t}` });
    expect(r.type).toBe('application/problem+json');
    expect(Object.keys(r.body).sort()).toEqual(['code', 'request_id', 'status', 'title', 'type']);
    expect(JSON.stringify(r.body)).not.toMatch(/aud|audience|billing/i);
  });

  it('counts rejections by reason', async () => {
    const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    expect(text).toMatch(/tollgate_token_rejections_total\{issuer="corp",reason="audience"\} [1-9]/);
    expect(text).toMatch(/tollgate_token_rejections_total\{issuer="corp",reason="scope"\} [1-9]/);
  });
});

describe('JWKS outage', () => {
  it('keeps verifying tokens with cached keys after the authorization server goes away', async () => {
    const t = await token('orders:read');
    outageToken = t;
    expect((await call('/v1/orders/1', { authorization: `Bearer ${t}` })).status).toBe(200);
    await as.close();
    // The key set (cacheMaxAgeMs 500) goes stale and every refresh now fails.
    await new Promise((r) => setTimeout(r, 1200));
    const r = await call('/v1/orders/2', { authorization: `Bearer ${t}` });
    expect(r.status).toBe(200);
    expect((await fetch(`${gw.adminUrl}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/tollgate_jwks_fetches_total\{issuer="corp",result="error"\} [1-9]/);
  });

  it('a reload during the outage keeps the cached keys of issuers whose config did not change', async () => {
    const before = gw.gateway.runtime.verifiers.get('corp');
    const t = await token('orders:read').catch(() => undefined);
    // The authorization server is down, so reuse a token issued before the outage.
    expect(t).toBeUndefined();
    const reload = await gw.gateway.reload();
    expect(reload.ok).toBe(true);
    expect(gw.gateway.runtime.verifiers.get('corp')).toBe(before);
    expect((await fetch(`${gw.adminUrl}/readyz`)).status).toBe(200);
    const r = await call('/v1/orders/3', { authorization: `Bearer ${outageToken}` });
    expect(r.status).toBe(200);
  });

  it('no token or client secret appears in this gateway\'s logs', () => {
    const text = gw.logText();
    expect(text.length).toBeGreaterThan(0);
    for (const c of as.clients) expect(text).not.toContain(c.clientSecret);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
  });
});
