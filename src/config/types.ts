/**
 * The validated shape of `gateway.yaml` after defaults are applied and secret references are
 * resolved. The JSON Schema in `schema.ts` is the source of truth for what the YAML may say;
 * these types mirror it for the code. Durations are in milliseconds or seconds as the field
 * name says, sizes in bytes.
 */

export type RiskTier = 'low' | 'medium' | 'high';

/** A secret is never written inline in YAML: it names an environment variable or a file. */
export type SecretRef = { env: string } | { file: string };

export interface ListenerConfig {
  /** Default 0.0.0.0 for the public listener, 127.0.0.1 for the admin listener. */
  host: string;
  /** Required in YAML; 0 picks a free port (tests). */
  port: number;
}

export interface ServerConfig {
  /** Public listener; the shipped example uses 8080. */
  public: ListenerConfig;
  /** Admin listener for /metrics, /healthz, /readyz; the shipped example uses 9090. */
  admin: ListenerConfig;
  /** Max time to finish in-flight requests on SIGTERM before exiting. Default 10000. */
  shutdownGraceMs: number;
  /** Default request body limit for routes that do not set one. Default 1 MiB. */
  maxBodyBytes: number;
  /** Max request header bytes (Node's maxHeaderSize). Default 16384. */
  maxHeaderBytes: number;
  /**
   * Whether X-Forwarded-For / -Proto / -Host from the client are believed and appended to
   * (true only behind a trusted load balancer). Default false: they are replaced.
   */
  trustForwardedHeaders: boolean;
  /** Client idle keep-alive timeout. Default 72000 (longer than common LB idle timeouts). */
  keepAliveTimeoutMs: number;
  /** Whole-request timeout for the client side (headers + body). Default 60000. */
  requestTimeoutMs: number;
}

export interface LoggingConfig {
  level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** One access log line per request at info. Default true. */
  accessLog: boolean;
}

export interface JwksConfig {
  uri: string;
  /** How long a fetched key set is fresh; refreshed in the background after. Default 600000. */
  cacheMaxAgeMs: number;
  /** Minimum time between refetches triggered by an unknown `kid`. Default 30000. */
  cooldownMs: number;
  /** Fetch timeout. Default 5000. */
  timeoutMs: number;
  /** Optional CA bundle file for an https JWKS endpoint. Absolute after load. */
  caFile?: string;
}

export interface IssuerConfig {
  /** Config name, used by routes (`auth.issuer`). */
  name: string;
  /** Exact `iss` value (RFC 7519 §4.1.1, compared as a string). */
  issuer: string;
  /** Accepted `aud` values unless the route names its own. At least one. */
  audiences: string[];
  /** JWS `alg` allowlist (RFC 8725 §3.1). HS* only with `secret`. */
  algorithms: string[];
  /** Exactly one key source. */
  jwks?: JwksConfig;
  /** Static keys: a JWKS JSON file or a PEM public key file. Absolute after load (relative paths are resolved against the config file's directory). */
  keysFile?: string;
  /** Shared secret for HS* algorithms. A `file` path is absolute after load. */
  secret?: SecretRef;
  /**
   * Resolved at load from `secret`; never logged. Env: the UTF-8 bytes of the value. File: its
   * bytes minus one trailing newline. At least 32/48/64 bytes for HS256/384/512 (RFC 7518 §3.2).
   */
  resolvedSecret?: Uint8Array;
  /** Clock tolerance for exp/nbf/iat, seconds. Default 30. */
  clockToleranceSec: number;
  /** Maximum age since `iat`, seconds. Optional. */
  maxTokenAgeSec?: number;
  /** Required JOSE `typ` (RFC 9068 §2.1: `at+jwt`). Optional. */
  typ?: string;
  /** Claims that must be present. Default ['exp']: tokens without exp are rejected (RFC 8725 §3.10). */
  requiredClaims: string[];
  /** Claims tried in order for the client identity. Default ['client_id', 'azp', 'sub']. */
  clientIdClaims: string[];
}

