import { GatewayError } from '../errors.js';
import type { Stage } from '../pipeline/context.js';
import { assertSingletonHeaders } from '../proxy/headers.js';
import { normalizeTarget } from '../routing/normalize.js';
import type { Router } from '../routing/router.js';

/**
 * Stage 1: request shape and route. Everything later (auth, policy, forwarding) sees only the
 * normalised path chosen here, so what is decided on is what is forwarded.
 */
export function createRouteMatchStage(router: Router): Stage {
  return (ctx) => {
    assertSingletonHeaders(ctx.req);
    const { path, query } = normalizeTarget(ctx.req.url ?? '');
    ctx.path = path;
    ctx.query = query;
    const { route, params } = router.match(ctx.method, ctx.req.headers.host, path);
    ctx.route = route;
    ctx.params = params;

    // A declared length over the route's limit is refused before any other work (RFC 9110
    // §15.5.14); streamed bodies are counted while forwarding.
    const declared = ctx.req.headers['content-length'];
    if (declared !== undefined && Number(declared) > route.maxBodyBytes) {
      throw new GatewayError('payload_too_large', { reason: 'content_length' });
    }
  };
}
