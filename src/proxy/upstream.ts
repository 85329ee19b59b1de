import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { ProxyServer, type ServerOptions } from 'http-proxy-3';
import type { UpstreamConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { stripResponseHopByHop } from './headers.js';

/**
 * One pooled http-proxy-3 instance per allowlisted upstream. The target is fixed here, at
 * build time, from config; nothing in a request can change it (`req.url` is always the
 * gateway's normalised origin-form path, and `toProxy` makes http-proxy-3 use it verbatim
 * instead of re-parsing it with `new URL()`, which would resolve `..` and `//host`).
 */

export interface ForwardResult {
  status: number;
  upstreamMs: number | undefined;
}

export interface UpstreamProxy {
  readonly name: string;
  /** Streams the request upstream and the response back; resolves when the client response closes. */
  /** `body`: the request body when a stage already read it whole (sent instead of the request stream). */
  forward(req: IncomingMessage, res: ServerResponse, maxBodyBytes: number, body?: Buffer): Promise<ForwardResult>;
  close(): void;
}

export interface UpstreamDeps {
  onError(upstream: string, kind: string): void;
}

const kState = Symbol('tollgate.forward');

interface ForwardState {
  /** performance.now() when the request was handed to http-proxy-3. */
  sentAt: number;
  upstreamMs: number | undefined;
  responded: boolean;
  timeoutKind: 'connect' | 'response' | undefined;
  proxyReq: ClientRequest | undefined;
  socket: Socket | undefined;
  /** Set when the body limit tripped before the upstream request existed. */
  abort: Error | undefined;
}

type WithState = IncomingMessage & { [kState]?: ForwardState };

export function createUpstreamProxy(cfg: UpstreamConfig, deps: UpstreamDeps): UpstreamProxy {
  const target = new URL(cfg.url);
  const https = target.protocol === 'https:';
  const agentOptions = { keepAlive: true, maxSockets: cfg.maxSockets, scheduling: 'lifo' as const };
  const agent = https
    ? new HttpsAgent({
        ...agentOptions,
        rejectUnauthorized: true,
        ...(cfg.tls?.caFile !== undefined ? { ca: readFileSync(cfg.tls.caFile) } : {}),
        ...(cfg.tls?.servername !== undefined ? { servername: cfg.tls.servername } : {}),
      })
    : new HttpAgent(agentOptions);

  const options: ServerOptions = {
    target,
    agent,
    xfwd: false, // headers.ts sets X-Forwarded-* under the trust rules
    toProxy: true,
    prependPath: true,
    changeOrigin: !cfg.preserveHost,
    secure: true,
  };
  const proxy = new ProxyServer(options);
  // http-proxy-3's `deleteLength` pass turns a chunked DELETE/OPTIONS into `content-length: 0`
  // while still streaming the body: request smuggling (CVE-2026-29057). Framing is handled in
  // headers.ts instead.
  removeDeleteLengthPass(proxy);

  // Timeouts: one sweep over the requests waiting for response headers, instead of two timers
  // and their listeners per request. Resolution is the sweep interval (at most 50 ms).
  const waiting = new Set<ForwardState>();
  const sweepMs = Math.max(5, Math.min(50, Math.floor(Math.min(cfg.connectTimeoutMs, cfg.responseTimeoutMs) / 4)));
  const sweeper = setInterval(() => {
    if (waiting.size === 0) return;
    const now = performance.now();
    for (const state of waiting) {
      const elapsed = now - state.sentAt;
      const connecting = state.socket === undefined || state.socket.connecting;
      if (connecting && elapsed > cfg.connectTimeoutMs) expire(state, 'connect');
      else if (elapsed > cfg.responseTimeoutMs) expire(state, 'response');
    }
  }, sweepMs);
  sweeper.unref();
  const expire = (state: ForwardState, kind: 'connect' | 'response') => {
    waiting.delete(state);
    state.timeoutKind = kind;
    const err = new Error(`${kind} timeout`);
    if (state.proxyReq !== undefined) state.proxyReq.destroy(err);
    else state.abort = err;
  };

  proxy.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage, _res: ServerResponse, _o: unknown, socket: Socket) => {
    const state = (req as WithState)[kState];
    if (state === undefined) return;
    state.proxyReq = proxyReq;
    state.socket = socket;
    if (state.abort !== undefined) proxyReq.destroy(state.abort);
  });
  proxy.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse) => {
    const state = (req as WithState)[kState];
    if (state !== undefined) {
      state.responded = true;
      waiting.delete(state);
      state.upstreamMs = performance.now() - state.sentAt;
    }
    stripResponseHopByHop(proxyRes.headers);
    // The client connection's persistence is this hop's business (RFC 9112 §9.3): keep what
    // Node decided from the client's request. Otherwise http-proxy-3's `setConnection` pass
    // would write `keep-alive` after we removed the client's `Connection: close`.
    proxyRes.headers.connection = res.shouldKeepAlive ? 'keep-alive' : 'close';
    // The client quotes the gateway's request id (headers.ts put it on the upstream request).
    const requestId = req.headers['x-request-id'];
    if (requestId !== undefined) proxyRes.headers['x-request-id'] = requestId;
  });
  // Errors are delivered to the per-call callback; this keeps an unexpected one from crashing.
  proxy.on('error', () => {});

  return {
    name: cfg.name,
    forward(req, res, maxBodyBytes, body) {
      return new Promise<ForwardResult>((resolve, reject) => {
        const state: ForwardState = {
          sentAt: performance.now(),
          upstreamMs: undefined,
          responded: false,
          timeoutKind: undefined,
          proxyReq: undefined,
          socket: undefined,
          abort: undefined,
        };
        (req as WithState)[kState] = state;
        waiting.add(state);
        let failed = false;
        const perCall: ServerOptions = {};
        if (body !== undefined) {
          perCall.buffer = Readable.from(body.length > 0 ? [body] : []);
        } else if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] !== undefined) {
          // Chunked body: enforce the limit while streaming. A Content-Length body was checked
          // before forwarding, and Node's parser holds the client to the length it declared.
          const limiter = createBodyLimit(maxBodyBytes);
          limiter.once('error', (err) => {
            req.unpipe(limiter);
            if (state.proxyReq !== undefined) state.proxyReq.destroy(err);
            else state.abort = err;
            if (failed) return;
            failed = true;
            if (res.headersSent) {
              res.destroy();
              resolve({ status: res.statusCode, upstreamMs: state.upstreamMs });
            } else {
              reject(toGatewayError('body_too_large', err));
            }
          });
          perCall.buffer = req.pipe(limiter);
        }
        res.once('close', () => {
          waiting.delete(state);
          if (!failed) resolve({ status: res.headersSent ? res.statusCode : 499, upstreamMs: state.upstreamMs });
        });
        proxy.web(req, res, perCall, (err: Error & { code?: string }) => {
          waiting.delete(state);
          if (failed) return;
          failed = true;
          const kind = errorKind(err, state);
          if (kind !== 'body_too_large' && kind !== 'client_abort') deps.onError(cfg.name, kind);
          if (res.headersSent || kind === 'client_abort') {
            // Mid-stream failure: the status line is gone, so the only honest signal is a reset.
            res.destroy();
            resolve({ status: res.headersSent ? res.statusCode : 499, upstreamMs: state.upstreamMs });
            return;
          }
          reject(toGatewayError(kind, err));
        });
      });
    },
    close() {
      clearInterval(sweeper);
      proxy.close();
      agent.destroy();
    },
  };
}

