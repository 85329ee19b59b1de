import type { Logger } from 'pino';
import type { AuditTrail } from '../audit/service.js';
import type { GatewayConfig, IssuerConfig } from '../config/types.js';
import { rateLimitMetrics, type GatewayMetrics } from '../observability/metrics.js';
import { createHeaderRewriter } from '../proxy/headers.js';
import { createUpstreamProxy, type UpstreamProxy } from '../proxy/upstream.js';
import { createClientIpResolver } from '../ratelimit/client-ip.js';
import { createRateLimitService } from '../ratelimit/service.js';
import type { RateLimitService } from '../ratelimit/types.js';
import { createRouter } from '../routing/router.js';
import { createAuditGateStage } from '../stages/audit-gate.js';
import { createForwardStage } from '../stages/forward.js';
import { createHighRiskStage } from '../stages/high-risk.js';
import { createHighRiskStores, type HighRiskStores } from '../highrisk/stores.js';
import { createPolicyStage, createTierStage } from '../stages/policy.js';
import type { PolicyEngine } from '../policy/engine.js';
import { createClientLimitStage, createIpLimitStage } from '../stages/rate-limit.js';
import { createRouteMatchStage } from '../stages/route-match.js';
import { createAuthenticateStage } from '../tokens/authenticate.js';
import type { IssuerVerifier } from '../tokens/types.js';
import { createIssuerVerifier } from '../tokens/verify.js';
import type { Stage } from './context.js';

/**
 * Something that outlives a reload when the configuration it was built from did not change: key sources (a reload
 * during a JWKS outage keeps the cached keys and the verified-token cache instead of starting cold) and the
 * rate-limit service (counters survive). Reference-counted by the runtimes that use it.
 */
interface Shared<T> {
  value: T;
  /** Identity of the configuration the value was built from. */
  fingerprint: string;
  users: number;
}

/** The previous runtime's value when its configuration is the same (one more user), else a new one. */
function carry<T>(previous: Shared<T> | undefined, fingerprint: string, build: () => T): { entry: Shared<T>; created: boolean } {
  if (previous !== undefined && previous.fingerprint === fingerprint) {
    previous.users++;
    return { entry: previous, created: false };
  }
  return { entry: { value: build(), fingerprint, users: 1 }, created: true };
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
  /** Stage names, index for index (the audit record names the stage that decided). */
  readonly stageNames: readonly string[];
  readonly verifiers: ReadonlyMap<string, IssuerVerifier>;
  /** Verifiers with their use counts, for the next reload to carry over. */
  readonly shared: ReadonlyMap<string, Shared<IssuerVerifier>>;
  /** The policy this runtime enforces (undefined without `config.policy`). */
  readonly policy: PolicyEngine | undefined;
  /** Idempotency and nonce stores, carried over by a reload that leaves `highRisk` unchanged. */
  readonly highRisk: Shared<HighRiskStores>;
  /** The rate-limit service, carried over by a reload that leaves `rateLimits` unchanged. */
  readonly rateLimits: Shared<RateLimitService>;
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
  audit: AuditTrail;
  /** The compiled policy, when `config.policy` is set (built by the server: compiling is async and may fail). */
  policy?: PolicyEngine;
  now?: () => number;
}

function fingerprint(issuer: IssuerConfig): string {
  const { resolvedSecret, ...rest } = issuer;
  // The secret's bytes take part in the identity but are only ever compared, never logged.
  return JSON.stringify([rest, resolvedSecret === undefined ? null : Buffer.from(resolvedSecret).toString('base64')]);
}

