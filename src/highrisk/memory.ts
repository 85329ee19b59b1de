/**
 * Memory stores for high-risk routes: one gateway instance (several instances need the Redis stores, or a key
 * could run once on each). Semantics: src/highrisk/types.ts. Every operation is synchronous inside an async
 * function, so begin/complete/claim are atomic on the one event loop.
 *
 * Bounds:
 *   idempotency  at most `maxEntries` keys (and, optionally, `maxBytes` of stored responses). A new key on a full
 *                store first drops expired entries, then evicts the least recently used COMPLETED entry (a replay
 *                or a completion counts as a use). In-flight entries are never evicted: forgetting one would let
 *                a retry execute the action a second time while (or after) the first runs. When every entry is
 *                in flight, begin() of a new key rejects with HighRiskStoreFullError and the gateway answers 503
 *                (fail safe: the client retries later with the same key). An evicted completed key starts fresh
 *                on its next use — the cost of a bounded store; size maxEntries for the routes' traffic × ttl.
 *   nonce        at most `maxEntries` nonces. A new nonce on a full store drops expired ones; a LIVE nonce is
 *                never evicted, because forgetting it re-opens the replay window for exactly that nonce (an
 *                attacker fills the store, then replays). claim() rejects with HighRiskStoreFullError instead
 *                (→ 503). The cap therefore limits high-risk throughput to maxEntries per nonce ttl: size it.
 */
import { randomBytes } from 'node:crypto';
import {
  HighRiskStoreFullError,
  checkBeginOptions,
  checkKey,
  checkMs,
  checkResponse,
  unknownOutcome,
  type BeginOptions,
  type BeginResult,
  type IdempotencyStore,
  type NonceStore,
  type StoredResponse,
} from './types.js';

interface InFlight {
  fingerprint: string;
  lease: string;
  leaseUntil: number;
  expiresAt: number;
}
interface Completed {
  fingerprint: string;
  /** The lease that completed it (a repeated complete() with it is a no-op that returns true). */
  lease: string;
  response: StoredResponse;
  expiresAt: number;
  bytes: number;
}

export interface MemoryIdempotencyOptions {
  /** Most keys kept (in flight + completed). Default 10000. */
  maxEntries?: number;
  /**
   * Most bytes of stored responses (bodies and headers). A completion that does not fit even after evicting every
   * other completed entry is stored as `too_large` (status and headers kept, no body): the key stays used, and a
   * retry learns that the request ran. Default: no byte cap (then maxEntries × the gateway's storable body size).
   */
  maxBytes?: number;
}

export interface MemoryIdempotencyStore extends IdempotencyStore {
  /** For metrics and tests. */
  stats(): { inFlight: number; completed: number; bytes: number; evictions: number };
}

/** Random, unguessable lease id (the holder proves ownership with it). */
export function newLease(): string {
  return randomBytes(16).toString('base64url');
}

function responseBytes(r: StoredResponse): number {
  let n = r.body.length + 64;
  for (const [k, v] of r.headers) n += k.length + v.length + 16;
  return n;
}

