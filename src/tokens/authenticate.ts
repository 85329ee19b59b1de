import { GatewayError } from '../errors.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { RequestContext, Stage } from '../pipeline/context.js';
import { extractBearer } from './bearer.js';
import type { IssuerVerifier, VerifiedToken } from './types.js';

/**
 * The authentication stage: bearer token → verified token on `ctx.token`, then the route's scope
 * requirement (RFC 6750 §3.1 insufficient_scope). Runs after route matching, so it knows which
 * issuer, audiences and scopes apply.
 */
export function createAuthenticateStage(
  verifiers: ReadonlyMap<string, IssuerVerifier>,
  deps: { metrics: GatewayMetrics },
): Stage {
  const { metrics } = deps;

  const authorize = (ctx: RequestContext, token: VerifiedToken, issuer: string, required: readonly string[]): void => {
    // Set before the scope check: the identity is proven even when authorization fails, and the
    // access and audit logs of a 403 should say who was refused.
    ctx.token = token;
    for (let i = 0; i < required.length; i++) {
      if (!token.scopes.has(required[i]!)) {
        metrics.tokenRejections.inc({ issuer, reason: 'scope' });
        throw new GatewayError('insufficient_scope', {
          reason: 'scope',
          // RFC 6750 §3.1/§3: `scope` lists what the resource needs, so the client can ask for it.
          headers: {
            'WWW-Authenticate': `Bearer realm="tollgate", error="insufficient_scope", scope="${required.join(' ')}"`,
          },
        });
      }
    }
  };

  // Not `async`: a token seen before is answered from the verifier's cache synchronously, and
  // the stage then returns no promise at all.
  return function authenticate(ctx: RequestContext): void | Promise<void> {
    const route = ctx.route;
    // Route matching always runs first; without a route there is nothing to decide here.
    if (route === undefined) throw new GatewayError('internal_error', { reason: 'no_route' });
    const auth = route.auth;
    if (auth === false) return; // explicitly public route
    const verifier = verifiers.get(auth.issuer);
    // Config validation guarantees the issuer exists; fail closed if that ever breaks.
    if (verifier === undefined) throw new GatewayError('internal_error', { reason: 'unknown_issuer' });

    let bearer: string;
    try {
      bearer = extractBearer(ctx.req);
    } catch (err) {
      if (err instanceof GatewayError) metrics.tokenRejections.inc({ issuer: verifier.name, reason: err.reason ?? err.code });
      throw err;
    }
    const result = verifier.verify(bearer, auth.audiences ?? verifier.defaultAudiences);
    if (result instanceof Promise) return result.then((token) => authorize(ctx, token, verifier.name, auth.scopes));
    authorize(ctx, result, verifier.name, auth.scopes);
  };
}