function removeDeleteLengthPass(proxy: ProxyServer): void {
  // `webPasses` is private in the typings; the library documents passes by name (`before`/`after`).
  const internals = proxy as unknown as { webPasses: Array<{ name: string }> };
  const before = internals.webPasses.length;
  internals.webPasses = internals.webPasses.filter((pass) => pass.name !== 'deleteLength');
  if (internals.webPasses.length !== before - 1) {
    throw new Error('http-proxy-3 changed its web passes; re-check the request smuggling guard');
  }
}

// Node's TLS errors and OpenSSL's X.509 verification codes (UNABLE_TO_VERIFY_LEAF_SIGNATURE,
// DEPTH_ZERO_SELF_SIGNED_CERT, CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID, …).
const TLS_ERROR = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|EPROTO$)|CERT/;

function errorKind(err: Error & { code?: string }, state: ForwardState): string {
  if (err instanceof BodyTooLarge) return 'body_too_large';
  if (state.timeoutKind !== undefined) return `${state.timeoutKind}_timeout`;
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'EAI_AGAIN') return 'connect';
  if (TLS_ERROR.test(code)) return 'tls';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNABORTED') return 'client_abort';
  return 'other';
}

function toGatewayError(kind: string, cause: Error): GatewayError {
  if (kind === 'body_too_large') return new GatewayError('payload_too_large', { reason: 'body_limit', cause });
  if (kind.endsWith('_timeout')) return new GatewayError('upstream_timeout', { reason: kind, cause });
  return new GatewayError('upstream_unavailable', { reason: kind, cause });
}

class BodyTooLarge extends Error {}

/** Counts streamed body bytes and fails the upload once it passes the route's limit. */
function createBodyLimit(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      seen += chunk.length;
      if (seen > limit) cb(new BodyTooLarge('body too large'));
      else cb(null, chunk);
    },
  });
}
