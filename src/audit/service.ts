/**
 * The gateway's audit trail: one chain per instance on the configured sink, records for every decision and every
 * privileged operation, signed checkpoints, the public keys published as JWKS, health for the fail-closed rule, and
 * metrics. Built once per process (a reload keeps it: the chain must not restart with the configuration).
 */
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { AuditConfig } from '../config/types.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { createRedisClient, describeRedis } from '../ratelimit/redis.js';
import { AuditFileSink } from './file-sink.js';
import { openRedisAuditSink } from './redis-sink.js';
import { loadSigner, publicJwk, type AuditJwk, type AuditSigner } from './keys.js';
import { startAuditChain, type AuditLog } from './log.js';
import type { AuditDetail, AuditFields, AuditKind } from './record.js';
import { AuditBackpressureError, type AuditSink } from './sink.js';

export type AppendableKind = Exclude<AuditKind, 'checkpoint' | 'genesis' | 'recovery' | 'start' | 'stop'>;

export interface AuditTrail {
  readonly enabled: boolean;
  /** The chain this instance appends to (undefined when auditing is off). */
  readonly chainId: string | undefined;
  /** False while the sink fails to store records: routes of fail-closed tiers then answer 503. */
  healthy(): boolean;
  /** Appends a record. Never throws: a record that cannot even be buffered is counted as dropped and logged. */
  record(kind: AppendableKind, fields: AuditFields): void;
  /**
   * What a reload may change: the signing key (rotated, recorded and checkpointed with the old key), checkpoint
   * cadence and outage modes. A different sink, location or chain id needs a restart: returned as an error.
   */
  reloadProblem(next: AuditConfig): string | undefined;
  applyReload(next: AuditConfig): void;
  /** Appends `stop` and a final checkpoint, stores what is buffered and releases the sink. */
  close(): Promise<void>;
}

export interface AuditTrailDeps {
  logger: Logger;
  metrics: GatewayMetrics;
  /** Extra detail for the `start` record (e.g. the configuration hash). */
  startDetail?: AuditDetail;
}

/** A trail that records nothing (audit.enabled: false). Always healthy: there is nothing to fail closed on. */
export const disabledAuditTrail: AuditTrail = {
  enabled: false,
  chainId: undefined,
  healthy: () => true,
  record: () => undefined,
  reloadProblem: () => undefined,
  applyReload: () => undefined,
  close: async () => undefined,
};

/** What identifies the sink: changing any of it mid-process would start or split a chain. */
function sinkIdentity(c: AuditConfig): string {
  const redis = c.redis === undefined ? null : { ...c.redis, password: c.redis.password === undefined ? null : 'set' };
  return JSON.stringify([c.enabled, c.sink, c.chainId, c.sink === 'file' ? c.file : null, c.sink === 'redis' ? redis : null]);
}

function signingKeyFingerprint(c: AuditConfig): string {
  return c.resolvedSigningKey === undefined ? 'ephemeral' : createHash('sha256').update(c.resolvedSigningKey).digest('hex');
}

function signerOf(c: AuditConfig, logger: Logger): AuditSigner {
  if (c.resolvedSigningKey !== undefined) {
    return loadSigner(createPrivateKey(Buffer.from(c.resolvedSigningKey).toString('utf8')));
  }
  logger.warn(
    { event: 'audit_key', kid: undefined },
    'audit.signingKey is not set: checkpoints are signed with a key generated for this process only; set audit.signingKey for keys that outlive a restart',
  );
  return loadSigner(generateKeyPairSync('ed25519').privateKey);
}

/**
 * Adds a public key to the JWKS file (RFC 7517 key set) without dropping older keys: records signed before a
 * rotation or a restart must stay verifiable. Written to a temporary file and renamed, so a reader never sees half.
 */
