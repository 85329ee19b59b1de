import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, yamlConfig, type TestGateway } from '../helpers/gateway.js';
import { get, rawRequest } from '../helpers/raw-http.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/** Behind a trusted load balancer: forwarded headers are extended, not replaced; Host can be kept. */

let upstream: TestUpstream;
let gw: TestGateway;

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startGateway(
    yamlConfig({
      server: '  trustForwardedHeaders: true',
      upstreams: `  app:\n    url: ${upstream.url}\n  kept-host:\n    url: ${upstream.url}\n    preserveHost: true`,
      routes: [
        `  - id: r\n    match: { prefix: /r }\n    upstream: app\n    auth: false\n    risk: low`,
        `  - id: h\n    match: { prefix: /h }\n    upstream: kept-host\n    auth: false\n    risk: low`,
      ].join('\n'),
    }),
  );
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

describe('trustForwardedHeaders: true', () => {
  it('appends to X-Forwarded-For and keeps the balancer-set proto, host and Forwarded', async () => {
    const before = upstream.seen.length;
    const res = await rawRequest(
      gw.port,
      get('/r/x', ['X-Forwarded-For: 203.0.113.7', 'X-Forwarded-Proto: https', 'X-Forwarded-Host: api.example.com', 'Forwarded: for=203.0.113.7;proto=https']),
    );
    expect(res.status).toBe(200);
    const h = upstream.seen.slice(before)[0]?.headers;
    expect(h?.['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(h?.['x-forwarded-proto']).toBe('https');
    expect(h?.['x-forwarded-host']).toBe('api.example.com');
    expect(h?.forwarded).toBe('for=203.0.113.7;proto=https');
  });

  it('fills in what the balancer did not send', async () => {
    const before = upstream.seen.length;
    await rawRequest(gw.port, get('/r/y'));
    const h = upstream.seen.slice(before)[0]?.headers;
    expect(h?.['x-forwarded-for']).toBe('127.0.0.1');
    expect(h?.['x-forwarded-proto']).toBe('http');
    expect(h?.['x-forwarded-host']).toBe('gw.test');
  });
});

describe('preserveHost', () => {
  it('keeps the client Host for an upstream that asks for it, and uses the upstream host otherwise', async () => {
    const before = upstream.seen.length;
    await rawRequest(gw.port, get('/h/x'));
    await rawRequest(gw.port, get('/r/x'));
    const [kept, replaced] = upstream.seen.slice(before);
    expect(kept?.headers.host).toBe('gw.test');
    expect(replaced?.headers.host).toBe(`127.0.0.1:${upstream.port}`);
  });
});