export interface UpstreamConfig {
  name: string;
  /** Base URL, http or https; its path is prefixed to the forwarded path. */
  url: string;
  /** Default 2000. */
  connectTimeoutMs: number;
  /** Time to the first response byte. Default 30000. */
  responseTimeoutMs: number;
  /** Max sockets per upstream in the keep-alive pool. Default 256. */
  maxSockets: number;
  /** Keep the client's Host header instead of the upstream's. Default false. */
  preserveHost: boolean;
  /** Only with an https URL. */
  tls?: {
    /** Absolute after load. */
    caFile?: string;
    /** Server name for SNI and certificate check, if it differs from the URL host. */
    servername?: string;
  };
}

export interface RouteAuthConfig {
  /** Name of an issuer in `issuers`. */
  issuer: string;
  /** All of these scopes are required (`scope` string or `scp` array, RFC 9068 §2.2.3). Default []. */
  scopes: string[];
  /** Overrides the issuer's audiences for this route. */
  audiences?: string[];
}

export interface RouteMatchConfig {
  /** Upper-case methods; empty means any method except CONNECT/TRACE. Default []. */
  methods: string[];
  /**
   * Exact path or template with `{name}` segments, e.g. `/v1/tenants/{tenant}/orders/{id}`.
   * Exactly one of `path` / `prefix` is set. Validated at load: no dot or empty segments, no
   * `%`, `?`, `#`; parameter names unique. No two routes have the same path/prefix shape and
   * host with overlapping methods.
   */
  path?: string;
  /** Prefix match on whole segments: `/public` matches `/public` and `/public/x`, not `/publicity`. */
  prefix?: string;
  /** Optional exact host (case-insensitive, port ignored). Stored lower-case. */
  host?: string;
}

/** What a rate limit or quota counts by. Identities come from verified token claims only. */
export type LimitKey = 'client' | 'route' | 'client_route' | 'partner' | 'ip';

/** A named rate-limit policy: `points` per `windowSeconds` (fixed window, as rate-limiter-flexible counts). */
export interface RateLimitPolicyConfig {
  name: string;
  points: number;
  windowSeconds: number;
  /** After the limit is hit, keep rejecting for this long. Default 0 (until the window ends). */
  blockSeconds: number;
  key: LimitKey;
}

/** A named quota: `points` per UTC calendar day or month, reset at the boundary. */
export interface QuotaConfig {
  name: string;
  points: number;
  period: 'day' | 'month';
  key: 'client' | 'partner';
}

/** Overrides a plan applies to named policies/quotas (e.g. a partner's higher limits). */
export interface PlanConfig {
  name: string;
  policies: Record<string, { points?: number; windowSeconds?: number; blockSeconds?: number }>;
  quotas: Record<string, { points?: number }>;
}

/** What a route of a tier does when the shared store (Redis) cannot be reached. */
export type StoreOutageMode = 'fail_closed' | 'fallback';

export interface RedisConfig {
  /** `redis://` or `rediss://` URL (standalone). Exactly one of url / sentinel / cluster. */
  url?: string;
  sentinel?: { name: string; nodes: { host: string; port: number }[] };
  cluster?: { nodes: { host: string; port: number }[] };
  /** Resolved at load from a secret reference; never logged. */
  password?: string;
  /** Prefix of every key tollgate writes. Default `tollgate:rl:`. */
  keyPrefix: string;
  /** Default 1000. */
  connectTimeoutMs: number;
  /** A Redis command slower than this counts as an outage for that request. Default 200. */
  commandTimeoutMs: number;
}

export interface RateLimitsConfig {
  /** Default `memory` (per instance); `redis` shares counts between instances. */
  store: 'memory' | 'redis';
  redis?: RedisConfig;
  policies: Record<string, RateLimitPolicyConfig>;
  quotas: Record<string, QuotaConfig>;
  /** Policy and quota names every route uses unless it names its own. Default []. */
  defaults: { policies: string[]; quotas: string[] };
  /** A client's partner: the first present claim in `claims`, else the `clients` mapping (client id → partner). */
  partners: { claims: string[]; clients: Record<string, string> };
  plans: Record<string, PlanConfig>;
  /** Plan per partner and per client (a client's own plan wins over its partner's). */
  partnerPlans: Record<string, string>;
  clientPlans: Record<string, string>;
  /** Store outage behaviour per risk tier. Default high: fail_closed, medium and low: fallback. */
  onStoreOutage: Record<RiskTier, StoreOutageMode>;
  /**
   * Proxies whose X-Forwarded-For is believed for `ip` keys (CIDRs). Default []: the peer address is the client.
   * `server.trustForwardedHeaders` does not change this: limiting needs a narrower trust.
   */
  trustedProxies: string[];
}

