/**
 * Builds the `GatewayConfig` the code uses from data that passed the schema and the semantic
 * checks: applies defaults (`defaults.ts`), fills `name` from map keys, resolves relative file
 * paths against the configuration's directory, attaches resolved secrets and source lines.
 * Only ever called on valid data, so it does no checking of its own.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_ADMIN_HOST,
  DEFAULT_PUBLIC_HOST,
  IDENTITY_HEADER_DEFAULTS,
  ISSUER_DEFAULTS,
  JWKS_DEFAULTS,
  LOGGING_DEFAULTS,
  RATE_LIMIT_DEFAULTS,
  REDIS_DEFAULTS,
  AUDIT_DEFAULTS,
  POLICY_DEFAULTS,
  HIGH_RISK_DEFAULTS,
  RISK_TIER_DEFAULTS,
  ROUTE_DEFAULTS,
  SERVER_DEFAULTS,
  UPSTREAM_DEFAULTS,
} from './defaults.js';
import { AUDIT_REDIS_PASSWORD_SECRET, AUDIT_SIGNING_KEY_SECRET, HIGH_RISK_REDIS_PASSWORD_SECRET, REDIS_PASSWORD_SECRET, resolveFile } from './semantic.js';
import type {
  AuditConfig,
  AuditOutageMode,
  GatewayConfig,
  HighRiskConfig,
  PolicyConfig,
  IssuerConfig,
  ListenerConfig,
  LimitKey,
  LoggingConfig,
  RateLimitsConfig,
  RedisConfig,
  RiskTier,
  StoreOutageMode,
  RouteConfig,
  SecretRef,
  UpstreamConfig,
} from './types.js';

/** The YAML as users write it, once it conforms to `gatewaySchema`. */
interface YamlListener { host?: string; port: number }
interface YamlIssuer {
  issuer: string;
  audiences: string[];
  algorithms: string[];
  jwks?: { uri: string; cacheMaxAgeMs?: number; cooldownMs?: number; timeoutMs?: number; caFile?: string };
  keysFile?: string;
  secret?: SecretRef;
  clockToleranceSec?: number;
  maxTokenAgeSec?: number;
  typ?: string;
  requiredClaims?: string[];
  clientIdClaims?: string[];
}
interface YamlUpstream {
  url: string;
  connectTimeoutMs?: number;
  responseTimeoutMs?: number;
  maxSockets?: number;
  preserveHost?: boolean;
  tls?: { caFile?: string; servername?: string };
}
interface YamlRoute {
  id: string;
  match: { methods?: string[]; path?: string; prefix?: string; host?: string };
  upstream: string;
  auth: false | { issuer: string; scopes?: string[]; audiences?: string[] };
  risk: RiskTier;
  forwardAuthorization?: boolean;
  maxBodyBytes?: number;
  rateLimits?: { policies?: string[]; quotas?: string[]; cost?: number };
  policy?: { body?: { maxBytes: number } };
  highRisk?: { idempotency?: boolean; replay?: boolean; jtiOnce?: boolean };
}
type HostPort = { host: string; port: number };
interface YamlRedis {
  url?: string;
  sentinel?: { name: string; nodes: HostPort[] };
  cluster?: { nodes: HostPort[] };
  password?: SecretRef;
  keyPrefix?: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}