export function buildRuntime(config: GatewayConfig, deps: RuntimeDeps, previous?: Runtime): Runtime {
  const shared = new Map<string, Shared<IssuerVerifier>>();
  const verifiers = new Map<string, IssuerVerifier>();
  // Only verifiers built here need their first key fetch; carried ones are already running.
  const created: IssuerVerifier[] = [];
  for (const issuer of Object.values(config.issuers)) {
    const { entry, created: isNew } = carry(previous?.shared.get(issuer.name), fingerprint(issuer), () =>
      createIssuerVerifier(issuer, {
        metrics: deps.metrics,
        logger: deps.logger.child({ issuer: issuer.name }),
        ...(deps.now !== undefined ? { now: deps.now } : {}),
      }));
    if (isNew) created.push(entry.value);
    shared.set(issuer.name, entry);
    verifiers.set(issuer.name, entry.value);
  }
  const upstreams = new Map<string, UpstreamProxy>();
  for (const upstream of Object.values(config.upstreams)) {
    upstreams.set(
      upstream.name,
      createUpstreamProxy(upstream, { onError: (name, kind) => deps.metrics.upstreamErrors.inc({ upstream: name, kind }) }),
    );
  }

  const rateLimits = carry(previous?.rateLimits, JSON.stringify(config.rateLimits), () =>
    createRateLimitService(config.rateLimits, {
      logger: deps.logger.child({ component: 'ratelimit' }),
      metrics: rateLimitMetrics(deps.metrics),
      ...(deps.now !== undefined ? { now: deps.now } : {}),
    })).entry;
  const clientIp = createClientIpResolver(config.rateLimits.trustedProxies);
  const highRisk = carry(previous?.highRisk, JSON.stringify(config.highRisk), () => createHighRiskStores(config.highRisk)).entry;

  // A configured policy that is not loaded must never mean "no policy": refuse to build.
  if (config.policy !== undefined && deps.policy === undefined) throw new Error('policy configured but not loaded');
  const pipeline: Array<[name: string, stage: Stage]> = [
    ['route', createRouteMatchStage(createRouter(config.routes))],
    // source-address limits run before token verification, so floods cannot spend CPU on signatures
    ['ip_limit', createIpLimitStage(rateLimits.value, clientIp)],
    ['authenticate', createAuthenticateStage(verifiers, { metrics: deps.metrics })],
    ['client_limit', createClientLimitStage(rateLimits.value, clientIp)],
    ...(config.policy !== undefined && deps.policy !== undefined
      ? [['policy', createPolicyStage(config, {
          engine: deps.policy,
          metrics: deps.metrics,
          approvals: config.policy.approvals !== undefined ? verifiers.get(config.policy.approvals.issuer) : undefined,
          partnerOf: (id, claims) => rateLimits.value.partnerOf(id, claims),
          instance: deps.audit.chainId ?? 'tollgate',
          ...(deps.now !== undefined ? { now: deps.now } : {}),
        })] as [string, Stage]]
      : []),
    // after the policy, which may have raised the tier
    ['tier', createTierStage(config, deps.now)],
    ['high_risk', createHighRiskStage(config, {
      idempotency: highRisk.value.idempotency,
      nonces: highRisk.value.nonces,
      metrics: deps.metrics,
      ...(deps.now !== undefined ? { now: deps.now } : {}),
    })],
    ['audit_gate', createAuditGateStage(deps.audit, config.audit.onUnavailable, deps.metrics)],
    ['forward', createForwardStage(upstreams, createHeaderRewriter(config))],
  ];
  const stages = pipeline.map(([, stage]) => stage);
  const stageNames = pipeline.map(([name]) => name);

  let closed = false;
  return {
    config,
    stages,
    stageNames,
    policy: config.policy !== undefined ? deps.policy : undefined,
    highRisk,
    verifiers,
    shared,
    rateLimits,
    inFlight: 0,
    ready: () => [...verifiers.values()].every((v) => v.ready()),
    async start() {
      await Promise.all([...created.map((v) => v.start()), rateLimits.value.start(), highRisk.value.start()]);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const entry of shared.values()) if (--entry.users === 0) entry.value.close();
      if (--rateLimits.users === 0) void rateLimits.value.close();
      if (--highRisk.users === 0) void highRisk.value.close();
      for (const u of upstreams.values()) u.close();
    },
  };
}
