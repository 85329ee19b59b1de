import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { RiskTier, RouteConfig } from '../config/types.js';
import type { GatewayError } from '../errors.js';
import type { LimitState } from '../ratelimit/types.js';
import type { VerifiedToken } from '../tokens/types.js';

/**
 * The typed per-request context that flows through the stages. Stages read what earlier stages
 * wrote and add their own fields; nothing else is shared between them.
 */
export interface RequestContext {
  readonly requestId: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly log: Logger;
  /** process.hrtime.bigint() when the request arrived. */
  readonly startedAt: bigint;
  readonly method: string;
  /** The normalised path the route was matched on and the upstream receives (RFC 3986 §6.2.2). */
  path: string;
  /** The raw query string without the leading `?`, forwarded unchanged ('' if none). */
  query: string;
  route: RouteConfig | undefined;
  /** Named template parameters, decoded. */
  params: Record<string, string>;
  token: VerifiedToken | undefined;
  /** The effective risk tier when the policy raised it above the route's (read it through `riskOf`). */
  risk: RiskTier | undefined;
  /** The request body, when a stage read it whole (the forward stage then sends exactly these bytes). */
  body: Buffer | undefined;
  /** The policy's decision for this request (id for the response header and audit record, all reasons). */
  policy: { id: string; allow: boolean; reasons: readonly string[] } | undefined;
  /** Headers the policy obliged the gateway to add to the upstream request. */
  upstreamHeaders: ReadonlyArray<readonly [string, string]> | undefined;
  /** The tightest rate-limit state reported so far (the before- and after-auth stages report one header). */
  rateLimit: LimitState | undefined;
  /** Index of the stage running (or that ended the request), for the audit record. */
  stage: number;
  /** Set by the forward stage when the request is handed to the upstream: the gateway allowed it. */
  forwarded: boolean;
  /** A stage answered the request itself (an idempotent replay): the remaining stages do not run. */
  replayed: boolean;
  /**
   * Run once, with the error that ended the request (if any): before an error response is sent, after a proxied
   * response. E.g. store the response for idempotent retries, or free the key.
   */
  finalizers: Array<(err: GatewayError | undefined) => void | Promise<void>> | undefined;
  /** Upstream timing and status, set by the forward stage. */
  upstreamStatus: number | undefined;
  upstreamMs: number | undefined;
}

/** The request's risk tier: the policy's when it raised it, else the route's (high when no route matched). */
export function riskOf(ctx: RequestContext): RiskTier {
  return ctx.risk ?? ctx.route?.risk ?? 'high';
}

/** A stage: built once at boot from validated config, run per request in pipeline order. */
export type Stage = (ctx: RequestContext) => void | Promise<void>;