interface YamlAudit {
  enabled?: boolean;
  chainId?: string;
  sink?: 'file' | 'redis';
  file?: { dir?: string; prefix?: string; fsyncIntervalMs?: number; maxBytes?: number };
  redis?: YamlRedis;
  signingKey?: SecretRef;
  publicKeysFile?: string;
  checkpoint?: { every?: number; intervalMs?: number };
  onUnavailable?: { low?: AuditOutageMode; medium?: AuditOutageMode; high?: AuditOutageMode };
  maxBufferedRecords?: number;
  chainLeaseMs?: number;
}
interface YamlRateLimits {
  store?: 'memory' | 'redis';
  redis?: YamlRedis;
  policies?: Record<string, { points: number; windowSeconds: number; blockSeconds?: number; key: LimitKey }>;
  quotas?: Record<string, { points: number; period: 'day' | 'month'; key: 'client' | 'partner' }>;
  defaults?: { policies?: string[]; quotas?: string[] };
  partners?: { claims?: string[]; clients?: Record<string, string> };
  plans?: Record<string, { policies?: Record<string, { points?: number; windowSeconds?: number; blockSeconds?: number }>; quotas?: Record<string, { points?: number }> }>;
  partnerPlans?: Record<string, string>;
  clientPlans?: Record<string, string>;
  onStoreOutage?: { low?: StoreOutageMode; medium?: StoreOutageMode; high?: StoreOutageMode };
  trustedProxies?: string[];
}
export interface GatewayYaml {
  version: 1;
  server: {
    public: YamlListener;
    admin: YamlListener;
    shutdownGraceMs?: number;
    maxBodyBytes?: number;
    maxHeaderBytes?: number;
    trustForwardedHeaders?: boolean;
    keepAliveTimeoutMs?: number;
    requestTimeoutMs?: number;
  };
  logging?: { level?: LoggingConfig['level']; accessLog?: boolean };
  identityHeaders?: { clientId?: string; scopes?: string; issuer?: string };
  issuers?: Record<string, YamlIssuer>;
  upstreams: Record<string, YamlUpstream>;
  routes: YamlRoute[];
  rateLimits?: YamlRateLimits;
  audit?: YamlAudit;
  policy?: {
    dir?: string;
    bundle?: string;
    entrypoint?: string;
    watch?: boolean;
    runTests?: boolean;
    timeoutMs?: number;
    headers?: string[];
    obligationHeaders?: string[];
    approvals?: { issuer: string; header?: string; maxTokens?: number };
  };
  riskTiers?: Partial<Record<RiskTier, { maxTokenAgeSec?: number }>>;
  highRisk?: {
    store?: 'memory' | 'redis';
    redis?: YamlRedis;
    idempotency?: Partial<HighRiskConfig['idempotency']>;
    replay?: Partial<HighRiskConfig['replay']>;
  };
}

export interface NormalizeContext {
  baseDir: string;
  secrets: ReadonlyMap<string, Uint8Array>;
  routeLine: (index: number) => number | undefined;
  sourcePath: string | undefined;
  sourceHash: string;
}

const listener = (l: YamlListener, host: string): ListenerConfig => ({ host: l.host ?? host, port: l.port });

