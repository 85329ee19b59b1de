/**
 * JSON Schema (draft-07, the draft editors support best) for `gateway.yaml` as users write it.
 * It is the source of truth for what the YAML may say: every object is closed
 * (`additionalProperties: false`), every property has a title and description for editor
 * completion, and `default`s come from `defaults.ts`, which the loader also applies.
 *
 * `errorMessage` is the annotation VS Code and yaml-language-server show instead of the generic
 * message for a failing keyword of that (sub)schema; the loader uses it the same way. Constraints
 * JSON Schema cannot express (references between sections, duplicate routes, files, secrets) are
 * checked by `semantic.ts`.
 */
import {
  DEFAULT_ADMIN_HOST,
  DEFAULT_PUBLIC_HOST,
  HEADER_NAME_PATTERN,
  HTTP_METHODS,
  IDENTITY_HEADER_DEFAULTS,
  ISSUER_DEFAULTS,
  JWKS_DEFAULTS,
  JWS_ALGORITHMS,
  LOGGING_DEFAULTS,
  LOG_LEVELS,
  LIMIT_KEYS,
  MAX_TIMER_MS,
  NAME_PATTERN,
  RATE_LIMIT_DEFAULTS,
  REDIS_DEFAULTS,
  AUDIT_DEFAULTS,
  POLICY_DEFAULTS,
  HIGH_RISK_DEFAULTS,
  RISK_TIER_DEFAULTS,
  RISK_TIERS,
  ROUTE_DEFAULTS,
  SERVER_DEFAULTS,
  UPSTREAM_DEFAULTS,
} from './defaults.js';
import { PATH_PREFIX_PATTERN, PATH_TEMPLATE_PATTERN } from './path-template.js';

export type JsonSchema = { readonly [key: string]: unknown };

/** Hostname (RFC 1123 labels) or a bracketed IPv6 literal; no port. */
export const HOSTNAME_PATTERN =
  '^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\\[[0-9A-Fa-f:.]+\\]$';
/** Address to listen on: a hostname, an IPv4 address or an (unbracketed) IPv6 address such as `::`. */
export const LISTEN_HOST_PATTERN =
  '^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*$';
/** Absolute http(s) URL without query or fragment; credentials are rejected at load. */
export const HTTP_URL_PATTERN = '^https?://[^\\s?#]+$';
const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';
const NAME_MESSAGE =
  'must be a name of up to 64 letters, digits, "_", ".", ":" or "-", starting with a letter or digit';
const HOST_MESSAGE = 'must be a hostname or a bracketed IPv6 address, without port';
/** RFC 6749 §3.3 scope-token. */
const SCOPE_PATTERN = '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$';

const text = (title: string, description: string) => ({ title, description });

function integer(title: string, description: string, min: number, max: number, def?: number): JsonSchema {
  return { ...text(title, description), type: 'integer', minimum: min, maximum: max, ...(def === undefined ? {} : { default: def }) };
}
const ms = (title: string, description: string, def?: number, min = 1) =>
  integer(title, description, min, MAX_TIMER_MS, def);
const bytes = (title: string, description: string, def: number | undefined, min = 0) =>
  integer(title, description, min, Number.MAX_SAFE_INTEGER, def);

function bool(title: string, description: string, def: boolean): JsonSchema {
  return { ...text(title, description), type: 'boolean', default: def };
}

function str(title: string, description: string, extra: Record<string, unknown> = {}): JsonSchema {
  return { ...text(title, description), type: 'string', minLength: 1, ...extra };
}

function strings(title: string, description: string, item: JsonSchema, extra: Record<string, unknown> = {}): JsonSchema {
  return { ...text(title, description), type: 'array', items: item, uniqueItems: true, ...extra };
}

function object(
  title: string,
  description: string,
  properties: Record<string, JsonSchema>,
  required: string[] = [],
  extra: Record<string, unknown> = {},
): JsonSchema {
  return {
    ...text(title, description),
    type: 'object',
    additionalProperties: false,
    ...(required.length > 0 ? { required } : {}),
    properties,
    ...extra,
  };
}

/** `errorMessage` lives in its own `allOf` entry so it names only this constraint. */
function exactlyOne(keys: string[], errorMessage: string): JsonSchema {
  return { allOf: [{ oneOf: keys.map((k) => ({ required: [k] })), errorMessage }] };
}

const filePath = (title: string, description: string) =>
  str(title, `${description} A relative path is resolved against the directory of the configuration file.`);

