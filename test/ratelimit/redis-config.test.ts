import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisConfig } from '../../src/config/types.js';
import { clusterOptions, createRedisClient, RedisConfigError, redisOptions, validateRedisConfig } from '../../src/ratelimit/redis.js';
import { harness, limitsConfig } from './fixtures.js';

const base = { keyPrefix: 'tollgate:rl:', connectTimeoutMs: 1000, commandTimeoutMs: 200 };

describe('Redis connection options (no server needed)', () => {
  it('standalone, Sentinel and Cluster clients are built from the config, with fail-fast options', () => {
    const standalone = createRedisClient({ ...base, url: 'redis://127.0.0.1:1', password: 'pw-1' }, { lazyConnect: true });
    expect(standalone).toBeInstanceOf(Redis);
    expect(standalone.options).toMatchObject({
      host: '127.0.0.1',
      port: 1,
      password: 'pw-1',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 200,
      connectTimeout: 1000,
      autoResendUnfulfilledCommands: false,
    });
    standalone.disconnect();

    const sentinel = createRedisClient(
      { ...base, sentinel: { name: 'mymaster', nodes: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }] }, password: 'pw-2' },
      { lazyConnect: true },
    ) as Redis;
    expect(sentinel).toBeInstanceOf(Redis);
    expect(sentinel.options).toMatchObject({
      name: 'mymaster',
      sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }],
      password: 'pw-2',
      enableOfflineQueue: false,
    });
    sentinel.disconnect();

    const cluster = createRedisClient({ ...base, cluster: { nodes: [{ host: '10.0.0.3', port: 7000 }] }, password: 'pw-3' }, { lazyConnect: true });
    expect(cluster).toBeInstanceOf(Cluster);
    expect((cluster as Cluster).options).toMatchObject({ enableOfflineQueue: false, redisOptions: { password: 'pw-3', commandTimeout: 200, maxRetriesPerRequest: 0 } });
    cluster.disconnect();
  });

  it('option builders are pure', () => {
    const cfg: RedisConfig = { ...base, url: 'rediss://cache.internal:6380' };
    expect(redisOptions(cfg)).not.toHaveProperty('password');
    expect(clusterOptions(cfg).redisOptions).not.toHaveProperty('enableOfflineQueue');
  });

  it.each<[string, Partial<RedisConfig>, RegExp]>([
    ['no topology', {}, /exactly one of url, sentinel, cluster/],
    ['two topologies', { url: 'redis://a:1', cluster: { nodes: [{ host: 'b', port: 2 }] } }, /exactly one of url, sentinel, cluster/],
    ['bad scheme', { url: 'http://a:1' }, /redis:\/\/ or rediss:\/\//],
    ['not a url', { url: 'a:b:c' }, /must be redis:\/\/|not a URL/],
    ['password in url', { url: 'redis://:hunter2@a:1' }, /not in the URL/],
    ['sentinel without name', { sentinel: { name: '', nodes: [{ host: 'a', port: 1 }] } }, /sentinel\.name/],
    ['sentinel without nodes', { sentinel: { name: 'm', nodes: [] } }, /sentinel\.nodes: at least one node/],
    ['cluster without nodes', { cluster: { nodes: [] } }, /cluster\.nodes: at least one node/],
    ['cluster bad port', { cluster: { nodes: [{ host: 'a', port: 70000 }] } }, /cluster\.nodes\[0\]\.port/],
    ['cluster empty host', { cluster: { nodes: [{ host: '', port: 7000 }] } }, /cluster\.nodes\[0\]\.host/],
  ])('rejects %s clearly before connecting', (_name, over, message) => {
    const cfg = { ...base, ...over } as RedisConfig;
    expect(() => validateRedisConfig(cfg)).toThrow(RedisConfigError);
    expect(() => validateRedisConfig(cfg)).toThrow(message);
    expect(() => createRedisClient(cfg, { lazyConnect: true })).toThrow(message);
  });

  it('errors never contain the password', () => {
    try {
      validateRedisConfig({ ...base, url: 'redis://:hunter2@a:1' });
      throw new Error('expected an error');
    } catch (err) {
      expect(String(err)).not.toContain('hunter2');
    }
  });

  it('the service refuses to build with a bad Redis configuration', () => {
    expect(() => harness(limitsConfig({ store: 'redis', redis: { ...base, cluster: { nodes: [] } } }))).toThrow(RedisConfigError);
    expect(() => harness(limitsConfig({ store: 'redis' }))).toThrow(/rateLimits.redis is required/);
  });
});
