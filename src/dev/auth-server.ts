import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

/**
 * A development-only OAuth 2.0 authorization server for `npm start`: the client-credentials
 * grant (RFC 6749 §4.4) issuing RFC 9068 JWT access tokens signed with an ES256 key generated
 * at start, and its JWKS. It exists so a fresh clone can show a token that passes and one that
 * fails; production deployments point `issuers` at their real authorization server.
 */

export interface DevClient {
  secret: string;
  scopes: string[];
  /** Extra claims of its access tokens (the default policy scopes by `tenant` and `partner`). */
  claims?: Record<string, string>;
  /** An approver: with a `req_hash` form parameter it gets an approval token (dual control) instead. */
  approver?: boolean;
}

export interface DevAuthServer {
  url: string;
  close(): Promise<void>;
}

export const DEV_CLIENTS: Readonly<Record<string, DevClient>> = {
  // Printed in the README on purpose: this server only runs with `--dev`, on loopback.
  'demo-client': { secret: 'demo-secret', scopes: ['orders:read', 'orders:write', 'payments:write'], claims: { tenant: 'acme', partner: 'acme' } },
  'reader-client': { secret: 'reader-secret', scopes: ['orders:read'], claims: { tenant: 'acme' } },
  'approver-ann': { secret: 'ann-secret', scopes: [], approver: true },
  'approver-bob': { secret: 'bob-secret', scopes: [], approver: true },
};

/** Approval tokens come from `<issuer>/approvals`, so a gateway can tell them from access tokens. */
export const DEV_APPROVALS_PATH = '/approvals';

export async function startDevAuthServer(opts: {
  host: string;
  port: number;
  issuer?: string;
  audience: string;
  ttlSeconds?: number;
}): Promise<DevAuthServer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomBytes(8).toString('hex');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const jwks = JSON.stringify({ keys: [jwk] });
  const ttl = opts.ttlSeconds ?? 300;

  let issuer = opts.issuer ?? '';
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(text);
    };
    if (req.method === 'GET' && req.url === '/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
      res.end(jwks);
      return;
    }
    if (req.method !== 'POST' || req.url !== '/token') return reply(404, { error: 'not_found' });
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      raw += c;
      if (raw.length > 8192) req.destroy();
    });
    req.on('end', () => {
      void (async () => {
        const form = new URLSearchParams(raw);
        let clientId = form.get('client_id') ?? '';
        let secret = form.get('client_secret') ?? '';
        const basic = req.headers.authorization;
        if (basic?.startsWith('Basic ')) {
          const decoded = Buffer.from(basic.slice(6), 'base64').toString('utf8');
          const i = decoded.indexOf(':');
          clientId = decodeURIComponent(decoded.slice(0, i));
          secret = decodeURIComponent(decoded.slice(i + 1));
        }
        if (form.get('grant_type') !== 'client_credentials') return reply(400, { error: 'unsupported_grant_type' });
        const client = DEV_CLIENTS[clientId];
        if (client === undefined || !sameSecret(secret, client.secret)) return reply(401, { error: 'invalid_client' });
        const reqHash = form.get('req_hash');
        if (client.approver === true) {
          // An approval of exactly one request (its req_hash; see README "Approvals"), valid for five minutes.
          if (reqHash === null || !/^[A-Za-z0-9_-]{43}$/.test(reqHash)) return reply(400, { error: 'invalid_request', error_description: 'req_hash required' });
          const approval = await new SignJWT({ req_hash: reqHash })
            .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
            .setIssuer(`${issuer}${DEV_APPROVALS_PATH}`)
            .setSubject(clientId)
            .setAudience(opts.audience)
            .setIssuedAt()
            .setExpirationTime('300s')
            .setJti(randomUUID())
            .sign(privateKey);
          return reply(200, { access_token: approval, token_type: 'N_A', expires_in: 300 });
        }
        const asked = (form.get('scope') ?? client.scopes.join(' ')).split(' ').filter(Boolean);
        if (asked.some((s) => !client.scopes.includes(s))) return reply(400, { error: 'invalid_scope' });
        const token = await new SignJWT({ ...client.claims, client_id: clientId, scope: asked.join(' ') })
          .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
          .setIssuer(issuer)
          .setSubject(clientId)
          .setAudience(form.get('resource') ?? opts.audience)
          .setIssuedAt()
          .setExpirationTime(`${ttl}s`)
          .setJti(randomUUID())
          .sign(privateKey);
        reply(200, { access_token: token, token_type: 'Bearer', expires_in: ttl, scope: asked.join(' ') });
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port, opts.host, resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host}:${port}`;
  if (issuer === '') issuer = url;
  return { url, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