function listener(which: 'public' | 'admin', host: string, description: string): JsonSchema {
  return object(
    which === 'public' ? 'Public listener' : 'Admin listener',
    description,
    {
      host: str('Listen address', `Interface address or hostname to bind. Default ${host}.`, {
        pattern: LISTEN_HOST_PATTERN,
        errorMessage: 'must be a hostname or an IP address',
        default: host,
      }),
      port: integer('Listen port', 'TCP port, 0-65535 (0 picks a free port, for tests).', 0, 65535),
    },
    ['port'],
  );
}

const server = object(
  'Server',
  'Listeners, limits and timeouts of the gateway process.',
  {
    public: listener('public', DEFAULT_PUBLIC_HOST, 'Listener for proxied client traffic, e.g. { host: 0.0.0.0, port: 8080 }.'),
    admin: listener('admin', DEFAULT_ADMIN_HOST, 'Listener for /metrics, /healthz and /readyz, e.g. { host: 127.0.0.1, port: 9090 }. Keep it off the public network.'),
    shutdownGraceMs: ms('Shutdown grace (ms)', 'Maximum time to finish in-flight requests after SIGTERM before exiting.', SERVER_DEFAULTS.shutdownGraceMs, 0),
    maxBodyBytes: bytes('Default body limit (bytes)', 'Request body limit for routes that do not set maxBodyBytes. Default 1 MiB.', SERVER_DEFAULTS.maxBodyBytes),
    maxHeaderBytes: integer('Header limit (bytes)', "Maximum total size of request headers (Node's maxHeaderSize).", 1024, 1_048_576, SERVER_DEFAULTS.maxHeaderBytes),
    trustForwardedHeaders: bool('Trust X-Forwarded-* headers', 'Believe and append to X-Forwarded-For/-Proto/-Host sent by the client. Only true behind a trusted load balancer; when false they are replaced.', SERVER_DEFAULTS.trustForwardedHeaders),
    keepAliveTimeoutMs: ms('Keep-alive timeout (ms)', 'How long an idle client connection is kept open. Longer than common load-balancer idle timeouts by default.', SERVER_DEFAULTS.keepAliveTimeoutMs),
    requestTimeoutMs: ms('Request timeout (ms)', 'Time allowed to receive a whole client request (headers and body).', SERVER_DEFAULTS.requestTimeoutMs),
  },
  ['public', 'admin'],
);

const logging = object(
  'Logging',
  'Log level and access log.',
  {
    level: { ...text('Log level', 'Minimum level written.'), type: 'string', enum: [...LOG_LEVELS], default: LOGGING_DEFAULTS.level },
    accessLog: bool('Access log', 'Write one access log line per request at info level.', LOGGING_DEFAULTS.accessLog),
  },
  [],
  { default: { ...LOGGING_DEFAULTS } },
);

const headerName = (title: string, def: string) =>
  str(title, `Header name (case-insensitive; stored lower-case). Default ${def}.`, {
    pattern: HEADER_NAME_PATTERN,
    errorMessage: 'must be an HTTP header name',
    default: def,
  });

const identityHeaders = object(
  'Identity headers',
  'Headers the gateway sets on upstream requests for authenticated routes. Client-sent headers with these names are always removed first.',
  {
    clientId: headerName('Client id header', IDENTITY_HEADER_DEFAULTS.clientId),
    scopes: headerName('Scopes header', IDENTITY_HEADER_DEFAULTS.scopes),
    issuer: headerName('Issuer header', IDENTITY_HEADER_DEFAULTS.issuer),
  },
  [],
  { default: { ...IDENTITY_HEADER_DEFAULTS } },
);

const algorithm = {
  ...text('JWS algorithm', 'One accepted `alg` value.'),
  type: 'string',
  enum: [...JWS_ALGORITHMS],
  errorMessage: `must be one of ${JWS_ALGORITHMS.join(', ')} ("none" is never accepted)`,
};

const claimNames = (title: string, description: string, def: readonly string[], minItems: number) =>
  strings(title, description, str('Claim name', 'A JWT claim name.'), { default: [...def], minItems });

