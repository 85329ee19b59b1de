import type { Logger } from 'pino';
import type { GatewayConfig, IssuerConfig } from '../config/types.js';
import { rateLimitMetrics, type GatewayMetrics } from '../observability/metrics.js';
import { createHeaderRewriter } from '../proxy/headers.js';
import { createUpstreamProxy, type UpstreamProxy } from '../proxy/upstream.js';
import { createClientIpResolver } from '../ratelimit/client-ip.js';
import { createRateLimitService } from '../ratelimit/service.js';
import type { RateLimitService } from '../ratelimit/types.js';
import { createRouter } from '../routing/router.js';
import { createForwardStage } from '../stages/forward.js';
import { createClientLimitStage, createIpLimitStage } from '../stages/rate-limit.js';
import { createRouteMatchStage } from '../stages/route-match.js';
import { createAuthenticateStage } from '../tokens/authenticate.js';
import type { IssuerVerifier } from '../tokens/types.js';
import { createIssuerVerifier } from '../tokens/verify.js';
import type { Stage } from './context.js';

/**
 * Key sources outlive a reload when their issuer's configuration did not change, so a reload
 * during a JWKS outage keeps the cached keys (and the verified-token cache) instead of starting
 * cold. Each verifier is reference-counted by the runtimes that use it.
 */
interface SharedVerifier {
  verifier: IssuerVerifier;
  /** Identity of the issuer configuration the verifier was built from. */
  fingerprint: string;
  users: number;
}

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
  /** Verifiers with their use counts, for the next reload to carry over. */
  readonly shared: ReadonlyMap<string, SharedVerifier>;
  /** The rate-limit service, carried over by a reload that leaves `rateLimits` unchanged (counters survive). */
  readonly rateLimits: SharedRateLimits;
  /** Requests currently running on this runtime. */
  inFlight: number;
  /** Key sources loaded and ready to verify. */
  ready(): boolean;
  start(): Promise<void>;
  close(): void;
}

/** The rate-limit service with its configuration's identity and use count, shared like verifiers. */
interface SharedRateLimits {
  service: RateLimitService;
  fingerprint: string;
  users: number;
}

export interface RuntimeDeps {
  logger: Logger;
  metrics: GatewayMetrics;
  now?: () => number;
}

function fingerprint(issuer: IssuerConfig): string {
  const { resolvedSecret, ...rest } = issuer;
  // The secret's bytes take part in the identity but are only ever compared, never logged.
  return JSON.stringify([rest, resolvedSecret === undefined ? null : Buffer.from(resolvedSecret).toString('base64')]);
}

export function buildRuntime(config: GatewayConfig, deps: RuntimeDeps, previous?: Runtime): Runtime {
  const shared = new Map<string, SharedVerifier>();
  const verifiers = new Map<string, IssuerVerifier>();
  // Only verifiers built here need their first key fetch; carried ones are already running.
  const created: IssuerVerifier[] = [];
  for (const issuer of Object.values(config.issuers)) {
    const fp = fingerprint(issuer);
    const carried = previous?.shared.get(issuer.name);
    let entry: SharedVerifier;
    if (carried !== undefined && carried.fingerprint === fp) {
      carried.users++;
      entry = carried;
    } else {
      entry = {
        fingerprint: fp,
        users: 1,
        verifier: createIssuerVerifier(issuer, {
          metrics: deps.metrics,
          logger: deps.logger.child({ issuer: issuer.name }),
          ...(deps.now !== undefined ? { now: deps.now } : {}),
        }),
      };
      created.push(entry.verifier);
    }
    shared.set(issuer.name, entry);
    verifiers.set(issuer.name, entry.verifier);
  }
  const upstreams = new Map<string, UpstreamProxy>();
  for (const upstream of Object.values(config.upstreams)) {
    upstreams.set(
      upstream.name,
      createUpstreamProxy(upstream, { onError: (name, kind) => deps.metrics.upstreamErrors.inc({ upstream: name, kind }) }),
    );
  }

  const rlPrint = JSON.stringify(config.rateLimits);
  let rateLimits: SharedRateLimits;
  if (previous !== undefined && previous.rateLimits.fingerprint === rlPrint) {
    rateLimits = previous.rateLimits;
    rateLimits.users++;
  } else {
    rateLimits = {
      fingerprint: rlPrint,
      users: 1,
      service: createRateLimitService(config.rateLimits, {
        logger: deps.logger.child({ component: 'ratelimit' }),
        metrics: rateLimitMetrics(deps.metrics),
        ...(deps.now !== undefined ? { now: deps.now } : {}),
      }),
    };
  }
  const clientIp = createClientIpResolver(config.rateLimits.trustedProxies);

  const stages: Stage[] = [
    createRouteMatchStage(createRouter(config.routes)),
    // source-address limits run before token verification, so floods cannot spend CPU on signatures
    createIpLimitStage(rateLimits.service, clientIp),
    createAuthenticateStage(verifiers, { metrics: deps.metrics }),
    createClientLimitStage(rateLimits.service, clientIp),
    // Later stages slot in here, in this order: policy → high-risk checks.
    createForwardStage(upstreams, createHeaderRewriter(config)),
  ];

  let closed = false;
  return {
    config,
    stages,
    verifiers,
    shared,
    rateLimits,
    inFlight: 0,
    ready: () => [...verifiers.values()].every((v) => v.ready()),
    async start() {
      await Promise.all([...created.map((v) => v.start()), rateLimits.service.start()]);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const entry of shared.values()) if (--entry.users === 0) entry.verifier.close();
      if (--rateLimits.users === 0) void rateLimits.service.close();
      for (const u of upstreams.values()) u.close();
    },
  };
}
