/**
 * Redis stores for high-risk routes, shared by every gateway instance. Semantics: src/highrisk/types.ts.
 *
 * Layout (prefix P, default `{tollgate:hr}:`):
 *   P + "idem:" + key    hash, one per idempotency key:
 *                          state       'in_flight' | 'completed'
 *                          fp          the request fingerprint
 *                          lease       the holder's lease (random, 128 bits)
 *                          leaseUntil  in flight: absolute ms after which the outcome counts as unknown
 *                          exp         absolute ms the key expires at (begin + ttl in flight, completion + ttl after)
 *                          status, headers (JSON array of [name, value]), body (raw bytes: Redis strings and Lua
 *                          strings are binary safe, ioredis sends a Buffer argument as is and the begin reply is
 *                          read as Buffers), outcome, completedAt — once completed
 *   P + "nonce:" + key   "1", `SET NX PX ttl`
 *
 * Atomicity: begin, complete and release are each one Lua script (EVALSHA, EVAL on NOSCRIPT, as in
 * audit/redis-sink.ts), so concurrent begins with one key — from one instance or many — see exactly one
 * `started`. Every script touches one key, so any prefix works on Redis Cluster; the default prefix's hash tag
 * puts every high-risk key in one slot (one shard): on a large Cluster a prefix without braces spreads them.
 *
 * Time: expiry is decided in the script with the caller's `now` against the absolute `exp` stored in the entry
 * (the gateway's clock, frozen in tests). The Redis TTL (PEXPIRE ttl + gcGraceMs, default 60 s) is only garbage
 * collection: it never removes an entry the caller still considers live unless the instances' clocks are more
 * than gcGraceMs apart (run them NTP-synced). Nonces are the exception: their expiry is Redis's own clock
 * (`SET NX PX ttl`, one command, no clock skew between instances), so `now` is not used there.
 *
 * Eviction: an in-flight entry Redis evicts under memory pressure is a key a retry could execute a second time.
 * Run the Redis these stores use with `maxmemory-policy noeviction` (writes then fail → the gateway answers 503).
 *
 * Failures: the client must fail fast (ratelimit/redis.ts createRedisClient: enableOfflineQueue false,
 * commandTimeout); every error is a rejected promise and the gateway fails closed (503). A begin whose reply is
 * lost (command timeout on a slow server, a dropped connection) may still have stored an in-flight entry with a
 * lease the caller never received: the store then tries to release that lease in the background a few times, so
 * the key does not stay blocked (409, then "outcome unknown") for a request that never reached the upstream.
 * Releasing is safe: the lease was never handed out, so nothing was forwarded under it.
 */
import { redisScript, runScript, type RedisClient, type RedisScript } from '../ratelimit/redis.js';
import { newLease } from './memory.js';
import {
  DEFAULT_HIGHRISK_REDIS_PREFIX,
  HighRiskStoreError,
  checkBeginOptions,
  checkKey,
  checkMs,
  checkResponse,
  isOutcome,
  unknownOutcome,
  type BeginOptions,
  type BeginResult,
  type IdempotencyStore,
  type NonceStore,
  type StoredResponse,
} from './types.js';

// KEYS: entry. ARGV: fingerprint, lease, now, leaseUntil, exp, gc ms.
// Returns {'started'}, {'in_flight'}, {'mismatch'}, {'unknown', leaseUntil} or
// {'completed', status, headers, body, outcome, completedAt}.
const BEGIN_SCRIPT = `
local e = redis.call('HMGET', KEYS[1], 'state', 'fp', 'exp', 'leaseUntil')
if e[1] then
  local exp = tonumber(e[3])
  if not exp then return redis.error_reply('TOLLGATE_CORRUPT idempotency entry without expiry') end
  if exp > tonumber(ARGV[3]) then
    if e[2] ~= ARGV[1] then return {'mismatch'} end
    if e[1] == 'in_flight' then
      local leaseUntil = tonumber(e[4])
      if not leaseUntil then return redis.error_reply('TOLLGATE_CORRUPT in-flight entry without lease expiry') end
      if leaseUntil > tonumber(ARGV[3]) then return {'in_flight'} end
      return {'unknown', e[4]}
    end
    if e[1] ~= 'completed' then return redis.error_reply('TOLLGATE_CORRUPT idempotency entry in an unknown state') end
    local r = redis.call('HMGET', KEYS[1], 'status', 'headers', 'body', 'outcome', 'completedAt')
    return {'completed', r[1], r[2], r[3], r[4], r[5]}
  end
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], 'state', 'in_flight', 'fp', ARGV[1], 'lease', ARGV[2], 'leaseUntil', ARGV[4], 'exp', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {'started'}
`;

