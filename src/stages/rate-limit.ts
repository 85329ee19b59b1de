import { GatewayError } from '../errors.js';
import type { RequestContext, Stage } from '../pipeline/context.js';
import type { ClientIpResolver } from '../ratelimit/client-ip.js';
import type { LimitDecision, LimitState, LimitSubject, RateLimitService } from '../ratelimit/types.js';

/**
 * draft-ietf-httpapi-ratelimit-headers (structured-field form): `RateLimit-Policy` lists each policy as a string item
 * with its quota `q` and window `w` (seconds); `RateLimit` lists the remaining `r` and seconds to reset `t`.
 */
function item(s: LimitState, fields: string): string {
  return `"${s.name}";${fields}`;
}
function policyHeader(states: readonly LimitState[]): string {
  return states.map((s) => item(s, `q=${s.limit};w=${s.windowSeconds}`)).join(', ');
}
function limitHeader(states: readonly LimitState[]): string {
  return states.map((s) => item(s, `r=${Math.max(0, s.remaining)};t=${Math.max(0, Math.ceil(s.resetSeconds))}`)).join(', ');
}

/** Fewer remaining points is tighter; on a tie, the later reset. */
function tighter(a: LimitState | undefined, b: LimitState | undefined): LimitState | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  if (a.remaining !== b.remaining) return a.remaining < b.remaining ? a : b;
  return a.resetSeconds >= b.resetSeconds ? a : b;
}

/**
 * The states a response reports: the tightest rate limit of this request so far (or the one exceeded), then every
 * quota (their remaining budget).
 */
function reported(ctx: RequestContext, d: LimitDecision): LimitState[] {
  if (d.outcome === 'unavailable') return [];
  const first = d.outcome === 'limited' ? d.limit : tighter(ctx.rateLimit, d.tightest);
  if (d.outcome === 'allowed') ctx.rateLimit = first;
  const out = first ? [first] : [];
  for (const q of d.quotas) if (!out.some((s) => s.kind === q.kind && s.name === q.name)) out.push(q);
  return out;
}

function subjectOf(ctx: RequestContext, ip: string, service: RateLimitService): LimitSubject {
  const route = ctx.route as NonNullable<RequestContext['route']>;
  const subject: LimitSubject = { route, ip, tier: route.risk };
  const token = ctx.token;
  if (token !== undefined) {
    subject.clientId = token.clientId;
    const partner = service.partnerOf(token.clientId, token.claims as Record<string, unknown>);
    if (partner !== undefined) subject.partner = partner;
  }
  return subject;
}

/** Applies a decision: headers on success, a 429 / 503 problem otherwise. Nothing about other clients is revealed. */
function apply(ctx: RequestContext, d: LimitDecision): void {
  if (d.outcome === 'unavailable') {
    throw new GatewayError('rate_limit_unavailable', { reason: 'store_unavailable', headers: { 'retry-after': String(d.retryAfterSeconds) } });
  }
  const states = reported(ctx, d);
  const headers: Record<string, string> = states.length > 0 ? { 'ratelimit-policy': policyHeader(states), ratelimit: limitHeader(states) } : {};
  if (d.outcome === 'limited') {
    const what = d.limit.kind === 'quota' ? 'quota' : 'rate limit';
    throw new GatewayError('rate_limited', {
      detail: `The ${what} "${d.limit.name}" was exceeded; retry after ${d.retryAfterSeconds} s.`,
      reason: `${d.limit.kind}:${d.limit.name}`,
      headers: { ...headers, 'retry-after': String(d.retryAfterSeconds) },
    });
  }
  for (const [name, value] of Object.entries(headers)) ctx.res.setHeader(name, value);
}

/** Applies a decision now (memory store) or when the store answers (Redis). */
function settle(ctx: RequestContext, d: LimitDecision | Promise<LimitDecision>): Promise<void> | undefined {
  if (d instanceof Promise) return d.then((x) => apply(ctx, x));
  apply(ctx, d);
  return undefined;
}

/**
 * Limits keyed by source address, before token verification: an unauthenticated flood is refused without spending
 * CPU on signatures.
 */
export function createIpLimitStage(service: RateLimitService, clientIp: ClientIpResolver): Stage {
  // not async: a route without such limits passes synchronously (no promise on the hot path)
  return (ctx) => {
    const route = ctx.route;
    if (route === undefined || !service.hasBeforeAuth(route)) return undefined;
    return settle(ctx, service.checkBeforeAuth(subjectOf(ctx, clientIp(ctx.req), service)));
  };
}

/** Limits and quotas keyed by the verified client, its partner and the route, after authentication. */
export function createClientLimitStage(service: RateLimitService, clientIp: ClientIpResolver): Stage {
  return (ctx) => {
    const route = ctx.route;
    if (route === undefined || !service.hasAfterAuth(route)) return undefined;
    return settle(ctx, service.checkAfterAuth(subjectOf(ctx, clientIp(ctx.req), service)));
  };
}
