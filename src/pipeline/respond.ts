import type { ServerResponse } from 'node:http';
import { GatewayError, toProblem } from '../errors.js';

/**
 * The one place a rejection becomes bytes: RFC 9457 problem+json with the stable code and the
 * request id, plus the error's own headers (WWW-Authenticate, Allow, Retry-After). Unknown
 * errors become a bare 500 so no internal message, stack or secret reaches the client.
 */
export function toGatewayError(err: unknown): GatewayError {
  return err instanceof GatewayError ? err : new GatewayError('internal_error', { reason: 'unhandled', cause: err });
}

export function sendProblem(res: ServerResponse, err: GatewayError, requestId: string, closeConnection = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(toProblem(err, requestId));
  res.statusCode = err.status;
  res.setHeader('content-type', 'application/problem+json');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-request-id', requestId);
  if (err.headers !== undefined) {
    for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
  }
  // After a framing problem or an unread oversized body the connection cannot be reused safely.
  if (closeConnection || err.status === 413 || err.code === 'duplicate_header' || err.code === 'bad_request') {
    res.setHeader('connection', 'close');
  }
  res.end(body);
}
