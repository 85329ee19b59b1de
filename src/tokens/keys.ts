import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import {
  createLocalJWKSet,
  errors as joseErrors,
  importSPKI,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWSHeaderParameters,
} from 'jose';
import type { Logger } from 'pino';
import { JWS_ALGORITHMS } from '../config/defaults.js';
import type { IssuerConfig, JwksConfig } from '../config/types.js';
import type { GatewayMetrics } from '../observability/metrics.js';

/**
 * Key sources for one issuer: a remote JWKS (RFC 7517 §5) with a last-good cache, static keys
 * from a file, or an HMAC shared secret. Each resolves the verification key for a JWS protected
 * header and never decides whether a token is acceptable; `verify.ts` owns that and the mapping of
 * `KeySourceError` reasons onto client-visible errors.
 */

/** Every JWS `alg` the gateway can verify: the config vocabulary, so schema and verifier agree. Never `none`. */
export const SUPPORTED_ALGORITHMS: ReadonlySet<string> = new Set(JWS_ALGORITHMS);

export const isHmacAlg = (alg: string): boolean => alg.startsWith('HS');

/** A JWKS document larger than this is refused: real sets are a few KiB (defence against a hostile endpoint). */
export const MAX_JWKS_BYTES = 512 * 1024;

export type KeySourceReason = 'jwks_unavailable' | 'unknown_kid' | 'kid_ambiguous' | 'alg';

/** Why no key could be resolved; `verify.ts` turns the reason into a GatewayError. */
export class KeySourceError extends Error {
  readonly reason: KeySourceReason;
  constructor(reason: KeySourceReason, message: string) {
    super(message);
    this.name = 'KeySourceError';
    this.reason = reason;
  }
}

export type VerificationKey = CryptoKey | Uint8Array;

export interface KeySource {
  readonly kind: 'jwks' | 'static' | 'secret';
  /** Key for this protected header; throws KeySourceError when none applies. */
  getKey(header: JWSHeaderParameters): Promise<VerificationKey>;
  ready(): boolean;
  /** Initial fetch for remote sets; never throws. */
  start(): Promise<void>;
  close(): void;
}

export interface KeySourceDeps {
  metrics: GatewayMetrics;
  logger: Logger;
  /** Milliseconds since epoch; injectable so tests can move time without waiting. */
  now?: () => number;
  /** Called when a refreshed JWKS no longer contains a key it had (rotation or revocation). */
  onKeysRemoved?: () => void;
}

/** Builds the single key source an issuer config names (the schema allows exactly one). */
export function createKeySource(cfg: IssuerConfig, deps: KeySourceDeps): KeySource {
  const sources = [cfg.jwks, cfg.keysFile, cfg.secret ?? cfg.resolvedSecret].filter((s) => s !== undefined);
  if (sources.length !== 1) {
    throw new Error(`issuer ${cfg.name}: exactly one of jwks, keysFile, secret is required (found ${sources.length})`);
  }
  const hmac = cfg.algorithms.filter(isHmacAlg);
  if (cfg.secret !== undefined || cfg.resolvedSecret !== undefined) {
    if (cfg.resolvedSecret === undefined) throw new Error(`issuer ${cfg.name}: secret was not resolved`);
    return createSecretKeySource({ issuer: cfg.name, secret: cfg.resolvedSecret, algorithms: cfg.algorithms });
  }
  // RFC 8725 §3.1/§3.2: an asymmetric issuer must never accept HMAC, or its public key becomes a MAC key.
  if (hmac.length > 0) throw new Error(`issuer ${cfg.name}: ${hmac.join(', ')} require a shared secret`);
  if (cfg.keysFile !== undefined) {
    return createStaticKeySource({ issuer: cfg.name, keysFile: cfg.keysFile, algorithms: cfg.algorithms });
  }
  if (cfg.jwks === undefined) throw new Error(`issuer ${cfg.name}: no key source`);
  return createRemoteJwksSource({ issuer: cfg.name, jwks: cfg.jwks }, deps);
}

// ---------------------------------------------------------------------------------------------
// JWKS parsing

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** JWK members that hold private or secret key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

export interface ParsedJwks {
  jwks: JSONWebKeySet;
  /** Keys skipped and why, for a log line. */
  skipped: string[];
}

/**
 * Keeps only public signature keys. RFC 7517 §5 requires a JSON object with a `keys` array;
 * members with `use` other than `sig` (§4.2) or `key_ops` without `verify` (§4.3) are not for
 * us; a key with private material is never used (publishing one is an issuer incident, and a
 * symmetric `oct` key in a JWKS would let anyone who reads the set mint tokens).
 */