export function createMemoryIdempotencyStore(opts: MemoryIdempotencyOptions = {}): MemoryIdempotencyStore {
  const maxEntries = opts.maxEntries ?? 10_000;
  const maxBytes = opts.maxBytes ?? Infinity;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError('maxEntries: must be a positive integer');
  if (maxBytes !== Infinity && (!Number.isInteger(maxBytes) || maxBytes < 1)) throw new TypeError('maxBytes: must be a positive integer');

  const inFlight = new Map<string, InFlight>();
  /** Iteration order = least recently used first (a use deletes and re-inserts). */
  const completed = new Map<string, Completed>();
  let bytes = 0;
  let evictions = 0;
  let closed = false;
  /** A lower bound of the in-flight entries' expiresAt (exact after a sweep): a sweep before then frees nothing. */
  let nextInFlightExpiry = Infinity;

  const dropCompleted = (key: string, c: Completed): void => {
    completed.delete(key);
    bytes -= c.bytes;
  };

  /** Frees one slot for a new key, or throws when only in-flight entries are left. */
  const makeRoom = (now: number): void => {
    if (inFlight.size + completed.size < maxEntries) return;
    // The least recently used completed entry goes (expired or not: a live one's key starts fresh on its next use).
    const lru = completed.entries().next();
    if (!lru.done) {
      dropCompleted(lru.value[0], lru.value[1]);
      evictions++;
      return;
    }
    // Only in-flight entries: those past their ttl may go (their key starts fresh anyway). Sweep at most once per
    // expiry horizon, so a saturated store does not scan every entry on every request.
    if (now >= nextInFlightExpiry) {
      let earliest = Infinity;
      for (const [k, e] of inFlight) {
        if (e.expiresAt <= now) inFlight.delete(k);
        else earliest = Math.min(earliest, e.expiresAt);
      }
      nextInFlightExpiry = earliest;
      if (inFlight.size < maxEntries) return;
    }
    throw new HighRiskStoreFullError(
      'idempotency',
      `idempotency store full: all ${maxEntries} entries are requests in flight (none may be evicted: a retry could run twice)`,
    );
  };

  const ensureOpen = (): void => {
    if (closed) throw new Error('idempotency store is closed');
  };

  return {
    async begin(key: string, fingerprint: string, o: BeginOptions): Promise<BeginResult> {
      ensureOpen();
      checkKey('key', key);
      checkKey('fingerprint', fingerprint);
      checkBeginOptions(o);
      const now = o.now;

      const c = completed.get(key);
      if (c !== undefined) {
        if (c.expiresAt > now) {
          if (c.fingerprint !== fingerprint) return { kind: 'mismatch' };
          completed.delete(key); // mark as most recently used
          completed.set(key, c);
          return { kind: 'completed', response: copy(c.response) };
        }
        dropCompleted(key, c); // expired: the key starts fresh
      }
      const f = inFlight.get(key);
      if (f !== undefined) {
        if (f.expiresAt > now) {
          if (f.fingerprint !== fingerprint) return { kind: 'mismatch' };
          if (f.leaseUntil > now) return { kind: 'in_flight' };
          // The lease ran out without complete() or release(): the holder crashed or hangs after it may have
          // forwarded the request. Freeing the key would let this retry execute the action a second time, so the
          // outcome is reported as unknown until the key expires (or the holder completes late).
          return { kind: 'completed', response: unknownOutcome(f.leaseUntil) };
        }
        inFlight.delete(key);
      }
      makeRoom(now);
      const lease = newLease();
      const expiresAt = now + o.ttlMs;
      inFlight.set(key, { fingerprint, lease, leaseUntil: now + o.leaseMs, expiresAt });
      nextInFlightExpiry = Math.min(nextInFlightExpiry, expiresAt);
      return { kind: 'started', lease };
    },

    async complete(key: string, lease: string, response: StoredResponse, o: { ttlMs: number; now: number }): Promise<boolean> {
      ensureOpen();
      checkKey('key', key);
      checkKey('lease', lease);
      checkResponse(response);
      checkMs('ttlMs', o.ttlMs);
      checkMs('now', o.now, true);
      const f = inFlight.get(key);
      if (f === undefined || f.lease !== lease) {
        const c = completed.get(key);
        return c !== undefined && c.lease === lease; // a repeated completion by the same holder
      }
      if (f.expiresAt <= o.now) {
        inFlight.delete(key); // expired before completion: the key is fresh, nobody holds it any more
        return false;
      }
      let stored = normalize(response);
      let size = responseBytes(stored);
      // Larger than the whole cap: keep status and headers only (the key must stay used, see maxBytes).
      if (size > maxBytes && stored.body.length > 0) {
        stored = { ...stored, body: Buffer.alloc(0), outcome: 'too_large' };
        size = responseBytes(stored);
      }
      // The in-flight entry becomes a completed one: same slot, so only the byte cap can require evictions. Headers
      // alone larger than the cap are stored anyway (never drop the entry): the cap is then exceeded by them.
      for (const [k, c] of completed) {
        if (bytes + size <= maxBytes) break;
        dropCompleted(k, c);
        evictions++;
      }
      inFlight.delete(key);
      completed.set(key, { fingerprint: f.fingerprint, lease, response: stored, expiresAt: o.now + o.ttlMs, bytes: size });
      bytes += size;
      return true;
    },

    async release(key: string, lease: string): Promise<void> {
      ensureOpen();
      checkKey('key', key);
      checkKey('lease', lease);
      const f = inFlight.get(key);
      if (f !== undefined && f.lease === lease) inFlight.delete(key);
    },

    async close(): Promise<void> {
      closed = true;
      inFlight.clear();
      completed.clear();
      bytes = 0;
    },

    stats() {
      return { inFlight: inFlight.size, completed: completed.size, bytes, evictions };
    },
  };
}

