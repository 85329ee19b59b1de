import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

/**
 * Bearer token extraction (RFC 6750 §2.1). Only the Authorization header is read: tokens in the
 * query string (§2.3) end up in access logs and caches, and form bodies (§2.2) would force us to
 * buffer and parse bodies before authentication, so neither is supported.
 */

/** RFC 6750 §3.1: no error attribute when the request carried no credentials at all. */
export const BEARER_CHALLENGE: Readonly<Record<string, string>> = Object.freeze({
  'WWW-Authenticate': 'Bearer realm="tollgate"',
});

export const INVALID_REQUEST_CHALLENGE: Readonly<Record<string, string>> = Object.freeze({
  'WWW-Authenticate': 'Bearer realm="tollgate", error="invalid_request"',
});

/** RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export function extractBearer(req: IncomingMessage): string {
  // Node keeps only the first of several Authorization headers in req.headers, so the raw list
  // is the only place a second one shows. Two credentials are ambiguous: refuse (RFC 6750 §3.1
  // invalid_request "uses more than one method"; RFC 9110 §5.3 forbids repeating this field).
  const raw = req.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization' && ++seen > 1) {
      throw new GatewayError('duplicate_header', { reason: 'authorization', headers: INVALID_REQUEST_CHALLENGE });
    }
  }

  const value = req.headers.authorization;
  if (value === undefined) throw new GatewayError('token_missing', { reason: 'missing', headers: BEARER_CHALLENGE });

  // credentials = auth-scheme [ 1*SP token68 ] (RFC 9110 §11.4); the scheme is case-insensitive (§11.1).
  const sp = value.indexOf(' ');
  const scheme = sp === -1 ? value : value.slice(0, sp);
  if (scheme.toLowerCase() !== 'bearer') {
    // Credentials of another scheme (Basic, DPoP, …) are not a bearer token: answer as for no
    // token, with a challenge naming the scheme we accept (RFC 9110 §11.6.1, RFC 6750 §3.1).
    throw new GatewayError(value === '' ? 'invalid_request' : 'token_missing', {
      reason: value === '' ? 'malformed' : 'scheme',
      headers: value === '' ? INVALID_REQUEST_CHALLENGE : BEARER_CHALLENGE,
    });
  }
  let start = sp === -1 ? value.length : sp + 1;
  while (value.charCodeAt(start) === 0x20) start++; // RFC 6750 §2.1 allows 1*SP
  const token = value.slice(start);
  if (!B64TOKEN.test(token)) {
    throw new GatewayError('invalid_request', { reason: 'malformed', headers: INVALID_REQUEST_CHALLENGE });
  }
  return token;
}
