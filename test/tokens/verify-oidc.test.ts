import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeySource, type KeySource } from '../../src/tokens/keys.js';
import { createIssuerVerifier } from '../../src/tokens/verify.js';
import { startAuthServer, type AuthServer } from '../fixtures/oidc.js';
import {
  counterValue,
  expectInvalid,
  issuerConfig,
  jwksConfig,
  newMetrics,
  signHs256,
  silentLogger,
  verifyAsync,
} from './helpers.js';

/** Tokens issued by a real authorization server (oidc-provider) over its token endpoint. */

const RESOURCE = 'https://orders.api.test';

let as: AuthServer;

beforeAll(async () => {
  as = await startAuthServer({
    scopes: ['orders:read', 'orders:write', 'admin'],
    clients: [
      { clientId: 'orders-svc', scope: 'orders:read orders:write' },
      { clientId: 'admin-svc', scope: 'admin' },
    ],
  });
});
afterAll(async () => {
  await as?.close();
});

function setup(opts: { now?: () => number; issuer?: string; typ?: string } = {}) {
  const metrics = newMetrics();
  const cfg = issuerConfig({
    name: 'oidc',
    issuer: opts.issuer ?? as.issuer,
    audiences: [RESOURCE],
    algorithms: ['ES256'],
    jwks: jwksConfig(as.jwksUri),
    typ: opts.typ ?? 'at+jwt',
  });
  const now = opts.now ?? Date.now;
  const inner = createKeySource(cfg, { metrics, logger: silentLogger, now });
  let keyCalls = 0;
  // The real key source, observed: counts how often verification needs a key.
  const keys: KeySource = { ...inner, getKey: (h) => (keyCalls++, inner.getKey(h)) };
  const verifier = createIssuerVerifier(cfg, { metrics, logger: silentLogger, now, keys });
  return { verifier, metrics, keyCalls: () => keyCalls };
}