export function normalize(y: GatewayYaml, ctx: NormalizeContext): GatewayConfig {
  const file = (p: string) => resolveFile(ctx.baseDir, p);
  const server = {
    public: listener(y.server.public, DEFAULT_PUBLIC_HOST),
    admin: listener(y.server.admin, DEFAULT_ADMIN_HOST),
    shutdownGraceMs: y.server.shutdownGraceMs ?? SERVER_DEFAULTS.shutdownGraceMs,
    maxBodyBytes: y.server.maxBodyBytes ?? SERVER_DEFAULTS.maxBodyBytes,
    maxHeaderBytes: y.server.maxHeaderBytes ?? SERVER_DEFAULTS.maxHeaderBytes,
    trustForwardedHeaders: y.server.trustForwardedHeaders ?? SERVER_DEFAULTS.trustForwardedHeaders,
    keepAliveTimeoutMs: y.server.keepAliveTimeoutMs ?? SERVER_DEFAULTS.keepAliveTimeoutMs,
    requestTimeoutMs: y.server.requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs,
  };

  const issuers: Record<string, IssuerConfig> = {};
  for (const [name, i] of Object.entries(y.issuers ?? {})) {
    const requiredClaims = [...(i.requiredClaims ?? ISSUER_DEFAULTS.requiredClaims)];
    if (!requiredClaims.includes('exp')) requiredClaims.unshift('exp');
    const out: IssuerConfig = {
      name,
      issuer: i.issuer,
      audiences: [...i.audiences],
      algorithms: [...i.algorithms],
      clockToleranceSec: i.clockToleranceSec ?? ISSUER_DEFAULTS.clockToleranceSec,
      requiredClaims,
      clientIdClaims: [...(i.clientIdClaims ?? ISSUER_DEFAULTS.clientIdClaims)],
    };
    if (i.jwks !== undefined) {
      out.jwks = {
        uri: i.jwks.uri,
        cacheMaxAgeMs: i.jwks.cacheMaxAgeMs ?? JWKS_DEFAULTS.cacheMaxAgeMs,
        cooldownMs: i.jwks.cooldownMs ?? JWKS_DEFAULTS.cooldownMs,
        timeoutMs: i.jwks.timeoutMs ?? JWKS_DEFAULTS.timeoutMs,
      };
      if (i.jwks.caFile !== undefined) out.jwks.caFile = file(i.jwks.caFile);
    }
    if (i.keysFile !== undefined) out.keysFile = file(i.keysFile);
    if (i.secret !== undefined) {
      out.secret = 'env' in i.secret ? { env: i.secret.env } : { file: file(i.secret.file) };
      const bytes = ctx.secrets.get(name);
      if (bytes !== undefined) out.resolvedSecret = bytes;
    }
    if (i.maxTokenAgeSec !== undefined) out.maxTokenAgeSec = i.maxTokenAgeSec;
    if (i.typ !== undefined) out.typ = i.typ;
    issuers[name] = out;
  }

  const upstreams: Record<string, UpstreamConfig> = {};
  for (const [name, u] of Object.entries(y.upstreams)) {
    const out: UpstreamConfig = {
      name,
      url: u.url,
      connectTimeoutMs: u.connectTimeoutMs ?? UPSTREAM_DEFAULTS.connectTimeoutMs,
      responseTimeoutMs: u.responseTimeoutMs ?? UPSTREAM_DEFAULTS.responseTimeoutMs,
      maxSockets: u.maxSockets ?? UPSTREAM_DEFAULTS.maxSockets,
      preserveHost: u.preserveHost ?? UPSTREAM_DEFAULTS.preserveHost,
    };
    if (u.tls !== undefined) {
      out.tls = {};
      if (u.tls.caFile !== undefined) out.tls.caFile = file(u.tls.caFile);
      if (u.tls.servername !== undefined) out.tls.servername = u.tls.servername;
    }
    upstreams[name] = out;
  }

  const rateLimits = normalizeRateLimits(y.rateLimits ?? {}, ctx);
  const routes = y.routes.map((r, index): RouteConfig => {
    const match: RouteConfig['match'] = { methods: [...(r.match.methods ?? [])] };
    if (r.match.path !== undefined) match.path = r.match.path;
    if (r.match.prefix !== undefined) match.prefix = r.match.prefix;
    if (r.match.host !== undefined) match.host = r.match.host.toLowerCase();
    const route: RouteConfig = {
      id: r.id,
      match,
      upstream: r.upstream,
      auth:
        r.auth === false
          ? false
          : {
              issuer: r.auth.issuer,
              scopes: [...(r.auth.scopes ?? [])],
              ...(r.auth.audiences === undefined ? {} : { audiences: [...r.auth.audiences] }),
            },
      risk: r.risk,
      forwardAuthorization: r.forwardAuthorization ?? ROUTE_DEFAULTS.forwardAuthorization,
      maxBodyBytes: r.maxBodyBytes ?? server.maxBodyBytes,
      // A public route has no verified client: of the defaults, only ip- and route-keyed policies apply to it.
      rateLimits: {
        policies: [...(r.rateLimits?.policies ?? rateLimits.defaults.policies.filter((n) => r.auth !== false || ['ip', 'route'].includes(rateLimits.policies[n]?.key ?? '')))],
        quotas: [...(r.rateLimits?.quotas ?? (r.auth === false ? [] : rateLimits.defaults.quotas))],
        cost: r.rateLimits?.cost ?? RATE_LIMIT_DEFAULTS.cost,
      },
      policy: r.policy?.body !== undefined ? { body: { maxBytes: r.policy.body.maxBytes } } : {},
      highRisk: {
        ...(r.highRisk?.idempotency !== undefined ? { idempotency: r.highRisk.idempotency } : {}),
        ...(r.highRisk?.replay !== undefined ? { replay: r.highRisk.replay } : {}),
        jtiOnce: r.highRisk?.jtiOnce ?? false,
      },
    };
    const line = ctx.routeLine(index);
    if (line !== undefined) route.source = { line };
    return route;
  });

  const ih = y.identityHeaders ?? {};
  const config: GatewayConfig = {
    version: 1,
    server,
    logging: { level: y.logging?.level ?? LOGGING_DEFAULTS.level, accessLog: y.logging?.accessLog ?? LOGGING_DEFAULTS.accessLog },
    issuers,
    upstreams,
    routes,
    identityHeaders: {
      clientId: (ih.clientId ?? IDENTITY_HEADER_DEFAULTS.clientId).toLowerCase(),
      scopes: (ih.scopes ?? IDENTITY_HEADER_DEFAULTS.scopes).toLowerCase(),
      issuer: (ih.issuer ?? IDENTITY_HEADER_DEFAULTS.issuer).toLowerCase(),
    },
    rateLimits,
    audit: normalizeAudit(y.audit ?? {}, ctx),
    riskTiers: {
      low: { ...RISK_TIER_DEFAULTS.low, ...y.riskTiers?.low },
      medium: { ...RISK_TIER_DEFAULTS.medium, ...y.riskTiers?.medium },
      high: { ...RISK_TIER_DEFAULTS.high, ...y.riskTiers?.high },
    },
    highRisk: normalizeHighRisk(y.highRisk ?? {}, ctx),
    sourceHash: ctx.sourceHash,
  };
  if (y.policy !== undefined) {
    const p = y.policy;
    const policy: PolicyConfig = {
      entrypoint: p.entrypoint ?? POLICY_DEFAULTS.entrypoint,
      watch: p.watch ?? POLICY_DEFAULTS.watch,
      runTests: p.runTests ?? POLICY_DEFAULTS.runTests,
      timeoutMs: p.timeoutMs ?? POLICY_DEFAULTS.timeoutMs,
      headers: (p.headers ?? []).map((h) => h.toLowerCase()),
      obligationHeaders: (p.obligationHeaders ?? []).map((h) => h.toLowerCase()),
    };
    if (p.dir !== undefined) policy.dir = resolveFile(ctx.baseDir, p.dir);
    if (p.bundle !== undefined) policy.bundle = resolveFile(ctx.baseDir, p.bundle);
    if (p.approvals !== undefined) {
      policy.approvals = {
        issuer: p.approvals.issuer,
        header: (p.approvals.header ?? POLICY_DEFAULTS.approvalHeader).toLowerCase(),
        maxTokens: p.approvals.maxTokens ?? POLICY_DEFAULTS.maxApprovalTokens,
      };
    }
    config.policy = policy;
  }
  if (ctx.sourcePath !== undefined) config.sourcePath = ctx.sourcePath;
  return config;
}

