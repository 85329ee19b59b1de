/**
 * The rate-limit service the pipeline's limit stages call (src/ratelimit/service.ts builds it from
 * `GatewayConfig.rateLimits`). Counting is rate-limiter-flexible's: RateLimiterMemory per instance, or
 * RateLimiterRedis (ioredis: standalone, Sentinel or Cluster) with a RateLimiterMemory insurance limiter for tiers
 * that fall back when Redis is unreachable.
 */
import type { RiskTier, RouteConfig } from '../config/types.js';

/** Who is asking. `clientId`/`partner` come from verified claims only (undefined before authentication). */
export interface LimitSubject {
  route: RouteConfig;
  /** The client address as the limiter believes it (trusted-proxy rule already applied: see clientIp()). */
  ip: string;
  clientId?: string;
  partner?: string;
  /** The route's tier, possibly raised later by policy; decides store-outage behaviour. */
  tier: RiskTier;
}

/** The most restrictive applicable limit after this request, for the RateLimit / RateLimit-Policy headers. */
export interface LimitState {
  kind: 'rate' | 'quota';
  /** Policy or quota name (also the `RateLimit-Policy` item name). */
  name: string;
  limit: number;
  remaining: number;
  /** Seconds until the window (or calendar period) resets. */
  resetSeconds: number;
  /** Window length in seconds (calendar period length for quotas). */
  windowSeconds: number;
}

export type LimitDecision =
  | { outcome: 'allowed'; tightest?: LimitState; quotas: LimitState[] }
  /** 429: `limit` names what was exceeded; `retryAfterSeconds` ≥ 1. */
  | { outcome: 'limited'; limit: LimitState; retryAfterSeconds: number; quotas: LimitState[] }
  /** 503: the store is unreachable and this tier fails closed. */
  | { outcome: 'unavailable'; retryAfterSeconds: number };

export interface RateLimitService {
  /**
   * `ip`-keyed policies of the route, run before token verification so unauthenticated floods are refused
   * without signature work. Spends the route's cost.
   */
  checkBeforeAuth(subject: LimitSubject): LimitDecision | Promise<LimitDecision>;
  /**
   * Every other applicable policy and quota (client, route, client × route, partner), after authentication. Both
   * checks answer synchronously with the memory store and with a promise with Redis.
   */
  checkAfterAuth(subject: LimitSubject): LimitDecision | Promise<LimitDecision>;
  /** Whether the route has any ip-keyed / other limits (stages skip the await when not). */
  hasBeforeAuth(route: RouteConfig): boolean;
  hasAfterAuth(route: RouteConfig): boolean;
  /** The partner of a verified client: first claim in `partners.claims`, else the configured mapping. */
  partnerOf(clientId: string | undefined, claims: Readonly<Record<string, unknown>>): string | undefined;
  /**
   * Resolves once the shared store answered, or after its connect timeout (then the tiers' outage rules apply):
   * serving before Redis is connected would count in per-instance memory and over-admit across instances.
   */
  start(): Promise<void>;
  /** Current store state, for readiness and metrics: `redis` healthy, `fallback` (insurance), or `memory`. */
  storeState(): 'memory' | 'redis' | 'fallback';
  close(): Promise<void>;
}
