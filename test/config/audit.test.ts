import { generateKeyPairSync } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_REDIS_AUDIT_PREFIX } from '../../src/audit/redis-sink.js';
import { AUDIT_DEFAULTS } from '../../src/config/defaults.js';
import { loadConfig } from '../../src/config/load.js';
import { brief, issuesOf, MINIMAL, tempDir } from './fixtures.js';

const ed25519 = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const files = tempDir({ 'keys/audit.pem': ed25519, 'keys/ec.pem': ecKey, 'not-a-dir': 'x' });
afterAll(files.cleanup);

/** MINIMAL (12 lines) plus `audit:` on line 13 and its entries from line 14. */
const doc = (audit: string) => `${MINIMAL}audit:\n${audit}`;
const load = (text: string, env: NodeJS.ProcessEnv = {}) => loadConfig(text, { env, filePath: files.path('gateway.yaml') });

describe('audit configuration', () => {
  it('defaults: enabled, file sink next to the config, keys published beside it, high tier fails closed', () => {
    const c = load(MINIMAL);
    expect(c.audit).toMatchObject({
      enabled: true,
      sink: 'file',
      file: { dir: files.path('audit'), prefix: 'audit', fsyncIntervalMs: 100, maxBytes: 64 * 1024 * 1024 },
      publicKeysFile: files.path('audit/audit.jwks.json'),
      checkpoint: { every: 100, intervalMs: 10_000 },
      onUnavailable: { low: 'fail_open', medium: 'fail_open', high: 'fail_closed' },
    });
    expect(c.audit.chainId).toMatch(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/);
    expect(c.audit.resolvedSigningKey).toBeUndefined();
  });

  it('reads the signing key (file or env) and resolves paths against the config file', () => {
    const c = load(doc(`  chainId: gw-1
  file: { dir: ./var/audit, prefix: gw, fsyncIntervalMs: 0 }
  signingKey: { file: keys/audit.pem }
  checkpoint: { every: 10, intervalMs: 500 }
  onUnavailable: { medium: fail_closed }
`));
    expect(c.audit.chainId).toBe('gw-1');
    expect(c.audit.file).toStrictEqual({ dir: files.path('var/audit'), prefix: 'gw', fsyncIntervalMs: 0, maxBytes: 64 * 1024 * 1024 });
    expect(c.audit.publicKeysFile).toBe(files.path('var/audit/gw.jwks.json'));
    expect(Buffer.from(c.audit.resolvedSigningKey!).toString()).toBe(ed25519.trimEnd());
    expect(c.audit.onUnavailable).toStrictEqual({ low: 'fail_open', medium: 'fail_closed', high: 'fail_closed' });
    const fromEnv = load(doc('  signingKey: { env: AUDIT_KEY }\n'), { AUDIT_KEY: ed25519 });
    expect(fromEnv.audit.resolvedSigningKey).toBeDefined();
  });

  it('redis sink: its own Redis section with a hash-tagged default prefix and a secret password', () => {
    const c = load(doc(`  sink: redis
  chainId: gw-2
  redis: { url: "redis://127.0.0.1:6390", password: { env: AUDIT_REDIS_PW } }
`), { AUDIT_REDIS_PW: 'pw-audit' });
    expect(c.audit.redis).toStrictEqual({ url: 'redis://127.0.0.1:6390', password: 'pw-audit', keyPrefix: DEFAULT_REDIS_AUDIT_PREFIX, connectTimeoutMs: 1000, commandTimeoutMs: 200 });
    expect(AUDIT_DEFAULTS.redisKeyPrefix).toBe(DEFAULT_REDIS_AUDIT_PREFIX);
    expect(c.audit.publicKeysFile).toBeUndefined();
  });

  it('names the YAML path and line of every mistake', () => {
    const issues = issuesOf(
      doc(`  sink: redis
  signingKey: { file: keys/ec.pem }
  onUnavailable: { high: fail_open }
  file: { dir: not-a-dir, fsyncIntervalMs: -1 }
  redis: { url: "redis://user:pw@127.0.0.1:6390" }
  color: blue
`),
      { filePath: files.path('gateway.yaml') },
    );
    const lines = brief(issues);
    expect(lines).toContainEqual(expect.stringMatching(/^15:\d+ audit\.signingKey is not an Ed25519 private key/));
    expect(lines).toContainEqual(expect.stringMatching(/^16:\d+ audit\.onUnavailable\.high must be fail_closed/));
    expect(lines).toContainEqual(expect.stringMatching(/^17:\d+ audit\.file\.fsyncIntervalMs /));
    expect(lines).toContainEqual(expect.stringMatching(/^18:\d+ audit\.redis\.url must not contain credentials; use audit\.redis\.password/));
    expect(lines).toContainEqual(expect.stringMatching(/^19:\d+ audit\.color unknown key/));
  });

  it('rejects a redis sink without Redis, a missing key variable and a file where the directory should be', () => {
    const noRedis = brief(issuesOf(doc('  sink: redis\n')));
    expect(noRedis).toContainEqual(expect.stringMatching(/^14:\d+ audit\.sink sink is redis but audit\.redis is not set/));
    const noEnv = brief(issuesOf(doc('  signingKey: { env: NOPE }\n')));
    expect(noEnv).toContainEqual(expect.stringMatching(/^14:\d+ audit\.signingKey\.env environment variable NOPE is not set/));
    const fileDir = brief(issuesOf(doc('  file: { dir: not-a-dir }\n'), { filePath: files.path('gateway.yaml') }));
    expect(fileDir).toContainEqual(expect.stringMatching(/^14:\d+ audit\.file\.dir .*exists and is not a directory/));
  });

  it('audit.enabled: false skips the checks of a section that is switched off', () => {
    const c = load(doc('  enabled: false\n  sink: redis\n'));
    expect(c.audit.enabled).toBe(false);
  });
});

