import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { HotCounter, HotHistogram, type CounterSeries, type HistogramSeries } from './hot-metrics.js';

/**
 * All gateway metrics on one injected registry (never prom-client's global one), so tests and
 * several gateways in one process do not collide. Label values are bounded sets chosen by the
 * gateway (route ids, issuer names, reason tokens); nothing from a request or token is a label.
 */
export interface GatewayMetrics {
  readonly registry: Registry;
  /** Per-request series (route, method, status_class): use `recordRequest`, not these, on the hot path. */
  readonly requests: HotCounter;
  readonly requestDuration: HotHistogram;
  readonly upstreamDuration: HotHistogram;
  readonly upstreamErrors: Counter<'upstream' | 'kind'>;
  readonly tokenRejections: Counter<'issuer' | 'reason'>;
  readonly jwksFetches: Counter<'issuer' | 'result'>;
  readonly configReloads: Counter<'result'>;
  readonly configInfo: Gauge<'hash'>;
  readonly inFlight: Gauge;
  /** Rate-limit verdicts by limit (policy or quota name), route id and outcome; see `rateLimitMetrics`. */
  readonly rateLimitDecisions: HotCounter;
  readonly rateLimitStoreErrors: Counter;
  readonly rateLimitFallbacks: Counter<'tier'>;
  readonly rateLimitStoreState: Gauge;
  readonly quotaRemaining: Gauge<'quota' | 'partner'>;
  /** Audit records appended, by kind (decision, start, config_reload, checkpoint, …). */
  readonly auditRecords: HotCounter;
  /** Failed store operations of the audit sink (a failed batch counts once). */
  readonly auditSinkErrors: Counter;
  /** Records that could not even be buffered (buffer full): the only way an audit record is lost, always counted. */
  readonly auditDropped: Counter;
  /** Requests refused with 503 because the audit sink was unhealthy, by risk tier. */
  readonly auditRejections: Counter<'tier'>;
  /** 1 while the audit sink stores records, 0 while it fails. */
  readonly auditSinkUp: Gauge;
  /** Records accepted but not yet stored. */
  readonly auditPending: Gauge;
  /** Policy decisions by route, effective tier and outcome (allow, deny, error, timeout, invalid, undefined). */
  readonly policyDecisions: HotCounter;
  /** Time to evaluate the decision (input to result), by route. */
  readonly policyDuration: HotHistogram;
  readonly policyReloads: Counter<'result'>;
  /** Active policy revision (SHA-256 prefix of module and data). */
  readonly policyInfo: Gauge<'revision'>;
  /** Approval tokens by result (verified, invalid, unbound). */
  readonly policyApprovals: Counter<'result'>;
  /** High-risk checks by check (replay, jti, idempotency) and outcome (ok, started, replayed, in_flight, …). */
  readonly highRiskChecks: HotCounter;
  /** Read when /metrics is scraped (the audit trail sets these): nothing is updated per request. */
  readonly auditProbe: { healthy: () => boolean; pending: () => number };
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'tollgate_process_' });
  const registers = [registry];
  const auditProbe = { healthy: () => false, pending: () => 0 };
  return {
    auditProbe,
    registry,
    requests: new HotCounter(
      'tollgate_requests_total',
      'Requests handled, by route id (or "none"), method and status class.',
      ['route', 'method', 'status_class'],
      registry,
    ),
    requestDuration: new HotHistogram(
      'tollgate_request_duration_seconds',
      'Total time from request arrival to response end.',
      ['route'],
      LATENCY_BUCKETS,
      registry,
    ),
    upstreamDuration: new HotHistogram(
      'tollgate_upstream_duration_seconds',
      'Time from sending the upstream request to its response headers.',
      ['route', 'upstream'],
      LATENCY_BUCKETS,
      registry,
    ),
    upstreamErrors: new Counter({
      name: 'tollgate_upstream_errors_total',
      help: 'Upstream failures by upstream and kind (connect, timeout, reset, tls).',
      labelNames: ['upstream', 'kind'],
      registers,
    }),
    tokenRejections: new Counter({
      name: 'tollgate_token_rejections_total',
      help: 'Rejected bearer tokens by issuer config name and reason.',
      labelNames: ['issuer', 'reason'],
      registers,
    }),
    jwksFetches: new Counter({
      name: 'tollgate_jwks_fetches_total',
      help: 'JWKS fetches by issuer and result (ok, error).',
      labelNames: ['issuer', 'result'],
      registers,
    }),
    configReloads: new Counter({
      name: 'tollgate_config_reloads_total',
      help: 'Configuration reloads by result (accepted, rejected).',
      labelNames: ['result'],
      registers,
    }),
    configInfo: new Gauge({
      name: 'tollgate_config_info',
      help: 'Always 1; the label is the SHA-256 prefix of the active configuration.',
      labelNames: ['hash'],
      registers,
    }),
    inFlight: new Gauge({
      name: 'tollgate_requests_in_flight',
      help: 'Requests currently being handled.',
      registers,
    }),
    rateLimitDecisions: new HotCounter(
      'tollgate_ratelimit_decisions_total',
      'Rate-limit and quota verdicts by limit name, route id and outcome (allowed, limited, unavailable).',
      ['limit', 'route', 'outcome'],
      registry,
    ),
    rateLimitStoreErrors: new Counter({
      name: 'tollgate_ratelimit_store_errors_total',
      help: 'Rate-limit store (Redis) operations that failed or timed out.',
      registers,
    }),
    rateLimitFallbacks: new Counter({
      name: 'tollgate_ratelimit_fallback_total',
      help: 'Requests counted by the per-instance in-memory insurance limiter because Redis was unreachable, by risk tier.',
      labelNames: ['tier'],
      registers,
    }),
    rateLimitStoreState: new Gauge({
      name: 'tollgate_ratelimit_store_state',
      help: 'Rate-limit store in use: 0 memory (configured), 1 redis, 2 fallback (Redis unreachable).',
      registers,
    }),
    quotaRemaining: new Gauge({
      name: 'tollgate_quota_remaining',
      help: 'Points left in the current calendar period of partner-keyed quotas, for partners named in the configuration.',
      labelNames: ['quota', 'partner'],
      registers,
    }),
    policyDecisions: new HotCounter(
      'tollgate_policy_decisions_total',
      'Policy decisions by route, effective risk tier and outcome (allow, deny, error, timeout, invalid, undefined).',
      ['route', 'tier', 'outcome'],
      registry,
    ),
    policyDuration: new HotHistogram(
      'tollgate_policy_evaluation_seconds',
      'Time to evaluate the policy decision, by route.',
      ['route'],
      [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
      registry,
    ),
    policyReloads: new Counter({
      name: 'tollgate_policy_reloads_total',
      help: 'Policy loads after start (SIGHUP or a change in the policy directory), accepted or rejected.',
      labelNames: ['result'],
      registers,
    }),
    policyInfo: new Gauge({
      name: 'tollgate_policy_info',
      help: 'The active policy revision (SHA-256 prefix of the module and its data).',
      labelNames: ['revision'],
      registers,
    }),
    policyApprovals: new Counter({
      name: 'tollgate_policy_approvals_total',
      help: 'Approval tokens presented, by result: verified (handed to the policy), invalid (failed verification), unbound (for another request).',
      labelNames: ['result'],
      registers,
    }),
    highRiskChecks: new HotCounter(
      'tollgate_highrisk_checks_total',
      'High-risk checks by check (replay, jti, idempotency) and outcome (ok, started, replayed, in_flight, mismatch, invalid, timestamp_outside_window, replayed, store_unavailable, unknown, too_large).',
      ['check', 'outcome'],
      registry,
    ),
    auditRecords: new HotCounter('tollgate_audit_records_total', 'Audit records appended to the chain, by kind.', ['kind'], registry),
    auditSinkErrors: new Counter({
      name: 'tollgate_audit_sink_errors_total',
      help: 'Audit sink store operations (write, fsync, rotation, Redis append) that failed; the records stay buffered.',
      registers,
    }),
    auditDropped: new Counter({
      name: 'tollgate_audit_dropped_records_total',
      help: 'Audit records lost because the buffer of unstored records was full.',
      registers,
    }),
    auditRejections: new Counter({
      name: 'tollgate_audit_rejections_total',
      help: 'Requests refused (503) because the audit sink could not store records, by risk tier.',
      labelNames: ['tier'],
      registers,
    }),
    auditSinkUp: new Gauge({
      name: 'tollgate_audit_sink_up',
      help: '1 while the audit sink stores records, 0 while it fails (or auditing is disabled).',
      registers,
      collect() {
        this.set(auditProbe.healthy() ? 1 : 0);
      },
    }),
    auditPending: new Gauge({
      name: 'tollgate_audit_pending_records',
      help: 'Audit records accepted but not yet stored.',
      registers,
      collect() {
        this.set(auditProbe.pending());
      },
    }),
  };
}

