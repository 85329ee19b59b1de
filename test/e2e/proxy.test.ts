import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, yamlConfig, type TestGateway } from '../helpers/gateway.js';
import { get, rawRequest } from '../helpers/raw-http.js';
import { registerSecret } from '../helpers/run-artifacts.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const SECRET = registerSecret('proxy-e2e-shared-secret-0123456789abcdef');
const env = { ...process.env, PROXY_E2E_SECRET: SECRET };

let upstream: TestUpstream;
let slow: TestUpstream;
let gw: TestGateway;
let token: string;

function config(): string {
  return yamlConfig({
    issuers: `  local:
    issuer: https://issuer.test
    audiences: [https://api.test]
    algorithms: [HS256]
    secret: { env: PROXY_E2E_SECRET }`,
    upstreams: `  app:
    url: ${upstream.url}
    connectTimeoutMs: 1000
    responseTimeoutMs: 3000
  slow:
    url: ${slow.url}
    responseTimeoutMs: 300
  dead:
    url: http://127.0.0.1:1
    connectTimeoutMs: 500`,
    routes: `  - id: public
    match: { prefix: /public }
    upstream: app
    auth: false
    risk: low
    maxBodyBytes: 1000
  - id: admin
    match: { prefix: /admin }
    upstream: app
    auth: { issuer: local, scopes: [admin] }
    risk: high
    # this test is about something else: the high-risk replay and idempotency checks are off here
    highRisk: { idempotency: false, replay: false }
  - id: passthrough
    match: { prefix: /pass }
    upstream: app
    auth: { issuer: local, scopes: [] }
    risk: low
    forwardAuthorization: true
  - id: slow
    match: { prefix: /slow }
    upstream: slow
    auth: false
    risk: low
  - id: dead
    match: { prefix: /dead }
    upstream: dead
    auth: false
    risk: low`,
  });
}

beforeAll(async () => {
  upstream = await startUpstream();
  slow = await startUpstream((_req, res) => {
    setTimeout(() => res.end('late'), 2000).unref();
  });
  gw = await startGateway(config, { env });
  token = registerSecret(
    await new SignJWT({ client_id: 'svc-a', scope: 'admin read' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer('https://issuer.test')
      .setAudience('https://api.test')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET)),
  );
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
  await slow?.close();
});

function seenSince(n: number) {
  return upstream.seen.slice(n);
}

describe('path traps never reach a route the config did not mean', () => {
  it.each([
    '/public/../admin/secret',
    '/public/%2e%2e/admin/secret',
    '/public/.%2e/admin/secret',
    '/public/%2E%2E/admin/secret',
    '/public\\..\\admin/secret',
    '/public/..%2fadmin/secret',
    '/public%2f..%2fadmin/secret',
    '/public/%5c../admin/secret',
    '/public/%00/x',
    '/public/%zz',
    '/public/%c0%ae%c0%ae/admin/secret',
  ])('%s → 400 problem, upstream untouched', async (target) => {
    const before = upstream.seen.length;
    const res = await rawRequest(gw.port, get(target));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    const body = JSON.parse(res.body) as { code: string; status: number; request_id: string };
    expect(body.code).toBe('invalid_path');
    expect(body.status).toBe(400);
    expect(body.request_id).toBe(res.headers['x-request-id']);
    expect(seenSince(before)).toEqual([]);
  });

  it('//admin is the admin route (slashes merged), so it needs a token', async () => {
    const before = upstream.seen.length;
    const res = await rawRequest(gw.port, get('//admin/secret'));
    expect(res.status).toBe(401);
    expect(seenSince(before)).toEqual([]);
  });

  it('case tricks do not match a route', async () => {
    const before = upstream.seen.length;
    for (const target of ['/PUBLIC/x', '/Admin/secret', '/ADMIN/secret']) {
      const res = await rawRequest(gw.port, get(target));
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body).code).toBe('route_not_found');
    }
    expect(seenSince(before)).toEqual([]);
  });

  it('forwards exactly the normalised path and the raw query', async () => {
    const before = upstream.seen.length;
    const res = await rawRequest(gw.port, get("/public/%41b//c%3a%7E?x=%2F..&y=1&z='"));
    expect(res.status).toBe(200);
    expect(seenSince(before).map((s) => s.url)).toEqual(["/public/Ab/c%3A~?x=%2F..&y=1&z='"]);
  });

  it('rejects absolute-form and asterisk-form targets', async () => {
    const before = upstream.seen.length;
    for (const target of [`http://127.0.0.1:${upstream.port}/public/x`, '*']) {
      const res = await rawRequest(gw.port, get(target, [], target === '*' ? 'OPTIONS' : 'GET'));
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).code).toBe('invalid_request_target');
    }
    expect(seenSince(before)).toEqual([]);
  });

  it('answers CONNECT with 405 and a problem body', async () => {
    const res = await rawRequest(gw.port, `CONNECT 127.0.0.1:${upstream.port} HTTP/1.1\r\nHost: 127.0.0.1:${upstream.port}\r\n\r\n`);
    expect(res.status).toBe(405);
    expect(JSON.parse(res.body).code).toBe('method_not_allowed');
  });
});

