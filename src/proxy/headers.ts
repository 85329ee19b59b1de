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
const SINGLETON_LENGTHS = new Set([...SINGLETONS].map((name) => name.length));

/** Rejects a second Host/Authorization/Content-Length/Transfer-Encoding (request smuggling, confusion). */
export function assertSingletonHeaders(req: IncomingMessage): void {
  const raw = req.rawHeaders;
  let seen: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const rawName = raw[i]!;
    // Cheap length filter first: lower-casing every header name would allocate per header.
    if (!SINGLETON_LENGTHS.has(rawName.length)) continue;
    const name = rawName.toLowerCase();
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
  const clientIdName = ids.clientId.toLowerCase();
  const scopesName = ids.scopes.toLowerCase();
  const issuerName = ids.issuer.toLowerCase();
  const trustForwarded = config.server.trustForwardedHeaders;

  // Request fields never copied to the upstream request, decided once. The gateway's own
  // identity headers are dropped so a client cannot pre-fill them; `expect` because Node
  // already answered `100 Continue` to the client.
  // Headers the policy may set (obligations) are the gateway's to write, like the identity headers; approval
  // tokens are credentials for the gateway, never for the upstream.
  const policyHeaders = [...(config.policy?.obligationHeaders ?? []), ...(config.policy?.approvals !== undefined ? [config.policy.approvals.header] : [])];
  const dropAlways = new Set([...HOP_BY_HOP, 'transfer-encoding', 'expect', 'x-request-id', clientIdName, scopesName, issuerName, ...policyHeaders]);
  if (!trustForwarded) for (const name of ['forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']) dropAlways.add(name);

  return {
    apply(ctx) {
      const req = ctx.req;
      const h = req.headers;
      const listed = h.connection !== undefined ? connectionListed(h.connection) : null;
      const keepAuthorization = ctx.route?.forwardAuthorization === true;

      // A fresh object instead of `delete` on Node's: deleting turns it into a slow dictionary
      // that http-proxy-3 and Node's client then copy and walk on every request.
      const out: IncomingHttpHeaders = {};
      for (const name in h) {
        if (dropAlways.has(name)) continue;
        if (listed !== null && listed.has(name)) continue;
        if (name === 'authorization' && !keepAuthorization) continue;
        out[name] = h[name];
      }
      if (ctx.body !== undefined) {
        // The body was read whole (policy input): the upstream gets exactly those bytes, with their length.
        delete out['transfer-encoding'];
        out['content-length'] = String(ctx.body.length);
      } else {
        framing(h, out);
      }

      // X-Forwarded-* (de facto; RFC 7239 `Forwarded` is dropped unless trusted, since we do not
      // rewrite it and an untrusted one would let a client claim any origin).
      const remote = req.socket.remoteAddress ?? '';
      const proto = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
      if (trustForwarded) {
        const prior = h['x-forwarded-for'];
        out['x-forwarded-for'] = prior ? `${prior}, ${remote}` : remote;
        out['x-forwarded-proto'] = h['x-forwarded-proto'] ?? proto;
        const fwdHost = h['x-forwarded-host'] ?? h.host;
        if (fwdHost !== undefined) out['x-forwarded-host'] = fwdHost;
      } else {
        out['x-forwarded-for'] = remote;
        out['x-forwarded-proto'] = proto;
        if (h.host !== undefined) out['x-forwarded-host'] = h.host;
      }
      out['x-request-id'] = ctx.requestId;

      const token = ctx.token;
      if (token !== undefined) {
        out[clientIdName] = token.clientId;
        out[scopesName] = scopeHeader(token.scopes);
        out[issuerName] = token.issuerName;
      }
      const obliged = ctx.upstreamHeaders;
      if (obliged !== undefined) for (const [name, value] of obliged) out[name] = value;
      req.headers = out;
    },
  };
}

const scopeStrings = new WeakMap<ReadonlySet<string>, string>();

/** Verified tokens are cached and frozen, so their scope string is computed once per token. */
function scopeHeader(scopes: ReadonlySet<string>): string {
  let s = scopeStrings.get(scopes);
  if (s === undefined) {
    s = [...scopes].join(' ');
    scopeStrings.set(scopes, s);
  }
  return s;
}

/**
 * Names listed in `Connection` (RFC 9110 §7.6.1) are dropped, except framing and routing fields
 * the gateway handles itself (a client must not make it drop Host or Content-Length).
 */
function connectionListed(value: string): Set<string> | null {
  let names: Set<string> | null = null;
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name.length === 0 || PROTECTED.has(name) || name === 'keep-alive' || name === 'close') continue;
    names ??= new Set();
    names.add(name);
  }
  return names;
}

/**
 * Message framing for the upstream hop (RFC 9112 §6). Node has already de-chunked the client's
 * body; a body without Content-Length must be re-chunked explicitly, because Node's client does
 * not chunk DELETE/OPTIONS bodies by default and would otherwise send the raw bytes after the
 * headers, where an upstream reads them as a second request (CVE-2026-29057 in http-proxy-3's
 * `deleteLength` pass, which this gateway removes).
 */
function framing(h: IncomingHttpHeaders, out: IncomingHttpHeaders): void {
  const te = h['transfer-encoding'];
  if (te === undefined) return;
  if (te.trim().toLowerCase() !== 'chunked') {
    throw new GatewayError('bad_request', { reason: 'transfer_encoding', detail: 'Only chunked transfer-coding is accepted.' });
  }
  // RFC 9112 §6.3: with both present Transfer-Encoding wins; never forward both.
  delete out['content-length'];
  out['transfer-encoding'] = 'chunked';
}

/**
 * Response-side hop-by-hop removal (RFC 9110 §7.6.1), applied to the upstream's headers before
 * http-proxy-3 copies them. Fields are set to `undefined` (which the copy skips) rather than
 * deleted, for the same reason as on the request side.
 */
export function stripResponseHopByHop(h: IncomingHttpHeaders): void {
  const listed = h.connection;
  if (listed !== undefined && listed !== 'keep-alive' && listed !== 'close') {
    const names = connectionListed(listed);
    if (names !== null) for (const name of names) h[name] = undefined;
  }
  if (h['keep-alive'] !== undefined) h['keep-alive'] = undefined;
  if (h['proxy-connection'] !== undefined) h['proxy-connection'] = undefined;
  if (h['proxy-authenticate'] !== undefined) h['proxy-authenticate'] = undefined;
  if (h.upgrade !== undefined) h.upgrade = undefined;
  if (h.trailer !== undefined) h.trailer = undefined;
}
