/**
 * The one error catalogue. Every rejection a client can see is listed here with a stable
 * code, an HTTP status and a short public title; stages throw `GatewayError` with one of
 * these codes and the server's single error handler renders it as RFC 9457
 * `application/problem+json`. Codes are never reused for a different meaning: retire a code
 * by leaving it here, commented as retired.
 */

export interface ErrorSpec {
  readonly status: number;
  readonly title: string;
}

export const ERRORS = {
  // Request shape (RFC 9110 §9, RFC 3986 §3.3)
  bad_request: { status: 400, title: 'The request is malformed.' },
  invalid_path: { status: 400, title: 'The request path is not acceptable.' },
  invalid_request_target: { status: 400, title: 'Only origin-form request targets are accepted.' },
  duplicate_header: { status: 400, title: 'A header that must appear once appeared more than once.' },
  method_not_allowed: { status: 405, title: 'The method is not allowed.' },
  route_not_found: { status: 404, title: 'No route matches the request.' },
  payload_too_large: { status: 413, title: 'The request body is larger than this route accepts.' },
  invalid_body: { status: 400, title: 'The request body is not acceptable JSON.' },

  // Bearer tokens (RFC 6750 §3.1)
  invalid_request: { status: 400, title: 'The authorization request is malformed.' },
  token_missing: { status: 401, title: 'A bearer token is required.' },
  token_invalid: { status: 401, title: 'The access token is invalid.' },
  token_expired: { status: 401, title: 'The access token has expired.' },
  insufficient_scope: { status: 403, title: 'The access token lacks a required scope.' },
  auth_unavailable: { status: 503, title: 'Token verification is temporarily unavailable.' },

  // Rate limits and quotas (RFC 6585 §4)
  rate_limited: { status: 429, title: 'A rate limit or quota for this client was exceeded.' },
  rate_limit_unavailable: { status: 503, title: 'Rate limiting is temporarily unavailable for this route.' },

  // Upstream (RFC 9110 §15.6)
  upstream_unavailable: { status: 502, title: 'The upstream service could not be reached.' },
  upstream_timeout: { status: 504, title: 'The upstream service did not answer in time.' },

  // Policy (the route's Rego decision; default deny)
  policy_denied: { status: 403, title: 'The policy does not allow this request.' },

  // High-risk routes: replay protection and idempotency keys (draft-ietf-httpapi-idempotency-key-header)
  timestamp_invalid: { status: 400, title: 'The request timestamp is missing, malformed or outside the accepted window.' },
  nonce_invalid: { status: 400, title: 'The request nonce is missing or too short.' },
  replay_detected: { status: 409, title: 'This request was already received (a reused nonce or one-time token).' },
  idempotency_key_invalid: { status: 400, title: 'An Idempotency-Key is required on this request and must be a structured-field string.' },
  idempotency_key_in_use: { status: 409, title: 'A request with this Idempotency-Key is still being processed.' },
  idempotency_key_mismatch: { status: 422, title: 'This Idempotency-Key was used for a different request.' },
  idempotency_replay_unavailable: { status: 409, title: 'The request with this Idempotency-Key ran, but its response cannot be replayed.' },
  high_risk_store_unavailable: { status: 503, title: 'Replay and idempotency checks are temporarily unavailable for this route.' },

  // Audit trail (no high-risk action goes unaudited)
  audit_unavailable: { status: 503, title: 'The audit trail cannot record requests right now; this route does not run unaudited.' },

  // Gateway
  shutting_down: { status: 503, title: 'The gateway is shutting down.' },
  internal_error: { status: 500, title: 'The gateway failed to handle the request.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Problem type URIs are stable URNs: RFC 9457 §3.1.1 allows any URI, and a URN never dereferences. */
export const problemType = (code: ErrorCode): string => `urn:tollgate:error:${code}`;

/**
 * A typed, client-safe rejection. `detail` must never contain secrets or anything that helps an
 * attacker; `reason` is internal (logs, metrics labels, audit) and is a stable token, not free text.
 */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly reason: string | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** Reasons the client may see (a policy's public reasons), rendered as the problem's `reasons` member. */
  readonly reasons: readonly string[] | undefined;

  constructor(
    code: ErrorCode,
    opts: { detail?: string; reason?: string; headers?: Record<string, string>; cause?: unknown; reasons?: readonly string[] } = {},
  ) {
    super(ERRORS[code].title, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.detail = opts.detail;
    this.reason = opts.reason;
    this.headers = opts.headers;
    this.reasons = opts.reasons;
  }
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  instance?: string;
  /** RFC 9457 §3.2 extension member: the public reasons of a policy denial. */
  reasons?: readonly string[];
  request_id: string;
}

/** RFC 9457 §3 body for an error; `instance` is the request id as a URN so clients can quote it. */
export function toProblem(err: GatewayError, requestId: string): ProblemBody {
  const body: ProblemBody = {
    type: problemType(err.code),
    title: ERRORS[err.code].title,
    status: err.status,
    code: err.code,
    request_id: requestId,
  };
  if (err.detail !== undefined) body.detail = err.detail;
  if (err.reasons !== undefined && err.reasons.length > 0) body.reasons = err.reasons;
  return body;
}