export function parseJwks(value: unknown): ParsedJwks {
  if (!isObject(value) || !Array.isArray(value.keys)) {
    throw new Error('JWKS must be a JSON object with a "keys" array');
  }
  const keys: JWK[] = [];
  const skipped: string[] = [];
  value.keys.forEach((jwk: unknown, i) => {
    const label = isObject(jwk) && typeof jwk.kid === 'string' ? `kid ${JSON.stringify(jwk.kid)}` : `#${i}`;
    if (!isObject(jwk) || typeof jwk.kty !== 'string') return void skipped.push(`${label}: not a JWK`);
    if (PRIVATE_MEMBERS.some((m) => m in jwk)) return void skipped.push(`${label}: private key material`);
    if (jwk.kty === 'oct') return void skipped.push(`${label}: symmetric key`);
    if (jwk.use !== undefined && jwk.use !== 'sig') return void skipped.push(`${label}: use is not sig`);
    if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) {
      return void skipped.push(`${label}: key_ops lacks verify`);
    }
    if (jwk.kid !== undefined && typeof jwk.kid !== 'string') return void skipped.push(`${label}: kid not a string`);
    keys.push(jwk as JWK);
  });
  if (keys.length === 0) throw new Error(`JWKS has no usable signature keys${skipped.length ? ` (${skipped.join('; ')})` : ''}`);
  return { jwks: { keys }, skipped };
}

type LocalGetKey = (header: JWSHeaderParameters) => Promise<CryptoKey>;

