/**
 * Redis Streams sink for the audit chain: many gateway instances, one stream, one chain per instance.
 *
 * Layout (prefix P, default `{tollgate:audit}:`):
 *   P + "stream"      one stream entry per record, fields `chain` (chain id), `seq`, `rec` (the record's JSON)
 *   P + "head"        hash: chain id → JSON of that chain's last stored record (restart continuity: `lastOnDisk`)
 *   P + "checkpoint"  hash: chain id → JSON of that chain's latest stored checkpoint record (the trust anchor
 *                     that turns "the stream ends early" into a detectable truncation, like the file sink's
 *                     <prefix>.checkpoint.json)
 *
 * Why per-instance chains in one stream: one chain shared by many instances would need a global lock per
 * record (every append must know the previous hash); per-instance chains append independently, and the verifier
 * groups stream entries by chain.
 *
 * Redis Cluster: the append script touches all three keys, and a script's keys must hash to one slot. The
 * default prefix therefore carries a hash tag, `{tollgate:audit}` (Redis Cluster specification, "Hash tags":
 * only the part between the first `{` and the next `}` is hashed), so stream, head and checkpoint share a slot.
 * A custom prefix used with a Cluster client must contain a non-empty hash tag too (checked at open).
 *
 * Appends are one Lua script per batch (EVALSHA, EVAL on NOSCRIPT), atomic on the server. The script is a
 * compare-and-set on the chain's head:
 *   - the stored head's hash equals the batch's first `prev` (or there is no head and the batch starts with a
 *     genesis record): every record is XADDed in order, head is set to the last one, and the checkpoint hash to
 *     the batch's latest checkpoint record — so the checkpoint hash never names a record the stream lacks;
 *   - the stored head's hash equals the hash of a record IN the batch: an earlier call stored the batch up to
 *     there but its reply was lost (command timeout, dropped connection); only the rest is appended, nothing is
 *     duplicated (hashes chain every earlier record, so a match is exact);
 *   - anything else writes nothing and returns the stored head. The sink then stops for good:
 *       fork        the head moved somewhere this instance did not write: another instance uses the same chain
 *                   id (misconfiguration). Interleaving two writers in one chain is exactly what the verifier
 *                   reports as tampering, so the second writer refuses;
 *       lost state  Redis has no head for a chain this instance continues, or a head older than what this
 *                   instance stored (restart without persistence, FLUSHALL, failover to a stale replica,
 *                   restore from backup). Writing on would produce a chain that starts mid-way with nothing to
 *                   link it to; the sink refuses, stays unhealthy and keeps the records buffered so the gateway
 *                   fails closed (back-pressure) instead of silently losing the continuity.
 *     Both call onError with a message naming the cause and count in stats.errors. Restarting the instance
 *     re-reads the head: with an empty store it starts a new chain (genesis), which the verifier accepts; the
 *     records that were buffered are lost with the process — that loss is Redis's durability, see below.
 *
 * Durability is Redis's: configure AOF (`appendonly yes`, `appendfsync everysec` or `always`) and replicas as
 * the audit requirements demand; a record counts as stored when the script returned.
 *
 * Outages: the client must fail fast (build it with createRedisClient from ratelimit/redis.ts:
 * enableOfflineQueue false, commandTimeout). A failed batch marks the sink unhealthy, keeps the records in
 * order, and is retried every retryIntervalMs and on the next write (at most every min(retryIntervalMs, 100) ms,
 * so a burst of requests during an outage does not become a burst of failing commands); past
 * maxBufferedRecords `write` throws AuditBackpressureError.
 *
 * Retention: trimming the stream from the front (XTRIM MAXLEN / MINID) leaves chains that start mid-way, which
 * the verifier accepts (like deleted old file segments). Remove the `head` / `checkpoint` fields of chains that
 * are trimmed away completely, or the verifier reports them truncated.
 */