const issuer = object(
  'Issuer',
  'A token issuer. The map key is the name routes use in auth.issuer. Set exactly one key source: jwks, keysFile or secret.',
  {
    issuer: str('Issuer (iss)', 'Exact `iss` claim value, compared as a string (RFC 7519 §4.1.1).'),
    audiences: strings('Audiences', 'Accepted `aud` values, unless a route names its own. At least one.', str('Audience', 'An accepted `aud` value.'), { minItems: 1 }),
    algorithms: strings('Algorithms', 'JWS `alg` allowlist (RFC 8725 §3.1). HS256/384/512 only together with `secret`.', algorithm, { minItems: 1 }),
    jwks: object(
      'JWKS endpoint',
      'Fetch verification keys from a JWKS URI.',
      {
        uri: str('JWKS URI', 'Absolute http(s) URL of the JSON Web Key Set.', {
          pattern: HTTP_URL_PATTERN,
          format: 'uri',
          errorMessage: 'must be an absolute http:// or https:// URL without query or fragment',
        }),
        cacheMaxAgeMs: ms('Cache max age (ms)', 'How long a fetched key set is fresh; it is refreshed in the background after.', JWKS_DEFAULTS.cacheMaxAgeMs),
        cooldownMs: ms('Refetch cooldown (ms)', 'Minimum time between refetches triggered by an unknown `kid`.', JWKS_DEFAULTS.cooldownMs, 0),
        timeoutMs: ms('Fetch timeout (ms)', 'Timeout for one JWKS fetch.', JWKS_DEFAULTS.timeoutMs),
        caFile: filePath('CA file', 'PEM CA bundle used to verify an https JWKS endpoint.'),
      },
      ['uri'],
    ),
    keysFile: filePath('Keys file', 'Static verification keys: a JWKS JSON file or a PEM public key.'),
    secret: {
      ...object(
        'Shared secret',
        'HMAC secret for HS* algorithms, by reference: { env: NAME } or { file: PATH }. Secrets are never written inline. A file may end with one newline, which is not part of the secret.',
        {
          env: str('Environment variable', 'Name of an environment variable holding the secret; it must be set and non-empty.', { pattern: ENV_NAME_PATTERN, errorMessage: 'must be an environment variable name' }),
          file: filePath('Secret file', 'File whose bytes are the secret.'),
        },
      ),
      minProperties: 1,
      maxProperties: 1,
      errorMessage: 'must be { env: NAME } or { file: PATH }; secrets are never written inline',
    },
    clockToleranceSec: integer('Clock tolerance (s)', 'Allowed clock skew for exp, nbf and iat.', 0, 600, ISSUER_DEFAULTS.clockToleranceSec),
    maxTokenAgeSec: integer('Maximum token age (s)', 'Reject tokens whose `iat` is older than this. Optional.', 1, MAX_TIMER_MS),
    typ: str('Required typ', 'Required JOSE `typ` header, e.g. at+jwt (RFC 9068 §2.1). Optional.'),
    requiredClaims: claimNames('Required claims', 'Claims that must be present. `exp` is always required, even if not listed (RFC 8725 §3.10).', ISSUER_DEFAULTS.requiredClaims, 0),
    clientIdClaims: claimNames('Client id claims', 'Claims tried in order for the client identity.', ISSUER_DEFAULTS.clientIdClaims, 1),
  },
  ['issuer', 'audiences', 'algorithms'],
  exactlyOne(['jwks', 'keysFile', 'secret'], 'must set exactly one key source: jwks, keysFile or secret'),
);

const upstream = object(
  'Upstream',
  'A backend service. The map key is the name routes use in `upstream`.',
  {
    url: str('Base URL', 'Absolute http(s) URL without credentials, query or fragment; its path is prefixed to the forwarded path.', {
      pattern: HTTP_URL_PATTERN,
      format: 'uri',
      errorMessage: 'must be an absolute http:// or https:// URL without query or fragment',
    }),
    connectTimeoutMs: ms('Connect timeout (ms)', 'Time allowed to open a connection to the upstream.', UPSTREAM_DEFAULTS.connectTimeoutMs),
    responseTimeoutMs: ms('Response timeout (ms)', 'Time allowed until the first response byte.', UPSTREAM_DEFAULTS.responseTimeoutMs),
    maxSockets: integer('Max sockets', 'Maximum sockets in the keep-alive pool for this upstream.', 1, 65_536, UPSTREAM_DEFAULTS.maxSockets),
    preserveHost: bool('Preserve Host', "Send the client's Host header instead of the upstream's.", UPSTREAM_DEFAULTS.preserveHost),
    tls: object('TLS', 'TLS options for an https upstream.', {
      caFile: filePath('CA file', 'PEM CA bundle used to verify the upstream certificate.'),
      servername: str('Server name', 'Name for SNI and the certificate check, if it differs from the URL host.', { pattern: HOSTNAME_PATTERN, errorMessage: HOST_MESSAGE }),
    }),
  },
  ['url'],
);

const method = {
  ...text('HTTP method', 'An upper-case method.'),
  type: 'string',
  enum: [...HTTP_METHODS],
  errorMessage: `must be one of ${HTTP_METHODS.join(', ')} (upper-case; CONNECT and TRACE are never allowed)`,
};

