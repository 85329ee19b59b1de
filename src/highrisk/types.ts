/**
 * Storage contract for high-risk routes (issue 7): idempotency keys with stored-response replay
 * (draft-ietf-httpapi-idempotency-key-header, Stripe's documented behaviour) and nonce replay protection.
 *
 * Two implementations of each store: memory (one gateway instance, src/highrisk/memory.ts) and Redis (shared by
 * every instance, src/highrisk/redis.ts). Both implement the same semantics and pass the same contract tests
 * (test/highrisk/stores.test.ts). The rule every choice below follows: a retry must NEVER silently execute the
 * action twice. When the store cannot tell, it says so (in_flight, `outcome: 'unknown'`) or fails (a rejected
 * promise, which the gateway turns into 503) — it never hands out a key that may already have been executed.
 *
 * Every method returns a promise and reports every failure (bad input, a full memory store, an unreachable or
 * misbehaving Redis, a corrupt stored entry) as a rejection, never a hang: the Redis stores rely on a client
 * that fails fast (ratelimit/redis.ts createRedisClient: `enableOfflineQueue: false`, `commandTimeout`).
 */

/** What a stored response holds (replayed byte for byte on a retry). */
export interface StoredResponse {
  status: number;
  /** The selected response headers, lower-case names, in order. */
  headers: Array<[string, string]>;
  /** Empty when outcome !== 'response'. */
  body: Buffer;
  /**
   * 'response': a complete upstream answer; 'too_large': the body exceeded the storable size (status/headers kept);
   * 'unknown': the request reached the upstream but no answer came back (timeout, reset): it may have executed.
   */
  outcome: 'response' | 'too_large' | 'unknown';
  /** ms since epoch. */
  completedAt: number;
}

export type BeginResult =
  /** This request owns the key: forward it, then complete() or release(). */
  | { kind: 'started'; lease: string }
  /** Same key + same fingerprint, first request still running → the caller answers 409. */
  | { kind: 'in_flight' }
  /** Same key, different fingerprint → 422. */
  | { kind: 'mismatch' }
  /**
   * Replay. Also returned, with `outcome: 'unknown'`, status 0 and no headers, for an in-flight entry whose lease
   * ran out (its gateway crashed or hangs): the request may have reached the upstream, so the key is never freed
   * and the caller tells the client the outcome is unknown.
   */
  | { kind: 'completed'; response: StoredResponse };

export interface BeginOptions {
  /** How long the key is kept: from begin for an in-flight entry, from completion for a completed one. */
  ttlMs: number;
  /** How long the request may stay in flight before its outcome counts as unknown. */
  leaseMs: number;
  /** The caller's clock (ms since epoch); expiry is decided with it, never with the store's own clock. */
  now: number;
}

export interface IdempotencyStore {
  /** key: already scoped by the caller (client id + route + Idempotency-Key, hashed). */
  begin(key: string, fingerprint: string, opts: BeginOptions): Promise<BeginResult>;
  /**
   * Stores the outcome for ttlMs (from completion). Only the holder of `lease` may complete; returns false if it no
   * longer holds it (released, or the key expired — and may have been started afresh). The holder still holds the key after
   * its lease ran out (the key is never handed to anyone else), so a late completion is stored and later retries
   * get the real answer instead of the unknown outcome. Completing again with the lease that completed the entry
   * returns true and changes nothing (a retried call whose first reply was lost).
   */
  complete(key: string, lease: string, response: StoredResponse, opts: { ttlMs: number; now: number }): Promise<boolean>;
  /** The request never reached the upstream (e.g. connect refused): the key is free again, a retry may run. */
  release(key: string, lease: string): Promise<void>;
  close(): Promise<void>;
}

export interface NonceStore {
  /** true the first time (client, nonce) is seen within ttlMs; false for a replay. Atomic across instances. */
  claim(key: string, opts: { ttlMs: number; now: number }): Promise<boolean>;
  close(): Promise<void>;
}

/** Default prefix of every Redis key the high-risk stores write. */
export const DEFAULT_HIGHRISK_REDIS_PREFIX = '{tollgate:hr}:';

/**
 * A memory store is full of entries it must not forget (in-flight idempotency keys, live nonces). Forgetting one
 * would let a retry or a replay through, so the store refuses the new key instead: the gateway answers 503.
 */
export class HighRiskStoreFullError extends Error {
  override readonly name = 'HighRiskStoreFullError';
  constructor(
    readonly store: 'idempotency' | 'nonce',
    message: string,
  ) {
    super(message);
  }
}

/** Redis answered something the store cannot read (a corrupt or foreign entry): fail closed, like an outage. */
export class HighRiskStoreError extends Error {
  override readonly name = 'HighRiskStoreError';
}

/** An entry whose lease ran out without completion: the outcome the caller reports as unknown. */
export function unknownOutcome(at: number): StoredResponse {
  return { status: 0, headers: [], body: Buffer.alloc(0), outcome: 'unknown', completedAt: at };
}

const OUTCOMES: ReadonlySet<string> = new Set(['response', 'too_large', 'unknown']);

export function isOutcome(v: unknown): v is StoredResponse['outcome'] {
  return typeof v === 'string' && OUTCOMES.has(v);
}

/** Input checks shared by both implementations (a rejected promise, never a silently wrong entry). */
export function checkKey(what: string, key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '') throw new TypeError(`${what}: must be a non-empty string`);
}

/** Milliseconds: finite, positive (or non-negative); fractions are accepted (the Redis stores round TTLs up). */
export function checkMs(what: string, v: unknown, allowZero = false): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (allowZero ? v < 0 : v <= 0)) {
    throw new TypeError(`${what}: must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds`);
  }
}

/** begin()'s options; a lease longer than the ttl would let the key expire while its request may still run. */
export function checkBeginOptions(o: BeginOptions): void {
  if (o === null || typeof o !== 'object') throw new TypeError('options: must be an object');
  checkMs('ttlMs', o.ttlMs);
  checkMs('leaseMs', o.leaseMs);
  checkMs('now', o.now, true);
  if (o.leaseMs > o.ttlMs) throw new TypeError('leaseMs: must not exceed ttlMs (the key would expire while its request may still run)');
}

export function checkResponse(r: StoredResponse): void {
  if (r === null || typeof r !== 'object') throw new TypeError('response: must be an object');
  if (!Number.isInteger(r.status) || r.status < 0 || r.status > 999) throw new TypeError('response.status: must be an integer 0-999');
  if (!Array.isArray(r.headers) || !r.headers.every((h) => Array.isArray(h) && h.length === 2 && typeof h[0] === 'string' && typeof h[1] === 'string')) {
    throw new TypeError('response.headers: must be an array of [name, value] string pairs');
  }
  if (!Buffer.isBuffer(r.body)) throw new TypeError('response.body: must be a Buffer');
  if (!isOutcome(r.outcome)) throw new TypeError('response.outcome: must be response, too_large or unknown');
  checkMs('response.completedAt', r.completedAt, true);
}