function normalizeRateLimits(y: YamlRateLimits, ctx: NormalizeContext): RateLimitsConfig {
  const out: RateLimitsConfig = {
    store: y.store ?? RATE_LIMIT_DEFAULTS.store,
    policies: Object.fromEntries(Object.entries(y.policies ?? {}).map(([name, p]) => [name, {
      name, points: p.points, windowSeconds: p.windowSeconds, blockSeconds: p.blockSeconds ?? RATE_LIMIT_DEFAULTS.blockSeconds, key: p.key,
    }])),
    quotas: Object.fromEntries(Object.entries(y.quotas ?? {}).map(([name, q]) => [name, { name, points: q.points, period: q.period, key: q.key }])),
    defaults: { policies: [...(y.defaults?.policies ?? [])], quotas: [...(y.defaults?.quotas ?? [])] },
    partners: { claims: [...(y.partners?.claims ?? [])], clients: { ...(y.partners?.clients ?? {}) } },
    plans: Object.fromEntries(Object.entries(y.plans ?? {}).map(([name, p]) => [name, {
      name, policies: structuredClone(p.policies ?? {}), quotas: structuredClone(p.quotas ?? {}),
    }])),
    partnerPlans: { ...(y.partnerPlans ?? {}) },
    clientPlans: { ...(y.clientPlans ?? {}) },
    onStoreOutage: {
      low: y.onStoreOutage?.low ?? RATE_LIMIT_DEFAULTS.onStoreOutage.low,
      medium: y.onStoreOutage?.medium ?? RATE_LIMIT_DEFAULTS.onStoreOutage.medium,
      high: 'fail_closed',
    },
    trustedProxies: [...(y.trustedProxies ?? [])],
  };
  if (y.redis !== undefined) out.redis = normalizeRedis(y.redis, REDIS_DEFAULTS.keyPrefix, ctx.secrets.get(REDIS_PASSWORD_SECRET));
  return out;
}

function normalizeRedis(r: YamlRedis, keyPrefix: string, password: Uint8Array | undefined): RedisConfig {
  const redis: RedisConfig = {
    keyPrefix: r.keyPrefix ?? keyPrefix,
    connectTimeoutMs: r.connectTimeoutMs ?? REDIS_DEFAULTS.connectTimeoutMs,
    commandTimeoutMs: r.commandTimeoutMs ?? REDIS_DEFAULTS.commandTimeoutMs,
  };
  if (r.url !== undefined) redis.url = r.url;
  if (r.sentinel !== undefined) redis.sentinel = { name: r.sentinel.name, nodes: r.sentinel.nodes.map((n) => ({ ...n })) };
  if (r.cluster !== undefined) redis.cluster = { nodes: r.cluster.nodes.map((n) => ({ ...n })) };
  if (password !== undefined) redis.password = Buffer.from(password).toString('utf8');
  return redis;
}

