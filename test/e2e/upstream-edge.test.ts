import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, yamlConfig, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/** Upstream TLS verification, connect timeouts, large streamed responses, readiness. */

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'tokens');
let tlsUpstream: Server;
let tlsPort: number;
let big: TestUpstream;
let stalled: ChildProcess;
let stalledPort: number;
const queueFillers: Socket[] = [];
let gw: TestGateway;
const BIG_BYTES = 8 * 1024 * 1024;

/**
 * A listener whose accept queue is full: a child process listens with backlog 1 and is then
 * stopped (SIGSTOP), and a few connections fill its queue (backlog 0 would mean Node's default). Further SYNs are dropped by the kernel,
 * so a connect to it hangs: a real connect timeout, on loopback only.
 */
async function startStalledListener(): Promise<void> {
  stalled = spawn(process.execPath, ['-e', "const s=require('net').createServer(()=>{});s.listen({port:0,host:'127.0.0.1',backlog:1},()=>console.log(s.address().port))"], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  stalledPort = await new Promise<number>((resolve) => stalled.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  stalled.kill('SIGSTOP');
  for (let i = 0; i < 4; i++) {
    const s = connect(stalledPort, '127.0.0.1');
    s.on('error', () => {});
    queueFillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 200));
}

beforeAll(async () => {
  tlsUpstream = createHttpsServer(
    { key: readFileSync(join(FIXTURES, 'jwks-server.key')), cert: readFileSync(join(FIXTURES, 'jwks-server.pem')) },
    (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`tls ok ${req.url}`);
    },
  );
  await new Promise<void>((resolve) => tlsUpstream.listen(0, '127.0.0.1', resolve));
  tlsPort = (tlsUpstream.address() as AddressInfo).port;

  big = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = () => {
      while (sent < BIG_BYTES) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await startStalledListener();

  gw = await startGateway(
    yamlConfig({
      issuers: `  unreachable:
    issuer: https://issuer.down.test
    audiences: [https://api.test]
    algorithms: [ES256]
    jwks: { uri: "http://127.0.0.1:1/jwks.json", timeoutMs: 300, cooldownMs: 100 }`,
      upstreams: `  tls-trusted:
    url: https://127.0.0.1:${tlsPort}
    tls: { caFile: ${join(FIXTURES, 'jwks-ca.pem')} }
  tls-untrusted:
    url: https://127.0.0.1:${tlsPort}
  big:
    url: ${big.url}
  stalled:
    url: http://127.0.0.1:${stalledPort}
    connectTimeoutMs: 300
    responseTimeoutMs: 5000`,
      routes: `  - id: tls-trusted
    match: { prefix: /trusted }
    upstream: tls-trusted
    auth: false
    risk: low
  - id: tls-untrusted
    match: { prefix: /untrusted }
    upstream: tls-untrusted
    auth: false
    risk: low
  - id: big
    match: { prefix: /big }
    upstream: big
    auth: false
    risk: low
  - id: stalled
    match: { prefix: /stalled }
    upstream: stalled
    auth: false
    risk: low
  - id: needs-keys
    match: { prefix: /secure }
    upstream: big
    auth: { issuer: unreachable, scopes: [] }
    risk: high
    # this test is about something else: the high-risk replay and idempotency checks are off here
    highRisk: { idempotency: false, replay: false }`,
    }),
  );
});

afterAll(async () => {
  await gw?.close();
  for (const s of queueFillers) s.destroy();
  stalled?.kill('SIGKILL');
  await big?.close();
  await new Promise<void>((resolve) => (tlsUpstream ? tlsUpstream.close(() => resolve()) : resolve()));
});

async function metricsText(): Promise<string> {
  return (await fetch(`${gw.adminUrl}/metrics`)).text();
}

describe('upstream TLS', () => {
  it('verifies the upstream certificate against the configured CA', async () => {
    const res = await fetch(`${gw.url}/trusted/x`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('tls ok /trusted/x');
  });

  it('refuses an upstream whose certificate it cannot verify (502, counted as tls)', async () => {
    const res = await fetch(`${gw.url}/untrusted/x`);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { code: string }).code).toBe('upstream_unavailable');
    expect(await metricsText()).toMatch(/tollgate_upstream_errors_total\{upstream="tls-untrusted",kind="tls"\} 1/);
  });
});

describe('timeouts and streaming', () => {
  it('gives up on a connect that never completes with 504, counted as connect_timeout', async () => {
    const started = Date.now();
    const res = await fetch(`${gw.url}/stalled/x`);
    expect(res.status).toBe(504);
    expect(((await res.json()) as { code: string }).code).toBe('upstream_timeout');
    // The response deadline is 5 s; only the 300 ms connect deadline can explain an early answer.
    expect(Date.now() - started).toBeLessThan(4000);
    expect(await metricsText()).toMatch(/tollgate_upstream_errors_total\{upstream="stalled",kind="connect_timeout"\} 1/);
  });

  it('streams a large response body through unchanged', async () => {
    const res = await fetch(`${gw.url}/big/file`);
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(BIG_BYTES);
    expect(body.every((b) => b === 0x61)).toBe(true);
  });
});

describe('readiness without keys', () => {
  it('is not ready while an issuer has no keys, and its routes answer 503 auth_unavailable', async () => {
    const ready = await fetch(`${gw.adminUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { status: string }).status).toBe('not_ready');
    const res = await fetch(`${gw.url}/secure/x`, { headers: { authorization: 'Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJ4In0.c2ln' } });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { code: string }).code).toBe('auth_unavailable');
    expect((await fetch(`${gw.adminUrl}/healthz`)).status).toBe(200);
  });
});
