import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { brief, issuesOf, MINIMAL } from './fixtures.js';

const ISSUER = `issuers:
  dev: { issuer: "https://idp.example.com", audiences: [api], algorithms: [ES256], jwks: { uri: "https://idp.example.com/jwks" } }
`;

/** MINIMAL plus an authenticated route (`orders`, lines 13-17) and a rateLimits section from line 18. */
const doc = (rateLimits: string, routeExtra = '') => `${MINIMAL}  - id: orders
    match: { path: /orders }
    upstream: orders
    auth: { issuer: dev }
    risk: high${routeExtra}
${ISSUER}rateLimits:
${rateLimits}`;

const VALID = `  store: redis
  redis: { url: "redis://127.0.0.1:6390/0", password: { env: REDIS_PW } }
  policies:
    per-client: { points: 100, windowSeconds: 60, key: client }
    per-ip: { points: 1000, windowSeconds: 1, key: ip }
  quotas:
    monthly: { points: 100000, period: month, key: partner }
  defaults: { policies: [per-client, per-ip], quotas: [monthly] }
  partners: { claims: [partner_id], clients: { crm-agent: acme } }
  plans:
    gold: { policies: { per-client: { points: 1000 } }, quotas: { monthly: { points: 5000000 } } }
  partnerPlans: { acme: gold }
  onStoreOutage: { low: fail_closed }
  trustedProxies: [10.0.0.0/8, "fd00::/8"]
`;

describe('rateLimits configuration', () => {
  it('normalizes a full section, applies defaults to routes and resolves the Redis password', () => {
    const c = loadConfig(doc(VALID), { env: { REDIS_PW: 'pw-123' } });
    expect(c.rateLimits.store).toBe('redis');
    expect(c.rateLimits.redis).toStrictEqual({ url: 'redis://127.0.0.1:6390/0', password: 'pw-123', keyPrefix: 'tollgate:rl:', connectTimeoutMs: 1000, commandTimeoutMs: 200 });
    expect(c.rateLimits.policies['per-client']).toStrictEqual({ name: 'per-client', points: 100, windowSeconds: 60, blockSeconds: 0, key: 'client' });
    expect(c.rateLimits.onStoreOutage).toStrictEqual({ low: 'fail_closed', medium: 'fallback', high: 'fail_closed' });
    expect(c.rateLimits.plans['gold']?.policies).toStrictEqual({ 'per-client': { points: 1000 } });
    const [health, orders] = c.routes;
    // a public route keeps only the ip/route-keyed defaults and no quotas
    expect(health?.rateLimits).toStrictEqual({ policies: ['per-ip'], quotas: [], cost: 1 });
    expect(orders?.rateLimits).toStrictEqual({ policies: ['per-client', 'per-ip'], quotas: ['monthly'], cost: 1 });
  });

  it('takes a route’s own policies, quotas and cost instead of the defaults', () => {
    const c = loadConfig(doc(VALID, '\n    rateLimits: { policies: [per-ip], quotas: [], cost: 5 }'), { env: { REDIS_PW: 'x' } });
    expect(c.routes[1]?.rateLimits).toStrictEqual({ policies: ['per-ip'], quotas: [], cost: 5 });
  });

  it('reports unknown names, missing Redis settings, credentials in the URL, bad CIDRs and unset secrets with their lines', () => {
    const text = doc(`  store: redis
  redis: { url: "redis://user:secret@127.0.0.1:6390", password: { env: REDIS_PW } }
  policies:
    per-client: { points: 100, windowSeconds: 60, key: client }
  defaults: { policies: [per-clint], quotas: [monthly] }
  plans:
    gold: { policies: { per-cli: { points: 1 } } }
  partnerPlans: { acme: silver }
  trustedProxies: [10.0.0.0/33, nonsense]
`, '\n    rateLimits: { policies: [nope], cost: 0 }');
    expect(brief(issuesOf(text))).toEqual([
      '18:30 routes[1].rateLimits.policies[0] unknown rate-limit policy "nope" (defined: per-client)',
      '18:43 routes[1].rateLimits.cost must be >= 1',
      '23:17 rateLimits.redis.url must not contain credentials; use rateLimits.redis.password: { env: NAME }',
      '23:72 rateLimits.redis.password.env environment variable REDIS_PW is not set',
      '26:26 rateLimits.defaults.policies[0] unknown rate-limit policy "per-clint" (defined: per-client)',
      '26:47 rateLimits.defaults.quotas[0] unknown quota "monthly" (none are defined)',
      '28:25 rateLimits.plans.gold.policies.per-cli unknown rate-limit policy "per-cli" (defined: per-client)',
      '29:25 rateLimits.partnerPlans.acme unknown plan "silver" (defined: gold)',
      '30:20 rateLimits.trustedProxies[0] "10.0.0.0/33" is not a CIDR such as 10.0.0.0/8 or fd00::/8',
      '30:33 rateLimits.trustedProxies[1] "nonsense" is not a CIDR such as 10.0.0.0/8 or fd00::/8',
    ]);
  });

  it('requires redis settings for the redis store, exactly one connection kind, and high tiers to fail closed', () => {
    const issues = brief(issuesOf(doc(`  store: redis
  onStoreOutage: { high: fallback }
`)));
    expect(issues).toEqual([
      '21:10 rateLimits.store store is redis but rateLimits.redis is not set',
      '22:26 rateLimits.onStoreOutage.high must be fail_closed: high-risk routes never run unlimited',
    ]);
    expect(brief(issuesOf(doc(`  redis: { url: "redis://a:1", cluster: { nodes: [{ host: a, port: 1 }] } }
`)))).toEqual(['21:3 rateLimits.redis must set exactly one of url, sentinel or cluster (more than one is set)']);
  });

  it('refuses client-keyed limits and quotas named by a public route', () => {
    const text = `${MINIMAL.replace('    risk: low', '    risk: low\n    rateLimits: { policies: [per-client], quotas: [monthly] }')}rateLimits:
  policies:
    per-client: { points: 1, windowSeconds: 1, key: client }
  quotas:
    monthly: { points: 1, period: month, key: client }
`;
    expect(brief(issuesOf(text))).toEqual([
      '13:19 routes[0].rateLimits.policies public route uses rate-limit policy "per-client" keyed by client, which needs a verified client; key it by ip or route',
      '13:43 routes[0].rateLimits.quotas public route uses quotas (monthly), which count verified clients or partners',
    ]);
  });
});
