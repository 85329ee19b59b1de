import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadConfigFile } from '../../src/config/load.js';
import type { RateLimitsConfig } from '../../src/config/types.js';
import { limitsConfig } from '../ratelimit/fixtures.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { brief, issuesOf, MINIMAL, SECRET_32, tempDir } from './fixtures.js';

/** `rateLimits` of a file that sets none: nothing limited, memory store, high tier fails closed. */
const NO_RATE_LIMITS: RateLimitsConfig = limitsConfig();

const files = tempDir({
  'keys/dev.jwks.json': '{"keys":[]}',
  'certs/ca.pem': '-----BEGIN CERTIFICATE-----\n',
  'secrets/hs.txt': `${SECRET_32}\n`,
});
afterAll(files.cleanup);

const FULL = `# A full configuration: every section, explicit values and defaults.
version: 1
server:
  public: { host: 0.0.0.0, port: 8080 }
  admin: { port: 0 }
  shutdownGraceMs: 5000
  trustForwardedHeaders: true
logging: { level: debug }
identityHeaders: { clientId: X-Caller-Id }
issuers:
  dev:
    issuer: http://127.0.0.1:8080/dev
    audiences: [https://api.example.com]
    algorithms: [ES256, EdDSA]
    jwks: { uri: "http://127.0.0.1:8080/dev/jwks", caFile: certs/ca.pem }
    maxTokenAgeSec: 3600
    typ: at+jwt
    requiredClaims: [sub]
  static:
    issuer: https://static.example.com
    audiences: [api]
    algorithms: [RS256]
    keysFile: ./keys/dev.jwks.json
  hmac-env:
    issuer: hmac-env
    audiences: [api]
    algorithms: [HS256]
    secret: { env: HS_SECRET }
  hmac-file:
    issuer: hmac-file
    audiences: [api]
    algorithms: [HS256]
    secret: { file: secrets/hs.txt }
    clockToleranceSec: 5
    clientIdClaims: [azp]
upstreams:
  orders:
    url: http://127.0.0.1:3001
  billing:
    url: https://billing.internal:8443/api
    connectTimeoutMs: 500
    responseTimeoutMs: 1000
    maxSockets: 8
    preserveHost: true
    tls: { caFile: certs/ca.pem, servername: billing.internal }
routes:
  - id: orders-read
    match:
      methods: [GET, HEAD]
      path: /v1/tenants/{tenant}/orders/{id}
      host: API.Example.com
    upstream: orders
    auth: { issuer: dev, scopes: ["orders:read"] }
    risk: low
  - id: orders-write
    match: { methods: [POST], path: "/v1/tenants/{tenant}/orders" }
    upstream: orders
    auth: { issuer: static, scopes: ["orders:write"], audiences: [orders-api] }
    risk: high
    forwardAuthorization: true
    maxBodyBytes: 65536
  - id: billing
    match: { prefix: /billing }
    upstream: billing
    auth: { issuer: hmac-env }
    risk: medium
  - id: public
    match: { prefix: / }
    upstream: orders
    auth: false
    risk: low
`;