/** A route's limits: named policies and quotas (instead of the defaults) and the request's cost. */
/** What a route of a tier does while audit records cannot be stored (disk full, Redis down). */
export type AuditOutageMode = 'fail_closed' | 'fail_open';

export interface AuditFileSinkConfig {
  /** Directory of the JSONL segments. Absolute after load (relative to the config file). Default `audit`. */
  dir: string;
  /** File name prefix: `<prefix>.000001.jsonl`, `<prefix>.checkpoint.json`. Default `audit`. */
  prefix: string;
  /** fsync every this many ms; 0 = after every record. Default 100. */
  fsyncIntervalMs: number;
  /** Rotate to a new segment at this size. Default 64 MiB. */
  maxBytes: number;
}

export interface AuditConfig {
  /** Default true. */
  enabled: boolean;
  /** This instance's chain id. Default: the host name. Kept across restarts by continuing the stored chain. */
  chainId: string;
  /** Default `file`. */
  sink: 'file' | 'redis';
  file: AuditFileSinkConfig;
  /** Required when sink is redis; `keyPrefix` defaults to `{tollgate:audit}:` (a hash tag: one cluster slot). */
  redis?: RedisConfig;
  /** Ed25519 private key (PKCS#8 PEM) by reference; without it a fresh key per start (logged as a warning). */
  signingKey?: SecretRef;
  /** Resolved at load from `signingKey`; never logged. */
  resolvedSigningKey?: Uint8Array;
  /** JWKS file the public checkpoint keys are added to. Absolute after load. Default `<file.dir>/<prefix>.jwks.json` (file sink). */
  publicKeysFile?: string;
  /** Signed checkpoint every this many records (default 100) or this many ms with new records (default 10000). */
  checkpoint: { every: number; intervalMs: number };
  /** Per risk tier. Default low/medium fail_open, high fail_closed (always). */
  onUnavailable: Record<RiskTier, AuditOutageMode>;
  /** Records held in memory while the sink cannot store them; past it records are dropped and counted. Default 10000. */
  maxBufferedRecords: number;
  /** Redis sink: the chain's owner lease (one writer per chain id). Default 10000. */
  chainLeaseMs: number;
}

export interface RouteRateLimitConfig {
  policies: string[];
  quotas: string[];
  /** Points one request spends. Default 1. */
  cost: number;
}

/** What a route gives the policy beyond the request line: its JSON body, read whole and forwarded as received. */
export interface RoutePolicyConfig {
  /** Read the JSON body (up to maxBytes; more is 413, not JSON is 400) into `input.request.body`. */
  body?: { maxBytes: number };
}

/** The policy stage: one Rego decision per request, default deny. */
export interface PolicyConfig {
  /** Directory of Rego modules and data files, compiled by tollgate at start and on reload. Absolute after load. */
  dir?: string;
  /** Or a bundle built by `opa build -t wasm` (or `tollgate policy build`). Absolute after load. */
  bundle?: string;
  /** Rule path of the decision, e.g. `tollgate/decision` (data.tollgate.decision). */
  entrypoint: string;
  /** Reload when a file in `dir` changes. Default true. */
  watch: boolean;
  /** Run the modules' `test_*` rules before accepting a policy (dir only). Default true. */
  runTests: boolean;
  /** An evaluation slower than this is a deny (counted). Default 50. */
  timeoutMs: number;
  /** Request headers copied into `input.request.headers` (lower-case; never credentials). Default []. */
  headers: string[];
  /**
   * Headers the policy may set upstream through obligations (lower-case). A client's own header of one of these
   * names is always removed, so an upstream never mistakes a forged one for the policy's. Default [].
   */
  obligationHeaders: string[];
  /** Dual-control approval tokens: verified like access tokens, bound to the request, handed to the policy. */
  approvals?: {
    /** Name of an issuer in `issuers` that signs approval tokens. */
    issuer: string;
    /** Request header carrying approval tokens (repeated or comma-separated). Default `approval-token`. */
    header: string;
    /** At most this many are read. Default 5. */
    maxTokens: number;
  };
}