const match = object(
  'Match',
  'Which requests the route handles. Set exactly one of path or prefix.',
  {
    methods: strings('Methods', `Upper-case methods. Empty or omitted means any of ${HTTP_METHODS.join(', ')}.`, method, { default: [] }),
    path: str('Path template', 'Exact path, or a template with whole-segment parameters, e.g. /v1/tenants/{tenant}/orders/{id} (quote it inside a { } mapping). No "." or ".." segments, no "//", and no "%", "?" or "#".', {
      pattern: PATH_TEMPLATE_PATTERN,
      errorMessage: 'must start with "/" and use only unreserved characters, sub-delimiters, ":", "@" and {name} parameters (no "%", "?", "#" or spaces)',
    }),
    prefix: str('Path prefix', 'Prefix on whole segments: /public matches /public and /public/x, not /publicity. No parameters.', {
      pattern: PATH_PREFIX_PATTERN,
      errorMessage: 'must start with "/" and use only unreserved characters, sub-delimiters, ":" and "@" (no "{}", "%", "?", "#" or spaces)',
    }),
    host: str('Host', 'Exact host, case-insensitive, without port; the request port is ignored. Omitted: any host.', { pattern: HOSTNAME_PATTERN, errorMessage: HOST_MESSAGE }),
  },
  [],
  exactlyOne(['path', 'prefix'], 'must set exactly one of path or prefix'),
);

const routeAuth = {
  ...text('Authentication', 'Token requirements: { issuer, scopes, audiences }, or false for an explicitly public route. Required, so nothing is public by omission.'),
  type: ['object', 'boolean'],
  errorMessage: 'must be an object { issuer, scopes } or false (public route)',
  if: { type: 'boolean' },
  then: { const: false, errorMessage: 'must be false (public route) or an object { issuer, scopes }; true is not allowed' },
  else: {
    additionalProperties: false,
    required: ['issuer'],
    properties: {
      issuer: str('Issuer', 'Name of an issuer in `issuers`.', { pattern: NAME_PATTERN, errorMessage: NAME_MESSAGE }),
      scopes: strings('Scopes', 'All of these scopes are required (`scope` string or `scp` array, RFC 9068 §2.2.3).', str('Scope', 'A scope token.', { pattern: SCOPE_PATTERN, errorMessage: 'must be a scope token (no spaces, quotes or backslashes)' }), { default: [] }),
      audiences: strings('Audiences', "Accepted `aud` values for this route, instead of the issuer's.", str('Audience', 'An accepted `aud` value.'), { minItems: 1 }),
    },
  },
};

const namedMap = (title: string, description: string, value: JsonSchema, extra: Record<string, unknown> = {}): JsonSchema => ({
  ...text(title, description),
  type: 'object',
  propertyNames: { pattern: NAME_PATTERN, errorMessage: NAME_MESSAGE },
  additionalProperties: value,
  ...extra,
});

const nameRef = (title: string, description: string) => str(title, description, { pattern: NAME_PATTERN, errorMessage: NAME_MESSAGE });
const nameList = (title: string, description: string) => strings(title, description, nameRef('Name', 'A name defined in this file.'), { default: [] });
const DAY = 86_400;

const routeRateLimits = object(
  'Rate limits',
  'Limits of this route, instead of rateLimits.defaults: named policies and quotas, and what one request costs.',
  {
    policies: nameList('Policies', 'Names of rateLimits.policies to apply (empty: none).'),
    quotas: nameList('Quotas', 'Names of rateLimits.quotas to apply (empty: none).'),
    cost: integer('Cost', 'Points one request spends, so an expensive endpoint spends more.', 1, 1_000_000, RATE_LIMIT_DEFAULTS.cost),
  },
);

const secretRef = (title: string, description: string) => ({
  ...object(title, `${description} By reference: { env: NAME } or { file: PATH }; never inline.`, {
    env: str('Environment variable', 'Name of an environment variable holding the secret; it must be set and non-empty.', { pattern: ENV_NAME_PATTERN, errorMessage: 'must be an environment variable name' }),
    file: filePath('Secret file', 'File whose bytes are the secret.'),
  }),
  minProperties: 1,
  maxProperties: 1,
  errorMessage: 'must be { env: NAME } or { file: PATH }; secrets are never written inline',
});

const hostPort = object('Node', 'A host and port.', {
  host: str('Host', 'Hostname or IP address.'),
  port: integer('Port', 'TCP port.', 1, 65535),
}, ['host', 'port']);

