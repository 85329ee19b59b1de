import { hash as sha } from 'node:crypto';
import {
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWSHeaderParameters,
  type JWTPayload,
  type JWTVerifyOptions,
  type ProtectedHeaderParameters,
} from 'jose';
import type { Logger } from 'pino';
import type { IssuerConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { createKeySource, isHmacAlg, KeySourceError, SUPPORTED_ALGORITHMS, type KeySource } from './keys.js';
import type { IssuerVerifier, VerifiedToken } from './types.js';

/**
 * Strict JWT access-token verification for one issuer (RFC 7519, RFC 8725 "JWT BCP",
 * RFC 9068 "JWT profile for access tokens"), with a cache of verified tokens keyed by hash.
 */

/** Stable `reason` labels (metrics, logs, audit). Clients only ever learn "invalid" or "expired". */
export type RejectReason =
  | 'expired'
  | 'malformed'
  | 'jwe'
  | 'alg'
  | 'embedded_key'
  | 'crit'
  | 'b64'
  | 'signature'
  | 'unknown_kid'
  | 'kid_ambiguous'
  | 'jwks_unavailable'
  | 'issuer'
  | 'audience'
  | 'nbf'
  | 'iat_future'
  | 'max_age'
  | 'typ'
  | 'claim_missing'
  | 'claim_type'
  | 'client_id'
  | 'error';

/** RFC 6750 §3.1: a rejected token gets the invalid_token challenge. */
export const INVALID_TOKEN_CHALLENGE: Readonly<Record<string, string>> = Object.freeze({
  'WWW-Authenticate': 'Bearer realm="tollgate", error="invalid_token"',
});

export const DEFAULT_CACHE_ENTRIES = 10_000;

export interface IssuerVerifierDeps {
  metrics: GatewayMetrics;
  logger: Logger;
  /** Milliseconds since epoch. */
  now?: () => number;
  /** Key source; built from `cfg` when omitted. */
  keys?: KeySource;
  /** Bound on the verified-token cache. Default 10 000. */
  cacheEntries?: number;
}

/**
 * RFC 7515 §4.1.2/§4.1.3/§4.1.5/§4.1.6 and RFC 8725 §3.10: a token must not choose its own key
 * (and following jku/x5u is an SSRF vector). Keys come from configuration only, so a header that
 * carries or points at a key is refused outright.
 */
const EMBEDDED_KEY_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;

/** Three base64url parts (RFC 7515 §7.1); the signature may be empty only so `alg: none` is reported as such. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function createIssuerVerifier(cfg: IssuerConfig, deps: IssuerVerifierDeps): IssuerVerifier {
  validateIssuerConfig(cfg);
  const { metrics, logger } = deps;
  const now = deps.now ?? Date.now;
  const maxEntries = deps.cacheEntries ?? DEFAULT_CACHE_ENTRIES;
  if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new Error('cacheEntries must be an integer >= 0');

  /** sha256(token) → verified facts. Never the token itself: a heap dump must not yield bearer tokens. */
  const cache = new Map<string, VerifiedToken>();
  const keys =
    deps.keys ?? createKeySource(cfg, { metrics, logger, now, onKeysRemoved: () => cache.clear() });

  const name = cfg.name;
  const tolerance = cfg.clockToleranceSec;
  const maxAge = cfg.maxTokenAgeSec;
  const allowed = new Set(cfg.algorithms);
  const hasSecret = cfg.resolvedSecret !== undefined;
  // RFC 9068 §2.2 makes exp REQUIRED; without it a leaked token would be valid forever.
  const requiredClaims = [...new Set([...cfg.requiredClaims, 'exp'])];
  const getKey = (header: JWSHeaderParameters) => keys.getKey(header);

  function reject(reason: RejectReason, cause?: unknown): GatewayError {
    metrics.tokenRejections.inc({ issuer: name, reason });
    logger.debug({ issuer: name, reason }, 'token rejected');
    if (reason === 'jwks_unavailable') return new GatewayError('auth_unavailable', { reason, cause });
    // No detail: telling a client which check failed only helps someone probing for a weakness.
    return new GatewayError(reason === 'expired' ? 'token_expired' : 'token_invalid', {
      reason,
      headers: INVALID_TOKEN_CHALLENGE,
      cause,
    });
  }

  /** Structure and header checks done before any key lookup or crypto. */
  function inspect(token: string): void {
    let dots = 0;
    for (let i = token.indexOf('.'); i !== -1; i = token.indexOf('.', i + 1)) dots++;
    if (dots === 4) throw reject('jwe'); // RFC 7516 §7.1: five parts is an encrypted JWT, which we do not accept
    if (dots !== 2 || !COMPACT_JWS.test(token)) throw reject('malformed');
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw reject('malformed');
    }
    const alg = header.alg;
    // RFC 8725 §3.1: the allowlist decides, never the token; `none` is never in it (checked at build).
    if (typeof alg !== 'string' || !allowed.has(alg)) throw reject('alg');
    if (isHmacAlg(alg) && !hasSecret) throw reject('alg');
    for (const h of EMBEDDED_KEY_HEADERS) if (Object.hasOwn(header, h)) throw reject('embedded_key');
    // RFC 7515 §4.1.11: we understand no extensions, so any `crit` must be refused.
    if (Object.hasOwn(header, 'crit')) throw reject('crit');
    // RFC 7797 unencoded payloads are for detached content; a JWT's claims set is always base64url.
    if (Object.hasOwn(header, 'b64')) throw reject('b64');
    if (token.endsWith('.')) throw reject('malformed'); // empty signature with a real alg
  }

  function mapError(err: unknown): GatewayError {
    if (err instanceof GatewayError) return err;
    // jose's claim errors carry the whole claims set, so they are not attached as `cause` (logs).
    if (err instanceof KeySourceError) return reject(err.reason, err);
    if (err instanceof joseErrors.JWTExpired) return reject(err.claim === 'iat' ? 'max_age' : 'expired');
    if (err instanceof joseErrors.JWTClaimValidationFailed) {
      if (err.claim === 'iss') return reject('issuer'); // RFC 8725 §3.8
      if (err.claim === 'aud') return reject('audience'); // RFC 8725 §3.9
      if (err.reason === 'missing') return reject('claim_missing');
      if (err.reason === 'invalid') return reject('claim_type');
      if (err.claim === 'typ') return reject('typ');
      if (err.claim === 'nbf') return reject('nbf');
      if (err.claim === 'iat') return reject('iat_future');
      return reject('error');
    }
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return reject('signature');
    if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) return reject('alg');
    if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return reject('malformed');
    // Key import failures (e.g. an RSA key under 2048 bits, RFC 7518 §3.3) are issuer-side problems.
    logger.warn({ issuer: name, err: err instanceof Error ? err.message : String(err) }, 'unexpected token verification error');
    return reject('error', err);
  }

  /** Checks that depend on the clock or the route, repeated on every cache hit. */
  function checkLive(t: VerifiedToken, audiences: readonly string[], nowSec: number): void {
    // Same comparisons as jose's (RFC 7519 §4.1.4/§4.1.5 with leeway), so hits and misses agree.
    if (t.expiresAt <= nowSec - tolerance) throw reject('expired');
    if (maxAge !== undefined && t.issuedAt !== undefined && nowSec - t.issuedAt - tolerance > maxAge) throw reject('max_age');
    if (t.notBefore !== undefined && t.notBefore > nowSec + tolerance) throw reject('nbf');
    if (!intersects(t.audiences, audiences)) throw reject('audience');
  }

  async function verifyFully(token: string, audiences: readonly string[]): Promise<VerifiedToken> {
    inspect(token);
    const nowMs = now();
    const options: JWTVerifyOptions = {
      algorithms: cfg.algorithms,
      issuer: cfg.issuer,
      audience: [...audiences],
      clockTolerance: tolerance,
      requiredClaims,
      currentDate: new Date(nowMs),
    };
    if (maxAge !== undefined) options.maxTokenAge = maxAge;
    // jose compares typ case-insensitively with an implied "application/" (RFC 7515 §4.1.9).
    if (cfg.typ !== undefined) options.typ = cfg.typ;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, options));
    } catch (err) {
      throw mapError(err);
    }
    // jose checks iat only with maxTokenAge; a token issued in the future is a clock or forgery problem.
    const nowSec = Math.floor(nowMs / 1000);
    if (payload.iat !== undefined && payload.iat > nowSec + tolerance) throw reject('iat_future');
    return toVerified(payload);
  }

  function toVerified(payload: JWTPayload): VerifiedToken {
    const aud = payload.aud;
    const audiences = typeof aud === 'string' ? [aud] : aud;
    if (!Array.isArray(audiences) || !audiences.every((a) => typeof a === 'string')) throw reject('claim_type');
    const { sub, jti } = payload;
    if ((sub !== undefined && typeof sub !== 'string') || (jti !== undefined && typeof jti !== 'string')) {
      throw reject('claim_type');
    }
    let clientId: string | undefined;
    for (const claim of cfg.clientIdClaims) {
      const v = payload[claim];
      if (typeof v === 'string' && v !== '') {
        clientId = v;
        break;
      }
    }
    if (clientId === undefined) throw reject('client_id');
    // RFC 9068 §2.2.3 / RFC 8693 §4.2: `scope` is a space-separated string; `scp` is the common
    // array form. A wrongly typed one is refused rather than read as "no scopes".
    const scopes = new Set<string>();
    const { scope, scp } = payload;
    if (scope !== undefined) {
      if (typeof scope !== 'string') throw reject('claim_type');
      for (const s of scope.split(' ')) if (s !== '') scopes.add(s);
    }
    if (scp !== undefined) {
      if (!Array.isArray(scp) || !scp.every((s) => typeof s === 'string')) throw reject('claim_type');
      for (const s of scp as string[]) if (s !== '') scopes.add(s);
    }
    return {
      issuerName: name,
      issuer: cfg.issuer,
      clientId,
      subject: sub,
      scopes,
      audiences: Object.freeze(audiences),
      expiresAt: payload.exp as number, // required and type-checked by jose
      issuedAt: payload.iat,
      notBefore: payload.nbf,
      jti,
      // Shared by every request that presents this token: frozen so no stage can alter it for the next.
      claims: deepFreeze(payload),
    };
  }

  function remember(hash: string, t: VerifiedToken): void {
    if (maxEntries === 0) return;
    // Map iteration order is insertion order: the first key is the least recently used.
    while (cache.size >= maxEntries) {
      const oldest = cache.keys().next();
      if (oldest.done === true) break;
      cache.delete(oldest.value);
    }
    cache.set(hash, t);
  }

  return {
    name,
    defaultAudiences: Object.freeze([...cfg.audiences]),
    verify(token, audiences) {
      const hash = sha('sha256', token, 'base64url'); // one-shot: no Hash object on the hot path
      const hit = cache.get(hash);
      if (hit !== undefined) {
        try {
          checkLive(hit, audiences, Math.floor(now() / 1000));
        } catch (err) {
          // Dead for every route once expired or too old; a wrong audience only concerns this route.
          if (err instanceof GatewayError && err.reason !== 'audience' && err.reason !== 'nbf') cache.delete(hash);
          throw err;
        }
        cache.delete(hash); // move to the most recently used end
        cache.set(hash, hit);
        return hit;
      }
      // Rejections are not cached: a failed check costs a parse (and at most one signature check),
      // and caching them would let a flood of junk tokens evict good entries.
      return verifyFully(token, audiences).then((verified) => {
        remember(hash, verified);
        return verified;
      });
    },
    ready: () => keys.ready(),
    start: () => keys.start(),
    close() {
      keys.close();
      cache.clear();
    },
  };
}