import { randomUUID } from 'node:crypto';
import { GENESIS_PREV, parseRecord, recordLine, type AuditRecord } from './record.js';
import { AuditBackpressureError, type AuditSink, type RecoveryInfo } from './sink.js';
import { redisScript, runScript, type RedisClient } from '../ratelimit/redis.js';

export const DEFAULT_REDIS_AUDIT_PREFIX = '{tollgate:audit}:';

/** Records per script call: bounds the time one call keeps the (single-threaded) server busy after an outage. */
const MAX_BATCH = 1000;

export function redisAuditKeys(prefix: string = DEFAULT_REDIS_AUDIT_PREFIX): { stream: string; head: string; checkpoint: string } {
  return { stream: `${prefix}stream`, head: `${prefix}head`, checkpoint: `${prefix}checkpoint` };
}

/** The owner lease of one chain (same hash tag as the other keys, so the append script may read it). */
export function redisAuditOwnerKey(prefix: string, chainId: string): string {
  return `${prefix}owner:${chainId}`;
}

/** True when every key `prefix + suffix` (suffix without braces) hashes to the slot of the prefix's hash tag. */
export function hasHashTag(prefix: string): boolean {
  const open = prefix.indexOf('{');
  if (open < 0) return false;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1;
}

/** Why the sink stopped writing for good (see the module comment). */
export class AuditStoreConflictError extends Error {
  override readonly name = 'AuditStoreConflictError';
  constructor(
    readonly reason: 'fork' | 'lost_state',
    message: string,
  ) {
    super(message);
  }
}

// KEYS: stream, head, checkpoint, owner. ARGV: chain id, first record's prev, 1-based index of the batch's latest
// checkpoint record (0: none), owner token, lease ms, then per record: seq, hash, JSON.
// Returns {'ok', appended, skipped}, {'conflict', stored head JSON or ''} or {'not_owner', owner token}.
const APPEND_SCRIPT = `
local chain = ARGV[1]
local firstPrev = ARGV[2]
local cpIndex = tonumber(ARGV[3])
local owner = redis.call('GET', KEYS[4])
if owner and owner ~= ARGV[4] then return {'not_owner', owner} end
if not owner then redis.call('SET', KEYS[4], ARGV[4], 'PX', ARGV[5]) end
local n = (#ARGV - 5) / 3
local head = redis.call('HGET', KEYS[2], chain)
local start = 1
if head then
  local ok, rec = pcall(cjson.decode, head)
  if not ok or type(rec) ~= 'table' or type(rec.hash) ~= 'string' then return {'conflict', head} end
  if rec.hash ~= firstPrev then
    start = 0
    for i = 1, n do
      if ARGV[5 + 3 * i - 1] == rec.hash then start = i + 1 break end
    end
    if start == 0 then return {'conflict', head} end
  end
elseif firstPrev ~= '${GENESIS_PREV}' then
  return {'conflict', ''}
end
for i = start, n do
  redis.call('XADD', KEYS[1], '*', 'chain', chain, 'seq', ARGV[5 + 3 * i - 2], 'rec', ARGV[5 + 3 * i])
end
if start <= n then redis.call('HSET', KEYS[2], chain, ARGV[5 + 3 * n]) end
if cpIndex >= start and cpIndex > 0 then redis.call('HSET', KEYS[3], chain, ARGV[5 + 3 * cpIndex]) end
return {'ok', n - start + 1, start - 1}
`;
const APPEND = redisScript(APPEND_SCRIPT);