/** The stored copy: own buffers and arrays (the caller may reuse its own), no body unless outcome is response. */
function normalize(r: StoredResponse): StoredResponse {
  return {
    status: r.status,
    headers: r.headers.map(([k, v]) => [k, v] as [string, string]),
    body: r.outcome === 'response' ? Buffer.from(r.body) : Buffer.alloc(0),
    outcome: r.outcome,
    completedAt: r.completedAt,
  };
}

/** What a replay hands out: the caller may not alter the stored entry through it. */
function copy(r: StoredResponse): StoredResponse {
  return { ...r, headers: r.headers.map(([k, v]) => [k, v] as [string, string]), body: Buffer.from(r.body) };
}

export interface MemoryNonceOptions {
  /** Most live nonces kept. Default 100000. */
  maxEntries?: number;
}

export interface MemoryNonceStore extends NonceStore {
  stats(): { size: number };
}

export function createMemoryNonceStore(opts: MemoryNonceOptions = {}): MemoryNonceStore {
  const maxEntries = opts.maxEntries ?? 100_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError('maxEntries: must be a positive integer');
  /** nonce key → expiry (ms since epoch); insertion order = oldest first. */
  const seen = new Map<string, number>();
  /** Earliest expiry in `seen` as of the last sweep, lowered by later inserts: a sweep before then frees nothing. */
  let nextExpiry = Infinity;
  let closed = false;

  const sweep = (now: number): void => {
    let earliest = Infinity;
    for (const [k, exp] of seen) {
      if (exp <= now) seen.delete(k);
      else earliest = Math.min(earliest, exp);
    }
    nextExpiry = earliest;
  };

  return {
    async claim(key: string, o: { ttlMs: number; now: number }): Promise<boolean> {
      if (closed) throw new Error('nonce store is closed');
      checkKey('key', key);
      checkMs('ttlMs', o.ttlMs);
      checkMs('now', o.now, true);
      const now = o.now;
      const exp = seen.get(key);
      if (exp !== undefined) {
        if (exp > now) return false; // a replay
        seen.delete(key);
      }
      if (seen.size >= maxEntries) {
        // The oldest entries are usually the expired ones: drop those from the front first (cheap), then a full
        // sweep when an entry somewhere may have expired (ttls may differ per route).
        for (const [k, e] of seen) {
          if (e > now) break;
          seen.delete(k);
        }
        if (seen.size >= maxEntries && now >= nextExpiry) sweep(now);
        if (seen.size >= maxEntries) {
          throw new HighRiskStoreFullError(
            'nonce',
            `nonce store full: ${maxEntries} live nonces (none may be forgotten: that would re-open its replay window)`,
          );
        }
      }
      const until = now + o.ttlMs;
      seen.set(key, until);
      nextExpiry = Math.min(nextExpiry, until);
      return true;
    },
    async close(): Promise<void> {
      closed = true;
      seen.clear();
    },
    stats() {
      return { size: seen.size };
    },
  };
}
