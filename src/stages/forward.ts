import { GatewayError } from '../errors.js';
import type { Stage } from '../pipeline/context.js';
import type { HeaderRewriter } from '../proxy/headers.js';
import type { UpstreamProxy } from '../proxy/upstream.js';

/**
 * Last stage: rewrite headers for the upstream hop and stream the exchange through the
 * route's allowlisted upstream. The request target is the normalised path and the raw query,
 * never the client's original string.
 */
export function createForwardStage(upstreams: ReadonlyMap<string, UpstreamProxy>, headers: HeaderRewriter): Stage {
  return async (ctx) => {
    const route = ctx.route;
    if (route === undefined) throw new GatewayError('internal_error', { reason: 'no_route_in_context' });
    const upstream = upstreams.get(route.upstream);
    if (upstream === undefined) throw new GatewayError('internal_error', { reason: 'unknown_upstream' });
    headers.apply(ctx);
    ctx.req.url = ctx.query.length > 0 ? `${ctx.path}?${ctx.query}` : ctx.path;
    const result = await upstream.forward(ctx.req, ctx.res, route.maxBodyBytes);
    ctx.upstreamStatus = result.status;
    ctx.upstreamMs = result.upstreamMs;
  };
}