function publishKey(file: string, key: KeyObject): void {
  let keys: AuditJwk[] = [];
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { keys?: AuditJwk[] };
    if (Array.isArray(doc.keys)) keys = doc.keys;
  } catch {
    // No file yet (or unreadable: rewritten with what we know).
  }
  const jwk = publicJwk(key);
  if (!keys.some((k) => k.kid === jwk.kid)) keys.push(jwk);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ keys }, null, 2)}\n`);
  renameSync(tmp, file);
}

async function openSink(config: AuditConfig, onError: (err: Error) => void): Promise<{ sink: AuditSink; release: () => Promise<void> }> {
  if (config.sink === 'file') {
    const sink = AuditFileSink.open({
      dir: config.file.dir,
      prefix: config.file.prefix,
      fsync: config.file.fsyncIntervalMs === 0 ? 'always' : { intervalMs: config.file.fsyncIntervalMs },
      maxBytes: config.file.maxBytes,
      maxBufferedRecords: config.maxBufferedRecords,
      onError,
    });
    return { sink, release: async () => undefined };
  }
  const redisConfig = config.redis;
  if (redisConfig === undefined) throw new Error('audit.sink is redis but audit.redis is not set');
  const client = createRedisClient(redisConfig);
  // ioredis reports connection errors as events; the sink's own errors say what failed for the trail.
  client.on('error', () => undefined);
  try {
    const sink = await openRedisAuditSink({
      client,
      prefix: redisConfig.keyPrefix,
      chainId: config.chainId,
      maxBufferedRecords: config.maxBufferedRecords,
      leaseMs: config.chainLeaseMs,
      onError,
    });
    return { sink, release: async () => void (await client.quit().catch(() => client.disconnect())) };
  } catch (err) {
    client.disconnect();
    throw new Error(`audit: cannot open the Redis stream at ${describeRedis(redisConfig)}: ${(err as Error).message}`);
  }
}

/**
 * Opens the sink (recovering a torn tail), continues this instance's chain, publishes the signing key and appends
 * `start`. Throws when the sink cannot be opened: a gateway that cannot audit does not start.
 */
export async function openAuditTrail(config: AuditConfig, deps: AuditTrailDeps): Promise<AuditTrail> {
  const { logger, metrics } = deps;
  if (!config.enabled) {
    logger.warn({ event: 'audit', enabled: false }, 'audit trail disabled (audit.enabled: false)');
    return disabledAuditTrail;
  }
  const log = logger.child({ component: 'audit' });
  let down = false;
  const onError = (err: Error): void => {
    metrics.auditSinkErrors.inc();
    if (!down) {
      down = true;
      // The error text is about the storage (a path, an errno, a Redis state), never about request content.
      log.error({ event: 'audit_sink', state: 'failing', err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'audit sink cannot store records; fail-closed tiers answer 503');
    }
  };
  let signer = signerOf(config, log);
  let keyFingerprint = signingKeyFingerprint(config);
  const { sink, release } = await openSink(config, onError);
  if (config.publicKeysFile !== undefined) publishKey(config.publicKeysFile, signer.publicKey);

  const chain: AuditLog = startAuditChain(
    sink,
    {
      chainId: config.chainId,
      signer,
      checkpointEvery: config.checkpoint.every,
      checkpointIntervalMs: config.checkpoint.intervalMs,
    },
    { ...deps.startDetail, kid: signer.kid },
    // Every record the chain writes (checkpoints, recovery and start included) is counted here.
    (r) => metrics.auditRecords.series({ kind: r.kind }).inc(),
  );
  let identity = sinkIdentity(config);
  metrics.auditProbe.healthy = () => sink.healthy();
  metrics.auditProbe.pending = () => sink.pending;
  log.info({ event: 'audit', sink: sink.kind, chain: chain.chain.chainId, seq: chain.chain.last?.seq, kid: signer.kid }, 'audit trail open');

  let droppedReported = false;
  const record = (kind: AppendableKind, fields: AuditFields): void => {
    try {
      chain.chain.append(kind, fields);
      droppedReported = false;
    } catch (err) {
      metrics.auditDropped.inc();
      if (!droppedReported) {
        droppedReported = true;
        const why = err instanceof AuditBackpressureError ? 'buffer full' : (err as Error).message;
        log.error({ event: 'audit_dropped', kind, why }, 'audit record dropped');
      }
    }
    if (down && sink.healthy()) {
      down = false;
      log.info({ event: 'audit_sink', state: 'recovered', pending: sink.pending }, 'audit sink stores records again');
    }
  };

  return {
    enabled: true,
    chainId: chain.chain.chainId,
    healthy: () => sink.healthy(),
    record,
    reloadProblem(next) {
      return sinkIdentity(next) === identity ? undefined : 'audit sink, location or chain id changed: that needs a restart';
    },
    applyReload(next) {
      const fp = signingKeyFingerprint(next);
      if (fp === keyFingerprint) return;
      // An unset key stays the process's ephemeral key; only a configured key change is a rotation.
      if (next.resolvedSigningKey === undefined) return;
      const nextSigner = signerOf(next, log);
      if (next.publicKeysFile !== undefined) publishKey(next.publicKeysFile, nextSigner.publicKey);
      try {
        chain.chain.rotateKey(nextSigner);
      } catch (err) {
        metrics.auditDropped.inc();
        log.error({ event: 'audit_dropped', kind: 'key_rotation', why: (err as Error).message }, 'audit record dropped');
      }
      log.info({ event: 'audit_key_rotation', oldKid: signer.kid, newKid: nextSigner.kid }, 'audit signing key rotated');
      signer = nextSigner;
      keyFingerprint = fp;
      identity = sinkIdentity(next);
    },
    async close() {
      metrics.auditProbe.healthy = () => false;
      metrics.auditProbe.pending = () => 0;
      let ok = false;
      try {
        ok = await chain.close();
      } catch (err) {
        log.error({ event: 'audit', err: { message: (err as Error).message } }, 'audit trail did not close cleanly');
      }
      await release();
      if (!ok) log.error({ event: 'audit', pending: sink.pending }, 'audit trail closed with records not stored');
    },
  };
}

