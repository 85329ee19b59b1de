import { afterAll, describe, expect, it } from 'vitest';
import { checkConfigFile } from '../../src/config/check.js';
import { MINIMAL, SECRET_32, tempDir } from './fixtures.js';

const GOOD = MINIMAL.replace(
  'upstreams:',
  `issuers:
  dev:
    issuer: https://idp.example.com
    audiences: [api]
    algorithms: [HS256]
    secret: { env: DEV_SECRET }
upstreams:`,
).replace('  orders: { url: "http://127.0.0.1:3001" }', '  orders: { url: "http://127.0.0.1:3001" }\n  billing: { url: "http://127.0.0.1:3002" }');

/** Golden input: one problem of each kind the loader finds, in a file on disk. */
const BAD = `version: 1
server:
  public: { port: 8080 }
  admin: { port: 9090 }
issuers:
  dev:
    issuer: https://idp.example.com
    audiences: [api]
    algorithms: [HS256]
    secret: { env: DEV_SECRET }
upstreams:
  orders:
    url: http://127.0.0.1:3001
    tls: { caFile: certs/missing.pem }
routes:
  - id: orders
    match: { path: "/orders/{id}/{id}" }
    upstream: order
    auth: { issuer: dev, scopes: [orders:read] }
    risk: low
    retries: 3
  - id: orders
    match: { prefix: /orders }
    upstream: orders
    risk: low
`;

const files = tempDir({ 'conf/good.yaml': GOOD, 'conf/bad.yaml': BAD, 'conf/dup.yaml': `${MINIMAL}version: 1\n` });
afterAll(files.cleanup);

describe('checkConfigFile', () => {
  it('prints OK with counts for a valid file', () => {
    const path = files.path('conf/good.yaml');
    expect(checkConfigFile(path, { env: { DEV_SECRET: SECRET_32 } })).toEqual({ ok: true, output: `OK ${path} (1 routes, 2 upstreams, 1 issuers)` });
  });

  it('prints every error on its own line as <file>:<line>:<col> <path>: <message> (golden)', () => {
    const path = files.path('conf/bad.yaml');
    const result = checkConfigFile(path, { env: {} });
    expect(result.ok).toBe(false);
    expect(result.output.split('\n')).toEqual([
      `${path}:10:20 issuers.dev.secret.env: environment variable DEV_SECRET is not set`,
      `${path}:14:5 upstreams.orders.tls: tls is set but the upstream URL is http://; use https:// or remove tls`,
      `${path}:14:20 upstreams.orders.tls.caFile: file not found: ${files.path('conf/certs/missing.pem')}`,
      `${path}:17:20 routes[0].match.path: parameter "{id}" appears more than once`,
      `${path}:18:15 routes[0].upstream: unknown upstream "order" (defined: orders)`,
      `${path}:21:5 routes[0].retries: unknown key "retries"; allowed keys: id, match, upstream, auth, risk, forwardAuthorization, maxBodyBytes, rateLimits, policy, highRisk`,
      `${path}:22:5 routes[1].auth: is required`,
      `${path}:22:9 routes[1].id: duplicate route id "orders" (first used at line 16)`,
    ]);
  });

  it('reports YAML errors and unreadable files the same way', () => {
    const dup = files.path('conf/dup.yaml');
    expect(checkConfigFile(dup)).toEqual({ ok: false, output: `${dup}:13:1 version: YAML: duplicate key (each key may appear once in a mapping)` });
    const missing = files.path('conf/none.yaml');
    expect(checkConfigFile(missing)).toEqual({ ok: false, output: `${missing} (document): file not found` });
  });
});