describe('headers', () => {
  it('Connection-listed names cannot strip identity headers, and spoofed ones are replaced', async () => {
    const before = upstream.seen.length;
    const res = await rawRequest(
      gw.port,
      get('/admin/x', ['Connection: keep-alive, X-Client-Id, X-Forwarded-For', 'X-Client-Id: spoofed', 'X-Client-Scopes: everything', `Authorization: Bearer ${token}`]),
    );
    expect(res.status).toBe(200);
    const [seen] = seenSince(before);
    expect(seen?.headers['x-client-id']).toBe('svc-a');
    expect(seen?.headers['x-client-scopes']).toBe('admin read');
    expect(seen?.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen?.rawHeaders.filter((h) => h.toLowerCase() === 'x-client-id')).toHaveLength(1);
    // The client's Authorization is not forwarded unless the route asks for it.
    expect(seen?.headers.authorization).toBeUndefined();
  });

  it('identity headers sent by a client to a public route are removed', async () => {
    const before = upstream.seen.length;
    await rawRequest(gw.port, get('/public/x', ['X-Client-Id: spoofed', 'X-Token-Issuer: me']));
    const [seen] = seenSince(before);
    expect(seen?.headers['x-client-id']).toBeUndefined();
    expect(seen?.headers['x-token-issuer']).toBeUndefined();
  });

  it('forwards Authorization only on routes that opt in', async () => {
    const before = upstream.seen.length;
    const res = await rawRequest(gw.port, get('/pass/x', [`Authorization: Bearer ${token}`]));
    expect(res.status).toBe(200);
    expect(seenSince(before)[0]?.headers.authorization).toBe(`Bearer ${token}`);
  });

  it('strips hop-by-hop headers', async () => {
    const before = upstream.seen.length;
    await rawRequest(gw.port, get('/public/x', ['Keep-Alive: timeout=5', 'TE: trailers', 'Proxy-Authorization: Basic eDp5', 'Upgrade: h2c']));
    const h = seenSince(before)[0]?.headers;
    expect(h?.['keep-alive']).toBeUndefined();
    expect(h?.te).toBeUndefined();
    expect(h?.['proxy-authorization']).toBeUndefined();
    expect(h?.upgrade).toBeUndefined();
  });

  it('replaces untrusted X-Forwarded-* and Forwarded', async () => {
    const before = upstream.seen.length;
    await rawRequest(gw.port, get('/public/x', ['X-Forwarded-For: 6.6.6.6', 'X-Forwarded-Host: evil', 'X-Forwarded-Proto: https', 'Forwarded: for=6.6.6.6']));
    const h = seenSince(before)[0]?.headers;
    expect(h?.['x-forwarded-for']).toBe('127.0.0.1');
    expect(h?.['x-forwarded-host']).toBe('gw.test');
    expect(h?.['x-forwarded-proto']).toBe('http');
    expect(h?.forwarded).toBeUndefined();
  });

  it('sets the upstream Host and keeps the client host in X-Forwarded-Host', async () => {
    const before = upstream.seen.length;
    await rawRequest(gw.port, get('/public/x'));
    expect(seenSince(before)[0]?.headers.host).toBe(`127.0.0.1:${upstream.port}`);
  });

  it('keeps a well-formed X-Request-Id and replaces a malformed one', async () => {
    const before = upstream.seen.length;
    const good = await rawRequest(gw.port, get('/public/x', ['X-Request-Id: abc-123_x.y:z']));
    expect(good.headers['x-request-id']).toBe('abc-123_x.y:z');
    const bad = await rawRequest(gw.port, get('/public/x', ['X-Request-Id: a b<script>']));
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seenSince(before).map((s) => s.headers['x-request-id'])).toEqual(['abc-123_x.y:z', bad.headers['x-request-id']]);
  });

  it.each(['Host: other', 'Authorization: Bearer a', 'Content-Length: 0'])('rejects a duplicate %s', async (dup) => {
    const before = upstream.seen.length;
    const extra = dup.startsWith('Authorization') ? ['Authorization: Bearer b', dup] : dup.startsWith('Content') ? ['Content-Length: 0', dup] : [dup];
    const res = await rawRequest(gw.port, get('/public/x', extra));
    expect(res.status).toBe(400);
    expect(seenSince(before)).toEqual([]);
  });
});