const redisSchema = (description: string, keyPrefix: string): JsonSchema => object(
  'Redis',
  `${description} Set exactly one of url, sentinel or cluster.`,
  {
    url: str('URL', 'redis:// or rediss:// URL of a standalone server, without a password (use `password`).', { pattern: '^rediss?://[^\\s]+$', errorMessage: 'must be a redis:// or rediss:// URL' }),
    sentinel: object('Sentinel', 'Redis Sentinel: the master name and the sentinels.', {
      name: str('Master name', 'Name of the monitored master.'),
      nodes: { ...text('Sentinels', 'Sentinel host/port pairs.'), type: 'array', minItems: 1, items: hostPort },
    }, ['name', 'nodes']),
    cluster: object('Cluster', 'Redis Cluster: seed nodes.', {
      nodes: { ...text('Nodes', 'Cluster seed host/port pairs.'), type: 'array', minItems: 1, items: hostPort },
    }, ['nodes']),
    password: secretRef('Password', 'Redis password (AUTH).'),
    keyPrefix: str('Key prefix', 'Prefix of every key tollgate writes.', { default: keyPrefix, maxLength: 64 }),
    connectTimeoutMs: ms('Connect timeout (ms)', 'Time allowed to connect.', REDIS_DEFAULTS.connectTimeoutMs),
    commandTimeoutMs: ms('Command timeout (ms)', 'A command slower than this counts as an outage for that request.', REDIS_DEFAULTS.commandTimeoutMs),
  },
  [],
  exactlyOne(['url', 'sentinel', 'cluster'], 'must set exactly one of url, sentinel or cluster'),
);

const redis = redisSchema('The shared store for rate limits and quotas when several instances share the work (ioredis).', REDIS_DEFAULTS.keyPrefix);

const limitPolicy = object(
  'Rate-limit policy',
  'points per windowSeconds, counted per key. The map key is the name routes and plans use.',
  {
    points: integer('Points', 'Points allowed per window (a request spends its route cost).', 1, 1_000_000_000),
    windowSeconds: integer('Window (s)', 'Window length in seconds.', 1, 31 * DAY),
    blockSeconds: integer('Block (s)', 'After the limit is hit, keep rejecting the key this long. 0: until the window ends.', 0, 31 * DAY, RATE_LIMIT_DEFAULTS.blockSeconds),
    key: { ...text('Key', 'What is counted: client (verified client id), route, client_route, partner, or ip (before authentication).'), type: 'string', enum: [...LIMIT_KEYS] },
  },
  ['points', 'windowSeconds', 'key'],
);

const quota = object(
  'Quota',
  'A long budget per client or partner, per UTC calendar day or month (reset at the boundary).',
  {
    points: integer('Points', 'Points per period.', 1, Number.MAX_SAFE_INTEGER),
    period: { ...text('Period', 'day or month (UTC).'), type: 'string', enum: ['day', 'month'] },
    key: { ...text('Key', 'client or partner.'), type: 'string', enum: ['client', 'partner'] },
  },
  ['points', 'period', 'key'],
);

const outage = { ...text('Outage mode', 'fallback (per-instance memory limiter) or fail_closed (503).'), type: 'string', enum: ['fallback', 'fail_closed'] };

const rateLimits = object(
  'Rate limits and quotas',
  'Named rate-limit policies and quotas, their store, partner plans and store-outage behaviour.',
  {
    store: { ...text('Store', 'memory (per instance) or redis (shared by every instance).'), type: 'string', enum: ['memory', 'redis'], default: RATE_LIMIT_DEFAULTS.store },
    redis,
    policies: namedMap('Policies', 'Rate-limit policies by name.', limitPolicy, { default: {} }),
    quotas: namedMap('Quotas', 'Quotas by name.', quota, { default: {} }),
    defaults: object('Defaults', 'Policies and quotas of routes that do not name their own.', {
      policies: nameList('Policies', 'Names of policies.'),
      quotas: nameList('Quotas', 'Names of quotas.'),
    }),
    partners: object('Partners', "A client's partner: the first present claim, else this mapping.", {
      claims: strings('Claims', 'Token claims holding the partner, tried in order.', str('Claim name', 'A JWT claim name.'), { default: [] }),
      clients: { ...text('Clients', 'Client id → partner name.'), type: 'object', additionalProperties: nameRef('Partner', 'A partner name.'), default: {} },
    }),
    plans: namedMap('Plans', 'Overrides of named policies and quotas (e.g. a partner plan with higher limits).', object('Plan', 'Overrides by policy / quota name.', {
      policies: { ...text('Policies', 'Policy name → overrides.'), type: 'object', additionalProperties: object('Override', 'Replaced fields.', {
        points: integer('Points', 'Points per window.', 1, 1_000_000_000),
        windowSeconds: integer('Window (s)', 'Window length.', 1, 31 * DAY),
        blockSeconds: integer('Block (s)', 'Block length.', 0, 31 * DAY),
      }), default: {} },
      quotas: { ...text('Quotas', 'Quota name → overrides.'), type: 'object', additionalProperties: object('Override', 'Replaced fields.', {
        points: integer('Points', 'Points per period.', 1, Number.MAX_SAFE_INTEGER),
      }), default: {} },
    }), { default: {} }),
    partnerPlans: { ...text('Partner plans', 'Partner → plan name.'), type: 'object', additionalProperties: nameRef('Plan', 'A plan name.'), default: {} },
    clientPlans: { ...text('Client plans', "Client id → plan name (wins over the partner's plan)."), type: 'object', additionalProperties: nameRef('Plan', 'A plan name.'), default: {} },
    onStoreOutage: object('Store outage', 'What routes do per risk tier when Redis cannot be reached. high always fails closed.', {
      low: { ...outage, default: RATE_LIMIT_DEFAULTS.onStoreOutage.low },
      medium: { ...outage, default: RATE_LIMIT_DEFAULTS.onStoreOutage.medium },
      high: { ...outage, const: 'fail_closed', default: 'fail_closed', errorMessage: 'must be fail_closed: high-risk routes never run unlimited' },
    }),
    trustedProxies: strings('Trusted proxies', 'CIDRs whose X-Forwarded-For is believed for ip keys. Default none: the peer address is the client.', str('CIDR', 'e.g. 10.0.0.0/8.'), { default: [] }),
  },
);

