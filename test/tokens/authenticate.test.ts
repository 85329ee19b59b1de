import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteConfig } from '../../src/config/types.js';
import { Context } from '../../src/pipeline/request-context.js';
import { GatewayError } from '../../src/errors.js';
import type { GatewayMetrics } from '../../src/observability/metrics.js';
import type { RequestContext } from '../../src/pipeline/context.js';
import { createAuthenticateStage } from '../../src/tokens/authenticate.js';
import type { IssuerVerifier } from '../../src/tokens/types.js';
import { createIssuerVerifier } from '../../src/tokens/verify.js';
import { startAuthServer, type AuthServer } from '../fixtures/oidc.js';
import { get, rawRequest } from '../helpers/raw-http.js';
import { counterValue, issuerConfig, jwksConfig, newMetrics, silentLogger } from './helpers.js';

/**
 * The authenticate stage on real requests: a loopback server builds a RequestContext per request,
 * runs the stage, and answers with what the stage decided. Tokens come from oidc-provider.
 */

const ORDERS = 'https://orders.api.test';
const BILLING = 'https://billing.api.test';

function route(id: string, auth: RouteConfig['auth']): RouteConfig {
  return { id, match: { methods: [], prefix: `/${id}` }, upstream: 'u', auth, risk: 'low', forwardAuthorization: false, maxBodyBytes: 1024, rateLimits: { policies: [], quotas: [], cost: 1 }, policy: {}, highRisk: { jtiOnce: false } };
}

const ROUTES: Record<string, RouteConfig> = {
  public: route('public', false),
  read: route('read', { issuer: 'oidc', scopes: ['orders:read'] }),
  write: route('write', { issuer: 'oidc', scopes: ['orders:read', 'orders:write'] }),
  billing: route('billing', { issuer: 'oidc', scopes: [], audiences: [BILLING] }),
  orphan: route('orphan', { issuer: 'nobody', scopes: [] }),
};

let as: AuthServer;
let server: Server;
let port: number;
let metrics: GatewayMetrics;
let verifier: IssuerVerifier;
let lastCtx: RequestContext | undefined;

beforeAll(async () => {
  as = await startAuthServer({
    scopes: ['orders:read', 'orders:write'],
    clients: [
      { clientId: 'reader', scope: 'orders:read' },
      { clientId: 'writer', scope: 'orders:read orders:write' },
    ],
  });
  metrics = newMetrics();
  verifier = createIssuerVerifier(
    issuerConfig({ name: 'oidc', issuer: as.issuer, audiences: [ORDERS], jwks: jwksConfig(as.jwksUri), typ: 'at+jwt' }),
    { metrics, logger: silentLogger },
  );
  await verifier.start();
  const stage = createAuthenticateStage(new Map([['oidc', verifier]]), { metrics });

  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://gw.test');
    const ctx: RequestContext = new Context(silentLogger, 'r1', req, res);
    ctx.path = url.pathname;
    ctx.route = ROUTES[url.pathname.slice(1)];
    lastCtx = ctx;
    Promise.resolve()
      .then(() => stage(ctx))
      .then(
      () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ clientId: ctx.token?.clientId ?? null, scopes: [...(ctx.token?.scopes ?? [])].sort() }));
      },
      (err: unknown) => {
        const e = err instanceof GatewayError ? err : new GatewayError('internal_error');
        res.writeHead(e.status, { 'content-type': 'application/json', ...e.headers });
        res.end(JSON.stringify({ code: e.code, reason: e.reason }));
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  verifier?.close();
  await new Promise((r) => server?.close(r));
  await as?.close();
});

async function call(path: string, token?: string) {
  const res = await rawRequest(port, get(path, token === undefined ? [] : [`Authorization: Bearer ${token}`]));
  return { status: res.status, challenge: res.headers['www-authenticate'], body: JSON.parse(res.body) as Record<string, unknown> };
}

describe('authenticate stage', () => {
  it('lets a public route through without any credentials', async () => {
    expect(await call('/public')).toEqual({ status: 200, challenge: undefined, body: { clientId: null, scopes: [] } });
    expect(lastCtx?.token).toBeUndefined();
  });

  it('sets ctx.token for a valid token with the required scopes', async () => {
    const token = await as.issueToken({ clientId: 'writer', scope: 'orders:read orders:write', resource: ORDERS });
    expect(await call('/write', token)).toEqual({
      status: 200,
      challenge: undefined,
      body: { clientId: 'writer', scopes: ['orders:read', 'orders:write'] },
    });
    // The raw token is never kept on the context.
    expect(Object.values(lastCtx ?? {})).not.toContain(token);
  });

  it('answers 403 insufficient_scope naming the required scopes when one is missing', async () => {
    const token = await as.issueToken({ clientId: 'reader', scope: 'orders:read', resource: ORDERS });
    const before = await counterValue(metrics.tokenRejections, { issuer: 'oidc', reason: 'scope' });
    expect(await call('/read', token)).toMatchObject({ status: 200 });
    expect(await call('/write', token)).toEqual({
      status: 403,
      challenge: 'Bearer realm="tollgate", error="insufficient_scope", scope="orders:read orders:write"',
      body: { code: 'insufficient_scope', reason: 'scope' },
    });
    expect(await counterValue(metrics.tokenRejections, { issuer: 'oidc', reason: 'scope' })).toBe(before + 1);
    // The identity is known even though authorization failed (for the access and audit logs).
    expect(lastCtx?.token?.clientId).toBe('reader');
  });

  it("uses the route's audiences instead of the issuer's when it names them", async () => {
    const ordersToken = await as.issueToken({ clientId: 'reader', scope: 'orders:read', resource: ORDERS });
    const billingToken = await as.issueToken({ clientId: 'reader', scope: 'orders:read', resource: BILLING });
    expect((await call('/billing', billingToken)).status).toBe(200);
    expect(await call('/billing', ordersToken)).toMatchObject({ status: 401, body: { code: 'token_invalid', reason: 'audience' } });
    expect(await call('/read', billingToken)).toMatchObject({ status: 401, body: { code: 'token_invalid', reason: 'audience' } });
  });

  it('answers 401 with the bare challenge and counts it when the token is missing', async () => {
    const before = await counterValue(metrics.tokenRejections, { issuer: 'oidc', reason: 'missing' });
    expect(await call('/read')).toEqual({
      status: 401,
      challenge: 'Bearer realm="tollgate"',
      body: { code: 'token_missing', reason: 'missing' },
    });
    expect(await counterValue(metrics.tokenRejections, { issuer: 'oidc', reason: 'missing' })).toBe(before + 1);
  });

  it('answers 401 invalid_token for a bad token', async () => {
    expect(await call('/read', 'a.b.c')).toEqual({
      status: 401,
      challenge: 'Bearer realm="tollgate", error="invalid_token"',
      body: { code: 'token_invalid', reason: 'malformed' },
    });
  });

  it('fails closed when a route names an issuer that has no verifier', async () => {
    expect(await call('/orphan', 'a.b.c')).toMatchObject({ status: 500, body: { code: 'internal_error', reason: 'unknown_issuer' } });
  });

  it('fails closed when no route was matched', async () => {
    expect(await call('/nowhere')).toMatchObject({ status: 500, body: { code: 'internal_error', reason: 'no_route' } });
  });
});