/** Eager checks for what the JSON Schema cannot express; a bad issuer fails at load, not per request. */
function validateIssuerConfig(cfg: IssuerConfig): void {
  const where = `issuer ${cfg.name}`;
  if (typeof cfg.name !== 'string' || cfg.name === '') throw new Error('issuer name must be a non-empty string');
  if (typeof cfg.issuer !== 'string' || cfg.issuer === '') throw new Error(`${where}: issuer must be a non-empty string`);
  if (!Array.isArray(cfg.audiences) || cfg.audiences.length === 0 || !cfg.audiences.every((a) => typeof a === 'string' && a !== '')) {
    throw new Error(`${where}: audiences must list at least one non-empty string`);
  }
  if (!Array.isArray(cfg.algorithms) || cfg.algorithms.length === 0) throw new Error(`${where}: algorithms must not be empty`);
  for (const alg of cfg.algorithms) {
    if (!SUPPORTED_ALGORITHMS.has(alg)) throw new Error(`${where}: algorithm ${JSON.stringify(alg)} is not supported`);
  }
  if (!Number.isFinite(cfg.clockToleranceSec) || cfg.clockToleranceSec < 0) {
    throw new Error(`${where}: clockToleranceSec must be a number >= 0`);
  }
  if (cfg.maxTokenAgeSec !== undefined && (!Number.isFinite(cfg.maxTokenAgeSec) || cfg.maxTokenAgeSec <= 0)) {
    throw new Error(`${where}: maxTokenAgeSec must be a number > 0`);
  }
  if (cfg.typ !== undefined && (typeof cfg.typ !== 'string' || cfg.typ === '')) throw new Error(`${where}: typ must be a non-empty string`);
  if (!Array.isArray(cfg.requiredClaims) || !cfg.requiredClaims.every((c) => typeof c === 'string' && c !== '')) {
    throw new Error(`${where}: requiredClaims must be a list of claim names`);
  }
  if (!Array.isArray(cfg.clientIdClaims) || cfg.clientIdClaims.length === 0 || !cfg.clientIdClaims.every((c) => typeof c === 'string' && c !== '')) {
    throw new Error(`${where}: clientIdClaims must list at least one claim name`);
  }
}

function intersects(have: readonly string[], want: readonly string[]): boolean {
  for (const a of want) if (have.includes(a)) return true;
  return false;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
