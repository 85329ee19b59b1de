/**
 * Defaults and closed vocabularies for `gateway.yaml`, in one place: the JSON Schema (`schema.ts`)
 * publishes them as `default`/`enum`, and the loader (`normalize.ts`) applies them, so the two
 * cannot drift. The values match the comments in `types.ts`.
 */

export const DEFAULT_PUBLIC_HOST = '0.0.0.0';
/** The admin listener serves /metrics and health; loopback unless the operator says otherwise. */
export const DEFAULT_ADMIN_HOST = '127.0.0.1';

export const SERVER_DEFAULTS = {
  shutdownGraceMs: 10_000,
  maxBodyBytes: 1_048_576,
  maxHeaderBytes: 16_384,
  trustForwardedHeaders: false,
  keepAliveTimeoutMs: 72_000,
  requestTimeoutMs: 60_000,
} as const;

export const LOGGING_DEFAULTS = { level: 'info', accessLog: true } as const;

export const IDENTITY_HEADER_DEFAULTS = {
  clientId: 'x-client-id',
  scopes: 'x-client-scopes',
  issuer: 'x-token-issuer',
} as const;

export const JWKS_DEFAULTS = { cacheMaxAgeMs: 600_000, cooldownMs: 30_000, timeoutMs: 5_000 } as const;

export const ISSUER_DEFAULTS = {
  clockToleranceSec: 30,
  requiredClaims: ['exp'],
  clientIdClaims: ['client_id', 'azp', 'sub'],
} as const;

export const UPSTREAM_DEFAULTS = {
  connectTimeoutMs: 2_000,
  responseTimeoutMs: 30_000,
  maxSockets: 256,
  preserveHost: false,
} as const;

export const ROUTE_DEFAULTS = { forwardAuthorization: false } as const;

export const RATE_LIMIT_DEFAULTS = {
  store: 'memory',
  blockSeconds: 0,
  cost: 1,
  onStoreOutage: { low: 'fallback', medium: 'fallback', high: 'fail_closed' },
} as const;

export const REDIS_DEFAULTS = { keyPrefix: 'tollgate:rl:', connectTimeoutMs: 1_000, commandTimeoutMs: 200 } as const;

export const AUDIT_DEFAULTS = {
  enabled: true,
  sink: 'file',
  file: { dir: 'audit', prefix: 'audit', fsyncIntervalMs: 100, maxBytes: 64 * 1024 * 1024 },
  // The braces are a Redis Cluster hash tag: the stream and both hashes land in one slot, so the append script
  // may touch all three (redis-sink.ts).
  redisKeyPrefix: '{tollgate:audit}:', // = DEFAULT_REDIS_AUDIT_PREFIX (a test keeps them equal)
  checkpoint: { every: 100, intervalMs: 10_000 },
  onUnavailable: { low: 'fail_open', medium: 'fail_open', high: 'fail_closed' },
  maxBufferedRecords: 10_000,
  chainLeaseMs: 10_000,
} as const;

export const POLICY_DEFAULTS = {
  entrypoint: 'tollgate/decision',
  watch: true,
  runTests: true,
  timeoutMs: 50,
  approvalHeader: 'approval-token',
  maxApprovalTokens: 5,
} as const;

/** Medium: a token at most an hour old; high: five minutes (a stolen token is useless sooner where it matters). */
export const RISK_TIER_DEFAULTS = {
  low: {},
  medium: { maxTokenAgeSec: 3600 },
  high: { maxTokenAgeSec: 300 },
} as const;

export const HIGH_RISK_DEFAULTS = {
  store: 'memory',
  redisKeyPrefix: '{tollgate:hr}:',
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
  replay: {
    nonceHeader: 'x-tollgate-nonce',
    timestampHeader: 'x-tollgate-timestamp',
    windowSeconds: 300,
    clockSkewSeconds: 5,
    maxEntries: 1_000_000,
  },
} as const;

export const LIMIT_KEYS = ['client', 'route', 'client_route', 'partner', 'ip'] as const;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const RISK_TIERS = ['low', 'medium', 'high'] as const;

/** Methods a route may list. CONNECT and TRACE are never routed (RFC 9110 §9.3.6, §9.3.8). */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** JWS algorithms the gateway accepts in an allowlist (RFC 7518 §3.1, RFC 8037, RFC 9864). Never `none`. */
export const JWS_ALGORITHMS = [
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA', 'Ed25519',
  'HS256', 'HS384', 'HS512',
] as const;

/** RFC 7518 §3.2: an HMAC key must be at least as long as the hash output. */
export const HMAC_MIN_SECRET_BYTES: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 };

/** Largest delay Node's timers honour (2^31 - 1 ms); larger values fire immediately. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Names of issuers and upstreams (map keys) and route ids. They appear in logs and as metric
 * labels, so they are short and plain; a leading letter or digit also rules out `__proto__`.
 */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$';

/** An HTTP field name (RFC 9110 §5.1 token). */
export const HEADER_NAME_PATTERN = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";

/**
 * Headers the gateway may not use for identity: framing, hop-by-hop, credentials and
 * forwarding headers. Overwriting any of these would break requests or leak/forge data.
 */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'host', 'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'content-length',
  'content-type', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade',
  'proxy-connection', 'forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host',
  'x-request-id',
]);
