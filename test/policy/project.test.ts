import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { Ajv } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTollgatePolicy } from '../../src/policy/load.js';
import { compilePolicyProject, formatProjectErrors, loadPolicyProject, PolicyProjectError } from '../../src/policy/project.js';
import { runPolicyTests } from '../../src/policy/test-runner.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SHIPPED = join(ROOT, 'policy');

/** A fresh project directory with these files (path → content). */
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-policy-project-'));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

function loadError(dir: string): PolicyProjectError {
  try {
    loadPolicyProject(dir);
  } catch (e) {
    if (e instanceof PolicyProjectError) return e;
    throw e;
  }
  throw new Error('expected a PolicyProjectError');
}

describe('loadPolicyProject: data files', () => {
  it('places each data file at its directory path (json, yaml, yml; nested; root) and merges objects', () => {
    const dir = project({
      'data.json': JSON.stringify({ top: true, tollgate: { from_root: 1 } }),
      'tollgate/data.yaml': 'actions:\n  a: { risk: low }\n',
      'tollgate/limits/data.yml': 'max: 10\n',
      'tollgate/limits/eu/data.json': '{"max": 5}',
      'other/deep/er/data.yaml': 'x: [1, 2]\n',
      'tollgate/README.md': 'not data',
      'tollgate/notdata.json': '{"ignored": true}',
    });
    const p = loadPolicyProject(dir);
    expect(p.data).toEqual({
      top: true,
      tollgate: { from_root: 1, actions: { a: { risk: 'low' } }, limits: { max: 10, eu: { max: 5 } } },
      other: { deep: { er: { x: [1, 2] } } },
    });
    expect(p.files).toEqual([
      join(dir, 'data.json'),
      join(dir, 'other/deep/er/data.yaml'),
      join(dir, 'tollgate/data.yaml'),
      join(dir, 'tollgate/limits/data.yml'),
      join(dir, 'tollgate/limits/eu/data.json'),
    ]);
  });

  it('rejects two files setting one path, naming both', () => {
    const dir = project({ 'data.json': JSON.stringify({ tollgate: { actions: 1 } }), 'tollgate/data.yaml': 'actions: {}\n' });
    const e = loadError(dir);
    expect(e.file).toBe(join(dir, 'tollgate/data.yaml'));
    expect(e.message).toBe(`${join(dir, 'tollgate/data.yaml')}: data conflict at data.tollgate.actions (also set by ${join(dir, 'data.json')})`);
  });

  it('rejects data.json and data.yaml of one directory defining the same key', () => {
    const dir = project({ 'a/data.json': '{"k": 1, "j": 1}', 'a/data.yaml': 'k: 2\n' });
    expect(loadError(dir).message).toContain('data conflict at data.a.k');
  });

  it('rejects a file whose root is not an object, naming it', () => {
    const list = project({ 'x/data.yaml': '- 1\n- 2\n' });
    expect(loadError(list).message).toBe(`${join(list, 'x/data.yaml')}: a data file's root must be an object (got an array)`);
    const scalar = project({ 'data.json': '42' });
    expect(loadError(scalar).message).toContain(`${join(scalar, 'data.json')}: a data file's root must be an object (got number)`);
    const empty = project({ 'data.yml': '# nothing\n' });
    expect(loadError(empty).message).toContain('(got empty)');
  });

  it('rejects duplicate keys, several documents and invalid syntax, naming the file', () => {
    const dup = project({ 'p/data.yaml': 'a: 1\na: 2\n' });
    expect(loadError(dup).message).toMatch(new RegExp(`^${join(dup, 'p/data.yaml')}: invalid YAML: Map keys must be unique`));
    const multi = project({ 'data.yaml': 'a: 1\n---\nb: 2\n' });
    expect(loadError(multi).message).toMatch(/data\.yaml: invalid YAML: Source contains multiple documents/);
    const badJson = project({ 'q/data.json': '{"a": ' });
    expect(loadError(badJson).message).toMatch(new RegExp(`^${join(badJson, 'q/data.json')}: invalid JSON`));
    const inf = project({ 'data.yaml': 'limit: .inf\n' });
    expect(loadError(inf).message).toContain('data.limit: Infinity is not a JSON number');
  });

  it('keeps __proto__ as a data key', () => {
    const p = loadPolicyProject(project({ 'data.json': '{"__proto__": {"polluted": true}}', 'x/data.json': '{"y": 1}' }));
    expect(Object.hasOwn(p.data, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('rejects a missing directory', () => {
    expect(loadError(join(tmpdir(), 'tollgate-no-such-dir-xyz')).message).toMatch(/^no such directory: /);
  });
});

describe('loadPolicyProject: Rego files and tests', () => {
  it('reads every .rego file sorted (tests included) and finds the test_* rules', () => {
    const dir = project({
      'b/b.rego': 'package b.c\n\nimport rego.v1\n\nallow if input.x\n\ntest_in_module if allow with input.x as true\n',
      'a/a_test.rego': [
        'package a',
        'import rego.v1',
        'test_one if true',
        'test_two := true',
        'test_one if 1 == 1 # a second body: still one test',
        'test_fn(x) := x # a function: not a test',
        'test_set contains 1 # a multi-value rule: not a test',
        'not_a_test if true',
        'default test_default := true',
      ].join('\n'),
      'a/a.rego': 'package a\n\nimport rego.v1\n\np := 1\n',
      'a/notes.txt': 'test_nothing if true',
    });
    const p = loadPolicyProject(dir);
    expect(p.sources.map((s) => s.file)).toEqual([join(dir, 'a/a.rego'), join(dir, 'a/a_test.rego'), join(dir, 'b/b.rego')]);
    expect(p.testEntrypoints).toEqual(['a/test_one', 'a/test_two', 'a/test_default', 'b/c/test_in_module']);
    expect(p.tests[0]).toEqual({ entrypoint: 'a/test_one', name: 'data.a.test_one', file: join(dir, 'a/a_test.rego'), row: 3 });
    expect(p.tests.map((t) => t.name)).toContain('data.b.c.test_in_module');
    expect(p.files).toEqual(p.sources.map((s) => s.file));
  });

  it('a module that does not parse is left to the compiler, which reports it with file:row:col', () => {
    const dir = project({ 'p.rego': 'package p\n\nimport rego.v1\n\ntest_x if {\n', 'q.rego': 'package q\n\nimport rego.v1\n\ntest_y if true\n' });
    const p = loadPolicyProject(dir);
    expect(p.testEntrypoints).toEqual(['q/test_y']);
    const r = compilePolicyProject(p, { includeTests: true });
    expect(r.errors).toBeDefined();
    expect(formatProjectErrors(r.errors ?? [])[0]).toMatch(new RegExp(`^${join(dir, 'p.rego')}:\\d+:\\d+: rego_parse_error: `));
  });

  it('compilePolicyProject leaves *_test.rego out unless includeTests', async () => {
    const dir = project({
      'p.rego': 'package p\n\nimport rego.v1\n\nallow if input.user == data.p.admin\n',
      'p_test.rego': 'package p\n\nimport rego.v1\n\ntest_admin if allow with input.user as "root"\n\nbroken if {\n  x == 1\n}\n',
      'p/data.json': '{"admin": "root"}',
    });
    const p = loadPolicyProject(dir);
    const prod = compilePolicyProject(p, { entrypoint: 'data.p.allow' });
    expect(prod.errors).toBeUndefined();
    const policy = await loadTollgatePolicy(prod.wasm!);
    policy.setData(p.data);
    expect(policy.evaluate({ user: 'root' }, 'p/allow')).toEqual([{ result: true }]);
    expect(Object.keys(policy.entrypoints as Record<string, number>)).toEqual(['p/allow']);
    // with the tests: the broken helper in the test file is a compile error with its location
    const withTests = compilePolicyProject(p, { entrypoint: 'p/allow', includeTests: true });
    expect(formatProjectErrors(withTests.errors ?? [])).toEqual([`${join(dir, 'p_test.rego')}:8:3: rego_unsafe_var_error: var x is unsafe`]);
  });
});

describe('runPolicyTests', () => {
  it('passes only tests whose value is exactly true', async () => {
    const dir = project({
      'm.rego': [
        'package m',
        'import rego.v1',
        'limit := data.cfg.limit',
        'test_true if limit == 3',
        'test_false := false',
        'test_undefined if limit == 4',
        'test_number := 1',
        'test_input_absent if not input.anything',
        'test_conflict := 1 if true',
        'test_conflict := 2 if true',
      ].join('\n'),
      'cfg/data.yaml': 'limit: 3\n',
    });
    const run = await runPolicyTests(loadPolicyProject(dir));
    expect(run.errors).toEqual([]);
    const byName = Object.fromEntries(run.results.map((r) => [r.name, r]));
    expect(byName['data.m.test_true']?.pass).toBe(true);
    expect(byName['data.m.test_input_absent']?.pass).toBe(true);
    expect(byName['data.m.test_false']).toMatchObject({ pass: false, error: 'false' });
    expect(byName['data.m.test_undefined']).toMatchObject({ pass: false, error: 'undefined' });
    expect(byName['data.m.test_number']).toMatchObject({ pass: false, error: 'value 1 (want true)' });
    expect(byName['data.m.test_conflict']?.pass).toBe(false);
    expect(byName['data.m.test_conflict']?.error).toMatch(/conflict|multiple|complete/i);
    expect(byName['data.m.test_true']?.file).toBe(`${join(dir, 'm.rego')}:4`);
    expect([run.passed, run.failed]).toEqual([2, 4]);
  });

  it('reports compile errors as a failed run', async () => {
    const dir = project({ 'm.rego': 'package m\n\nimport rego.v1\n\ntest_x if {\n  y == 1\n}\n' });
    const run = await runPolicyTests(loadPolicyProject(dir));
    expect(run.results).toEqual([]);
    expect(run.errors).toEqual([`${join(dir, 'm.rego')}:6:3: rego_unsafe_var_error: var y is unsafe`]);
  });

  it('the shipped policy passes its tests', async () => {
    const run = await runPolicyTests(loadPolicyProject(SHIPPED));
    expect(run.errors).toEqual([]);
    expect(run.results.filter((r) => !r.pass)).toEqual([]);
    expect(run.passed).toBeGreaterThanOrEqual(40);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The shipped decision policy, evaluated the way the gateway does, with input documents of the v1 contract.

function readSchema(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(SHIPPED, name), 'utf8')) as Record<string, unknown>;
}

/** Paths of schema nodes under `properties` / `additionalProperties` / `items` that lack a description. */
function undescribed(node: unknown, at: string, out: string[]): string[] {
  if (node === null || typeof node !== 'object') return out;
  const n = node as Record<string, unknown>;
  if (typeof n.description !== 'string' || n.description === '') out.push(at);
  const props = (n.properties ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(props)) undescribed(v, `${at}.${k}`, out);
  if (typeof n.additionalProperties === 'object') undescribed(n.additionalProperties, `${at}.*`, out);
  if (typeof n.items === 'object') undescribed(n.items, `${at}[]`, out);
  return out;
}

describe('policy/input.schema.json and policy/decision.schema.json', () => {
  it('are draft-07 schemas describing every property', () => {
    for (const name of ['input.schema.json', 'decision.schema.json']) {
      const schema = readSchema(name);
      expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
      expect(new Ajv({ strict: true }).validateSchema(schema)).toBe(true);
      expect([name, undescribed(schema, '$', [])]).toEqual([name, []]);
    }
  });

  it('reject what the contract excludes', () => {
    const ajv = new Ajv({ strict: true });
    const input = ajv.compile(readSchema('input.schema.json'));
    const ok = {
      request: { id: 'r', method: 'GET', path: '/x', params: {}, query: { a: ['1'] }, headers: { 'x-agent-id': 'a' } },
      approvals: [],
      route: { id: 'x', risk: 'low', upstream: 'u' },
      environment: { time_ns: 1790000000000000000, instance: 'gw-1' },
    };
    expect(input(ok)).toBe(true);
    expect(input({ ...ok, request: { ...ok.request, headers: { authorization: 'Bearer x' } } })).toBe(false);
    expect(input({ ...ok, request: { ...ok.request, headers: { 'X-Agent-Id': 'a' } } })).toBe(false);
    expect(input({ ...ok, request: { ...ok.request, query: { a: '1' } } })).toBe(false);
    expect(input({ ...ok, route: { ...ok.route, risk: 'extreme' } })).toBe(false);
    const decision = ajv.compile(readSchema('decision.schema.json'));
    expect(decision({ allow: true, reasons: [] })).toBe(true);
    expect(decision({ allow: 'yes', reasons: [] })).toBe(false);
    expect(decision({ allow: false })).toBe(false);
  });
});

describe('shipped policy: data.tollgate.decision', () => {
  const ajv = new Ajv({ strict: true });
  const validInput = ajv.compile(readSchema('input.schema.json'));
  const validDecision = ajv.compile(readSchema('decision.schema.json'));
  let policy: LoadedPolicy;
  beforeAll(async () => {
    const p = loadPolicyProject(SHIPPED);
    expect(p.testEntrypoints.length).toBeGreaterThan(0);
    const r = compilePolicyProject(p, { entrypoint: 'tollgate/decision' });
    if (r.errors !== undefined) throw new Error(formatProjectErrors(r.errors).join('\n'));
    policy = await loadTollgatePolicy(r.wasm);
    policy.setData(p.data);
  }, 60_000);

  /** Evaluates a contract-conforming input; the decision must conform to the decision schema. */
  const decide = (input: unknown): unknown => {
    expect(validInput(input), JSON.stringify(validInput.errors)).toBe(true);
    const rs = policy.evaluate(input, 'tollgate/decision') as { result: unknown }[];
    expect(rs).toHaveLength(1);
    expect(validDecision(rs[0]?.result), JSON.stringify(validDecision.errors)).toBe(true);
    return rs[0]?.result;
  };

  const environment = { time_ns: 1790000000000000000, instance: 'gw-1' };
  const token = (over: Record<string, unknown> = {}) => ({
    client_id: 'svc-a',
    subject: 'svc-a',
    issuer: 'https://as.example',
    scopes: ['payments:write', 'orders:read', 'orders:write'],
    partner: 'acme',
    claims: { iss: 'https://as.example', sub: 'svc-a', client_id: 'svc-a', tenant: 'acme', scope: 'payments:write orders:read orders:write', exp: 1790000600, iat: 1790000000 },
    ...over,
  });
  const approval = (approver: string) => ({
    approver,
    issuer: 'https://approvals.example',
    claims: { iss: 'https://approvals.example', sub: approver, request_sha256: 'ab12', exp: 1790000300 },
  });
  const payment = (amount: unknown, approvals: unknown[], tok: unknown = token(), routeRisk = 'high') => ({
    request: {
      id: '01J9ZC2V6Q5N7H0X3Y4W8R1T2K',
      method: 'POST',
      path: '/v1/tenants/acme/payments',
      params: { tenant: 'acme' },
      query: {},
      headers: { 'x-agent-id': 'crm-agent' },
      body: { amount, currency: 'EUR', reference: 'INV-2026-000123' },
      body_sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
    },
    token: tok,
    approvals,
    route: { id: 'payments-create', risk: routeRisk, upstream: 'payments' },
    environment,
  });

  it('allows a dual-controlled payment and asks for the approvers header', () => {
    expect(decide(payment(1250.5, [approval('carol'), approval('alice')]))).toEqual({
      allow: true,
      reasons: [],
      public_reasons: [],
      risk: 'high',
      obligations: { headers: { 'x-approved-by': 'alice,carol' } },
    });
  });

  it('denies a self-approved payment over the limit, with the public reasons', () => {
    expect(decide(payment(60000, [approval('svc-a'), approval('alice')]))).toEqual({
      allow: false,
      reasons: ['amount_over_limit', 'approvals_missing', 'self_approval'],
      public_reasons: ['amount_over_limit', 'approvals_missing', 'self_approval'],
      risk: 'high',
    });
  });

  it('applies the default limit to a partner without an override, and rejects a string amount', () => {
    const initech = token({ partner: 'initech' });
    expect(decide(payment(1001, [approval('a'), approval('b')], initech))).toMatchObject({ allow: false, reasons: ['amount_over_limit'] });
    expect(decide(payment(999, [approval('a'), approval('b')], initech))).toMatchObject({ allow: true });
    expect(decide(payment('999', [approval('a'), approval('b')], initech))).toMatchObject({ allow: false, reasons: ['amount_invalid'] });
  });

  it('raises a low-risk route to the action\'s tier', () => {
    expect(decide(payment(10, [approval('a'), approval('b')], token(), 'low'))).toMatchObject({ allow: true, risk: 'high' });
  });

  it('reads an order; keeps internal reasons out of public_reasons', () => {
    const read = {
      request: { id: 'r-2', method: 'GET', path: '/v1/tenants/acme/orders/42', params: { tenant: 'acme', id: '42' }, query: { expand: ['lines'] }, headers: {} },
      token: token({ scopes: ['orders:read'] }),
      approvals: [],
      route: { id: 'orders-read', risk: 'low', upstream: 'orders' },
      environment,
    };
    expect(decide(read)).toEqual({ allow: true, reasons: [], public_reasons: [], risk: 'low', obligations: { headers: {} } });
    expect(decide({ ...read, token: token({ scopes: ['orders:read'], claims: { sub: 'svc-a', tenant: 'globex' } }) })).toEqual({
      allow: false,
      reasons: ['tenant_mismatch'],
      public_reasons: ['tenant_mismatch'],
      risk: 'low',
    });
    expect(decide({ ...read, route: { id: 'orders-delete', risk: 'medium', upstream: 'orders' } })).toEqual({
      allow: false,
      reasons: ['unknown_action'],
      public_reasons: [],
      risk: 'medium',
    });
    const { token: _omit, ...anonymous } = read;
    void _omit;
    expect(decide(anonymous)).toEqual({
      allow: false,
      reasons: ['missing_scope', 'tenant_mismatch', 'token_missing'],
      public_reasons: ['missing_scope', 'tenant_mismatch'],
      risk: 'low',
    });
  });

  it('allows the public route without a token', () => {
    const input = {
      request: { id: 'r-3', method: 'GET', path: '/public/status', params: {}, query: {}, headers: {} },
      approvals: [],
      route: { id: 'public', risk: 'low', upstream: 'orders' },
      environment,
    };
    expect(decide(input)).toMatchObject({ allow: true, risk: 'low' });
  });
});
