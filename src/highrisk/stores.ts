/**
 * The high-risk stores of one configuration: memory (this instance) or Redis (every instance), built once and
 * carried across reloads that leave `highRisk` unchanged, so a reload never forgets a key or a nonce.
 */
import type { HighRiskConfig } from '../config/types.js';
import { createRedisClient, readyOrTimeout, type RedisClient } from '../ratelimit/redis.js';
import { createMemoryIdempotencyStore, createMemoryNonceStore } from './memory.js';
import { createRedisIdempotencyStore, createRedisNonceStore } from './redis.js';
import type { IdempotencyStore, NonceStore } from './types.js';

export interface HighRiskStores {
  idempotency: IdempotencyStore;
  nonces: NonceStore;
  /** Waits (up to the Redis connect timeout) for the store, so the first requests after start are not refused. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createHighRiskStores(config: HighRiskConfig): HighRiskStores {
  if (config.store === 'memory') {
    const idempotency = createMemoryIdempotencyStore({ maxEntries: config.idempotency.maxEntries });
    const nonces = createMemoryNonceStore({ maxEntries: config.replay.maxEntries });
    return {
      idempotency,
      nonces,
      start: async () => undefined,
      close: async () => {
        await Promise.all([idempotency.close(), nonces.close()]);
      },
    };
  }
  if (config.redis === undefined) throw new Error('highRisk.store is redis but highRisk.redis is not set');
  // The same fail-fast client options as rate limiting: a dead Redis fails the check at once (503), never hangs it.
  const client: RedisClient = createRedisClient(config.redis);
  client.on('error', () => undefined);
  const prefix = config.redis.keyPrefix;
  const idempotency = createRedisIdempotencyStore(client, { prefix });
  const nonces = createRedisNonceStore(client, { prefix });
  const timeoutMs = config.redis.connectTimeoutMs;
  return {
    idempotency,
    nonces,
    // Not ready in time: start anyway; requests fail closed (503) until Redis answers, as during any outage.
    start: () => readyOrTimeout(client, timeoutMs),
    close: async () => {
      await Promise.all([idempotency.close(), nonces.close()]);
      await client.quit().catch(() => client.disconnect());
    },
  };
}
