import { createHash } from 'node:crypto';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/types.js';

export type RedisClient = Redis | Cluster;

/** A Redis configuration the rate-limit service cannot use. The message never contains the password. */
export class RedisConfigError extends Error {
  override readonly name = 'RedisConfigError';
}

function checkNodes(where: string, nodes: unknown): asserts nodes is { host: string; port: number }[] {
  if (!Array.isArray(nodes) || nodes.length === 0) throw new RedisConfigError(`rateLimits.redis.${where}.nodes: at least one node is required`);
  nodes.forEach((n: unknown, i) => {
    const node = n as { host?: unknown; port?: unknown } | null;
    if (typeof node?.host !== 'string' || node.host === '') {
      throw new RedisConfigError(`rateLimits.redis.${where}.nodes[${i}].host: a host name or address is required`);
    }
    if (typeof node.port !== 'number' || !Number.isInteger(node.port) || node.port < 1 || node.port > 65535) {
      throw new RedisConfigError(`rateLimits.redis.${where}.nodes[${i}].port: must be an integer from 1 to 65535`);
    }
  });
}

/** Checks what the schema cannot say (exactly one topology, usable nodes and URL) before any connection is tried. */
export function validateRedisConfig(config: RedisConfig): void {
  const modes = [config.url !== undefined, config.sentinel !== undefined, config.cluster !== undefined].filter(Boolean).length;
  if (modes !== 1) throw new RedisConfigError('rateLimits.redis: exactly one of url, sentinel, cluster is required');
  if (config.url !== undefined) {
    let u: URL;
    try {
      u = new URL(config.url);
    } catch {
      throw new RedisConfigError('rateLimits.redis.url: not a URL');
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RedisConfigError('rateLimits.redis.url: must be redis:// or rediss://');
    if (u.hostname === '') throw new RedisConfigError('rateLimits.redis.url: a host is required');
    if (u.password !== '') throw new RedisConfigError('rateLimits.redis.url: put the password in rateLimits.redis.password (a secret reference), not in the URL');
  }
  if (config.sentinel !== undefined) {
    if (typeof config.sentinel.name !== 'string' || config.sentinel.name === '') {
      throw new RedisConfigError('rateLimits.redis.sentinel.name: the master group name is required');
    }
    checkNodes('sentinel', config.sentinel.nodes);
  }
  if (config.cluster !== undefined) checkNodes('cluster', config.cluster.nodes);
  if (!(config.commandTimeoutMs > 0)) throw new RedisConfigError('rateLimits.redis.commandTimeoutMs: must be positive');
  if (!(config.connectTimeoutMs > 0)) throw new RedisConfigError('rateLimits.redis.connectTimeoutMs: must be positive');
}

/**
 * Connection options chosen so a dead or slow Redis never holds a request (ioredis CommonRedisOptions docs):
 * - `enableOfflineQueue: false`: while disconnected a command fails at once instead of waiting for a reconnect
 *   (also the rate-limiter-flexible wiki's advice for RateLimiterRedis);
 * - `commandTimeout`: a connected but unresponsive server fails the command after `commandTimeoutMs`;
 * - `maxRetriesPerRequest: 0` and `autoResendUnfulfilledCommands: false`: commands in flight when the connection
 *   drops fail on the first reconnect attempt and are not replayed later (a replayed INCRBY would count a request
 *   that was already answered by the fallback);
 * - the default `retryStrategy` keeps reconnecting (50 ms steps up to 2 s), so the service returns to Redis by itself.
 * No key prefix here: rate-limiter-flexible's `keyPrefix` carries it, one per limiter.
 */
export function redisOptions(config: RedisConfig, extra: { lazyConnect?: boolean } = {}): RedisOptions {
  return {
    connectTimeout: config.connectTimeoutMs,
    commandTimeout: config.commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectionName: 'tollgate-ratelimit',
    ...(config.password !== undefined ? { password: config.password } : {}),
    ...(extra.lazyConnect === true ? { lazyConnect: true } : {}),
  };
}

export function clusterOptions(config: RedisConfig, extra: { lazyConnect?: boolean } = {}): ClusterOptions {
  const { enableOfflineQueue: _offline, ...perNode } = redisOptions(config);
  return {
    // Cluster-level queue too: while slots are unknown a command fails instead of waiting.
    enableOfflineQueue: false,
    redisOptions: perNode,
    slotsRefreshTimeout: config.connectTimeoutMs,
    ...(extra.lazyConnect === true ? { lazyConnect: true } : {}),
  };
}

/**
 * The ioredis client for a validated RedisConfig: standalone from the URL, `new Redis({ sentinels, name })` for
 * Sentinel (the password is the data nodes'; Sentinels without auth), or `new Redis.Cluster(nodes)`.
 */
export function createRedisClient(config: RedisConfig, extra: { lazyConnect?: boolean } = {}): RedisClient {
  validateRedisConfig(config);
  if (config.cluster !== undefined) {
    return new Cluster(
      config.cluster.nodes.map((n) => ({ host: n.host, port: n.port })),
      clusterOptions(config, extra),
    );
  }
  if (config.sentinel !== undefined) {
    return new Redis({
      ...redisOptions(config, extra),
      sentinels: config.sentinel.nodes.map((n) => ({ host: n.host, port: n.port })),
      name: config.sentinel.name,
    });
  }
  return new Redis(config.url!, redisOptions(config, extra));
}

/** Human-readable description for logs: topology and hosts, never the password. */
export function describeRedis(config: RedisConfig): string {
  if (config.cluster !== undefined) return `cluster ${config.cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (config.sentinel !== undefined) return `sentinel ${config.sentinel.name} via ${config.sentinel.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  try {
    const u = new URL(config.url!);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'redis';
  }
}

/**
 * Resolves when the client is ready or after `timeoutMs`, whichever comes first; never rejects. Used at start so the
 * first requests are not refused while the connection is still being made (after the timeout the gateway serves
 * anyway and treats Redis as down).
 */
export function readyOrTimeout(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      client.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    client.on('ready', done);
  });
}

/** A Lua script with its SHA-1, for EVALSHA. */
export interface RedisScript {
  src: string;
  sha: string;
}

export function redisScript(src: string): RedisScript {
  return { src, sha: createHash('sha1').update(src).digest('hex') };
}

/**
 * EVALSHA, and EVAL when the server does not know the script yet (first call on it, or it restarted and lost its
 * script cache). `buffers`: reply as Buffers (binary-safe values).
 */
export async function runScript(
  client: RedisClient,
  script: RedisScript,
  keys: readonly string[],
  args: ReadonlyArray<string | Buffer>,
  buffers = false,
): Promise<unknown> {
  const call = (cmd: 'evalsha' | 'eval', first: string): Promise<unknown> =>
    buffers ? client.callBuffer(cmd, first, keys.length, ...keys, ...args) : client.call(cmd, first, keys.length, ...keys, ...args);
  try {
    return await call('evalsha', script.sha);
  } catch (err) {
    if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err;
    return call('eval', script.src);
  }
}