function normalizeAudit(y: YamlAudit, ctx: NormalizeContext): AuditConfig {
  const file = {
    dir: resolveFile(ctx.baseDir, y.file?.dir ?? AUDIT_DEFAULTS.file.dir),
    prefix: y.file?.prefix ?? AUDIT_DEFAULTS.file.prefix,
    fsyncIntervalMs: y.file?.fsyncIntervalMs ?? AUDIT_DEFAULTS.file.fsyncIntervalMs,
    maxBytes: y.file?.maxBytes ?? AUDIT_DEFAULTS.file.maxBytes,
  };
  const sink = y.sink ?? AUDIT_DEFAULTS.sink;
  const out: AuditConfig = {
    enabled: y.enabled ?? AUDIT_DEFAULTS.enabled,
    chainId: y.chainId ?? defaultChainId(),
    sink,
    file,
    checkpoint: {
      every: y.checkpoint?.every ?? AUDIT_DEFAULTS.checkpoint.every,
      intervalMs: y.checkpoint?.intervalMs ?? AUDIT_DEFAULTS.checkpoint.intervalMs,
    },
    onUnavailable: {
      low: y.onUnavailable?.low ?? AUDIT_DEFAULTS.onUnavailable.low,
      medium: y.onUnavailable?.medium ?? AUDIT_DEFAULTS.onUnavailable.medium,
      high: 'fail_closed',
    },
    maxBufferedRecords: y.maxBufferedRecords ?? AUDIT_DEFAULTS.maxBufferedRecords,
    chainLeaseMs: y.chainLeaseMs ?? AUDIT_DEFAULTS.chainLeaseMs,
  };
  if (y.redis !== undefined) out.redis = normalizeRedis(y.redis, AUDIT_DEFAULTS.redisKeyPrefix, ctx.secrets.get(AUDIT_REDIS_PASSWORD_SECRET));
  if (y.signingKey !== undefined) {
    out.signingKey = 'env' in y.signingKey ? { env: y.signingKey.env } : { file: resolveFile(ctx.baseDir, y.signingKey.file) };
    const key = ctx.secrets.get(AUDIT_SIGNING_KEY_SECRET);
    if (key !== undefined) out.resolvedSigningKey = key;
  }
  if (y.publicKeysFile !== undefined) out.publicKeysFile = resolveFile(ctx.baseDir, y.publicKeysFile);
  else if (sink === 'file') out.publicKeysFile = join(file.dir, `${file.prefix}.jwks.json`);
  return out;
}

/** The host name, made a valid chain id (it appears in every record and the Redis stream). */
function defaultChainId(): string {
  const name = hostname().replace(/[^A-Za-z0-9_.:-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return name === '' ? 'tollgate' : name;
}

function normalizeHighRisk(y: NonNullable<GatewayYaml['highRisk']>, ctx: NormalizeContext): HighRiskConfig {
  const d = HIGH_RISK_DEFAULTS;
  const i = y.idempotency ?? {};
  const r = y.replay ?? {};
  const lower = (xs: readonly string[]) => xs.map((x) => x.toLowerCase());
  const out: HighRiskConfig = {
    store: y.store ?? d.store,
    idempotency: {
      header: (i.header ?? d.idempotency.header).toLowerCase(),
      ttlSeconds: i.ttlSeconds ?? d.idempotency.ttlSeconds,
      leaseSeconds: i.leaseSeconds ?? d.idempotency.leaseSeconds,
      methods: [...(i.methods ?? d.idempotency.methods)],
      maxStoredBodyBytes: i.maxStoredBodyBytes ?? d.idempotency.maxStoredBodyBytes,
      storeHeaders: lower(i.storeHeaders ?? d.idempotency.storeHeaders),
      fingerprintHeaders: lower(i.fingerprintHeaders ?? d.idempotency.fingerprintHeaders),
      maxEntries: i.maxEntries ?? d.idempotency.maxEntries,
    },
    replay: {
      nonceHeader: (r.nonceHeader ?? d.replay.nonceHeader).toLowerCase(),
      timestampHeader: (r.timestampHeader ?? d.replay.timestampHeader).toLowerCase(),
      windowSeconds: r.windowSeconds ?? d.replay.windowSeconds,
      clockSkewSeconds: r.clockSkewSeconds ?? d.replay.clockSkewSeconds,
      maxEntries: r.maxEntries ?? d.replay.maxEntries,
    },
  };
  if (y.redis !== undefined) out.redis = normalizeRedis(y.redis, d.redisKeyPrefix, ctx.secrets.get(HIGH_RISK_REDIS_PASSWORD_SECRET));
  return out;
}