export type RateLimitOutcome = 'allowed' | 'limited' | 'unavailable';

/**
 * What the rate-limit service reports (src/ratelimit/service.ts). Every label value is a configured name (policy,
 * quota, route id, risk tier, or a partner listed in the configuration): never a client id or anything from a request.
 */
export interface RateLimitMetrics {
  /** The decision series of one limit on one route, resolved once (the service keeps them per route). */
  decisions(limit: string, route: string): DecisionCounters;
  storeError(): void;
  fallback(tier: string): void;
  storeState(state: 'memory' | 'redis' | 'fallback'): void;
  quotaRemaining(quota: string, partner: string, remaining: number): void;
}

export type DecisionCounters = Readonly<Record<RateLimitOutcome, { inc(): void }>>;

const STORE_STATE_VALUE = { memory: 0, redis: 1, fallback: 2 } as const;

/** The rate-limit service's view of the gateway metrics; decision series are resolved once per label set. */
export function rateLimitMetrics(metrics: GatewayMetrics): RateLimitMetrics {
  const series = (limit: string, route: string, outcome: RateLimitOutcome) => metrics.rateLimitDecisions.series({ limit, route, outcome });
  return {
    decisions: (limit, route) => ({
      allowed: series(limit, route, 'allowed'),
      limited: series(limit, route, 'limited'),
      unavailable: series(limit, route, 'unavailable'),
    }),
    storeError: () => metrics.rateLimitStoreErrors.inc(),
    fallback: (tier) => metrics.rateLimitFallbacks.inc({ tier }),
    storeState: (state) => metrics.rateLimitStoreState.set(STORE_STATE_VALUE[state]),
    quotaRemaining: (quota, partner, remaining) => metrics.quotaRemaining.set({ quota, partner }, remaining),
  };
}

