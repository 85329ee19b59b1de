import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { RiskTier, RouteConfig } from '../config/types.js';
import type { LimitState } from '../ratelimit/types.js';
import type { VerifiedToken } from '../tokens/types.js';
import type { RequestContext } from './context.js';

/**
 * The concrete per-request context. A class so every request has the same shape (one hidden
 * class for V8), and the request-scoped child logger is only built when something logs:
 * creating a pino child runs the redaction serialiser, which is measurable on the hot path.
 */
export class Context implements RequestContext {
  readonly requestId: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly startedAt: bigint;
  readonly method: string;
  path = '';
  query = '';
  route: RouteConfig | undefined = undefined;
  params: Record<string, string> = {};
  token: VerifiedToken | undefined = undefined;
  risk: RiskTier | undefined = undefined;
  body: Buffer | undefined = undefined;
  policy: RequestContext['policy'] = undefined;
  upstreamHeaders: RequestContext['upstreamHeaders'] = undefined;
  rateLimit: LimitState | undefined = undefined;
  stage = -1;
  replayed = false;
  // Created by the first stage that needs one: most requests have none, and this is per request.
  finalizers: RequestContext['finalizers'] = undefined;
  forwarded = false;
  upstreamStatus: number | undefined = undefined;
  upstreamMs: number | undefined = undefined;
  #root: Logger;
  #log: Logger | undefined = undefined;

  constructor(root: Logger, requestId: string, req: IncomingMessage, res: ServerResponse) {
    this.#root = root;
    this.requestId = requestId;
    this.req = req;
    this.res = res;
    this.startedAt = process.hrtime.bigint();
    this.method = req.method ?? 'GET';
  }

  get log(): Logger {
    this.#log ??= this.#root.child({ reqId: this.requestId });
    return this.#log;
  }
}
