import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIssuerVerifier } from '../../src/tokens/verify.js';
import type { IssuerVerifier } from '../../src/tokens/types.js';
import type { GatewayMetrics } from '../../src/observability/metrics.js';
import type { IssuerConfig } from '../../src/config/types.js';
import {
  AUD,
  claims,
  counterValue,
  createSigner,
  expectInvalid,
  issuerConfig,
  jwksConfig,
  newMetrics,
  nowSec,
  silentLogger,
  startJwksServer,
  unsigned,
  type JwksServer,
  type Signer,
  verifyAsync,
} from './helpers.js';

/**
 * Header, structure and claim checks, with tokens the test signs itself (a real issuer would not
 * produce these forgeries) and keys served by a real JWKS endpoint on loopback.
 */

let signer: Signer;
let jwks: JwksServer;
const open: IssuerVerifier[] = [];

beforeAll(async () => {
  signer = createSigner('ES256');
  jwks = await startJwksServer([signer.jwk]);
});
afterAll(async () => {
  for (const v of open) v.close();
  await jwks.stop();
});

function verifierFor(overrides: Partial<IssuerConfig> = {}): { verifier: IssuerVerifier; metrics: GatewayMetrics } {
  const metrics = newMetrics();
  const verifier = createIssuerVerifier(issuerConfig({ jwks: jwksConfig(jwks.url), ...overrides }), { metrics, logger: silentLogger });
  open.push(verifier);
  return { verifier, metrics };
}

describe('baseline', () => {
  it('accepts a well-formed token signed by the JWKS key', async () => {
    const { verifier } = verifierFor();
    const v = await verifyAsync(verifier, signer.sign(claims()), [AUD]);
    expect(v.clientId).toBe('svc-a');
    expect([...v.scopes]).toEqual(['orders:read']);
  });
});

