/**
 * The high-risk checks, after the policy (which may have raised the tier) and before the upstream:
 *
 * - Replay protection: a timestamp within the window and a nonce never seen before for this client within it
 *   (shared across instances through the nonce store), and optionally the token's `jti` as a one-time token.
 * - Idempotency keys (draft-ietf-httpapi-idempotency-key-header, and Stripe's documented behaviour): on unsafe
 *   methods a key is required; the first request with a key runs, its response is stored, and a retry with the same
 *   key and the same request gets that response without reaching the upstream. Same key, other request: 422.
 *   Same key while the first still runs: 409; the upstream sees one request however many arrive at once.
 *
 * What happens when the first request does not end with a response (a retry must never silently run the action
 * twice):
 *   - never sent (connection refused, connect timeout, TLS failure) or stopped before the upstream (a later
 *     check refused it): the key is released, a retry runs normally;
 *   - sent, no answer (response timeout, reset) or the client went away mid-response: the outcome is stored as
 *     unknown; retries get 409 idempotency_replay_unavailable until the key expires (the client must find out
 *     what happened and use a new key);
 *   - an upstream 5xx is a response like any other: stored and replayed (as Stripe does);
 *   - a body larger than `maxStoredBodyBytes`: answered once, retries get 409 naming the original status.
 * If a store cannot be reached, the route fails closed (503).
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { GatewayConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { IdempotencyStore, NonceStore, StoredResponse } from '../highrisk/types.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { riskOf, type RequestContext, type Stage } from '../pipeline/context.js';
import { readBody } from '../proxy/body.js';

export const REPLAYED_HEADER = 'idempotent-replayed';

export interface HighRiskDeps {
  idempotency: IdempotencyStore;
  nonces: NonceStore;
  metrics: GatewayMetrics;
  now?: () => number;
}

// RFC 8941 §3.3.3 sf-string: DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE, printable ASCII only.
const SF_STRING = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/;
// At least 128 bits of randomness: 22 base64url characters carry 132.
const NONCE = /^[A-Za-z0-9_-]{22,128}$/;
const TIMESTAMP = /^[0-9]{1,12}$/;
// Failures that happen before the request leaves the gateway (src/proxy/upstream.ts errorKind): nothing ran.
const NEVER_SENT = new Set(['connect', 'connect_timeout', 'tls']);

/** The Idempotency-Key's value, or undefined when it is not a 1-255 character sf-string. */
export function parseIdempotencyKey(raw: string | string[] | undefined): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const m = SF_STRING.exec(raw.trim());
  if (m === null) return undefined;
  const value = m[1]!.replace(/\\(["\\])/g, '$1');
  return value.length >= 1 && value.length <= 255 ? value : undefined;
}

const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

function storeUnavailable(cause: unknown): GatewayError {
  return new GatewayError('high_risk_store_unavailable', { reason: 'store_unavailable', cause, headers: { 'retry-after': '1' } });
}

interface Capture {
  chunks: Buffer[];
  size: number;
  tooLarge: boolean;
}

/** Records what the gateway sends to the client (status, headers, body) for replay, up to `limit` body bytes. */
function captureResponse(res: ServerResponse, limit: number): Capture {
  const cap: Capture = { chunks: [], size: 0, tooLarge: false };
  const add = (chunk: unknown, encoding: unknown): void => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function' || cap.tooLarge) return;
    const buf = Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : Buffer.from(chunk as Uint8Array);
    cap.size += buf.length;
    if (cap.size > limit) {
      cap.tooLarge = true;
      cap.chunks = [];
      return;
    }
    cap.chunks.push(buf);
  };
  const write = res.write.bind(res) as (...a: unknown[]) => boolean;
  const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
  res.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
    add(chunk, encoding);
    return write(chunk, encoding, cb);
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown, encoding?: unknown, cb?: unknown) => {
    add(chunk, encoding);
    return end(chunk, encoding, cb);
  }) as ServerResponse['end'];
  return cap;
}