describe('bodies and framing', () => {
  it('a chunked DELETE reaches the upstream as exactly one request with its body (no smuggling)', async () => {
    const before = upstream.seen.length;
    const smuggled = 'GET /admin/secret HTTP/1.1\r\nHost: x\r\n\r\n';
    const chunk = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
    const req = `DELETE /public/item HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk}`;
    const res = await rawRequest(gw.port, req);
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    const seen = seenSince(before);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['DELETE /public/item']);
    expect(seen[0]?.body).toBe(smuggled);
    expect(upstream.raw()).not.toMatch(/\r\n\r\nGET \/admin\/secret/);
  });

  it('rejects a Content-Length over the route limit with 413 before forwarding', async () => {
    const before = upstream.seen.length;
    const body = 'x'.repeat(1001);
    const res = await rawRequest(gw.port, `POST /public/x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).code).toBe('payload_too_large');
    expect(seenSince(before)).toEqual([]);
  });

  it('stops a chunked body at the route limit with 413', async () => {
    const part = 'y'.repeat(600);
    const chunks = `${part.length.toString(16)}\r\n${part}\r\n`.repeat(3) + '0\r\n\r\n';
    const res = await rawRequest(gw.port, `POST /public/x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunks}`);
    expect(res.status).toBe(413);
  });

  it('streams a body within the limit unchanged', async () => {
    const before = upstream.seen.length;
    const body = JSON.stringify({ amount: 12, note: 'é' });
    const res = await fetch(`${gw.url}/public/echo`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(seenSince(before)[0]?.body).toBe(body);
  });

  it('rejects transfer-codings other than chunked', async () => {
    const res = await rawRequest(gw.port, `POST /public/x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`);
    expect(res.status).toBe(400);
  });
});

describe('upstream failures', () => {
  it('times out a slow upstream with 504', async () => {
    const res = await fetch(`${gw.url}/slow/x`);
    expect(res.status).toBe(504);
    expect(((await res.json()) as { code: string }).code).toBe('upstream_timeout');
  });

  it('maps a refused connection to 502 and counts it', async () => {
    const res = await fetch(`${gw.url}/dead/x`);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { code: string }).code).toBe('upstream_unavailable');
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/tollgate_upstream_errors_total\{upstream="dead",kind="connect"\} [1-9]/);
  });
});

describe('errors and observability', () => {
  it('404 is a problem body with a stable code', async () => {
    const res = await fetch(`${gw.url}/nowhere`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ type: 'urn:tollgate:error:route_not_found', status: 404, code: 'route_not_found' });
  });

  it('exposes request metrics by route, method and status class', async () => {
    await fetch(`${gw.url}/public/m`);
    const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    expect(text).toMatch(/tollgate_requests_total\{route="public",method="GET",status_class="2xx"\} [1-9]/);
    expect(text).toMatch(/tollgate_request_duration_seconds_bucket\{le="[^"]+",route="public"\}/);
    expect(text).toMatch(/tollgate_upstream_duration_seconds_count\{route="public",upstream="app"\} [1-9]/);
  });

  it('health and readiness', async () => {
    expect((await fetch(`${gw.adminUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${gw.adminUrl}/readyz`)).status).toBe(200);
  });

  it('logs one access line per request with the request id and no query or token', async () => {
    const res = await rawRequest(gw.port, get('/admin/log?secret_param=hunter2', [`Authorization: Bearer ${token}`, 'X-Request-Id: log-check-1']));
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    const line = gw.logs().find((l) => l.reqId === 'log-check-1');
    expect(line).toMatchObject({ route: 'admin', method: 'GET', path: '/admin/log', status: 200, client_id: 'svc-a' });
    expect(gw.logText()).not.toContain('hunter2');
    expect(gw.logText()).not.toContain(token);
  });
});
