import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { RateLimitsConfig, RedisConfig, RiskTier, RouteConfig, RouteRateLimitConfig } from '../../src/config/types.js';
import { createMetrics, rateLimitMetrics, type GatewayMetrics } from '../../src/observability/metrics.js';
import { createRateLimitService, type RateLimitServiceDeps } from '../../src/ratelimit/service.js';
import type { LimitSubject, RateLimitService } from '../../src/ratelimit/types.js';

/** A validated, defaulted RateLimitsConfig (what the loader hands the service), with overrides. */
export function limitsConfig(over: Partial<RateLimitsConfig> = {}): RateLimitsConfig {
  return {
    store: 'memory',
    policies: {},
    quotas: {},
    defaults: { policies: [], quotas: [] },
    partners: { claims: [], clients: {} },
    plans: {},
    partnerPlans: {},
    clientPlans: {},
    onStoreOutage: { high: 'fail_closed', medium: 'fallback', low: 'fallback' },
    trustedProxies: [],
    ...over,
  };
}

export function redisConfig(url: string, over: Partial<RedisConfig> = {}): RedisConfig {
  return { url, keyPrefix: `tollgate-test:${process.pid}:${Math.random().toString(36).slice(2)}:`, connectTimeoutMs: 1000, commandTimeoutMs: 200, ...over };
}

export function route(id: string, limits: Partial<RouteRateLimitConfig> = {}, risk: RiskTier = 'low'): RouteConfig {
  return {
    id,
    match: { methods: [], prefix: `/${id}` },
    upstream: 'up',
    auth: false,
    risk,
    forwardAuthorization: false,
    maxBodyBytes: 1024,
    rateLimits: { policies: [], quotas: [], cost: 1, ...limits },
    policy: {},
    highRisk: { jtiOnce: false },
  };
}

export function subject(r: RouteConfig, over: Partial<LimitSubject> = {}): LimitSubject {
  return { route: r, ip: '192.0.2.1', tier: r.risk, ...over };
}

export interface Harness {
  service: RateLimitService;
  metrics: GatewayMetrics;
  logs: Array<Record<string, unknown>>;
  logger: Logger;
}

/** A service with its own metrics registry and a logger that records JSON lines. */
export function harness(config: RateLimitsConfig, deps: Partial<RateLimitServiceDeps> = {}): Harness {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const metrics = createMetrics({ defaultMetrics: false });
  const service = createRateLimitService(config, { logger, metrics: rateLimitMetrics(metrics), ...deps });
  return { service, metrics, logs, logger };
}

export async function metricValue(metrics: GatewayMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  let sum = 0;
  for (const v of m?.values ?? []) {
    if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
  }
  return sum;
}

export async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