export function createHighRiskStage(config: GatewayConfig, deps: HighRiskDeps): Stage {
  const { idempotency: idem, replay } = config.highRisk;
  const now = deps.now ?? Date.now;
  const unsafe = new Set(idem.methods);
  const storeHeaders = new Set(idem.storeHeaders);
  const ttlMs = idem.ttlSeconds * 1000;
  const leaseMs = idem.leaseSeconds * 1000;
  const windowSec = replay.windowSeconds + replay.clockSkewSeconds;
  // A nonce is remembered as long as a request carrying it could still be inside the window.
  const nonceTtlMs = windowSec * 2 * 1000;
  const count = (check: string, outcome: string): void => deps.metrics.highRiskChecks.series({ check, outcome }).inc();
  const reject = (check: string, outcome: string, err: GatewayError): never => {
    count(check, outcome);
    throw err;
  };

  const checkReplay = async (ctx: RequestContext, client: string): Promise<void> => {
    const h = ctx.req.headers;
    const ts = h[replay.timestampHeader];
    if (typeof ts !== 'string' || !TIMESTAMP.test(ts)) {
      reject('replay', 'timestamp_invalid', new GatewayError('timestamp_invalid', { reason: ts === undefined ? 'timestamp_missing' : 'timestamp_malformed', detail: `${replay.timestampHeader} must be the request time in Unix seconds.` }));
    }
    const skew = Math.abs(now() / 1000 - Number(ts));
    if (skew > windowSec) {
      reject('replay', 'timestamp_outside_window', new GatewayError('timestamp_invalid', { reason: 'outside_window', detail: `${replay.timestampHeader} is more than ${replay.windowSeconds} s from the gateway's clock.` }));
    }
    const nonce = h[replay.nonceHeader];
    if (typeof nonce !== 'string' || !NONCE.test(nonce)) {
      reject('replay', 'nonce_invalid', new GatewayError('nonce_invalid', { reason: nonce === undefined ? 'nonce_missing' : 'nonce_malformed', detail: `${replay.nonceHeader} must be at least 22 base64url characters of randomness.` }));
    }
    let fresh: boolean;
    try {
      fresh = await deps.nonces.claim(`n:${sha256(`${client}\u0000${nonce as string}`)}`, { ttlMs: nonceTtlMs, now: now() });
    } catch (err) {
      return reject('replay', 'store_unavailable', storeUnavailable(err));
    }
    if (!fresh) reject('replay', 'replayed', new GatewayError('replay_detected', { reason: 'nonce_reused', detail: 'This nonce was already used.' }));
    count('replay', 'ok');
  };

  const checkJti = async (ctx: RequestContext): Promise<void> => {
    const token = ctx.token;
    if (token === undefined) return;
    if (token.jti === undefined) reject('jti', 'missing', new GatewayError('token_invalid', { reason: 'jti_required', detail: 'This route needs tokens with a jti.' }));
    // Remembered until the token expires: after that it is refused anyway.
    const ttl = Math.max(1000, token.expiresAt * 1000 - now() + 60_000);
    let fresh: boolean;
    try {
      fresh = await deps.nonces.claim(`j:${sha256(`${token.issuer}\u0000${token.jti as string}`)}`, { ttlMs: ttl, now: now() });
    } catch (err) {
      return reject('jti', 'store_unavailable', storeUnavailable(err));
    }
    if (!fresh) reject('jti', 'replayed', new GatewayError('replay_detected', { reason: 'jti_reused', detail: 'This token was already used (one request per token on this route).' }));
    count('jti', 'ok');
  };

  const replayStored = (ctx: RequestContext, stored: StoredResponse): void => {
    if (stored.outcome !== 'response') {
      const detail =
        stored.outcome === 'too_large'
          ? `The request with this key completed with status ${stored.status}; its response was too large to keep for replay.`
          : 'The request with this key reached the upstream but its outcome is unknown; check the resource before retrying with a new key.';
      reject('idempotency', stored.outcome, new GatewayError('idempotency_replay_unavailable', { reason: stored.outcome === 'too_large' ? 'response_too_large' : 'outcome_unknown', detail }));
    }
    const res = ctx.res;
    res.statusCode = stored.status;
    for (const [name, value] of stored.headers) res.appendHeader(name, value);
    res.setHeader('content-length', stored.body.length);
    res.setHeader(REPLAYED_HEADER, 'true');
    res.setHeader('x-request-id', ctx.requestId);
    res.end(ctx.method === 'HEAD' ? undefined : stored.body);
    ctx.upstreamStatus = stored.status;
    ctx.replayed = true;
    count('idempotency', 'replayed');
  };

  const runIdempotency = async (ctx: RequestContext, client: string): Promise<void> => {
    const route = ctx.route!;
    const key = parseIdempotencyKey(ctx.req.headers[idem.header]);
    if (key === undefined) {
      const missing = ctx.req.headers[idem.header] === undefined;
      reject('idempotency', 'invalid', new GatewayError('idempotency_key_invalid', {
        reason: missing ? 'key_missing' : 'key_malformed',
        detail: `${idem.header} must be a quoted structured-field string of 1 to 255 characters, e.g. ${idem.header}: "8e03978e-40d5-43e8-bc93-6894a57f9324".`,
      }));
    }
    // The fingerprint covers the body, so the body is read whole (and then forwarded from memory).
    if (ctx.body === undefined) ctx.body = await readBody(ctx.req, route.maxBodyBytes);
    let fp = `${ctx.method}\n${ctx.path}\n${ctx.query}\n${sha256(ctx.body)}`;
    for (const name of idem.fingerprintHeaders) {
      const v = ctx.req.headers[name];
      fp += `\n${name}:${Array.isArray(v) ? v.join(', ') : (v ?? '')}`;
    }
    const fingerprint = sha256(fp);
    // Scoped by client and route: two clients never share a key, and one cannot read another's response.
    const storeKey = `i:${sha256(`${client}\u0000${route.id}\u0000${key as string}`)}`;
    let begun;
    try {
      begun = await deps.idempotency.begin(storeKey, fingerprint, { ttlMs, leaseMs, now: now() });
    } catch (err) {
      return reject('idempotency', 'store_unavailable', storeUnavailable(err));
    }
    switch (begun.kind) {
      case 'in_flight':
        reject('idempotency', 'in_flight', new GatewayError('idempotency_key_in_use', { reason: 'in_flight', detail: 'A request with this key is still being processed; retry later.', headers: { 'retry-after': '1' } }));
        break;
      case 'mismatch':
        reject('idempotency', 'mismatch', new GatewayError('idempotency_key_mismatch', { reason: 'fingerprint', detail: 'This key was used for a different request.' }));
        break;
      case 'completed':
        replayStored(ctx, begun.response);
        return;
      case 'started': {
        count('idempotency', 'started');
        const lease = begun.lease;
        const capture = captureResponse(ctx.res, idem.maxStoredBodyBytes);
        (ctx.finalizers ??= []).push((err) => settle(ctx, storeKey, lease, capture, err));
        return;
      }
    }
  };

  /** After the exchange: store the outcome for retries, or free the key if the upstream never saw the request. */
  const settle = (ctx: RequestContext, key: string, lease: string, capture: Capture, err: GatewayError | undefined): Promise<void> => {
    const free = !ctx.forwarded || (err !== undefined && NEVER_SENT.has(err.reason ?? ''));
    if (free) {
      return deps.idempotency.release(key, lease).catch((e: unknown) => ctx.log.warn({ event: 'idempotency', err: { message: (e as Error).message } }, 'idempotency key not released; it expires as unknown'));
    }
    const res = ctx.res;
    let stored: StoredResponse;
    if (err !== undefined || !res.writableFinished || ctx.upstreamStatus === undefined) {
      stored = { status: 0, headers: [], body: Buffer.alloc(0), outcome: 'unknown', completedAt: now() };
    } else {
      const headers: Array<[string, string]> = [];
      for (const [name, value] of Object.entries(res.getHeaders())) {
        if (!storeHeaders.has(name) || value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [value]) headers.push([name, String(v)]);
      }
      stored = capture.tooLarge
        ? { status: res.statusCode, headers, body: Buffer.alloc(0), outcome: 'too_large', completedAt: now() }
        : { status: res.statusCode, headers, body: capture.chunks.length === 1 ? capture.chunks[0]! : Buffer.concat(capture.chunks), outcome: 'response', completedAt: now() };
    }
    return deps.idempotency.complete(key, lease, stored, { ttlMs, now: now() }).then(
      () => undefined,
      (e: unknown) => ctx.log.error({ event: 'idempotency', err: { message: (e as Error).message } }, 'idempotent response not stored; retries will get an unknown outcome'),
    );
  };

  return (ctx) => {
    const route = ctx.route;
    if (route === undefined) return undefined;
    const high = riskOf(ctx) === 'high';
    const wantReplay = route.highRisk.replay ?? high;
    const wantIdem = (route.highRisk.idempotency ?? high) && unsafe.has(ctx.method);
    const wantJti = route.highRisk.jtiOnce;
    if (!wantReplay && !wantIdem && !wantJti) return undefined;
    const client = ctx.token !== undefined ? `${ctx.token.issuerName}\u0000${ctx.token.clientId}` : '';
    return (async () => {
      if (wantReplay) await checkReplay(ctx, client);
      if (wantJti) await checkJti(ctx);
      if (wantIdem) await runIdempotency(ctx, client);
    })();
  };
}
