// Rate limits through Redis Sentinel and Redis Cluster (real redis-server processes in sentinel and cluster mode,
// started by the test): two gateway instances admit exactly the limit in total.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, yamlConfig, type TestGateway } from '../helpers/gateway.js';
import { startRedisCluster, startRedisSentinel, type TestRedisTopology } from '../helpers/redis.js';
import { registerSecret } from '../helpers/run-artifacts.js';
import { hs256Issuer, hs256Token } from '../helpers/tokens.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const SECRET = registerSecret('ratelimit-topology-e2e-secret-012345');
const env = { ...process.env, RLT_E2E_SECRET: SECRET };

let upstream: TestUpstream;

beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(async () => {
  await upstream?.close();
});

function config(redis: string): string {
  return yamlConfig({
    issuers: hs256Issuer('RLT_E2E_SECRET'),
    upstreams: `  app: { url: "${upstream.url}" }`,
    routes: `  - id: burst
    match: { prefix: /burst }
    upstream: app
    auth: { issuer: local }
    risk: high
    # this test is about something else: the high-risk replay and idempotency checks are off here
    highRisk: { idempotency: false, replay: false }
    rateLimits: { policies: [burst], quotas: [daily] }`,
    rateLimits: `  store: redis
  redis: ${redis}
  policies:
    burst: { points: 30, windowSeconds: 60, key: client }
  quotas:
    daily: { points: 1000, period: day, key: client }`,
  });
}

async function exactAcrossTwo(redisYaml: string): Promise<void> {
  const gws: TestGateway[] = [await startGateway(config(redisYaml), { env }), await startGateway(config(redisYaml), { env })];
  try {
    const token = await hs256Token(SECRET, { client_id: `topology-${Math.random().toString(36).slice(2)}` });
    const got = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const r = await fetch(`${(gws[i % 2] as TestGateway).url}/burst`, { headers: { authorization: `Bearer ${token}` } });
      await r.arrayBuffer();
      return r.status;
    }));
    // a high-risk route: any Redis failure would be a 503, so 30 admitted and 70 refused means Redis counted all
    expect(got.filter((s) => s === 200)).toHaveLength(30);
    expect(got.filter((s) => s === 429)).toHaveLength(70);
  } finally {
    for (const g of gws) await g.close();
  }
}

describe('rate limits through Redis Sentinel and Cluster', () => {
  let sentinel: TestRedisTopology | undefined;
  let cluster: TestRedisTopology | undefined;
  afterAll(async () => {
    await sentinel?.close();
    await cluster?.close();
  });

  it('Sentinel: the gateways find the master through the sentinel and count exactly', async () => {
    sentinel = await startRedisSentinel('tollgate-master');
    const nodes = sentinel.nodes.map((n) => `{ host: ${n.host}, port: ${n.port} }`).join(', ');
    await exactAcrossTwo(`{ sentinel: { name: tollgate-master, nodes: [${nodes}] } }`);
  }, 40_000);

  it('Cluster: the gateways count exactly across a three-master cluster', async () => {
    cluster = await startRedisCluster();
    const nodes = cluster.nodes.map((n) => `{ host: ${n.host}, port: ${n.port} }`).join(', ');
    await exactAcrossTwo(`{ cluster: { nodes: [${nodes}] } }`);
  }, 60_000);
});
