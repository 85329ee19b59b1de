import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * All gateway metrics on one injected registry (never prom-client's global one), so tests and
 * several gateways in one process do not collide. Label values are bounded sets chosen by the
 * gateway (route ids, issuer names, reason tokens); nothing from a request or token is a label.
 */
export interface GatewayMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'method' | 'status_class'>;
  readonly requestDuration: Histogram<'route'>;
  readonly upstreamDuration: Histogram<'route' | 'upstream'>;
  readonly upstreamErrors: Counter<'upstream' | 'kind'>;
  readonly tokenRejections: Counter<'issuer' | 'reason'>;
  readonly jwksFetches: Counter<'issuer' | 'result'>;
  readonly configReloads: Counter<'result'>;
  readonly configInfo: Gauge<'hash'>;
  readonly inFlight: Gauge;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'tollgate_process_' });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'tollgate_requests_total',
      help: 'Requests handled, by route id (or "none"), method and status class.',
      labelNames: ['route', 'method', 'status_class'],
      registers,
    }),
    requestDuration: new Histogram({
      name: 'tollgate_request_duration_seconds',
      help: 'Total time from request arrival to response end.',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'tollgate_upstream_duration_seconds',
      help: 'Time from sending the upstream request to its response headers.',
      labelNames: ['route', 'upstream'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
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
  };
}