const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

interface RouteSeries {
  duration: HistogramSeries;
  upstream: HistogramSeries | undefined;
  /** Indexed by method, then by status class index. */
  requests: Map<string, Array<CounterSeries | undefined>>;
}

export type RequestRecorder = (
  route: string,
  upstream: string | undefined,
  method: string,
  status: number,
  seconds: number,
  upstreamSeconds: number | undefined,
) => void;

/**
 * The per-request metrics update: series are looked up once per (route, upstream) and then
 * updated as plain numbers (see hot-metrics.ts for why).
 */
export function createRequestRecorder(metrics: GatewayMetrics): RequestRecorder {
  const byRoute = new Map<string, RouteSeries>();
  return (route, upstream, method, status, seconds, upstreamSeconds) => {
    const key = upstream === undefined ? route : `${route}\u0000${upstream}`;
    let rs = byRoute.get(key);
    if (rs === undefined) {
      rs = {
        duration: metrics.requestDuration.series({ route }),
        upstream: upstream === undefined ? undefined : metrics.upstreamDuration.series({ route, upstream }),
        requests: new Map(),
      };
      byRoute.set(key, rs);
    }
    const cls = status >= 100 && status < 600 ? Math.floor(status / 100) : 0;
    let perMethod = rs.requests.get(method);
    if (perMethod === undefined) {
      perMethod = [];
      rs.requests.set(method, perMethod);
    }
    let counter = perMethod[cls];
    if (counter === undefined) {
      counter = metrics.requests.series({ route, method, status_class: STATUS_CLASSES[cls]! });
      perMethod[cls] = counter;
    }
    counter.inc();
    rs.duration.observe(seconds);
    if (upstreamSeconds !== undefined && rs.upstream !== undefined) rs.upstream.observe(upstreamSeconds);
  };
}
