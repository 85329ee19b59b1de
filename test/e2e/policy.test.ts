// The policy stage through the real gateway with small purpose-built policies: the input document the policy sees,
// default deny for every kind of non-decision (undefined, non-object, bad fields, evaluation error, too slow),
// public vs internal reasons, the decision id, risk raising and token age per tier, obligations, JSON bodies
// (forwarded byte for byte; not JSON, too big, duplicate keys, prototype-pollution keys), approvals bound to the
// request, reloads (good and bad) under traffic, and the same decisions from a bundle.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecordOf, readAuditRecords, startGateway, yamlConfig, type TestGateway } from '../helpers/gateway.js';
import { runCli } from '../helpers/process.js';
import { registerSecret } from '../helpers/run-artifacts.js';
import { hs256Issuer, hs256Token } from '../helpers/tokens.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const SECRET = registerSecret('policy-e2e-shared-secret-0123456789abcd');
const APPROVAL_SECRET = registerSecret('policy-e2e-approval-secret-0123456789ab');
const env = { ...process.env, POLICY_E2E_SECRET: SECRET, POLICY_E2E_APPROVALS: APPROVAL_SECRET };

const POLICY = `package tollgate

import rego.v1

# Echo: allow, and send parts of the input upstream so the test can see exactly what the policy saw.
decision := {"allow": true, "reasons": [], "obligations": {"headers": {
	"x-policy-echo": json.marshal({
		"client": input.token.client_id,
		"partner": object.get(input.token, "partner", null),
		"scopes": input.token.scopes,
		"tenant": input.request.params.tenant,
		"query": input.request.query,
		"headers": input.request.headers,
		"route": input.route,
		"instance": input.environment.instance,
		"has_time": input.environment.time_ns > 0,
		"approvals": count(input.approvals),
		"method": input.request.method,
		"path": input.request.path,
	}),
}}} if input.route.id in {"echo", "echo-t"}

decision := {"allow": false, "reasons": ["internal_detail", "over_budget"], "public_reasons": ["over_budget", "not_a_reason_given"]} if input.route.id == "deny"

decision := "yes" if input.route.id == "not-object"

decision := {"allow": "true"} if input.route.id == "bad-allow"

decision := {"allow": true, "obligations": {"headers": {"x-client-id": "forged"}}} if input.route.id == "bad-obligation"

decision := {"allow": true, "risk": "high"} if input.route.id == "raise"

decision := {"allow": true, "risk": "low"} if input.route.id == "lower"

# Two values for one complete rule: an evaluation error (eval_conflict_error) at run time.
conflict := 1 if input.route.id == "error"

conflict := 2 if input.route.id == "error"

decision := {"allow": conflict == 1} if input.route.id == "error"

decision := {"allow": count([x | some x in numbers.range(1, 400000); x % 7 == 0]) > 0} if input.route.id == "slow"

decision := {"allow": allowed, "reasons": body_reasons, "obligations": {"headers": {"x-policy-echo": json.marshal({"sha": input.request.body_sha256, "keys": object.keys(input.request.body)})}}} if {
	input.route.id == "body"
	allowed := count(body_reasons) == 0
}

body_reasons contains "amount_over_limit" if input.request.body.amount > 100

body_reasons contains "amount_missing" if not is_number(input.request.body.amount)

# Dual control: two distinct approvers, neither the requester.
approvers contains a.approver if {
	some a in input.approvals
	a.approver != input.token.subject
	a.approver != input.token.client_id
}

decision := {"allow": count(approvers) >= 2, "reasons": ["approvals_missing"], "public_reasons": ["approvals_missing"]} if input.route.id == "dual"

# The whole input, for the schema test.
decision := {"allow": true, "obligations": {"headers": {"x-policy-echo": json.marshal(input)}}} if input.route.id in {"mirror", "mirror-public"}

# version marker for reload tests
decision := {"allow": true, "obligations": {"headers": {"x-policy-echo": "v1"}}} if input.route.id == "version"

test_version_marker if decision.allow with input as {"route": {"id": "version"}}
`;