describe('structure and header', () => {
  it('rejects a five-part (JWE) token as jwe', async () => {
    const { verifier, metrics } = verifierFor();
    const jwe = 'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn';
    await expectInvalid(verifyAsync(verifier, jwe, [AUD]), 'jwe');
    expect(await counterValue(metrics.tokenRejections, { issuer: 'test', reason: 'jwe' })).toBe(1);
  });

  it.each([
    ['two parts', 'eyJhbGciOiJFUzI1NiJ9.e30'],
    ['four parts', 'a.b.c.d'],
    ['non-base64url characters', 'eyJhbGciOiJFUzI1NiJ9.e30.ab+c/'],
    ['padding', 'eyJhbGciOiJFUzI1NiJ9.e30=.abc'],
    ['empty header', '.e30.abc'],
    ['header not JSON', `${Buffer.from('not json').toString('base64url')}.e30.abc`],
    ['header a JSON array', `${Buffer.from('["alg"]').toString('base64url')}.e30.abc`],
  ])('rejects %s as malformed', async (_name, token) => {
    const { verifier } = verifierFor();
    await expectInvalid(verifyAsync(verifier, token, [AUD]), 'malformed');
  });

  it('rejects a real alg with an empty signature as malformed', async () => {
    const { verifier } = verifierFor();
    await expectInvalid(verifyAsync(verifier, unsigned({ alg: 'ES256', kid: signer.kid }, claims()), [AUD]), 'malformed');
  });

  it('rejects a payload that is not a JSON object as malformed', async () => {
    const { verifier } = verifierFor();
    const token = signer.sign([1, 2, 3] as unknown as Record<string, unknown>);
    await expectInvalid(verifyAsync(verifier, token, [AUD]), 'malformed');
  });

  it.each([
    ['alg none', { alg: 'none' }],
    ['alg NONE', { alg: 'NONE' }],
    ['no alg', {}],
    ['alg not a string', { alg: ['ES256'] }],
  ])('rejects %s (unsigned) as alg', async (_name, header) => {
    const { verifier } = verifierFor();
    await expectInvalid(verifyAsync(verifier, unsigned(header, claims()), [AUD]), 'alg');
  });

  it('rejects a validly signed token whose alg is outside the allowlist', async () => {
    const es384 = createSigner('ES384');
    jwks.setKeys([signer.jwk, es384.jwk]);
    try {
      const { verifier } = verifierFor({ algorithms: ['ES256'] });
      await expectInvalid(verifyAsync(verifier, es384.sign(claims()), [AUD]), 'alg');
      // Control: the same token passes an issuer that allows ES384, so the rejection was the allowlist.
      const { verifier: allowing } = verifierFor({ algorithms: ['ES256', 'ES384'] });
      await expect(verifyAsync(allowing, es384.sign(claims()), [AUD])).resolves.toBeDefined();
    } finally {
      jwks.setKeys([signer.jwk]);
    }
  });

  it.each([
    ['jwk', { jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' } }],
    ['jku', { jku: 'https://attacker.test/jwks' }],
    ['x5u', { x5u: 'https://attacker.test/cert.pem' }],
    ['x5c', { x5c: ['MIIB'] }],
  ])('rejects an embedded or remote key header (%s) even when validly signed', async (_name, header) => {
    const { verifier, metrics } = verifierFor();
    await expectInvalid(verifyAsync(verifier, signer.sign(claims(), header), [AUD]), 'embedded_key');
    expect(await counterValue(metrics.tokenRejections, { issuer: 'test', reason: 'embedded_key' })).toBe(1);
  });

  it('rejects any crit header, even when the listed parameter is present', async () => {
    const { verifier } = verifierFor();
    await expectInvalid(verifyAsync(verifier, signer.sign(claims(), { crit: ['exp'], exp: 1 }), [AUD]), 'crit');
    await expectInvalid(verifyAsync(verifier, signer.sign(claims(), { crit: [] }), [AUD]), 'crit');
  });

  it('rejects a b64 header (unencoded payload option)', async () => {
    const { verifier } = verifierFor();
    await expectInvalid(verifyAsync(verifier, signer.sign(claims(), { b64: true }), [AUD]), 'b64');
  });

  it('rejects a token signed by another key under a trusted kid as signature', async () => {
    const impostor = createSigner('ES256', signer.kid);
    const { verifier } = verifierFor();
    await expectInvalid(verifyAsync(verifier, impostor.sign(claims()), [AUD]), 'signature');
  });
});

describe('claims', () => {
  it('rejects nbf in the future beyond tolerance, accepts it within', async () => {
    const { verifier } = verifierFor();
    await expectInvalid(verifyAsync(verifier, signer.sign(claims({ nbf: nowSec() + 120 })), [AUD]), 'nbf');
    await expect(verifyAsync(verifier, signer.sign(claims({ nbf: nowSec() + 10 })), [AUD])).resolves.toBeDefined();
  });

  it('rejects iat in the future beyond tolerance, accepts it within', async () => {
    const { verifier } = verifierFor();
    await expectInvalid(verifyAsync(verifier, signer.sign(claims({ iat: nowSec() + 120 })), [AUD]), 'iat_future');
    await expect(verifyAsync(verifier, signer.sign(claims({ iat: nowSec() + 10 })), [AUD])).resolves.toBeDefined();
  });

  it('rejects a token without exp even when requiredClaims omits it', async () => {
    const { verifier } = verifierFor({ requiredClaims: [] });
    const { exp: _exp, ...noExp } = claims();
    await expectInvalid(verifyAsync(verifier, signer.sign(noExp), [AUD]), 'claim_missing');
  });

  it('rejects an expired token, honouring the clock tolerance', async () => {
    const { verifier } = verifierFor({ clockToleranceSec: 30 });
    await expectInvalid(verifyAsync(verifier, signer.sign(claims({ exp: nowSec() - 60 })), [AUD]), 'expired');
    await expect(verifyAsync(verifier, signer.sign(claims({ exp: nowSec() - 10 })), [AUD])).resolves.toBeDefined();
  });

  it('rejects a missing configured required claim', async () => {
    const { verifier } = verifierFor({ requiredClaims: ['exp', 'jti'] });
    const { jti: _jti, ...noJti } = claims();
    await expectInvalid(verifyAsync(verifier, signer.sign(noJti), [AUD]), 'claim_missing');
    await expect(verifyAsync(verifier, signer.sign(claims()), [AUD])).resolves.toBeDefined();
  });

  it('rejects wrongly typed time claims as claim_type', async () => {
    const { verifier } = verifierFor();
    await expectInvalid(verifyAsync(verifier, signer.sign(claims({ exp: String(nowSec() + 300) })), [AUD]), 'claim_type');
    await expectInvalid(verifyAsync(verifier, signer.sign(claims({ nbf: 'yesterday' })), [AUD]), 'claim_type');
  });

  it('rejects a token older than maxTokenAgeSec, and one without iat', async () => {
    const { verifier } = verifierFor({ maxTokenAgeSec: 60 });
    await expectInvalid(verifyAsync(verifier, signer.sign(claims({ iat: nowSec() - 600, exp: nowSec() + 600 })), [AUD]), 'max_age');
    const { iat: _iat, ...noIat } = claims();
    await expectInvalid(verifyAsync(verifier, signer.sign(noIat), [AUD]), 'claim_missing');
    await expect(verifyAsync(verifier, signer.sign(claims({ iat: nowSec() - 30 })), [AUD])).resolves.toBeDefined();
  });

  it('re-applies maxTokenAgeSec to cached tokens', async () => {
    let t = Date.now();
    const metrics = newMetrics();
    const verifier = createIssuerVerifier(issuerConfig({ jwks: jwksConfig(jwks.url), maxTokenAgeSec: 60 }), {
      metrics,
      logger: silentLogger,
      now: () => t,
    });
    open.push(verifier);
    const token = signer.sign(claims({ exp: nowSec() + 3600 }));
    await verifyAsync(verifier, token, [AUD]);
    t += 120_000;
    await expectInvalid(verifyAsync(verifier, token, [AUD]), 'max_age');
  });

  it('checks typ like jose: case-insensitive, optional application/ prefix', async () => {
    const { verifier } = verifierFor({ typ: 'at+jwt' });
    await expectInvalid(verifyAsync(verifier, signer.sign(claims(), { typ: 'JWT' }), [AUD]), 'typ');
    await expectInvalid(verifyAsync(verifier, signer.sign(claims(), { typ: undefined }), [AUD]), 'typ');
    await expect(verifyAsync(verifier, signer.sign(claims(), { typ: 'application/AT+JWT' }), [AUD])).resolves.toBeDefined();
  });

  it('ignores typ when the issuer does not require one', async () => {
    const { verifier } = verifierFor();
    await expect(verifyAsync(verifier, signer.sign(claims(), { typ: 'JWT' }), [AUD])).resolves.toBeDefined();
  });

  it('rejects wrong issuer, and audience mismatch for string and array aud', async () => {
    const { verifier } = verifierFor();
    await expectInvalid(verifyAsync(verifier, signer.sign(claims({ iss: 'https://evil.test' })), [AUD]), 'issuer');
    const { iss: _iss, ...noIss } = claims();
    await expectInvalid(verifyAsync(verifier, signer.sign(noIss), [AUD]), 'issuer');
    await expectInvalid(verifyAsync(verifier, signer.sign(claims({ aud: 'https://other.test' })), [AUD]), 'audience');
    await expectInvalid(verifyAsync(verifier, signer.sign(claims({ aud: ['https://a.test', 'https://b.test'] })), [AUD]), 'audience');
    const { aud: _aud, ...noAud } = claims();
    await expectInvalid(verifyAsync(verifier, signer.sign(noAud), [AUD]), 'audience');
    const v = await verifyAsync(verifier, signer.sign(claims({ aud: ['https://a.test', AUD] })), ['https://x.test', AUD]);
    expect(v.audiences).toEqual(['https://a.test', AUD]);
  });

  it('rejects an aud array with a non-string member', async () => {
    const { verifier } = verifierFor();
    await expectInvalid(verifyAsync(verifier, signer.sign(claims({ aud: [AUD, 42] })), [AUD]), 'claim_type');
  });

  it('takes clientId from the first configured claim present, else rejects as client_id', async () => {
    const { verifier } = verifierFor({ clientIdClaims: ['client_id', 'azp'] });
    const { client_id: _c, ...withoutClientId } = claims({ azp: 'from-azp' });
    expect((await verifyAsync(verifier, signer.sign(withoutClientId), [AUD])).clientId).toBe('from-azp');
    expect((await verifyAsync(verifier, signer.sign(claims({ azp: 'from-azp' })), [AUD])).clientId).toBe('svc-a');
    const { client_id: _c2, ...onlySub } = claims();
    await expectInvalid(verifyAsync(verifier, signer.sign(onlySub), [AUD]), 'client_id');
    await expectInvalid(verifyAsync(verifier, signer.sign(claims({ client_id: 7 })), [AUD]), 'client_id');
  });

  it('unions the scope string and the scp array', async () => {
    const { verifier } = verifierFor();
    const v = await verifyAsync(verifier, signer.sign(claims({ scope: 'a  b', scp: ['c', 'a'] })), [AUD]);
    expect([...v.scopes].sort()).toEqual(['a', 'b', 'c']);
    const none = await verifyAsync(verifier, signer.sign(claims({ scope: undefined })), [AUD]);
    expect(none.scopes.size).toBe(0);
  });

  it.each([
    ['scope as an array', { scope: ['a'] }],
    ['scope as a number', { scope: 1 }],
    ['scp as a string', { scp: 'a b' }],
    ['scp with a non-string', { scp: ['a', 2] }],
    ['sub not a string', { sub: 5 }],
  ])('rejects %s as claim_type', async (_name, extra) => {
    const { verifier } = verifierFor();
    await expectInvalid(verifyAsync(verifier, signer.sign(claims(extra)), [AUD]), 'claim_type');
  });

  it('rejects when the audiences argument is empty', async () => {
    const { verifier } = verifierFor();
    await expectInvalid(verifyAsync(verifier, signer.sign(claims()), []), 'audience');
  });
});

describe('rejection bookkeeping', () => {
  it('counts every rejection by issuer and reason, and nothing for successes', async () => {
    const { verifier, metrics } = verifierFor({ name: 'countme' });
    await expectInvalid(verifyAsync(verifier, 'a.b', [AUD]), 'malformed');
    await expectInvalid(verifyAsync(verifier, 'a.b', [AUD]), 'malformed');
    await expectInvalid(verifyAsync(verifier, signer.sign(claims({ exp: nowSec() - 3600 })), [AUD]), 'expired');
    await verifyAsync(verifier, signer.sign(claims()), [AUD]);
    expect(await counterValue(metrics.tokenRejections, { issuer: 'countme', reason: 'malformed' })).toBe(2);
    expect(await counterValue(metrics.tokenRejections, { issuer: 'countme', reason: 'expired' })).toBe(1);
    const total = (await metrics.tokenRejections.get()).values.reduce((n, v) => n + v.value, 0);
    expect(total).toBe(3);
  });
});