// The chain's owner lease. KEYS: owner. ARGV: token, lease ms. Take it when free, renew it when ours.
// Returns 1 (held by us now) or the other owner's token.
const LEASE_SCRIPT = `
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return owner end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;
// KEYS: owner. ARGV: token. Releases the lease if it is ours.
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface Buffered {
  rec: AuditRecord;
  json: string;
  /** Passed to writeCheckpoint: stored in the checkpoint hash together with its batch. */
  checkpoint: boolean;
}

export interface RedisSinkOptions {
  /** The caller owns the client: close() never quits it. Build it with createRedisClient (fails fast). */
  client: RedisClient;
  prefix?: string;
  /** This instance's chain id (configured; the gateway defaults it to the host name). Unique per instance. */
  chainId: string;
  /** Default 10000. */
  maxBufferedRecords?: number;
  /** Default 1000. */
  retryIntervalMs?: number;
  /** How long open() waits for a connecting client to become ready (default 5000). */
  openTimeoutMs?: number;
  /** How long close() keeps trying to store what is buffered (default 2000). */
  closeTimeoutMs?: number;
  /**
   * The chain's owner lease (default 10000 ms), renewed every third of it. Opening waits up to one lease for a
   * lease left by a crashed owner to expire, and refuses when a live instance holds it (two instances with one
   * chain id).
   */
  leaseMs?: number;
  onError?: (err: Error) => void;
}

export class AuditRedisSink implements AuditSink {
  readonly kind = 'redis';
  readonly chainId: string;
  readonly prefix: string;
  readonly keys: { stream: string; head: string; checkpoint: string };
  /** This chain's head when the sink was opened. */
  readonly lastOnDisk: AuditRecord | undefined;
  /** Always undefined: a script call is atomic, so there is never a torn tail to recover. */
  readonly recovered: RecoveryInfo | undefined = undefined;
  /** `duplicatesSkipped`: records a retry found already stored (the earlier call's reply was lost). */
  readonly stats = { writes: 0, fsyncs: 0, rotations: 0, errors: 0, duplicatesSkipped: 0 };
  private readonly client: RedisClient;
  private readonly maxBuffered: number;
  private readonly retryMs: number;
  private readonly closeMs: number;
  private buffer: Buffered[] = [];
  private ok = true;
  private conflictErr: AuditStoreConflictError | undefined;
  private inFlight: Promise<boolean> | undefined;
  private flushScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastFailureAt = 0;
  private lastStored: AuditRecord | undefined;
  private closed = false;
  private readonly ownerKey: string;
  private readonly token: string;
  private readonly leaseMs: number;
  private leaseTimer: NodeJS.Timeout | undefined;

  /** Use openRedisAuditSink (it reads the head first). */
  private constructor(
    private readonly opts: RedisSinkOptions,
    prefix: string,
    head: AuditRecord | undefined,
    token: string,
  ) {
    this.token = token;
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.ownerKey = redisAuditOwnerKey(prefix, opts.chainId);
    this.client = opts.client;
    this.chainId = opts.chainId;
    this.prefix = prefix;
    this.keys = redisAuditKeys(prefix);
    this.lastOnDisk = head;
    this.lastStored = head;
    this.maxBuffered = opts.maxBufferedRecords ?? 10_000;
    this.retryMs = opts.retryIntervalMs ?? 1000;
    this.closeMs = opts.closeTimeoutMs ?? 2000;
    this.leaseTimer = setInterval(() => void this.renewLease(), Math.max(100, Math.floor(this.leaseMs / 3)));
    this.leaseTimer.unref();
  }

  /** Renews the owner lease; another owner means another instance writes this chain: stop (a fork). */
  private async renewLease(): Promise<void> {
    if (this.closed || this.conflictErr !== undefined) return;
    let r: unknown;
    try {
      r = await this.client.eval(LEASE_SCRIPT, 1, this.ownerKey, this.token, String(this.leaseMs));
    } catch {
      return; // an outage: the appends notice and report it
    }
    if (r !== 1) this.stopNotOwner();
  }

  private stopNotOwner(): void {
    if (this.conflictErr !== undefined) return;
    const err = new AuditStoreConflictError(
      'fork',
      `audit chain fork: another instance holds chain "${this.chainId}" (its lease ${this.ownerKey} expired while this instance could not reach Redis, and was taken); this instance stopped writing`,
    );
    this.conflictErr = err;
    this.ok = false;
    this.stats.errors++;
    this.opts.onError?.(err);
  }

  /** @internal */
  static async open(opts: RedisSinkOptions): Promise<AuditRedisSink> {
    if (typeof opts.chainId !== 'string' || opts.chainId === '') throw new Error('audit redis sink: chainId is required');
    const prefix = opts.prefix ?? DEFAULT_REDIS_AUDIT_PREFIX;
    if (opts.client.isCluster && !hasHashTag(prefix)) {
      throw new Error(`audit redis sink: prefix "${prefix}" needs a hash tag such as {tollgate:audit} on Redis Cluster (the append script uses three keys, which must share one slot)`);
    }
    const keys = redisAuditKeys(prefix);
    try {
      await whenReady(opts.client, opts.openTimeoutMs ?? 5000);
    } catch (err) {
      throw new Error(`audit redis sink: cannot read the chain head from Redis (${(err as Error).message})`, { cause: err });
    }
    // The lease first, then the head: a previous owner that was still closing has stored its last records by then.
    const token = randomUUID();
    await acquireLease(opts.client, redisAuditOwnerKey(prefix, opts.chainId), token, opts.leaseMs ?? DEFAULT_LEASE_MS, opts.chainId);
    let json: string | null;
    try {
      json = await opts.client.hget(keys.head, opts.chainId);
    } catch (err) {
      await opts.client.eval(RELEASE_SCRIPT, 1, redisAuditOwnerKey(prefix, opts.chainId), token).catch(() => undefined);
      throw new Error(`audit redis sink: cannot read the chain head from Redis (${(err as Error).message})`, { cause: err });
    }
    let head: AuditRecord | undefined;
    if (json !== null) {
      const rec = parseRecord(json);
      if (typeof rec === 'string') {
        throw new Error(`audit redis sink: the head of chain "${opts.chainId}" in ${keys.head} is unreadable (${rec}); run "tollgate audit verify"`);
      }
      if (rec.chain !== opts.chainId) {
        throw new Error(`audit redis sink: the head stored for chain "${opts.chainId}" belongs to chain "${rec.chain}"; run "tollgate audit verify"`);
      }
      head = rec;
    }
    return new AuditRedisSink(opts, prefix, head, token);
  }

  /**
   * Also false while the client is not connected: the gate must refuse high-risk requests as soon as Redis is
   * gone, not only after a store has failed (the next record could otherwise be the first one lost).
   */
  healthy(): boolean {
    return this.ok && this.conflictErr === undefined && this.client.status === 'ready';
  }

  /** Set once the sink stopped for good (fork or lost store state). */
  get conflict(): AuditStoreConflictError | undefined {
    return this.conflictErr;
  }

  get pending(): number {
    return this.buffer.length;
  }

  write(record: AuditRecord): void {
    if (this.closed) throw new Error('audit sink is closed');
    if (record.chain !== this.chainId) {
      throw new Error(`audit redis sink for chain "${this.chainId}" was handed a record of chain "${record.chain}"`);
    }
    if (this.buffer.length >= this.maxBuffered) {
      throw new AuditBackpressureError(`audit sink has ${this.buffer.length} unstored records`);
    }
    this.buffer.push({ rec: record, json: recordLine(record), checkpoint: false });
    this.schedule();
  }

  /**
   * Marks the (already written) checkpoint record so the script stores it in the checkpoint hash in the same
   * atomic call that XADDs it — never before the record is in the stream.
   */
  writeCheckpoint(record: AuditRecord): void {
    for (let i = this.buffer.length - 1; i >= 0; i--) {
      const b = this.buffer[i] as Buffered;
      if (b.rec.hash === record.hash) {
        b.checkpoint = true;
        return;
      }
    }
    if (this.lastStored && record.chain === this.chainId && record.seq <= this.lastStored.seq) {
      void this.storeCheckpointOnly(JSON.stringify(record)); // already in the stream
      return;
    }
    throw new Error('audit redis sink: writeCheckpoint needs a record written to this sink first');
  }

  /** Stores what is buffered now (one script call per batch of up to 1000). True when nothing is left. */
  flush(): Promise<boolean> {
    if (this.inFlight) return this.inFlight;
    const p = this.drain().finally(() => {
      this.inFlight = undefined;
      // A record written between the drain's last check and here would otherwise wait for the next write.
      if (this.buffer.length > 0 && this.ok) this.schedule();
    });
    this.inFlight = p;
    return p;
  }

  /**
   * Keeps trying to store what is buffered for up to closeTimeoutMs, then stops the retry timer.
   * Does NOT quit the Redis client: the caller owns it. True when everything was stored.
   */
  async close(): Promise<boolean> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const deadline = Date.now() + this.closeMs;
    while (this.buffer.length > 0 && this.conflictErr === undefined && Date.now() < deadline) {
      const left = deadline - Date.now();
      let timer: NodeJS.Timeout | undefined;
      const stored = await Promise.race([
        this.flush(),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), left))),
      ]);
      clearTimeout(timer);
      if (!stored && this.buffer.length > 0) await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
    }
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.leaseTimer = undefined;
    // Released only when everything is stored: otherwise the next owner would continue a chain whose tail is
    // still in this process (its lease then expires on its own).
    if (this.buffer.length === 0 && this.conflictErr === undefined) {
      await this.client.eval(RELEASE_SCRIPT, 1, this.ownerKey, this.token).catch(() => undefined);
    }
    return this.buffer.length === 0 && this.conflictErr === undefined;
  }

  private schedule(): void {
    if (this.closed || this.conflictErr || this.flushScheduled || this.inFlight) return;
    if (!this.ok && Date.now() - this.lastFailureAt < Math.min(this.retryMs, 100)) return; // the retry timer runs
    this.flushScheduled = true;
    // One event-loop turn's records go in one batch.
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  private async drain(): Promise<boolean> {
    while (this.buffer.length > 0 && this.conflictErr === undefined) {
      const batch = this.buffer.slice(0, MAX_BATCH);
      let cpIndex = 0;
      const args: string[] = [this.chainId, (batch[0] as Buffered).rec.prev, '', this.token, String(this.leaseMs)];
      batch.forEach((b, i) => {
        if (b.checkpoint) cpIndex = i + 1;
        args.push(String(b.rec.seq), b.rec.hash, b.json);
      });
      args[2] = String(cpIndex);
      let reply: unknown;
      try {
        reply = await this.evalAppend(args);
      } catch (err) {
        this.fail(err);
        return false;
      }
      const r = reply as [string, number | string];
      if (Array.isArray(r) && r[0] === 'not_owner') {
        this.stopNotOwner();
        return false;
      }
      if (!Array.isArray(r) || r[0] !== 'ok') {
        this.stopFor(batch, typeof r?.[1] === 'string' ? r[1] : '');
        return false;
      }
      this.buffer.splice(0, batch.length); // writes only append, so the batch is still the buffer's front
      this.stats.writes++;
      this.stats.duplicatesSkipped += Number((reply as unknown[])[2] ?? 0);
      this.lastStored = (batch[batch.length - 1] as Buffered).rec;
      this.ok = true;
      // A checkpoint marked after the batch's arguments were built is stored on its own (its record now is).
      let lateCp = -1;
      batch.forEach((b, i) => (lateCp = b.checkpoint ? i : lateCp));
      if (lateCp >= 0 && lateCp + 1 !== cpIndex) await this.storeCheckpointOnly((batch[lateCp] as Buffered).json);
    }
    return this.buffer.length === 0 && this.conflictErr === undefined;
  }

  private evalAppend(args: string[]): Promise<unknown> {
    const { stream, head, checkpoint } = this.keys;
    return runScript(this.client, APPEND, [stream, head, checkpoint, this.ownerKey], args);
  }

  private async storeCheckpointOnly(json: string): Promise<void> {
    try {
      await this.client.hset(this.keys.checkpoint, this.chainId, json);
    } catch (err) {
      this.fail(err);
    }
  }

  /** The script refused the batch: tell a fork from a store that lost its state (module comment). */
  private stopFor(batch: Buffered[], headJson: string): void {
    const first = (batch[0] as Buffered).rec;
    const id = this.chainId;
    let err: AuditStoreConflictError;
    const head = headJson === '' ? undefined : parseRecord(headJson);
    if (head === undefined) {
      err = new AuditStoreConflictError(
        'lost_state',
        `audit store lost its state: Redis has no head for chain "${id}" but this instance continues that chain at seq ${first.seq} ` +
          '(Redis restarted without persistence, or was flushed?); refusing to write a chain that starts mid-way — records stay buffered, restart the instance to start a new chain',
      );
    } else if (typeof head === 'string') {
      err = new AuditStoreConflictError('fork', `audit chain head of "${id}" in ${this.keys.head} is unreadable (${head}); refusing to append`);
    } else if (head.seq < first.seq - 1) {
      err = new AuditStoreConflictError(
        'lost_state',
        `audit store lost its state: the head of chain "${id}" is at seq ${head.seq} but this instance already stored up to seq ${first.seq - 1} ` +
          '(failover to a stale replica, or a restore from backup?); refusing to append',
      );
    } else {
      err = new AuditStoreConflictError(
        'fork',
        `audit chain fork: another writer appended to chain "${id}" (stored head seq ${head.seq} hash ${head.hash.slice(0, 12)}…, ` +
          `this instance continues from ${first.prev.slice(0, 12)}…); two instances configured with the same chain id? This instance stopped writing`,
      );
    }
    this.conflictErr = err;
    this.ok = false;
    this.stats.errors++;
    this.opts.onError?.(err);
  }

  private fail(err: unknown): void {
    this.ok = false;
    this.stats.errors++;
    this.lastFailureAt = Date.now();
    const e = err instanceof Error ? err : new Error(String(err));
    this.opts.onError?.(e);
    if (!this.closed && !this.retryTimer && this.conflictErr === undefined) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (this.buffer.length > 0) void this.flush();
      }, this.retryMs);
      this.retryTimer.unref();
    }
  }
}

const DEFAULT_LEASE_MS = 10_000;

/**
 * Takes the chain's owner lease, waiting up to one lease period for a lease left by a crashed owner to expire.
 * A lease still held after that is renewed by a live instance: two instances were given one chain id.
 */
async function acquireLease(client: RedisClient, key: string, token: string, leaseMs: number, chainId: string): Promise<void> {
  const deadline = Date.now() + leaseMs + 500;
  for (;;) {
    let r: unknown;
    try {
      r = await client.eval(LEASE_SCRIPT, 1, key, token, String(leaseMs));
    } catch (err) {
      throw new Error(`audit redis sink: cannot take the lease of chain "${chainId}" (${(err as Error).message})`, { cause: err });
    }
    if (r === 1) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `audit redis sink: chain "${chainId}" is in use by another running instance (lease ${key} is renewed); give each instance its own audit.chainId`,
      );
    }
    await sleep(Math.min(250, Math.max(50, Math.floor(leaseMs / 10))));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves when the client is ready; rejects on its first error, on `end`, or after timeoutMs. */
async function whenReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return;
  if (client.status === 'end' || client.status === 'close') throw new Error('the Redis client is closed');
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      client.off('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onReady = (): void => done();
    const onError = (err: Error): void => done(err);
    const onEnd = (): void => done(new Error('connection closed'));
    const timer = setTimeout(() => done(new Error(`not connected after ${timeoutMs} ms`)), timeoutMs);
    client.on('ready', onReady);
    client.on('error', onError);
    client.on('end', onEnd);
    // lazyConnect clients start in 'wait'; the outcome arrives as ready / error events.
    if (client.status === 'wait') client.connect().catch(() => undefined);
  });
}

/**
 * Opens the sink: waits for the client, reads this chain's head (exposed as `lastOnDisk`).
 * Rejects with a clear error when Redis cannot be reached or the head is unreadable — the gateway decides at
 * boot whether that is fatal. The client stays the caller's (close() does not quit it).
 */
export function openRedisAuditSink(opts: RedisSinkOptions): Promise<AuditRedisSink> {
  return AuditRedisSink.open(opts);
}