describe('policy and risk tier configuration', () => {
  const policyFiles = tempDir({ 'policy/tollgate/decision.rego': 'package tollgate\n', 'bundle.tar.gz': 'x' });
  afterAll(policyFiles.cleanup);
  const docP = (policy: string, routeExtra = '', tail = '') => `${MINIMAL.replace('    risk: low\n', `    risk: low\n${routeExtra}`)}issuers:
  dev: { issuer: "https://idp.example.com", audiences: [api], algorithms: [ES256], jwks: { uri: "https://idp.example.com/jwks" } }
policy:
${policy}${tail}`;
  const loadP = (text: string) => loadConfig(text, { env: {}, filePath: policyFiles.path('gateway.yaml') });

  it('normalizes a policy section, route body opt-in and tier defaults', () => {
    const c = loadP(docP('  dir: policy\n  headers: [X-Agent-Id]\n  obligationHeaders: [X-Approved-By]\n  approvals: { issuer: dev }\n', '    policy: { body: { maxBytes: 4096 } }\n', 'riskTiers:\n  medium: { maxTokenAgeSec: 600 }\n'));
    expect(c.policy).toStrictEqual({
      dir: policyFiles.path('policy'),
      entrypoint: 'tollgate/decision',
      watch: true,
      runTests: true,
      timeoutMs: 50,
      headers: ['x-agent-id'],
      obligationHeaders: ['x-approved-by'],
      approvals: { issuer: 'dev', header: 'approval-token', maxTokens: 5 },
    });
    expect(c.routes[0]!.policy).toStrictEqual({ body: { maxBytes: 4096 } });
    expect(c.riskTiers).toStrictEqual({ low: {}, medium: { maxTokenAgeSec: 600 }, high: { maxTokenAgeSec: 300 } });
    expect(loadP(docP('  bundle: bundle.tar.gz\n')).policy?.bundle).toBe(policyFiles.path('bundle.tar.gz'));
    expect(loadP(MINIMAL).policy).toBeUndefined();
  });

  it('refuses credentials as policy input, forbidden obligation headers, unknown approval issuers and orphan body opt-ins', () => {
    const lines = brief(issuesOf(docP('  dir: missing-dir\n  headers: [Authorization, cookie, approval-token]\n  obligationHeaders: [x-client-id, content-length]\n  approvals: { issuer: nobody }\n', '    policy: { body: { maxBytes: 99999999 } }\n'), { filePath: policyFiles.path('gateway.yaml') }));
    expect(lines).toContainEqual(expect.stringMatching(/policy\.dir directory not found/));
    expect(lines).toContainEqual(expect.stringMatching(/policy\.headers\[0\] authorization carries credentials/));
    expect(lines).toContainEqual(expect.stringMatching(/policy\.headers\[1\] cookie carries credentials/));
    expect(lines).toContainEqual(expect.stringMatching(/policy\.headers\[2\] approval-token carries approval tokens/));
    expect(lines).toContainEqual(expect.stringMatching(/policy\.obligationHeaders\[0\] x-client-id is a framing, credential, forwarding or identity header/));
    expect(lines).toContainEqual(expect.stringMatching(/policy\.obligationHeaders\[1\] content-length/));
    expect(lines).toContainEqual(expect.stringMatching(/policy\.approvals\.issuer unknown issuer "nobody"/));
    expect(lines).toContainEqual(expect.stringMatching(/routes\[0\]\.policy\.body\.maxBytes (must be <=|99999999 exceeds)/));
    const both = brief(issuesOf(docP('  dir: policy\n  bundle: bundle.tar.gz\n'), { filePath: policyFiles.path('gateway.yaml') }));
    expect(both).toContainEqual(expect.stringMatching(/policy must set exactly one of dir or bundle/));
    const orphan = brief(issuesOf(MINIMAL.replace('    risk: low\n', '    risk: low\n    policy: { body: { maxBytes: 10 } }\n')));
    expect(orphan).toContainEqual(expect.stringMatching(/^1[23]:\d+ routes\[0\]\.policy the route gives input to a policy, but no policy is configured/));
  });
});