/** What each risk tier adds (issue: low = token, scopes, policy; medium adds a maximum token age; high a shorter one). */
export interface RiskTierConfig {
  /** Tokens older than this (since `iat`) are refused on routes of this tier. */
  maxTokenAgeSec?: number;
}

/** Idempotency keys and nonce + timestamp replay protection (draft-ietf-httpapi-idempotency-key-header). */
export interface HighRiskConfig {
  /** Default `memory` (one instance); `redis` holds across instances. */
  store: 'memory' | 'redis';
  /** Required with store redis; keyPrefix default `{tollgate:hr}:`. */
  redis?: RedisConfig;
  idempotency: {
    /** Default `idempotency-key`. */
    header: string;
    /** How long a completed request's response is kept for retries. Default 86400 (24 h). */
    ttlSeconds: number;
    /** How long a request may stay in flight before its outcome counts as unknown. Default 120. */
    leaseSeconds: number;
    /** Methods that need a key. Default POST, PUT, PATCH, DELETE. */
    methods: string[];
    /** Largest response body stored for replay. Default 1 MiB. */
    maxStoredBodyBytes: number;
    /** Response headers stored and replayed (lower-case). */
    storeHeaders: string[];
    /** Request headers that are part of the fingerprint besides method, path, query and body (lower-case). */
    fingerprintHeaders: string[];
    /** Memory store bound. Default 100000. */
    maxEntries: number;
  };
  replay: {
    /** Default `x-tollgate-nonce`. */
    nonceHeader: string;
    /** Default `x-tollgate-timestamp` (Unix seconds). */
    timestampHeader: string;
    /** Accepted distance of the timestamp from now. Default 300. */
    windowSeconds: number;
    /** Extra tolerance for clock skew. Default 5. */
    clockSkewSeconds: number;
    /** Memory store bound. Default 1000000. */
    maxEntries: number;
  };
}

/** A route's high-risk checks. Default: both on for routes of tier high (and requests the policy raised to high). */
export interface RouteHighRiskConfig {
  idempotency?: boolean;
  replay?: boolean;
  /** Use the token's `jti` as a one-time token (each token works once). Default false. */
  jtiOnce: boolean;
}

export interface RouteConfig {
  id: string;
  match: RouteMatchConfig;
  upstream: string;
  /** `false` only for explicitly public routes. */
  auth: RouteAuthConfig | false;
  /** Required in YAML: no default. */
  risk: RiskTier;
  /** Forward the client's Authorization header upstream. Default false. */
  forwardAuthorization: boolean;
  /** Default `server.maxBodyBytes`. */
  maxBodyBytes: number;
  /** Default: `rateLimits.defaults` with cost 1. */
  rateLimits: RouteRateLimitConfig;
  /** Default: nothing beyond the request line, token and route. */
  policy: RoutePolicyConfig;
  /** Unset members follow the tier. */
  highRisk: RouteHighRiskConfig;
  /** Where the route was declared, for error messages. */
  source?: { line: number };
}

export interface GatewayConfig {
  version: 1;
  server: ServerConfig;
  logging: LoggingConfig;
  issuers: Record<string, IssuerConfig>;
  upstreams: Record<string, UpstreamConfig>;
  routes: RouteConfig[];
  /**
   * Headers the gateway sets for upstreams (client ones with these names are removed first).
   * Lower-case, distinct, never a framing/credential/forwarding header. Default x-client-id,
   * x-client-scopes, x-token-issuer.
   */
  identityHeaders: { clientId: string; scopes: string; issuer: string };
  rateLimits: RateLimitsConfig;
  audit: AuditConfig;
  /** Absent: no policy stage (token and scopes decide). */
  policy?: PolicyConfig;
  riskTiers: Record<RiskTier, RiskTierConfig>;
  highRisk: HighRiskConfig;
  /** Absolute path of the file this was loaded from, if any. */
  sourcePath?: string;
  /** SHA-256 of the YAML text, for reload logs and audit. */
  sourceHash: string;
}