const routes = `  - id: echo
    match: { prefix: /echo }
    upstream: app
    auth: { issuer: local }
    risk: low
  - id: echo-t
    match: { path: "/t/{tenant}/echo" }
    upstream: app
    auth: { issuer: local }
    risk: low
  - id: deny
    match: { prefix: /deny }
    upstream: app
    auth: { issuer: local }
    risk: low
  - id: not-object
    match: { prefix: /not-object }
    upstream: app
    auth: { issuer: local }
    risk: low
  - id: bad-allow
    match: { prefix: /bad-allow }
    upstream: app
    auth: { issuer: local }
    risk: low
  - id: bad-obligation
    match: { prefix: /bad-obligation }
    upstream: app
    auth: { issuer: local }
    risk: low
  - id: undefined
    match: { prefix: /undefined }
    upstream: app
    auth: { issuer: local }
    risk: low
  - id: error
    match: { prefix: /error }
    upstream: app
    auth: { issuer: local }
    risk: low
  - id: slow
    match: { prefix: /slow }
    upstream: app
    auth: { issuer: local }
    risk: low
  - id: raise
    match: { prefix: /raise }
    upstream: app
    auth: { issuer: local }
    risk: low
    # raised to high by the policy; the high-risk replay/idempotency checks are another test's subject
    highRisk: { idempotency: false, replay: false }
  - id: lower
    match: { prefix: /lower }
    upstream: app
    auth: { issuer: local }
    risk: medium
  - id: body
    match: { prefix: /body }
    upstream: app
    auth: { issuer: local }
    risk: low
    policy: { body: { maxBytes: 256 } }
  - id: dual
    match: { prefix: /dual }
    upstream: app
    auth: { issuer: local }
    risk: high
    # this test is about something else: the high-risk replay and idempotency checks are off here
    highRisk: { idempotency: false, replay: false }
    policy: { body: { maxBytes: 1024 } }
  - id: mirror
    match: { path: "/m/{tenant}/{id}" }
    upstream: app
    auth: { issuer: local }
    risk: medium
    policy: { body: { maxBytes: 1024 } }
  - id: mirror-public
    match: { prefix: /mp }
    upstream: app
    auth: false
    risk: low
  - id: version
    match: { prefix: /version }
    upstream: app
    auth: { issuer: local }
    risk: low`;

let upstream: TestUpstream;
let work: string;
let policyDir: string;