const auditOutage = { ...text('Outage mode', 'fail_closed (503 before the upstream is called) or fail_open (forward; the record waits in memory).'), type: 'string', enum: ['fail_closed', 'fail_open'] };

const audit = object(
  'Audit trail',
  'Hash-chained, signed audit records: one per gateway decision and per privileged operation (start, stop, reloads, key rotation).',
  {
    enabled: bool('Enabled', 'Write audit records.', AUDIT_DEFAULTS.enabled),
    chainId: str('Chain id', "This instance's chain. Default: the host name. Two running instances must not share one.", { pattern: NAME_PATTERN, errorMessage: NAME_MESSAGE }),
    sink: { ...text('Sink', 'file (append-only JSONL, default) or redis (one stream, a chain per instance).'), type: 'string', enum: ['file', 'redis'], default: AUDIT_DEFAULTS.sink },
    file: object('File sink', 'Append-only JSONL segments.', {
      dir: filePath('Directory', `Where the segments, the latest checkpoint and the public keys are written. Default ${AUDIT_DEFAULTS.file.dir}.`),
      prefix: str('File prefix', 'Segment file name prefix.', { pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$', errorMessage: 'must be up to 32 letters, digits, "_" or "-"', default: AUDIT_DEFAULTS.file.prefix }),
      fsyncIntervalMs: ms('fsync interval (ms)', 'fsync the segment this often; 0 = after every record (slowest, loses nothing on power loss).', AUDIT_DEFAULTS.file.fsyncIntervalMs, 0),
      maxBytes: bytes('Segment size (bytes)', 'Start a new segment at this size.', AUDIT_DEFAULTS.file.maxBytes, 4096),
    }),
    redis: redisSchema('The Redis that holds the audit stream (sink: redis).', AUDIT_DEFAULTS.redisKeyPrefix),
    signingKey: secretRef('Signing key', 'Ed25519 private key (PKCS#8 PEM) that signs checkpoints. Without it every start uses a fresh key.'),
    publicKeysFile: filePath('Public keys file', 'JWKS file the checkpoint public keys are added to (for `tollgate audit verify --public-key`). Default: <file.dir>/<prefix>.jwks.json with the file sink.'),
    checkpoint: object('Checkpoints', 'A signed checkpoint after `every` records or `intervalMs` with new records, whichever comes first.', {
      every: integer('Every (records)', 'Records between checkpoints.', 1, 1_000_000, AUDIT_DEFAULTS.checkpoint.every),
      intervalMs: ms('Interval (ms)', 'Longest time between checkpoints while records are written.', AUDIT_DEFAULTS.checkpoint.intervalMs, 100),
    }),
    onUnavailable: object('Sink outage', 'What routes do per risk tier while records cannot be stored. high always fails closed.', {
      low: { ...auditOutage, default: AUDIT_DEFAULTS.onUnavailable.low },
      medium: { ...auditOutage, default: AUDIT_DEFAULTS.onUnavailable.medium },
      high: { ...auditOutage, const: 'fail_closed', default: 'fail_closed', errorMessage: 'must be fail_closed: no high-risk action goes unaudited' },
    }),
    chainLeaseMs: ms('Chain lease (ms)', 'Redis sink: an instance holds its chain with a lease renewed every third of this; a second instance with the same chainId is refused at start (after waiting one lease for a crashed owner\'s to expire).', AUDIT_DEFAULTS.chainLeaseMs, 1000),
    maxBufferedRecords: integer('Buffer (records)', 'Records held in memory while the sink is down; beyond this they are dropped and counted.', 100, 10_000_000, AUDIT_DEFAULTS.maxBufferedRecords),
  },
);

const httpHeader = (title: string, description: string) => str(title, description, { pattern: HEADER_NAME_PATTERN, errorMessage: 'must be an HTTP header name' });

const policy = object(
  'Policy',
  'Rego policy that decides every request (default deny): a directory compiled by tollgate, or a bundle built by `opa build -t wasm`. Set exactly one of dir or bundle.',
  {
    dir: filePath('Policy directory', 'Rego modules (`*.rego`, tests in `*_test.rego`) and data files (`data.json` / `data.yaml`, placed at their directory path) compiled at start and on reload.'),
    bundle: filePath('Bundle', 'A .tar.gz bundle with /policy.wasm (opa build -t wasm, or tollgate policy build).'),
    entrypoint: str('Entrypoint', 'Rule path of the decision object, e.g. tollgate/decision (data.tollgate.decision).', { pattern: '^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$', errorMessage: 'must be a rule path such as tollgate/decision', default: POLICY_DEFAULTS.entrypoint }),
    watch: bool('Watch', 'Reload when a file in dir changes.', POLICY_DEFAULTS.watch),
    runTests: bool('Run tests', 'Run the test_* rules before accepting a policy (dir only); a failing test rejects it.', POLICY_DEFAULTS.runTests),
    timeoutMs: ms('Timeout (ms)', 'An evaluation slower than this is a deny.', POLICY_DEFAULTS.timeoutMs),
    headers: strings('Input headers', 'Request headers copied into input.request.headers (never Authorization, Cookie or other credentials).', httpHeader('Header', 'A request header name.'), { default: [] }),
    obligationHeaders: strings('Obligation headers', "Headers the policy may add upstream (decision.obligations.headers). A client's own header of these names is always removed.", httpHeader('Header', 'A header name.'), { default: [] }),
    approvals: object('Approvals', 'Dual-control approval tokens: JWTs from an issuer, bound to the request (req_hash claim), handed to the policy as input.approvals.', {
      issuer: str('Issuer', 'Name of an issuer in `issuers` that signs approval tokens.', { pattern: NAME_PATTERN, errorMessage: NAME_MESSAGE }),
      header: httpHeader('Header', `Request header with approval tokens (repeated or comma-separated). Default ${POLICY_DEFAULTS.approvalHeader}.`),
      maxTokens: integer('Max tokens', 'At most this many approval tokens are read per request.', 1, 20, POLICY_DEFAULTS.maxApprovalTokens),
    }, ['issuer']),
  },
  [],
  exactlyOne(['dir', 'bundle'], 'must set exactly one of dir or bundle'),
);

const tier = (name: 'low' | 'medium' | 'high', description: string) => object(`Tier ${name}`, description, {
  maxTokenAgeSec: integer('Max token age (s)', 'Tokens issued longer ago than this (iat) are refused on this tier; tokens without iat too.', 1, 31 * DAY),
});

const riskTiers = object('Risk tiers', 'What each tier adds to token, scopes and policy. The policy may raise a request\'s tier, never lower it.', {
  low: tier('low', 'Token, scopes, policy.'),
  medium: tier('medium', `Adds a maximum token age (default ${RISK_TIER_DEFAULTS.medium.maxTokenAgeSec} s).`),
  high: tier('high', `Adds a shorter token age (default ${RISK_TIER_DEFAULTS.high.maxTokenAgeSec} s), fail-closed on outages, idempotency and nonce checks.`),
});

const routePolicy = object('Route policy input', 'What this route adds to the policy input.', {
  body: object('Body', 'Read the JSON body into input.request.body (forwarded exactly as received). Larger bodies: 413; not JSON: 400.', {
    maxBytes: integer('Max bytes', 'Largest body read.', 1, 16 * 1024 * 1024),
  }, ['maxBytes']),
});

const highRisk = object(
  'High-risk checks',
  'Idempotency keys with stored-response replay and nonce + timestamp replay protection, for routes of tier high (or that opt in).',
  {
    store: { ...text('Store', 'memory (one instance) or redis (holds across instances).'), type: 'string', enum: ['memory', 'redis'], default: HIGH_RISK_DEFAULTS.store },
    redis: redisSchema('The Redis that holds idempotency keys and nonces (store: redis).', HIGH_RISK_DEFAULTS.redisKeyPrefix),
    idempotency: object('Idempotency', 'draft-ietf-httpapi-idempotency-key-header: a key per unsafe request; a retry gets the stored response.', {
      header: httpHeader('Header', `Request header with the key (a structured-field string). Default ${HIGH_RISK_DEFAULTS.idempotency.header}.`),
      ttlSeconds: integer('TTL (s)', 'How long a response is kept for retries.', 1, 31 * DAY, HIGH_RISK_DEFAULTS.idempotency.ttlSeconds),
      leaseSeconds: integer('Lease (s)', 'How long a request may stay in flight before its outcome counts as unknown.', 1, DAY, HIGH_RISK_DEFAULTS.idempotency.leaseSeconds),
      methods: strings('Methods', 'Methods that need a key.', { ...text('Method', 'An HTTP method.'), type: 'string', enum: [...HTTP_METHODS] }, { default: [...HIGH_RISK_DEFAULTS.idempotency.methods], minItems: 1 }),
      maxStoredBodyBytes: bytes('Stored body (bytes)', 'Largest response body stored for replay; a larger one is answered once and its retries get 409.', HIGH_RISK_DEFAULTS.idempotency.maxStoredBodyBytes),
      storeHeaders: strings('Stored headers', 'Response headers stored and replayed.', httpHeader('Header', 'A response header name.'), { default: [...HIGH_RISK_DEFAULTS.idempotency.storeHeaders] }),
      fingerprintHeaders: strings('Fingerprint headers', 'Request headers that are part of the fingerprint besides method, path, query and body.', httpHeader('Header', 'A request header name.'), { default: [] }),
      maxEntries: integer('Max entries', 'Memory store bound (in-flight keys are never evicted).', 1, 100_000_000, HIGH_RISK_DEFAULTS.idempotency.maxEntries),
    }),
    replay: object('Replay protection', 'A fresh nonce (at least 128 bits, base64url) and a timestamp (Unix seconds) on every high-risk request.', {
      nonceHeader: httpHeader('Nonce header', `Default ${HIGH_RISK_DEFAULTS.replay.nonceHeader}.`),
      timestampHeader: httpHeader('Timestamp header', `Unix seconds. Default ${HIGH_RISK_DEFAULTS.replay.timestampHeader}.`),
      windowSeconds: integer('Window (s)', 'Accepted distance of the timestamp from now, either way.', 1, DAY, HIGH_RISK_DEFAULTS.replay.windowSeconds),
      clockSkewSeconds: integer('Clock skew (s)', 'Extra tolerance for clocks that drift (servers should be NTP-synced).', 0, 3600, HIGH_RISK_DEFAULTS.replay.clockSkewSeconds),
      maxEntries: integer('Max entries', 'Memory store bound (live nonces are never forgotten: past it, new ones are refused with 503).', 1, 100_000_000, HIGH_RISK_DEFAULTS.replay.maxEntries),
    }),
  },
);

const routeHighRisk = object('Route high-risk checks', 'Turn the checks on or off for this route; unset follows the tier (on for high).', {
  idempotency: { ...text('Idempotency', 'Require an Idempotency-Key on unsafe methods.'), type: 'boolean' },
  replay: { ...text('Replay protection', 'Require a fresh nonce and timestamp.'), type: 'boolean' },
  jtiOnce: bool('JTI once', "Use the token's jti as a one-time token: each token works for one request.", false),
});

const route = object(
  'Route',
  'Maps matching requests to an upstream with an authentication requirement.',
  {
    id: str('Route id', 'Unique id, used in logs, metrics and audit.', { pattern: NAME_PATTERN, errorMessage: NAME_MESSAGE }),
    match,
    upstream: str('Upstream', 'Name of an upstream in `upstreams`.', { pattern: NAME_PATTERN, errorMessage: NAME_MESSAGE }),
    auth: routeAuth,
    risk: { ...text('Risk tier', 'Security risk of the route: low, medium or high. Required; there is no default.'), type: 'string', enum: [...RISK_TIERS] },
    forwardAuthorization: bool('Forward Authorization', "Forward the client's Authorization header to the upstream.", ROUTE_DEFAULTS.forwardAuthorization),
    maxBodyBytes: bytes('Body limit (bytes)', 'Request body limit for this route. Default: server.maxBodyBytes.', undefined),
    rateLimits: routeRateLimits,
    policy: routePolicy,
    highRisk: routeHighRisk,
  },
  ['id', 'match', 'upstream', 'auth', 'risk'],
);

export const gatewaySchema: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  ...text('Tollgate gateway configuration', 'gateway.yaml: listeners, token issuers, upstream services and routes.'),
  type: 'object',
  additionalProperties: false,
  required: ['version', 'server', 'upstreams', 'routes'],
  properties: {
    version: { ...text('Format version', 'Configuration format version. Always 1.'), const: 1 },
    server,
    logging,
    identityHeaders,
    issuers: namedMap('Issuers', 'Token issuers by name.', issuer, { default: {} }),
    upstreams: namedMap('Upstreams', 'Backend services by name.', upstream, { minProperties: 1 }),
    routes: { ...text('Routes', 'Routes, each with a unique id.'), type: 'array', minItems: 1, items: route },
    rateLimits,
    audit,
    policy,
    riskTiers,
    highRisk,
  },
};