describe('loadConfig: a valid configuration', () => {
  const config = loadConfig(FULL, { filePath: files.path('gateway.yaml'), env: { HS_SECRET: SECRET_32 } });

  it('produces the full GatewayConfig with defaults applied and names filled in', () => {
    const expected: Omit<GatewayConfig, 'issuers' | 'sourceHash'> = {
      version: 1,
      server: {
        public: { host: '0.0.0.0', port: 8080 },
        admin: { host: '127.0.0.1', port: 0 },
        shutdownGraceMs: 5000,
        maxBodyBytes: 1_048_576,
        maxHeaderBytes: 16_384,
        trustForwardedHeaders: true,
        keepAliveTimeoutMs: 72_000,
        requestTimeoutMs: 60_000,
      },
      logging: { level: 'debug', accessLog: true },
      identityHeaders: { clientId: 'x-caller-id', scopes: 'x-client-scopes', issuer: 'x-token-issuer' },
      rateLimits: NO_RATE_LIMITS,
      upstreams: {
        orders: { name: 'orders', url: 'http://127.0.0.1:3001', connectTimeoutMs: 2000, responseTimeoutMs: 30_000, maxSockets: 256, preserveHost: false },
        billing: {
          name: 'billing',
          url: 'https://billing.internal:8443/api',
          connectTimeoutMs: 500,
          responseTimeoutMs: 1000,
          maxSockets: 8,
          preserveHost: true,
          tls: { caFile: files.path('certs/ca.pem'), servername: 'billing.internal' },
        },
      },
      routes: [
        {
          id: 'orders-read',
          match: { methods: ['GET', 'HEAD'], path: '/v1/tenants/{tenant}/orders/{id}', host: 'api.example.com' },
          upstream: 'orders',
          auth: { issuer: 'dev', scopes: ['orders:read'] },
          risk: 'low',
          forwardAuthorization: false,
          maxBodyBytes: 1_048_576,
          rateLimits: { policies: [], quotas: [], cost: 1 },
          policy: {},
          highRisk: { jtiOnce: false },
          source: { line: 47 },
        },
        {
          id: 'orders-write',
          match: { methods: ['POST'], path: '/v1/tenants/{tenant}/orders' },
          upstream: 'orders',
          auth: { issuer: 'static', scopes: ['orders:write'], audiences: ['orders-api'] },
          risk: 'high',
          forwardAuthorization: true,
          maxBodyBytes: 65536,
          rateLimits: { policies: [], quotas: [], cost: 1 },
          policy: {},
          highRisk: { jtiOnce: false },
          source: { line: 55 },
        },
        {
          id: 'billing',
          match: { methods: [], prefix: '/billing' },
          upstream: 'billing',
          auth: { issuer: 'hmac-env', scopes: [] },
          risk: 'medium',
          forwardAuthorization: false,
          maxBodyBytes: 1_048_576,
          rateLimits: { policies: [], quotas: [], cost: 1 },
          policy: {},
          highRisk: { jtiOnce: false },
          source: { line: 62 },
        },
        {
          id: 'public',
          match: { methods: [], prefix: '/' },
          upstream: 'orders',
          auth: false,
          risk: 'low',
          forwardAuthorization: false,
          maxBodyBytes: 1_048_576,
          rateLimits: { policies: [], quotas: [], cost: 1 },
          policy: {},
          highRisk: { jtiOnce: false },
          source: { line: 67 },
        },
      ],
      // No audit section: the file sink in <config dir>/audit, chain id = host name, high tier fails closed.
      audit: {
        enabled: true,
        chainId: hostname().replace(/[^A-Za-z0-9_.:-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64) || 'tollgate',
        sink: 'file',
        file: { dir: files.path('audit'), prefix: 'audit', fsyncIntervalMs: 100, maxBytes: 67_108_864 },
        publicKeysFile: files.path('audit/audit.jwks.json'),
        checkpoint: { every: 100, intervalMs: 10_000 },
        onUnavailable: { low: 'fail_open', medium: 'fail_open', high: 'fail_closed' },
        maxBufferedRecords: 10_000,
        chainLeaseMs: 10_000,
      },
      // Tiers: medium tokens at most an hour old, high five minutes.
      riskTiers: { low: {}, medium: { maxTokenAgeSec: 3600 }, high: { maxTokenAgeSec: 300 } },
      highRisk: {
        store: 'memory',
        idempotency: {
          header: 'idempotency-key',
          ttlSeconds: 86_400,
          leaseSeconds: 120,
          methods: ['POST', 'PUT', 'PATCH', 'DELETE'],
          maxStoredBodyBytes: 1_048_576,
          storeHeaders: ['content-type', 'content-encoding', 'content-language', 'location', 'etag', 'last-modified', 'cache-control', 'retry-after'],
          fingerprintHeaders: [],
          maxEntries: 100_000,
        },
        replay: { nonceHeader: 'x-tollgate-nonce', timestampHeader: 'x-tollgate-timestamp', windowSeconds: 300, clockSkewSeconds: 5, maxEntries: 1_000_000 },
      },
      sourcePath: files.path('gateway.yaml'),
    };
    const { issuers, sourceHash, ...rest } = config;
    expect(rest).toStrictEqual(expected);
    expect(Object.keys(issuers)).toEqual(['dev', 'static', 'hmac-env', 'hmac-file']);
    expect(sourceHash).toBe(createHash('sha256').update(FULL).digest('hex'));
  });

  it('applies issuer defaults, keeps exp required and resolves key files against the file directory', () => {
    expect(config.issuers['dev']).toStrictEqual({
      name: 'dev',
      issuer: 'http://127.0.0.1:8080/dev',
      audiences: ['https://api.example.com'],
      algorithms: ['ES256', 'EdDSA'],
      jwks: { uri: 'http://127.0.0.1:8080/dev/jwks', cacheMaxAgeMs: 600_000, cooldownMs: 30_000, timeoutMs: 5000, caFile: files.path('certs/ca.pem') },
      clockToleranceSec: 30,
      maxTokenAgeSec: 3600,
      typ: 'at+jwt',
      requiredClaims: ['exp', 'sub'],
      clientIdClaims: ['client_id', 'azp', 'sub'],
    });
    expect(config.issuers['static']).toStrictEqual({
      name: 'static',
      issuer: 'https://static.example.com',
      audiences: ['api'],
      algorithms: ['RS256'],
      keysFile: files.path('keys/dev.jwks.json'),
      clockToleranceSec: 30,
      requiredClaims: ['exp'],
      clientIdClaims: ['client_id', 'azp', 'sub'],
    });
  });

  it('resolves secrets from the environment and from files (one trailing newline dropped)', () => {
    const env = config.issuers['hmac-env'];
    expect(env?.secret).toEqual({ env: 'HS_SECRET' });
    expect(Buffer.from(env?.resolvedSecret ?? []).toString()).toBe(SECRET_32);
    const file = config.issuers['hmac-file'];
    expect(file?.secret).toEqual({ file: files.path('secrets/hs.txt') });
    expect(Buffer.from(file?.resolvedSecret ?? []).toString()).toBe(SECRET_32);
    expect(file?.clockToleranceSec).toBe(5);
    expect(file?.clientIdClaims).toEqual(['azp']);
  });

  it('uses baseDir for relative paths when given, and the file directory otherwise', () => {
    const text = MINIMAL.replace('upstreams:', 'issuers:\n  s:\n    issuer: s\n    audiences: [a]\n    algorithms: [RS256]\n    keysFile: dev.jwks.json\nupstreams:');
    const c = loadConfig(text, { baseDir: files.path('keys'), env: {} });
    expect(c.issuers['s']?.keysFile).toBe(files.path('keys/dev.jwks.json'));
    expect(c.sourcePath).toBeUndefined();
    expect(brief(issuesOf(text, { filePath: files.path('gateway.yaml') }))).toEqual([
      `10:15 issuers.s.keysFile file not found: ${files.path('dev.jwks.json')}`,
    ]);
  });
});

describe('loadConfig: defaults of a minimal configuration', () => {
  it('fills every optional section', () => {
    const c = loadConfig(MINIMAL, { env: {} });
    expect(c.server).toStrictEqual({
      public: { host: '0.0.0.0', port: 8080 },
      admin: { host: '127.0.0.1', port: 9090 },
      shutdownGraceMs: 10_000,
      maxBodyBytes: 1_048_576,
      maxHeaderBytes: 16_384,
      trustForwardedHeaders: false,
      keepAliveTimeoutMs: 72_000,
      requestTimeoutMs: 60_000,
    });
    expect(c.logging).toStrictEqual({ level: 'info', accessLog: true });
    expect(c.identityHeaders).toStrictEqual({ clientId: 'x-client-id', scopes: 'x-client-scopes', issuer: 'x-token-issuer' });
    expect(c.issuers).toStrictEqual({});
    expect(c.rateLimits).toStrictEqual(NO_RATE_LIMITS);
    expect(c.routes[0]).toStrictEqual({
      id: 'health',
      match: { methods: [], path: '/health' },
      upstream: 'orders',
      auth: false,
      risk: 'low',
      forwardAuthorization: false,
      maxBodyBytes: 1_048_576,
      rateLimits: { policies: [], quotas: [], cost: 1 },
      policy: {},
      highRisk: { jtiOnce: false },
      source: { line: 8 },
    });
  });

  it('gives routes the server body limit when they set none', () => {
    const c = loadConfig(MINIMAL.replace('  admin:', '  maxBodyBytes: 1024\n  admin:'), { env: {} });
    expect(c.routes[0]?.maxBodyBytes).toBe(1024);
  });
});

describe('secrets', () => {
  const hmacIssuer = (secret: string, algorithms = '[HS256]') =>
    MINIMAL.replace('upstreams:', `issuers:\n  hs:\n    issuer: hs\n    audiences: [api]\n    algorithms: ${algorithms}\n    secret: ${secret}\nupstreams:`);
  // In hmacIssuer documents `secret:` is on line 10 and `algorithms:` on line 9. Errors about a
  // mapping point at its key (column 5); errors about a scalar point at the scalar.

  it('rejects an inline secret string without echoing it', () => {
    const issues = issuesOf(hmacIssuer('super-secret-value-0123456789abcdef'));
    expect(brief(issues)).toEqual([
      '10:13 issuers.hs.secret must be { env: NAME } or { file: PATH }; secrets are never written inline',
    ]);
    expect(JSON.stringify(issues)).not.toContain('super-secret-value');
  });

  it('rejects a secret object with both or neither of env and file, and unknown keys', () => {
    expect(brief(issuesOf(hmacIssuer('{ env: A, file: b }')))).toEqual([
      '10:5 issuers.hs.secret must be { env: NAME } or { file: PATH }; secrets are never written inline',
    ]);
    expect(brief(issuesOf(hmacIssuer('{}')))).toEqual([
      '10:5 issuers.hs.secret must be { env: NAME } or { file: PATH }; secrets are never written inline',
    ]);
    expect(brief(issuesOf(hmacIssuer('{ value: abc }')))).toEqual([
      '10:15 issuers.hs.secret.value unknown key "value"; allowed keys: env, file (must be { env: NAME } or { file: PATH }; secrets are never written inline)',
    ]);
  });

  it('reports a missing or empty environment variable at secret.env', () => {
    expect(brief(issuesOf(hmacIssuer('{ env: HS_SECRET }')))).toEqual(['10:20 issuers.hs.secret.env environment variable HS_SECRET is not set']);
    expect(brief(issuesOf(hmacIssuer('{ env: HS_SECRET }'), { env: { HS_SECRET: '' } }))).toEqual([
      '10:20 issuers.hs.secret.env environment variable HS_SECRET is empty',
    ]);
  });

  it('reads the environment from opts.env, not process.env', () => {
    const c = loadConfig(hmacIssuer('{ env: HS_SECRET }'), { env: { HS_SECRET: SECRET_32 } });
    expect(c.issuers['hs']?.resolvedSecret).toEqual(new Uint8Array(Buffer.from(SECRET_32)));
  });

  it('reports a missing or empty secret file', () => {
    const dir = tempDir({ 'empty.txt': '\n' });
    try {
      expect(brief(issuesOf(hmacIssuer('{ file: nope.txt }'), { baseDir: dir.dir }))).toEqual([
        `10:21 issuers.hs.secret.file file not found: ${dir.path('nope.txt')}`,
      ]);
      expect(brief(issuesOf(hmacIssuer('{ file: empty.txt }'), { baseDir: dir.dir }))).toEqual([
        `10:21 issuers.hs.secret.file secret file ${dir.path('empty.txt')} is empty`,
      ]);
    } finally {
      dir.cleanup();
    }
  });

  it('requires a secret at least as long as the HMAC output (RFC 7518 §3.2)', () => {
    expect(brief(issuesOf(hmacIssuer('{ env: S }', '[HS256, HS512]'), { env: { S: SECRET_32 } }))).toEqual([
      '10:5 issuers.hs.secret the secret is 32 bytes; HS512 needs at least 64 (RFC 7518 §3.2)',
    ]);
    expect(brief(issuesOf(hmacIssuer('{ env: S }'), { env: { S: 'short' } }))).toEqual([
      '10:5 issuers.hs.secret the secret is 5 bytes; HS256 needs at least 32 (RFC 7518 §3.2)',
    ]);
  });

  it('allows HS* only with secret, and secret only with HS*', () => {
    expect(brief(issuesOf(hmacIssuer('{ env: S }', '[HS256, RS256]'), { env: { S: SECRET_32 } }))).toEqual([
      '9:25 issuers.hs.algorithms[1] RS256 cannot be used with "secret": a shared secret only verifies HS256, HS384 or HS512',
    ]);
    const jwksWithHs = hmacIssuer('{ env: S }', '[HS384]').replace('secret: { env: S }', 'jwks: { uri: "https://idp.example.com/jwks" }');
    expect(brief(issuesOf(jwksWithHs))).toEqual([
      '9:18 issuers.hs.algorithms[0] HS384 needs the "secret" key source (HMAC keys are shared secrets)',
    ]);
  });
});

describe('loadConfigFile', () => {
  it('loads a file, names it in sourcePath and resolves paths next to it', () => {
    const dir = tempDir({
      'conf/gateway.yaml': MINIMAL.replace('upstreams:', 'issuers:\n  s:\n    issuer: s\n    audiences: [a]\n    algorithms: [RS256]\n    keysFile: ../keys.pem\nupstreams:'),
      'keys.pem': '-----BEGIN PUBLIC KEY-----\n',
    });
    try {
      const c = loadConfigFile(dir.path('conf/gateway.yaml'), { env: {} });
      expect(c.sourcePath).toBe(dir.path('conf/gateway.yaml'));
      expect(c.issuers['s']?.keysFile).toBe(dir.path('keys.pem'));
    } finally {
      dir.cleanup();
    }
  });

  it('reports an unreadable file as a ConfigError naming it', () => {
    const missing = files.path('does-not-exist.yaml');
    expect(() => loadConfigFile(missing)).toThrow(ConfigError);
    expect(() => loadConfigFile(missing)).toThrow(`${missing} (document): file not found`);
  });
});
