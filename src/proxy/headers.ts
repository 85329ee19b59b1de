import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { GatewayConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../pipeline/context.js';

/**
 * Header rules for the hop to the upstream. Everything here is decided from config once
 * (`createHeaderRewriter`) and applied per request by mutating `req.headers`, which is what
 * http-proxy-3 copies into the upstream request.
 */

// RFC 9110 §7.6.1: connection-specific fields, never forwarded. Proxy-Authorization is for
// this hop only (RFC 9110 §11.7.2).
const HOP_BY_HOP = ['connection', 'proxy-connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate'];

// Names a client could list in `Connection` to make a naive proxy drop framing or routing
// fields; these are handled explicitly and never removed on the client's say-so.
const PROTECTED = new Set(['host', 'content-length', 'transfer-encoding']);

/** Fields that must appear at most once (RFC 9110 §5.3; Node silently keeps only the first). */
const SINGLETONS = new Set(['host', 'authorization', 'content-length', 'transfer-encoding', 'x-request-id']);

/** Rejects a second Host/Authorization/Content-Length/Transfer-Encoding (request smuggling, confusion). */
export function assertSingletonHeaders(req: IncomingMessage): void {
  const raw = req.rawHeaders;
  let seen: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!SINGLETONS.has(name)) continue;
    seen ??= new Set();
    if (seen.has(name)) throw new GatewayError('duplicate_header', { reason: `duplicate_${name}`, detail: `Duplicate ${name} header.` });
    seen.add(name);
  }
}

export interface HeaderRewriter {
  /** Applies every request-side rule; called after authentication, right before forwarding. */
  apply(ctx: RequestContext): void;
}

export function createHeaderRewriter(config: GatewayConfig): HeaderRewriter {
  const ids = config.identityHeaders;
  const identityNames = [ids.clientId.toLowerCase(), ids.scopes.toLowerCase(), ids.issuer.toLowerCase()];
  const trustForwarded = config.server.trustForwardedHeaders;

  return {
    apply(ctx) {
      const req = ctx.req;
      const h = req.headers;
      stripHopByHop(h);
      framing(h);
      for (const name of identityNames) delete h[name];
      if (ctx.route?.forwardAuthorization !== true) delete h.authorization;

      // X-Forwarded-* (de facto; RFC 7239 `Forwarded` is dropped unless trusted, since we do not
      // rewrite it and an untrusted one would let a client claim any origin).
      const remote = req.socket.remoteAddress ?? '';
      const proto = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
      if (trustForwarded) {
        const prior = h['x-forwarded-for'];
        h['x-forwarded-for'] = prior ? `${prior}, ${remote}` : remote;
        h['x-forwarded-proto'] ??= proto;
        if (h['x-forwarded-host'] === undefined && h.host !== undefined) h['x-forwarded-host'] = h.host;
      } else {
        delete h.forwarded;
        h['x-forwarded-for'] = remote;
        h['x-forwarded-proto'] = proto;
        if (h.host !== undefined) h['x-forwarded-host'] = h.host;
        else delete h['x-forwarded-host'];
      }
      h['x-request-id'] = ctx.requestId;

      const token = ctx.token;
      if (token !== undefined) {
        h[identityNames[0]!] = token.clientId;
        h[identityNames[1]!] = [...token.scopes].join(' ');
        h[identityNames[2]!] = token.issuerName;
      }
    },
  };
}

function stripHopByHop(h: IncomingHttpHeaders): void {
  const listed = h.connection;
  if (listed !== undefined) {
    for (const part of listed.split(',')) {
      const name = part.trim().toLowerCase();
      if (name.length > 0 && !PROTECTED.has(name)) delete h[name];
    }
  }
  for (const name of HOP_BY_HOP) delete h[name];
}

/**
 * Message framing for the upstream hop (RFC 9112 §6). Node has already de-chunked the client's
 * body; a body without Content-Length must be re-chunked explicitly, because Node's client does
 * not chunk DELETE/OPTIONS bodies by default and would otherwise send the raw bytes after the
 * headers, where an upstream reads them as a second request (CVE-2026-29057 in http-proxy-3's
 * `deleteLength` pass, which this gateway removes).
 */
function framing(h: IncomingHttpHeaders): void {
  const te = h['transfer-encoding'];
  if (te === undefined) return;
  if (te.trim().toLowerCase() !== 'chunked') {
    throw new GatewayError('bad_request', { reason: 'transfer_encoding', detail: 'Only chunked transfer-coding is accepted.' });
  }
  // RFC 9112 §6.3: with both present Transfer-Encoding wins; never forward both.
  delete h['content-length'];
  h['transfer-encoding'] = 'chunked';
}

/** Response-side hop-by-hop removal (RFC 9110 §7.6.1), applied to the upstream's headers. */
export function stripResponseHopByHop(h: IncomingHttpHeaders): void {
  const listed = h.connection;
  if (listed !== undefined) {
    for (const part of listed.split(',')) {
      const name = part.trim().toLowerCase();
      if (name.length > 0 && !PROTECTED.has(name)) delete h[name];
    }
  }
  delete h.connection;
  delete h['keep-alive'];
  delete h['proxy-connection'];
  delete h['proxy-authenticate'];
  delete h.upgrade;
  delete h.trailer;
}
