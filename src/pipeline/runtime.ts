import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { createHeaderRewriter } from '../proxy/headers.js';
import { createUpstreamProxy, type UpstreamProxy } from '../proxy/upstream.js';
import { createRouter } from '../routing/router.js';
import { createForwardStage } from '../stages/forward.js';
import { createRouteMatchStage } from '../stages/route-match.js';
import { createAuthenticateStage } from '../tokens/authenticate.js';
import type { IssuerVerifier } from '../tokens/types.js';
import { createIssuerVerifier } from '../tokens/verify.js';
import type { Stage } from './context.js';

/**
 * Everything built from one validated configuration: the route table, the key sources, the
 * upstream pools and the ordered stage list. A reload builds a new Runtime and swaps one
 * reference; requests keep the Runtime they started with, so none is dropped or sees a mix.
 */
export interface Runtime {
  readonly config: GatewayConfig;
  /** The request pipeline, in order. This list is the one place the order is defined. */
  readonly stages: readonly Stage[];
  readonly verifiers: ReadonlyMap<string, IssuerVerifier>;
  /** Requests currently running on this runtime. */
  inFlight: number;
  /** Key sources loaded and ready to verify. */
  ready(): boolean;
  start(): Promise<void>;
  close(): void;
}

export interface RuntimeDeps {
  logger: Logger;
  metrics: GatewayMetrics;
  now?: () => number;
}

export function buildRuntime(config: GatewayConfig, deps: RuntimeDeps): Runtime {
  const verifiers = new Map<string, IssuerVerifier>();
  for (const issuer of Object.values(config.issuers)) {
    verifiers.set(
      issuer.name,
      createIssuerVerifier(issuer, {
        metrics: deps.metrics,
        logger: deps.logger.child({ issuer: issuer.name }),
        ...(deps.now !== undefined ? { now: deps.now } : {}),
      }),
    );
  }
  const upstreams = new Map<string, UpstreamProxy>();
  for (const upstream of Object.values(config.upstreams)) {
    upstreams.set(
      upstream.name,
      createUpstreamProxy(upstream, { onError: (name, kind) => deps.metrics.upstreamErrors.inc({ upstream: name, kind }) }),
    );
  }

  const stages: Stage[] = [
    createRouteMatchStage(createRouter(config.routes)),
    createAuthenticateStage(verifiers, { metrics: deps.metrics }),
    // Later stages slot in here, in this order: rate limit / quota → policy → high-risk checks.
    createForwardStage(upstreams, createHeaderRewriter(config)),
  ];

  return {
    config,
    stages,
    verifiers,
    inFlight: 0,
    ready: () => [...verifiers.values()].every((v) => v.ready()),
    async start() {
      await Promise.all([...verifiers.values()].map((v) => v.start()));
    },
    close() {
      for (const v of verifiers.values()) v.close();
      for (const u of upstreams.values()) u.close();
    },
  };
}