// KEYS: entry. ARGV: lease, now, status, headers JSON, body, outcome, completedAt, exp, gc ms.
// Returns 1 (stored now, or earlier by this lease) or 0 (this lease does not hold the key).
const COMPLETE_SCRIPT = `
local e = redis.call('HMGET', KEYS[1], 'state', 'lease', 'exp')
if not e[1] or e[2] ~= ARGV[1] then return 0 end
if e[1] == 'completed' then return 1 end
if e[1] ~= 'in_flight' then return redis.error_reply('TOLLGATE_CORRUPT idempotency entry in an unknown state') end
local exp = tonumber(e[3])
if not exp then return redis.error_reply('TOLLGATE_CORRUPT idempotency entry without expiry') end
if exp <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'completed', 'status', ARGV[3], 'headers', ARGV[4], 'body', ARGV[5],
  'outcome', ARGV[6], 'completedAt', ARGV[7], 'exp', ARGV[8])
redis.call('HDEL', KEYS[1], 'leaseUntil')
redis.call('PEXPIRE', KEYS[1], ARGV[9])
return 1
`;

// KEYS: entry. ARGV: lease. Deletes an in-flight entry held by this lease. Returns 1 when it did.
const RELEASE_SCRIPT = `
local e = redis.call('HMGET', KEYS[1], 'state', 'lease')
if e[1] == 'in_flight' and e[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

const BEGIN = redisScript(BEGIN_SCRIPT);
const COMPLETE = redisScript(COMPLETE_SCRIPT);
const RELEASE = redisScript(RELEASE_SCRIPT);

/** One Lua script call on one key (the shared EVALSHA / EVAL-on-NOSCRIPT runner). */
function run(client: RedisClient, s: RedisScript, key: string, args: Array<string | Buffer>, buffers = false): Promise<unknown> {
  return runScript(client, s, [key], args, buffers);
}

export interface RedisHighRiskOptions {
  /** Default `{tollgate:hr}:`. */
  prefix?: string;
  /** Redis keeps an idempotency entry this long past its ttl (garbage collection only; default 60000). */
  gcGraceMs?: number;
  /** Delays of the background releases after a failed begin (default 250, 1000, 5000 ms; [] turns them off). */
  releaseRetryDelaysMs?: number[];
}

export interface RedisIdempotencyStore extends IdempotencyStore {
  /** The Redis key of an idempotency key (tests, operations). */
  redisKey(key: string): string;
}

export function createRedisIdempotencyStore(client: RedisClient, opts: RedisHighRiskOptions = {}): RedisIdempotencyStore {
  const prefix = opts.prefix ?? DEFAULT_HIGHRISK_REDIS_PREFIX;
  const grace = opts.gcGraceMs ?? 60_000;
  checkMs('gcGraceMs', grace, true);
  const retryDelays = opts.releaseRetryDelaysMs ?? [250, 1000, 5000];
  const cleanups = new Set<NodeJS.Timeout>();
  let closed = false;
  const redisKey = (key: string): string => `${prefix}idem:${key}`;
  const ensureOpen = (): void => {
    if (closed) throw new Error('idempotency store is closed');
  };

  /** Frees, in the background, an entry a failed begin may have stored (module comment). */
  const cleanUp = (rk: string, lease: string, attempt = 0): void => {
    const delay = retryDelays[attempt];
    if (closed || delay === undefined) return;
    const t = setTimeout(() => {
      cleanups.delete(t);
      run(client, RELEASE, rk, [lease]).catch(() => cleanUp(rk, lease, attempt + 1));
    }, delay);
    t.unref();
    cleanups.add(t);
  };

  return {
    redisKey,

    async begin(key: string, fingerprint: string, o: BeginOptions): Promise<BeginResult> {
      ensureOpen();
      checkKey('key', key);
      checkKey('fingerprint', fingerprint);
      checkBeginOptions(o);
      const rk = redisKey(key);
      const lease = newLease();
      let reply: unknown;
      try {
        reply = await run(
          client,
          BEGIN,
          rk,
          [fingerprint, lease, String(o.now), String(o.now + o.leaseMs), String(o.now + o.ttlMs), String(Math.ceil(o.ttlMs + grace))],
          true,
        );
      } catch (err) {
        cleanUp(rk, lease);
        throw err;
      }
      return decodeBegin(reply, lease);
    },

    async complete(key: string, lease: string, response: StoredResponse, o: { ttlMs: number; now: number }): Promise<boolean> {
      ensureOpen();
      checkKey('key', key);
      checkKey('lease', lease);
      checkResponse(response);
      checkMs('ttlMs', o.ttlMs);
      checkMs('now', o.now, true);
      const body = response.outcome === 'response' ? response.body : Buffer.alloc(0);
      const reply = await run(client, COMPLETE, redisKey(key), [
        lease,
        String(o.now),
        String(response.status),
        JSON.stringify(response.headers),
        body,
        response.outcome,
        String(response.completedAt),
        String(o.now + o.ttlMs),
        String(Math.ceil(o.ttlMs + grace)),
      ]);
      if (reply !== 0 && reply !== 1) throw new HighRiskStoreError(`idempotency store: unexpected reply to complete: ${String(reply)}`);
      return reply === 1;
    },

    async release(key: string, lease: string): Promise<void> {
      ensureOpen();
      checkKey('key', key);
      checkKey('lease', lease);
      await run(client, RELEASE, redisKey(key), [lease]);
    },

    /** Stops the background releases. Does NOT quit the client: the caller owns it. */
    async close(): Promise<void> {
      closed = true;
      for (const t of cleanups) clearTimeout(t);
      cleanups.clear();
    },
  };
}

const str = (v: unknown): string | undefined => (Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'string' ? v : undefined);

function corrupt(what: string): HighRiskStoreError {
  return new HighRiskStoreError(`idempotency store: unreadable entry in Redis (${what})`);
}

function decodeBegin(reply: unknown, lease: string): BeginResult {
  if (!Array.isArray(reply) || reply.length === 0) throw corrupt('begin reply is not an array');
  const kind = str(reply[0]);
  switch (kind) {
    case 'started':
      return { kind: 'started', lease };
    case 'in_flight':
      return { kind: 'in_flight' };
    case 'mismatch':
      return { kind: 'mismatch' };
    case 'unknown': {
      // Lease ran out without completion: see types.ts (never freed, the outcome is unknown).
      const at = Number(str(reply[1]));
      if (!Number.isFinite(at)) throw corrupt('lease expiry');
      return { kind: 'completed', response: unknownOutcome(at) };
    }
    case 'completed':
      return { kind: 'completed', response: decodeResponse(reply.slice(1)) };
    default:
      throw corrupt(`begin reply ${String(kind)}`);
  }
}

function decodeResponse([status, headers, body, outcome, completedAt]: unknown[]): StoredResponse {
  const s = Number(str(status));
  if (!Number.isInteger(s)) throw corrupt('status');
  let h: unknown;
  try {
    h = JSON.parse(str(headers) ?? '');
  } catch {
    throw corrupt('headers');
  }
  if (!Array.isArray(h) || !h.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string')) {
    throw corrupt('headers');
  }
  if (!Buffer.isBuffer(body)) throw corrupt('body');
  const o = str(outcome);
  if (!isOutcome(o)) throw corrupt('outcome');
  const at = Number(str(completedAt));
  if (!Number.isFinite(at)) throw corrupt('completedAt');
  return { status: s, headers: h as Array<[string, string]>, body, outcome: o, completedAt: at };
}

export interface RedisNonceStore extends NonceStore {
  redisKey(key: string): string;
}

/**
 * `SET P+"nonce:"+key 1 NX PX ttl`: atomic across instances, expiry on Redis's clock (`now` is not used). A nonce
 * is remembered for its whole ttl; the gateway's ttl must cover the timestamp window on both sides (2 × window +
 * skew) so a captured request cannot be replayed while its timestamp is still accepted.
 */
export function createRedisNonceStore(client: RedisClient, opts: Pick<RedisHighRiskOptions, 'prefix'> = {}): RedisNonceStore {
  const prefix = opts.prefix ?? DEFAULT_HIGHRISK_REDIS_PREFIX;
  let closed = false;
  const redisKey = (key: string): string => `${prefix}nonce:${key}`;
  return {
    redisKey,
    async claim(key: string, o: { ttlMs: number; now: number }): Promise<boolean> {
      if (closed) throw new Error('nonce store is closed');
      checkKey('key', key);
      checkMs('ttlMs', o.ttlMs);
      checkMs('now', o.now, true);
      const r = await client.set(redisKey(key), '1', 'PX', Math.ceil(o.ttlMs), 'NX');
      if (r !== 'OK' && r !== null) throw new HighRiskStoreError(`nonce store: unexpected reply to SET NX: ${String(r)}`);
      return r === 'OK';
    },
    /** Does NOT quit the client: the caller owns it. */
    async close(): Promise<void> {
      closed = true;
    },
  };
}