describe('tokens from oidc-provider', () => {
  it('verifies a client-credentials JWT access token and extracts identity and scopes', async () => {
    const token = await as.issueToken({ clientId: 'orders-svc', scope: 'orders:read orders:write', resource: RESOURCE });
    const { verifier } = setup();
    await verifier.start();
    expect(verifier.ready()).toBe(true);
    const v = await verifyAsync(verifier, token, [RESOURCE]);
    expect(v.issuerName).toBe('oidc');
    expect(v.issuer).toBe(as.issuer);
    expect(v.clientId).toBe('orders-svc');
    expect([...v.scopes].sort()).toEqual(['orders:read', 'orders:write']);
    expect(v.audiences).toEqual([RESOURCE]);
    expect(v.expiresAt).toBeGreaterThan(Date.now() / 1000);
    expect(typeof v.jti).toBe('string');
    expect(Object.isFrozen(v.claims)).toBe(true);
    verifier.close();
  });

  it('rejects a token whose payload was altered (scope escalation) as a bad signature', async () => {
    const token = await as.issueToken({ clientId: 'orders-svc', scope: 'orders:read', resource: RESOURCE });
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    payload.scope = 'orders:read orders:write admin';
    const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    const { verifier, metrics } = setup();
    await expectInvalid(verifyAsync(verifier, forged, [RESOURCE]), 'signature');
    expect(await counterValue(metrics.tokenRejections, { issuer: 'oidc', reason: 'signature' })).toBe(1);
    verifier.close();
  });

  it('rejects a token whose signature was altered', async () => {
    const token = await as.issueToken({ clientId: 'orders-svc', scope: 'orders:read', resource: RESOURCE });
    const [h, p, s] = token.split('.') as [string, string, string];
    // Flip a character in the middle: the last one may only carry padding bits.
    const i = Math.floor(s.length / 2);
    const flipped = s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const { verifier } = setup();
    await expectInvalid(verifyAsync(verifier, `${h}.${p}.${flipped}`, [RESOURCE]), 'signature');
    verifier.close();
  });

  it('rejects an expired token with token_expired', async () => {
    const token = await as.issueToken({ clientId: 'orders-svc', scope: 'orders:read', resource: RESOURCE });
    // 300 s TTL + 30 s tolerance: an hour later it is expired.
    const { verifier, metrics } = setup({ now: () => Date.now() + 3_600_000 });
    await expectInvalid(verifyAsync(verifier, token, [RESOURCE]), 'expired');
    expect(await counterValue(metrics.tokenRejections, { issuer: 'oidc', reason: 'expired' })).toBe(1);
    verifier.close();
  });

  it('rejects a token for another audience', async () => {
    const token = await as.issueToken({ clientId: 'orders-svc', scope: 'orders:read', resource: 'https://billing.api.test' });
    const { verifier } = setup();
    await expectInvalid(verifyAsync(verifier, token, [RESOURCE]), 'audience');
    // …while a route that names that audience accepts it.
    const v = await verifyAsync(verifier, token, ['https://billing.api.test']);
    expect(v.audiences).toEqual(['https://billing.api.test']);
    verifier.close();
  });

  it('rejects a token from another issuer, even when signed by a trusted key', async () => {
    const token = await as.issueToken({ clientId: 'orders-svc', scope: 'orders:read', resource: RESOURCE });
    const { verifier } = setup({ issuer: 'https://other-issuer.test' });
    await expectInvalid(verifyAsync(verifier, token, [RESOURCE]), 'issuer');
    verifier.close();
  });

  it('rejects a typ mismatch when the issuer requires another typ', async () => {
    const token = await as.issueToken({ clientId: 'orders-svc', scope: 'orders:read', resource: RESOURCE });
    const { verifier } = setup({ typ: 'JWT' });
    await expectInvalid(verifyAsync(verifier, token, [RESOURCE]), 'typ');
    verifier.close();
  });

  it('rejects HS256 signed with the issuer public key bytes (algorithm confusion)', async () => {
    const jwks = (await (await fetch(as.jwksUri)).json()) as { keys: Array<Record<string, string>> };
    const jwk = jwks.keys.find((k) => k.kid === as.kid)!;
    const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    const real = await as.issueToken({ clientId: 'orders-svc', scope: 'orders:read', resource: RESOURCE });
    const payload = JSON.parse(Buffer.from(real.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    payload.scope = 'admin';
    const { verifier, keyCalls } = setup();
    for (const keyBytes of [Buffer.from(pem), Buffer.from(JSON.stringify(jwk))]) {
      const forged = signHs256(payload, keyBytes, { kid: as.kid });
      await expectInvalid(verifyAsync(verifier, forged, [RESOURCE]), 'alg');
    }
    // Refused before any key lookup: the token never gets to pick the key or the algorithm.
    expect(keyCalls()).toBe(0);
    verifier.close();
  });

  it('serves the second verification of a token from the cache without the key source', async () => {
    const token = await as.issueToken({ clientId: 'orders-svc', scope: 'orders:read', resource: RESOURCE });
    let t = Date.now();
    const { verifier, keyCalls } = setup({ now: () => t });
    const first = await verifyAsync(verifier, token, [RESOURCE]);
    expect(keyCalls()).toBe(1);
    const second = await verifyAsync(verifier, token, [RESOURCE]);
    expect(second).toBe(first);
    expect(keyCalls()).toBe(1);

    // The audience is re-checked on every hit: routes differ.
    await expectInvalid(verifyAsync(verifier, token, ['https://elsewhere.test']), 'audience');
    expect(keyCalls()).toBe(1);

    // Once expired (beyond tolerance), the cached entry is refused too.
    t = (first.expiresAt + 31) * 1000;
    await expectInvalid(verifyAsync(verifier, token, [RESOURCE]), 'expired');
    expect(keyCalls()).toBe(1);
    // …and dropped: going back in time forces a full verification again.
    t = Date.now();
    await verifyAsync(verifier, token, [RESOURCE]);
    expect(keyCalls()).toBe(2);
    verifier.close();
  });

  it('does not cache rejections', async () => {
    const token = await as.issueToken({ clientId: 'orders-svc', scope: 'orders:read', resource: RESOURCE });
    const { verifier, keyCalls } = setup();
    await expectInvalid(verifyAsync(verifier, token, ['https://elsewhere.test']), 'audience');
    await expectInvalid(verifyAsync(verifier, token, ['https://elsewhere.test']), 'audience');
    expect(keyCalls()).toBe(2);
    verifier.close();
  });

  it('works with an RS256 authorization server', async () => {
    const rs = await startAuthServer({ alg: 'RS256', clients: [{ clientId: 'rs-client' }] });
    try {
      const token = await rs.issueToken({ scope: 'orders:read', resource: RESOURCE });
      const metrics = newMetrics();
      const verifier = createIssuerVerifier(
        issuerConfig({ issuer: rs.issuer, audiences: [RESOURCE], algorithms: ['RS256'], jwks: jwksConfig(rs.jwksUri), typ: 'at+jwt' }),
        { metrics, logger: silentLogger },
      );
      expect((await verifyAsync(verifier, token, [RESOURCE])).clientId).toBe('rs-client');
      // The ES256-only verifier refuses it by alg.
      const es = setup();
      await expectInvalid(verifyAsync(es.verifier, token, [RESOURCE]), 'alg');
      verifier.close();
      es.verifier.close();
    } finally {
      await rs.close();
    }
  });

  it('carries exactly the scopes the authorization server granted to that client', async () => {
    const token = await as.issueToken({ clientId: 'admin-svc', scope: 'admin', resource: RESOURCE });
    const { verifier } = setup();
    const v = await verifyAsync(verifier, token, [RESOURCE]);
    expect(v.clientId).toBe('admin-svc');
    expect([...v.scopes]).toEqual(['admin']);
    // The fixture is a real server: it refuses scopes the client is not registered for.
    await expect(as.issueToken({ clientId: 'admin-svc', scope: 'orders:write', resource: RESOURCE })).rejects.toThrow(/invalid_scope/);
    verifier.close();
  });
});