/** Resolve through a jose local set, translating its lookup errors into KeySourceError. */
async function lookup(local: LocalGetKey, header: JWSHeaderParameters): Promise<CryptoKey | undefined> {
  try {
    return await local(header);
  } catch (err) {
    if (err instanceof joseErrors.JWKSNoMatchingKey) return undefined;
    // RFC 7515 §4.1.4 makes kid optional, but with several candidate keys we refuse to guess.
    if (err instanceof joseErrors.JWKSMultipleMatchingKeys) {
      throw new KeySourceError('kid_ambiguous', 'several keys match a token without kid');
    }
    if (err instanceof joseErrors.JOSENotSupported) throw new KeySourceError('alg', 'alg not usable with a key set');
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Remote JWKS

export interface RemoteJwksOptions {
  /** Issuer config name, for metrics and logs. */
  issuer: string;
  jwks: JwksConfig;
}

interface KeySet {
  getKey: LocalGetKey;
  fetchedAt: number;
  /** One string per key, to notice keys that disappear on refresh. */
  ids: ReadonlySet<string>;
}

/** Background timers never fire more often than this, whatever the config says. */
const MIN_TIMER_MS = 1000;

export function createRemoteJwksSource(opts: RemoteJwksOptions, deps: KeySourceDeps): KeySource {
  const { issuer, jwks } = opts;
  let url: URL;
  try {
    url = new URL(jwks.uri);
  } catch {
    throw new Error(`issuer ${issuer}: jwks.uri is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`issuer ${issuer}: jwks.uri must be http(s)`);
  for (const [k, min] of [['cacheMaxAgeMs', 0], ['cooldownMs', 0], ['timeoutMs', 1]] as const) {
    if (!Number.isFinite(jwks[k]) || jwks[k] < min) throw new Error(`issuer ${issuer}: jwks.${k} must be a number >= ${min}`);
  }
  const { metrics, logger } = deps;
  const now = deps.now ?? Date.now;
  const { cacheMaxAgeMs, cooldownMs, timeoutMs } = jwks;
  // A CA bundle only matters for TLS; global fetch (undici) takes no `ca` option, so https with a
  // private CA goes through node:https instead.
  let ca: string | undefined;
  if (jwks.caFile !== undefined && url.protocol === 'https:') ca = readFileOrThrow(jwks.caFile, `issuer ${issuer}: jwks.caFile`);
  const load = ca === undefined ? () => fetchText(url, timeoutMs) : () => httpsGetText(url, ca, timeoutMs);
  const retryMs = Math.max(MIN_TIMER_MS, Math.min(cooldownMs, cacheMaxAgeMs));

  let current: KeySet | undefined;
  let inflight: Promise<boolean> | undefined;
  let lastAttemptAt = -Infinity;
  let lastKidRefetchAt = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  let started = false;
  let closed = false;

  async function fetchOnce(): Promise<boolean> {
    try {
      const text = await load();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error('JWKS response is not JSON');
      }
      const { jwks: set, skipped } = parseJwks(body);
      if (skipped.length > 0) logger.warn({ issuer, skipped }, 'JWKS keys ignored');
      const ids = new Set(set.keys.map((k) => JSON.stringify(k)));
      const previous = current;
      current = { getKey: createLocalJWKSet(set), fetchedAt: now(), ids };
      metrics.jwksFetches.inc({ issuer, result: 'ok' });
      if (previous !== undefined && [...previous.ids].some((id) => !ids.has(id))) deps.onKeysRemoved?.();
      return true;
    } catch (err) {
      metrics.jwksFetches.inc({ issuer, result: 'error' });
      // Keep serving the last good set (if any): an outage must not fail tokens we can still check.
      logger.warn({ issuer, err: errMessage(err), cached: current !== undefined }, 'JWKS fetch failed');
      return false;
    }
  }

  /** One fetch at a time; callers share the in-flight one. */
  function refresh(): Promise<boolean> {
    if (inflight !== undefined) return inflight;
    if (closed) return Promise.resolve(false);
    lastAttemptAt = now();
    const p = fetchOnce().finally(() => {
      inflight = undefined;
      schedule();
    });
    inflight = p;
    return p;
  }

  /** After start(): refresh when the set goes stale, or retry while there is none / it failed. */
  function schedule(): void {
    if (!started || closed) return;
    clearTimeout(timer);
    const fresh = current !== undefined && now() - current.fetchedAt < cacheMaxAgeMs;
    const delay = fresh ? Math.max(MIN_TIMER_MS, cacheMaxAgeMs) : retryMs;
    timer = setTimeout(() => void refresh(), delay);
    timer.unref();
  }

  async function getKey(header: JWSHeaderParameters): Promise<CryptoKey> {
    let set = current;
    if (set === undefined) {
      // No keys yet: nothing to serve from, so waiting for a fetch is the only way to answer.
      if (inflight !== undefined || now() - lastAttemptAt >= cooldownMs) await refresh();
      set = current;
      if (set === undefined) throw new KeySourceError('jwks_unavailable', 'no JWKS has been fetched yet');
    } else if (inflight === undefined && now() - set.fetchedAt >= cacheMaxAgeMs && now() - lastAttemptAt >= retryMs) {
      // Stale: refresh in the background and answer from the cached set now.
      void refresh();
    }
    const key = await lookup(set.getKey, header);
    if (key !== undefined) return key;
    // Unknown kid: the issuer may have rotated (RFC 7517 §5, OIDC Core §10.1.1). Refetch, but at
    // most once per cooldown so random kids cannot turn us into a JWKS load generator.
    if (inflight === undefined) {
      if (now() - lastKidRefetchAt < cooldownMs) throw new KeySourceError('unknown_kid', 'no key matches the token');
      lastKidRefetchAt = now();
    }
    await refresh();
    const again = current !== undefined && current !== set ? await lookup(current.getKey, header) : undefined;
    if (again === undefined) throw new KeySourceError('unknown_kid', 'no key matches the token');
    return again;
  }

  return {
    kind: 'jwks',
    getKey,
    ready: () => current !== undefined,
    async start() {
      if (closed) return;
      started = true;
      await refresh();
    },
    close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

async function fetchText(url: URL, timeoutMs: number): Promise<string> {
  const res = await fetch(url, {
    // RFC 7517 §8.5 media type first; many servers answer application/json.
    headers: { accept: 'application/jwk-set+json, application/json' },
    // The URI is configured exactly; following a redirect would let whoever answers it pick our keys.
    redirect: 'error',
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`JWKS endpoint answered HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > MAX_JWKS_BYTES) {
    await res.body?.cancel();
    throw new Error('JWKS response too large');
  }
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_JWKS_BYTES) {
      await reader.cancel();
      throw new Error('JWKS response too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function httpsGetText(url: URL, ca: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'GET', ca, headers: { accept: 'application/jwk-set+json, application/json' } });
    // One deadline for connect + TLS + body, like AbortSignal.timeout on the fetch path.
    const deadline = setTimeout(() => req.destroy(new Error('JWKS fetch timed out')), timeoutMs);
    deadline.unref();
    const fail = (err: Error): void => {
      clearTimeout(deadline);
      reject(err);
    };
    req.on('error', fail);
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        fail(new Error(`JWKS endpoint answered HTTP ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size > MAX_JWKS_BYTES) req.destroy(new Error('JWKS response too large'));
        else chunks.push(chunk);
      });
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(deadline);
        resolve(Buffer.concat(chunks).toString('utf8'));
      });
    });
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// Static keys

export interface StaticKeyOptions {
  issuer: string;
  /** A JWKS JSON file or a PEM SPKI public key ("BEGIN PUBLIC KEY"). */
  keysFile: string;
  algorithms: readonly string[];
}

/** Node's description of a key, and which JWS algs it can verify (RFC 7518 §3.3–3.5, RFC 8037). */
function algFitsKey(alg: string, key: KeyObject): boolean {
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (/^(RS|PS)\d{3}$/.test(alg)) return type === 'rsa';
  if (alg === 'ES256') return type === 'ec' && curve === 'prime256v1';
  if (alg === 'ES384') return type === 'ec' && curve === 'secp384r1';
  if (alg === 'ES512') return type === 'ec' && curve === 'secp521r1';
  if (alg === 'EdDSA' || alg === 'Ed25519') return type === 'ed25519';
  return false;
}

/** Loaded once when built: a config that names an unreadable or unsuitable file fails at load, not per request. */
export function createStaticKeySource(opts: StaticKeyOptions): KeySource {
  const { issuer, keysFile, algorithms } = opts;
  const text = readFileOrThrow(keysFile, `issuer ${issuer}: keysFile`);
  let getKey: (header: JWSHeaderParameters) => Promise<VerificationKey>;

  if (text.trimStart().startsWith('-----BEGIN')) {
    // Only SPKI: a private key here would mean the gateway holds signing material it must not have.
    if (!/^-----BEGIN PUBLIC KEY-----/.test(text.trimStart())) {
      throw new Error(`issuer ${issuer}: keysFile ${keysFile} must be a "BEGIN PUBLIC KEY" (SPKI) PEM`);
    }
    let keyObject: KeyObject;
    try {
      keyObject = createPublicKey({ key: text, format: 'pem' });
    } catch (err) {
      throw new Error(`issuer ${issuer}: keysFile ${keysFile} is not a valid PEM public key: ${errMessage(err)}`);
    }
    const usable = algorithms.filter((alg) => algFitsKey(alg, keyObject));
    if (usable.length === 0) {
      throw new Error(`issuer ${issuer}: keysFile ${keysFile} key fits none of ${algorithms.join(', ')}`);
    }
    // importSPKI is async and binds a CryptoKey to one alg, so import each lazily, once.
    const imported = new Map<string, Promise<CryptoKey>>();
    getKey = (header) => {
      const alg = header.alg;
      if (typeof alg !== 'string' || !usable.includes(alg)) {
        return Promise.reject(new KeySourceError('alg', 'alg does not fit the configured key'));
      }
      let p = imported.get(alg);
      if (p === undefined) {
        p = importSPKI(text, alg);
        imported.set(alg, p);
      }
      return p;
    };
  } else {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`issuer ${issuer}: keysFile ${keysFile} is neither JSON nor PEM`);
    }
    const parsed = (() => {
      try {
        return parseJwks(body);
      } catch (err) {
        throw new Error(`issuer ${issuer}: keysFile ${keysFile}: ${errMessage(err)}`);
      }
    })();
    // A file is the operator's own: anything unusable in it is a mistake worth stopping for.
    if (parsed.skipped.length > 0) {
      throw new Error(`issuer ${issuer}: keysFile ${keysFile} has unusable keys (${parsed.skipped.join('; ')})`);
    }
    const local = createLocalJWKSet(parsed.jwks);
    getKey = async (header) => {
      const key = await lookup(local, header);
      if (key === undefined) throw new KeySourceError('unknown_kid', 'no key matches the token');
      return key;
    };
  }

  return { kind: 'static', getKey, ready: () => true, start: async () => {}, close: () => {} };
}

// ---------------------------------------------------------------------------------------------
// HMAC shared secret

export interface SecretKeyOptions {
  issuer: string;
  secret: Uint8Array;
  algorithms: readonly string[];
}

/** RFC 7518 §3.2: the HMAC key must be at least as long as the hash output. */
const MIN_SECRET_BYTES: Record<string, number> = { HS256: 32, HS384: 48, HS512: 64 };

export function createSecretKeySource(opts: SecretKeyOptions): KeySource {
  const { issuer, secret, algorithms } = opts;
  for (const alg of algorithms) {
    const min = MIN_SECRET_BYTES[alg];
    if (min === undefined) throw new Error(`issuer ${issuer}: a shared secret only verifies HS256/384/512, not ${alg}`);
    if (secret.byteLength < min) throw new Error(`issuer ${issuer}: ${alg} needs a secret of at least ${min} bytes`);
  }
  const key = new Uint8Array(secret); // our own copy: the caller's buffer may be reused or zeroed
  const allowed = new Set(algorithms);
  return {
    kind: 'secret',
    getKey: async (header) => {
      if (typeof header.alg !== 'string' || !allowed.has(header.alg)) throw new KeySourceError('alg', 'not an HMAC alg');
      return key;
    },
    ready: () => true,
    start: async () => {},
    close: () => {},
  };
}

// ---------------------------------------------------------------------------------------------

function readFileOrThrow(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${what} ${path} cannot be read: ${errMessage(err)}`);
  }
}

/** fetch() reports network failures as "fetch failed" with the useful part in `cause`. */
const errMessage = (err: unknown): string => {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
};