function config(policy: string, extra = ''): string {
  return `${yamlConfig({
    issuers: `${hs256Issuer('POLICY_E2E_SECRET')}
  approvals:
    issuer: https://approvals.test
    audiences: [https://api.test]
    algorithms: [HS256]
    secret: { env: POLICY_E2E_APPROVALS }`,
    upstreams: `  app: { url: "${upstream.url}" }`,
    routes,
    rateLimits: `  partners: { claims: [partner] }`,
  })}policy:
${policy}
  headers: [x-agent-id]
  obligationHeaders: [x-policy-echo]
  approvals: { issuer: approvals }
${extra}`;
}

beforeAll(async () => {
  upstream = await startUpstream();
  work = mkdtempSync(join(tmpdir(), 'tollgate-policy-e2e-'));
  policyDir = join(work, 'policy');
  mkdirSync(join(policyDir, 'tollgate'), { recursive: true });
  writeFileSync(join(policyDir, 'tollgate', 'decision.rego'), POLICY);
});
afterAll(async () => {
  await upstream.close();
  rmSync(work, { recursive: true, force: true });
});

const token = (claims: Record<string, unknown> = {}) => hs256Token(SECRET, { client_id: 'svc-a', sub: 'svc-a', scope: 'a b', ...claims });
/** A token issued `age` seconds ago (hs256Token always stamps iat = now). */
const tokenIssuedAgo = async (age: number) =>
  registerSecret(
    await new SignJWT({ client_id: 'svc-a', sub: 'svc-a', scope: 'a b' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://issuer.test')
      .setAudience('https://api.test')
      .setIssuedAt(Math.floor(Date.now() / 1000) - age)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET)),
  );

async function call(gw: TestGateway, path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${gw.url}${path}`, init);
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, body, headers: res.headers };
}

const lastSeen = (path: string) => [...upstream.seen].reverse().find((r) => r.url.startsWith(path));

describe('policy decisions (policy compiled from a directory)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(config(`  dir: ${JSON.stringify(policyDir)}\n  timeoutMs: 20`), { env });
  });
  afterAll(async () => {
    await gw.close();
  });

  it('gives the policy the documented input and applies its obligations upstream', async () => {
    const t = await token({ partner: 'acme' });
    const r = await call(gw, '/t/acme/echo?x=1&x=2&y=%C3%A9', { headers: { authorization: `Bearer ${t}`, 'x-agent-id': 'agent-7', 'x-other': 'not-allowlisted' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-tollgate-decision-id')).toMatch(/^[0-9a-f-]{36}$/);
    const seen = lastSeen('/t/acme/echo')!;
    const echo = JSON.parse(seen.headers['x-policy-echo'] as string) as Record<string, unknown>;
    expect(echo).toEqual({
      client: 'svc-a',
      partner: 'acme',
      scopes: ['a', 'b'],
      tenant: 'acme',
      query: { x: ['1', '2'], y: ['é'] },
      headers: { 'x-agent-id': 'agent-7' },
      route: { id: 'echo-t', risk: 'low', upstream: 'app' },
      instance: gw.gateway.runtime.config.audit.chainId,
      has_time: true,
      approvals: 0,
      method: 'GET',
      path: '/t/acme/echo',
    });
  });

  it('the input the gateway builds is valid against policy/input.schema.json (authenticated with body and approvals, and public)', async () => {
    const { Ajv } = await import('ajv');
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(JSON.parse(readFileSync(join(process.cwd(), 'policy', 'input.schema.json'), 'utf8')) as object);
    const t = await token({ partner: 'acme', tenant: 'acme' });
    const body = '{"amount": 5, "items": [1, 2]}';
    const approval = registerSecret(
      await new SignJWT({ req_hash: createHash('sha256').update('POST /m/acme/7?a=1\n').update(body).digest('base64url') })
        .setProtectedHeader({ alg: 'HS256' }).setIssuer('https://approvals.test').setAudience('https://api.test').setSubject('ann').setIssuedAt().setExpirationTime('5m')
        .sign(new TextEncoder().encode(APPROVAL_SECRET)),
    );
    const r = await call(gw, '/m/acme/7?a=1', { method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json', 'x-agent-id': 'a-1', 'approval-token': approval }, body });
    expect(r.status).toBe(200);
    const input = JSON.parse(lastSeen('/m/acme/7')!.headers['x-policy-echo'] as string) as Record<string, unknown>;
    expect(validate(input), JSON.stringify(validate.errors)).toBe(true);
    expect(input).toMatchObject({ request: { body: { amount: 5 }, params: { tenant: 'acme', id: '7' } }, approvals: [{ approver: 'ann' }], token: { partner: 'acme' } });
    const pub = await call(gw, '/mp/x', {});
    expect(pub.status).toBe(200);
    const publicInput = JSON.parse(lastSeen('/mp/x')!.headers['x-policy-echo'] as string) as Record<string, unknown>;
    expect(validate(publicInput), JSON.stringify(validate.errors)).toBe(true);
    expect(publicInput['token']).toBeUndefined();
  });

  it('a client cannot forge an obligation header: its own copy is removed even when the policy sets none', async () => {
    const t = await token();
    const r = await call(gw, '/raise/1', { headers: { authorization: `Bearer ${t}`, 'x-policy-echo': 'forged' } });
    expect(r.status).toBe(200);
    expect(lastSeen('/raise/1')!.headers['x-policy-echo']).toBeUndefined();
  });

  it('denies with 403 showing only the public reasons; the audit record keeps them all and the decision id', async () => {
    const t = await token();
    const r = await call(gw, '/deny/1', { headers: { authorization: `Bearer ${t}`, 'x-request-id': 'pol-deny-1' } });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: 'policy_denied', reasons: ['over_budget'] });
    expect(JSON.stringify(r.body)).not.toContain('internal_detail');
    expect(JSON.stringify(r.body)).not.toContain('not_a_reason_given');
    const id = r.headers.get('x-tollgate-decision-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(upstream.seen.some((s) => s.url === '/deny/1')).toBe(false);
    const rec = await auditRecordOf(gw, 'pol-deny-1');
    expect(rec).toMatchObject({ decision: 'deny', stage: 'policy', policyDecisionId: id, reasons: ['policy_denied', 'internal_detail', 'over_budget'] });
  });

  it.each([
    ['/undefined/1', 'policy_undefined', 'undefined'],
    ['/not-object/1', 'policy_not_an_object', 'invalid'],
    ['/bad-allow/1', 'policy_bad_allow', 'invalid'],
    ['/bad-obligation/1', 'policy_bad_obligation', 'invalid'],
    ['/error/1', 'policy_error', 'error'],
    ['/slow/1', 'policy_timeout', 'timeout'],
  ])('%s: anything but a decision is a deny (%s)', async (path, reason, outcome) => {
    const t = await token();
    const id = `pol-${outcome}-${path.split('/')[1]}`;
    const r = await call(gw, path, { headers: { authorization: `Bearer ${t}`, 'x-request-id': id } });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: 'policy_denied' });
    expect(r.body['reasons']).toBeUndefined();
    expect(upstream.seen.some((s) => s.url === path)).toBe(false);
    expect(await auditRecordOf(gw, id)).toMatchObject({ decision: 'deny', reasons: ['policy_denied', reason] });
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    const route = path.split('/')[1];
    expect(metrics).toMatch(new RegExp(`tollgate_policy_decisions_total\\{route="${route}",tier="low",outcome="${outcome}"\\} [1-9]`));
  });

  it('the policy raises the tier (audited as high; the high tier wants a fresh token) but cannot lower it', async () => {
    const fresh = await token();
    const r = await call(gw, '/raise/2', { headers: { authorization: `Bearer ${fresh}`, 'x-request-id': 'pol-raise' } });
    expect(r.status).toBe(200);
    expect(await auditRecordOf(gw, 'pol-raise')).toMatchObject({ riskTier: 'high' });
    // 10 minutes old: fine for low, too old for high (default 300 s).
    const old = await tokenIssuedAgo(600);
    const tooOld = await call(gw, '/raise/3', { headers: { authorization: `Bearer ${old}` } });
    expect(tooOld.status).toBe(401);
    expect(tooOld.headers.get('www-authenticate')).toContain('invalid_token');
    expect((await call(gw, '/t/acme/echo', { headers: { authorization: `Bearer ${old}` } })).status).toBe(200);
    // medium route whose policy says "low": still medium (one hour max): a two-hour-old token is refused.
    const older = await tokenIssuedAgo(7200);
    expect((await call(gw, '/lower/1', { headers: { authorization: `Bearer ${older}` } })).status).toBe(401);
  });

  it('JSON bodies: forwarded byte for byte, decided on, and refused when too big, not JSON, ambiguous', async () => {
    const t = await token();
    const auth = { authorization: `Bearer ${t}`, 'content-type': 'application/json' };
    const raw = '{ "amount": 42,  "__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}} }';
    const ok = await call(gw, '/body/1', { method: 'POST', headers: auth, body: raw });
    expect(ok.status).toBe(200);
    const seen = lastSeen('/body/1')!;
    expect(seen.body).toBe(raw);
    expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(raw)));
    const echo = JSON.parse(seen.headers['x-policy-echo'] as string) as { sha: string; keys: string[] };
    expect(echo.sha).toBe(createHash('sha256').update(raw).digest('hex'));
    expect(echo.keys.sort()).toEqual(['__proto__', 'amount', 'constructor']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();

    // chunked (no Content-Length) body: read whole, forwarded with its length
    const chunked = await fetch(`${gw.url}/body/2`, {
      method: 'POST',
      headers: auth,
      body: new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('{"amount":')); c.enqueue(new TextEncoder().encode('7}')); c.close(); } }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(200);
    expect(lastSeen('/body/2')!.body).toBe('{"amount":7}');

    const over = await call(gw, '/body/3', { method: 'POST', headers: auth, body: '{"amount": 101}' });
    expect(over.status).toBe(403);
    expect(over.body['reasons']).toBeUndefined(); // amount_over_limit is not marked public by this policy
    const cases: Array<[string, Record<string, string>, string, number, string]> = [
      ['not JSON', auth, '{"amount": 1', 400, 'invalid_body'],
      ['not JSON content type', { authorization: `Bearer ${t}`, 'content-type': 'text/plain' }, '{"amount": 1}', 400, 'invalid_body'],
      ['duplicate key', auth, '{"amount": 1, "amount": 1000000}', 400, 'invalid_body'],
      ['duplicate key (escaped)', auth, '{"amount": 1, "\\u0061mount": 1000000}', 400, 'invalid_body'],
      ['invalid UTF-8', auth, Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]).toString('latin1'), 400, 'invalid_body'],
      ['too big', auth, JSON.stringify({ amount: 1, pad: 'x'.repeat(400) }), 413, 'payload_too_large'],
    ];
    for (const [what, headers, body, status, code] of cases) {
      const res = await call(gw, `/body/${what.replace(/\W/g, '-')}`, { method: 'POST', headers, body: what === 'invalid UTF-8' ? Buffer.from(body, 'latin1') : body });
      expect(res.status, what).toBe(status);
      expect(res.body['code'], what).toBe(code);
    }
    expect(upstream.seen.filter((s) => s.url.startsWith('/body/') && !['/body/1', '/body/2'].includes(s.url))).toHaveLength(0);
  });

  it('dual control: approvals count only when signed by the approval issuer, bound to this request, from others', async () => {
    const t = await token({ sub: 'requester' });
    const body = '{"amount": 5000}';
    const hash = (b: string, path = '/dual/pay') => createHash('sha256').update(`POST ${path}\n`).update(b).digest('base64url');
    const approval = async (sub: string, reqHash: string, secret = APPROVAL_SECRET, iss = 'https://approvals.test') =>
      registerSecret(await new SignJWT({ req_hash: reqHash }).setProtectedHeader({ alg: 'HS256' }).setIssuer(iss).setAudience('https://api.test').setSubject(sub).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(secret)));
    const send = async (approvals: string[]) => call(gw, '/dual/pay', {
      method: 'POST',
      headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json', 'approval-token': approvals.join(', ') },
      body,
    });
    const alice = await approval('alice', hash(body));
    const bob = await approval('bob', hash(body));
    expect((await send([alice])).status).toBe(403);
    expect((await send([alice])).body['reasons']).toEqual(['approvals_missing']);
    expect((await send([alice, bob])).status).toBe(200);
    // the same approver twice, the requester approving themselves, an approval for another body, a forged one
    expect((await send([alice, alice])).status).toBe(403);
    expect((await send([alice, await approval('requester', hash(body))])).status).toBe(403);
    expect((await send([alice, await approval('bob', hash('{"amount": 1}'))])).status).toBe(403);
    expect((await send([alice, await approval('bob', hash(body), SECRET)])).status).toBe(403);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/tollgate_policy_approvals_total\{result="unbound"\} [1-9]/);
    expect(metrics).toMatch(/tollgate_policy_approvals_total\{result="invalid"\} [1-9]/);
    // Approval tokens never reach the upstream or the policy as raw headers.
    expect(lastSeen('/dual/pay')!.headers['approval-token']).toBeUndefined();
  });
});

describe('policy reload', () => {
  it('keeps serving through good and bad policy changes (watch), with zero failed requests, and audits each', async () => {
    const dir = join(work, 'reload-policy');
    mkdirSync(join(dir, 'tollgate'), { recursive: true });
    const file = join(dir, 'tollgate', 'decision.rego');
    writeFileSync(file, POLICY);
    const gw = await startGateway(config(`  dir: ${JSON.stringify(dir)}`), { env });
    const t = await token();
    const seenVersions = new Set<string>();
    let failures = 0;
    let stop = false;
    const traffic = (async () => {
      while (!stop) {
        const res = await fetch(`${gw.url}/version/x`, { headers: { authorization: `Bearer ${t}` } });
        await res.arrayBuffer();
        if (res.status !== 200) failures++;
        const v = lastSeen('/version/x')?.headers['x-policy-echo'];
        if (typeof v === 'string') seenVersions.add(v);
      }
    })();
    const metric = async (re: RegExp) => re.test(await (await fetch(`${gw.adminUrl}/metrics`)).text());
    const waitFor = async (re: RegExp) => {
      for (let i = 0; i < 200 && !(await metric(re)); i++) await new Promise((r) => setTimeout(r, 25));
      expect(await metric(re)).toBe(true);
    };
    try {
      // a syntax error: rejected
      writeFileSync(file, `${POLICY}\ndecision := {{{ broken`);
      await waitFor(/tollgate_policy_reloads_total\{result="rejected"\} 1/);
      // compiles, but its own test fails: rejected
      writeFileSync(file, POLICY.replace('"x-policy-echo": "v1"', '"x-policy-echo": "v2"').replace('decision.allow with input', 'not decision.allow with input'));
      await waitFor(/tollgate_policy_reloads_total\{result="rejected"\} 2/);
      // good: accepted, new decisions served
      writeFileSync(file, POLICY.replace('"x-policy-echo": "v1"', '"x-policy-echo": "v3"'));
      await waitFor(/tollgate_policy_reloads_total\{result="accepted"\} 1/);
      for (let i = 0; i < 100 && !seenVersions.has('v3'); i++) await new Promise((r) => setTimeout(r, 20));
    } finally {
      stop = true;
      await traffic;
      await gw.close();
    }
    expect(failures).toBe(0);
    expect([...seenVersions].sort()).toEqual(['v1', 'v3']);
    expect(gw.logText()).toContain('policy rejected; keeping the active policy');
    const reloads = readAuditRecords(gw.auditDir).filter((r) => r['kind'] === 'policy_reload');
    expect(reloads.map((r) => (r['detail'] as Record<string, unknown>)['result'])).toEqual(['loaded', 'rejected', 'rejected', 'accepted']);
  });
});

describe('a bundle given by path', () => {
  it('makes the same decisions as the directory it was built from', async () => {
    const bundle = join(work, 'bundle.tar.gz');
    const built = await runCli(['policy', 'build', policyDir, '-e', 'tollgate/decision', '-o', bundle]);
    expect(built.code, built.stderr).toBe(0);
    const fromDir = await startGateway(config(`  dir: ${JSON.stringify(policyDir)}`), { env });
    const fromBundle = await startGateway(config(`  bundle: ${JSON.stringify(bundle)}`), { env });
    try {
      const t = await token({ partner: 'acme' });
      for (const path of ['/t/acme/echo?q=1', '/deny/9', '/undefined/9', '/not-object/9', '/error/9', '/raise/9', '/version/9']) {
        const a = await call(fromDir, path, { headers: { authorization: `Bearer ${t}` } });
        const aEcho = lastSeen(path)?.headers['x-policy-echo'];
        const b = await call(fromBundle, path, { headers: { authorization: `Bearer ${t}` } });
        const bEcho = lastSeen(path)?.headers['x-policy-echo'];
        expect(b.status, path).toBe(a.status);
        expect(b.body['reasons'], path).toEqual(a.body['reasons']);
        if (a.status === 200) expect(typeof bEcho === 'string' ? bEcho.replace(/"instance":"[^"]*"/, '') : bEcho).toEqual(typeof aEcho === 'string' ? aEcho.replace(/"instance":"[^"]*"/, '') : aEcho);
      }
      expect(readFileSync(bundle).length).toBeGreaterThan(0);
    } finally {
      await fromDir.close();
      await fromBundle.close();
    }
  });
});
