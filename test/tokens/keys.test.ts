import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { IssuerConfig } from '../../src/config/types.js';
import { parseJwks } from '../../src/tokens/keys.js';
import type { IssuerVerifier } from '../../src/tokens/types.js';
import { createIssuerVerifier } from '../../src/tokens/verify.js';
import {
  AUD,
  claims,
  counterValue,
  createSigner,
  eventually,
  expectInvalid,
  issuerConfig,
  jwksConfig,
  newMetrics,
  rejection,
  signHs256,
  silentLogger,
  startJwksServer,
  type JwksServer,
  verifyAsync,
} from './helpers.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/tokens');
const tmp = mkdtempSync(join(tmpdir(), 'tollgate-keys-'));

const servers: JwksServer[] = [];
const verifiers: IssuerVerifier[] = [];
afterEach(() => {
  for (const v of verifiers.splice(0)) v.close();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function jwksServer(keys: unknown[], tls?: { key: Buffer; cert: Buffer }): Promise<JwksServer> {
  const s = await startJwksServer(keys, tls);
  servers.push(s);
  return s;
}

function build(cfg: IssuerConfig, now?: () => number) {
  const metrics = newMetrics();
  const verifier = createIssuerVerifier(cfg, { metrics, logger: silentLogger, ...(now ? { now } : {}) });
  verifiers.push(verifier);
  const fetches = (result: 'ok' | 'error') => counterValue(metrics.jwksFetches, { issuer: cfg.name, result });
  return { verifier, metrics, fetches };
}

describe('remote JWKS', () => {
  it('is not ready and answers auth_unavailable (503) before any successful fetch', async () => {
    const server = await jwksServer([]);
    server.setMode('http500');
    const signer = createSigner();
    const { verifier, metrics, fetches } = build(issuerConfig({ jwks: jwksConfig(server.url) }));
    await expect(verifier.start()).resolves.toBeUndefined(); // never throws
    expect(verifier.ready()).toBe(false);
    const err = await rejection(verifyAsync(verifier, signer.sign(claims()), [AUD]));
    expect({ code: err.code, status: err.status, reason: err.reason }).toEqual({
      code: 'auth_unavailable',
      status: 503,
      reason: 'jwks_unavailable',
    });
    expect(await counterValue(metrics.tokenRejections, { issuer: 'test', reason: 'jwks_unavailable' })).toBe(1);
    expect(await fetches('error')).toBeGreaterThanOrEqual(1);
    expect(await fetches('ok')).toBe(0);
  });

  it('fetches lazily on the first request when start() was not called', async () => {
    const signer = createSigner();
    const server = await jwksServer([signer.jwk]);
    const { verifier, fetches } = build(issuerConfig({ jwks: jwksConfig(server.url) }));
    expect(verifier.ready()).toBe(false);
    await verifyAsync(verifier, signer.sign(claims()), [AUD]);
    expect(verifier.ready()).toBe(true);
    expect(await fetches('ok')).toBe(1);
  });

  it('refetches on an unknown kid at most once per cooldown, then picks up a rotated key', async () => {
    const current = createSigner();
    const rotated = createSigner();
    const server = await jwksServer([current.jwk]);
    let t = Date.now();
    const { verifier, metrics, fetches } = build(issuerConfig({ jwks: jwksConfig(server.url, { cooldownMs: 30_000 }) }), () => t);
    await verifier.start();
    expect(server.fetches).toBe(1);

    await expectInvalid(verifyAsync(verifier, rotated.sign(claims()), [AUD]), 'unknown_kid');
    expect(server.fetches).toBe(2); // one refetch for the unknown kid
    await expectInvalid(verifyAsync(verifier, rotated.sign(claims()), [AUD]), 'unknown_kid');
    await expectInvalid(verifyAsync(verifier, createSigner().sign(claims()), [AUD]), 'unknown_kid');
    expect(server.fetches).toBe(2); // within the cooldown: no more fetches
    expect(await counterValue(metrics.tokenRejections, { issuer: 'test', reason: 'unknown_kid' })).toBe(3);

    // The issuer rotates; after the cooldown the next unknown kid triggers one refetch that finds it.
    server.setKeys([current.jwk, rotated.jwk]);
    t += 30_001;
    const v = await verifyAsync(verifier, rotated.sign(claims()), [AUD]);
    expect(v.clientId).toBe('svc-a');
    expect(server.fetches).toBe(3);
    expect(await fetches('ok')).toBe(3);
    // Known kids never trigger a fetch.
    await verifyAsync(verifier, current.sign(claims()), [AUD]);
    expect(server.fetches).toBe(3);
  });

  it('keeps serving cached keys through a JWKS outage once the set is stale', async () => {
    const signer = createSigner();
    const server = await jwksServer([signer.jwk]);
    let t = Date.now();
    const { verifier, fetches } = build(
      issuerConfig({ jwks: jwksConfig(server.url, { cacheMaxAgeMs: 1_000, cooldownMs: 0 }) }),
      () => t,
    );
    await verifier.start();
    expect(await fetches('ok')).toBe(1);
    await server.stop();

    t += 5_000; // stale
    const v = await verifyAsync(verifier, signer.sign(claims()), [AUD]);
    expect(v.clientId).toBe('svc-a');
    expect(verifier.ready()).toBe(true);
    // The stale set triggered a background refresh, which failed without affecting the request.
    await eventually(async () => (await fetches('error')) >= 1);
    t += 5_000;
    await verifyAsync(verifier, signer.sign(claims({ jti: 'another' })), [AUD]);
    // An unknown kid during the outage is still refused (not waved through).
    await expectInvalid(verifyAsync(verifier, createSigner().sign(claims()), [AUD]), 'unknown_kid');
  });

  it('answers from the stale set without waiting for a slow refresh', async () => {
    const signer = createSigner();
    const server = await jwksServer([signer.jwk]);
    let t = Date.now();
    const { verifier } = build(
      issuerConfig({ jwks: jwksConfig(server.url, { cacheMaxAgeMs: 1_000, timeoutMs: 10_000 }) }),
      () => t,
    );
    await verifier.start();
    server.setMode('hang'); // the refresh will wait 10 s for its timeout
    t += 5_000;
    const before = server.fetches;
    const result = await Promise.race([
      verifyAsync(verifier, signer.sign(claims()), [AUD]).then(() => 'verified'),
      new Promise((r) => setTimeout(() => r('blocked'), 2_000)),
    ]);
    expect(result).toBe('verified');
    await eventually(() => server.fetches === before + 1); // the refresh did start
  });

  it('drops cached verified tokens when a refresh removes a key (revocation)', async () => {
    const a = createSigner();
    const b = createSigner();
    const server = await jwksServer([a.jwk, b.jwk]);
    let t = Date.now();
    const { verifier } = build(issuerConfig({ jwks: jwksConfig(server.url, { cooldownMs: 0 }) }), () => t);
    await verifier.start();
    const token = a.sign(claims());
    await verifyAsync(verifier, token, [AUD]);
    server.setKeys([b.jwk]);
    // An unknown kid makes the source refetch; the new set lacks a's key.
    await expectInvalid(verifyAsync(verifier, createSigner().sign(claims()), [AUD]), 'unknown_kid');
    t += 1;
    await expectInvalid(verifyAsync(verifier, token, [AUD]), 'unknown_kid');
  });

  it.each([
    ['a JSON array', { body: '[]' }],
    ['an object without keys', { body: '{"jwks":[]}' }],
    ['keys not an array', { body: '{"keys":{}}' }],
    ['not JSON', { body: '<html>' }],
    ['HTTP 500', 'http500' as const],
  ])('treats %s as a failed fetch', async (_name, mode) => {
    const server = await jwksServer([]);
    server.setMode(mode);
    const { verifier, fetches } = build(issuerConfig({ jwks: jwksConfig(server.url) }));
    await verifier.start();
    expect(verifier.ready()).toBe(false);
    expect(await fetches('error')).toBe(1);
    expect(await fetches('ok')).toBe(0);
  });

  it('ignores keys not for signatures and keys with private material', async () => {
    const good = createSigner();
    const enc = createSigner();
    const priv = createSigner();
    const privJwk = { ...priv.privateKey.export({ format: 'jwk' }), kid: priv.kid, alg: 'ES256', use: 'sig' };
    const server = await jwksServer([
      good.jwk,
      { ...enc.jwk, use: 'enc' },
      privJwk,
      { ...createSigner().jwk, key_ops: ['encrypt'] },
    ]);
    const { verifier } = build(issuerConfig({ jwks: jwksConfig(server.url) }));
    await verifier.start();
    expect(verifier.ready()).toBe(true);
    await expect(verifyAsync(verifier, good.sign(claims()), [AUD])).resolves.toBeDefined();
    await expectInvalid(verifyAsync(verifier, enc.sign(claims()), [AUD]), 'unknown_kid');
    await expectInvalid(verifyAsync(verifier, priv.sign(claims()), [AUD]), 'unknown_kid');
  });

  it('refuses a set whose only key carries private material', async () => {
    const priv = createSigner();
    const server = await jwksServer([{ ...priv.privateKey.export({ format: 'jwk' }), kid: priv.kid }]);
    const { verifier, fetches } = build(issuerConfig({ jwks: jwksConfig(server.url) }));
    await verifier.start();
    expect(verifier.ready()).toBe(false);
    expect(await fetches('error')).toBe(1);
  });

  it('refuses to guess between several keys for a token without kid', async () => {
    const a = createSigner();
    const server = await jwksServer([a.jwk, createSigner().jwk]);
    const { verifier } = build(issuerConfig({ jwks: jwksConfig(server.url) }));
    await verifier.start();
    await expectInvalid(verifyAsync(verifier, a.sign(claims(), { kid: undefined }), [AUD]), 'kid_ambiguous');
  });

  it('fetches over https with a configured CA file, and fails without it', async () => {
    const signer = createSigner();
    const tls = { key: readFileSync(join(FIXTURES, 'jwks-server.key')), cert: readFileSync(join(FIXTURES, 'jwks-server.pem')) };
    const server = await jwksServer([signer.jwk], tls);
    const withCa = build(issuerConfig({ name: 'tls', jwks: jwksConfig(server.url, { caFile: join(FIXTURES, 'jwks-ca.pem') }) }));
    await withCa.verifier.start();
    expect(withCa.verifier.ready()).toBe(true);
    await expect(verifyAsync(withCa.verifier, signer.sign(claims()), [AUD])).resolves.toBeDefined();

    const withoutCa = build(issuerConfig({ name: 'tls', jwks: jwksConfig(server.url) }));
    await withoutCa.verifier.start();
    expect(withoutCa.verifier.ready()).toBe(false);
    expect(await withoutCa.fetches('error')).toBe(1);
  });

  it('rejects bad JWKS options eagerly', () => {
    const base = issuerConfig();
    expect(() => build({ ...base, jwks: jwksConfig('ftp://example.test/jwks') })).toThrow(/http/);
    expect(() => build({ ...base, jwks: jwksConfig('not a url') })).toThrow(/URL/);
    expect(() => build({ ...base, jwks: jwksConfig('http://127.0.0.1/jwks', { timeoutMs: 0 }) })).toThrow(/timeoutMs/);
    expect(() => build({ ...base, jwks: jwksConfig('https://127.0.0.1/jwks', { caFile: join(tmp, 'missing-ca.pem') }) })).toThrow(
      /missing-ca\.pem/,
    );
  });
});

describe('static keys', () => {
  it('verifies with keys from a JWKS file', async () => {
    const signer = createSigner();
    const file = join(tmp, 'keys.json');
    writeFileSync(file, JSON.stringify({ keys: [signer.jwk] }));
    const { verifier } = build(issuerConfig({ keysFile: file }));
    expect(verifier.ready()).toBe(true);
    expect((await verifyAsync(verifier, signer.sign(claims()), [AUD])).clientId).toBe('svc-a');
    await expectInvalid(verifyAsync(verifier, createSigner().sign(claims()), [AUD]), 'unknown_kid');
  });

  it('verifies with a PEM SPKI public key, for every configured alg the key fits', async () => {
    const rsa = createSigner('RS256');
    const file = join(tmp, 'rsa.pem');
    writeFileSync(file, rsa.publicKey.export({ type: 'spki', format: 'pem' }));
    const { verifier } = build(issuerConfig({ keysFile: file, algorithms: ['RS256', 'PS256'] }));
    // The PEM applies whatever the kid says: the issuer has one key.
    expect((await verifyAsync(verifier, rsa.sign(claims(), { kid: 'anything' }), [AUD])).clientId).toBe('svc-a');
    await expectInvalid(verifyAsync(verifier, createSigner('RS256').sign(claims()), [AUD]), 'signature');
  });

  it('refuses unreadable, private, unsuitable or dirty key files at build time', () => {
    const missing = join(tmp, 'nope.pem');
    expect(() => build(issuerConfig({ keysFile: missing }))).toThrow(missing);

    const ec = createSigner('ES256');
    const privFile = join(tmp, 'private.pem');
    writeFileSync(privFile, ec.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    expect(() => build(issuerConfig({ keysFile: privFile }))).toThrow(/PUBLIC KEY/);

    const pubFile = join(tmp, 'ec.pem');
    writeFileSync(pubFile, ec.publicKey.export({ type: 'spki', format: 'pem' }));
    expect(() => build(issuerConfig({ keysFile: pubFile, algorithms: ['RS256'] }))).toThrow(/fits none/);

    const dirty = join(tmp, 'dirty.json');
    writeFileSync(dirty, JSON.stringify({ keys: [ec.jwk, { ...ec.privateKey.export({ format: 'jwk' }), kid: 'p' }] }));
    expect(() => build(issuerConfig({ keysFile: dirty }))).toThrow(/private key material/);

    const junk = join(tmp, 'junk.txt');
    writeFileSync(junk, 'hello');
    expect(() => build(issuerConfig({ keysFile: junk }))).toThrow(/neither JSON nor PEM/);
  });
});

describe('HMAC shared secret', () => {
  const secret = new Uint8Array(Buffer.from('0123456789abcdef0123456789abcdef-long-enough'));

  it('verifies HS256 with the configured secret and refuses another secret', async () => {
    const { verifier } = build(issuerConfig({ algorithms: ['HS256'], secret: { env: 'X' }, resolvedSecret: secret }));
    expect((await verifyAsync(verifier, signHs256(claims(), secret), [AUD])).clientId).toBe('svc-a');
    await expectInvalid(verifyAsync(verifier, signHs256(claims(), new Uint8Array(48).fill(7)), [AUD]), 'signature');
    // An asymmetric alg cannot be used against a secret-only issuer.
    await expectInvalid(verifyAsync(verifier, createSigner().sign(claims()), [AUD]), 'alg');
  });

  it('refuses short secrets and HS algorithms without a secret at build time', () => {
    expect(() =>
      build(issuerConfig({ algorithms: ['HS256'], secret: { env: 'X' }, resolvedSecret: new Uint8Array(16) })),
    ).toThrow(/at least 32 bytes/);
    expect(() => build(issuerConfig({ algorithms: ['HS256', 'ES256'], jwks: jwksConfig('http://127.0.0.1/jwks') }))).toThrow(
      /shared secret/,
    );
    expect(() => build(issuerConfig({ algorithms: ['HS256'], secret: { env: 'X' } }))).toThrow(/not resolved/);
  });
});

describe('issuer config validation', () => {
  it.each([
    ['alg none', { algorithms: ['none'] }],
    ['an unknown alg', { algorithms: ['ES256K'] }],
    ['no algorithms', { algorithms: [] }],
    ['no audiences', { audiences: [] }],
    ['negative tolerance', { clockToleranceSec: -1 }],
    ['no client id claims', { clientIdClaims: [] }],
    ['two key sources', { keysFile: '/dev/null' }],
  ])('refuses %s', (_name, overrides) => {
    expect(() => build(issuerConfig({ jwks: jwksConfig('http://127.0.0.1/jwks'), ...overrides }))).toThrow();
  });

  it('refuses an issuer with no key source', () => {
    expect(() => build(issuerConfig())).toThrow(/exactly one/);
  });
});

describe('parseJwks', () => {
  it('keeps public signature keys and reports what it skipped', () => {
    const s = createSigner();
    const { jwks, skipped } = parseJwks({
      keys: [s.jwk, { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' }, 'junk', { ...s.jwk, kid: 'e', use: 'enc' }],
    });
    expect(jwks.keys).toEqual([s.jwk]);
    expect(skipped).toHaveLength(3);
  });
});
