import { connect } from 'node:net';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, yamlConfig, type TestGateway } from '../helpers/gateway.js';
import { parseResponse, rawRequest } from '../helpers/raw-http.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/** HTTP/1.x details a proxy must get right: versions, 100-continue, pipelining, HEAD. */

let upstream: TestUpstream;
let gw: TestGateway;

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    const body = JSON.stringify({ method: req.method, url: req.url, body: req.body });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  gw = await startGateway(
    yamlConfig({
      upstreams: `  app:\n    url: ${upstream.url}`,
      routes: `  - id: any\n    match: { prefix: /p }\n    upstream: app\n    auth: false\n    risk: low`,
    }),
  );
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

describe('HTTP/1.x behaviour', () => {
  it('serves an HTTP/1.0 client and closes the connection after the response', async () => {
    const res = await rawRequest(gw.port, 'GET /p/one HTTP/1.0\r\nHost: gw.test\r\n\r\n');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ method: 'GET', url: '/p/one' });
    expect(res.headers.connection).toBe('close');
  });

  it('handles Expect: 100-continue without forwarding Expect upstream', async () => {
    const before = upstream.seen.length;
    const result = await new Promise<{ status: number; continued: boolean; body: string }>((resolve, reject) => {
      let continued = false;
      const req = request(
        { host: '127.0.0.1', port: gw.port, method: 'POST', path: '/p/upload', headers: { expect: '100-continue', 'content-type': 'text/plain', 'content-length': 5 } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, continued, body }));
        },
      );
      req.on('continue', () => {
        continued = true;
        req.end('hello');
      });
      req.on('error', reject);
    });
    expect(result.continued).toBe(true);
    expect(result.status).toBe(200);
    const seen = upstream.seen.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.body).toBe('hello');
    expect(seen[0]?.headers.expect).toBeUndefined();
  });

  it('answers pipelined requests in order, each to its own path', async () => {
    const raw = await new Promise<string>((resolve) => {
      const socket = connect(gw.port, '127.0.0.1');
      let data = '';
      socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
      socket.on('close', () => resolve(data));
      socket.write(
        'GET /p/first HTTP/1.1\r\nHost: gw.test\r\n\r\n' +
          'GET /p/../second HTTP/1.1\r\nHost: gw.test\r\n\r\n' +
          'GET /p/third HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n',
      );
    });
    const parts = raw.split(/(?=HTTP\/1\.1 )/).map(parseResponse);
    expect(parts.map((p) => p.status)).toEqual([200, 400, 200]);
    expect(JSON.parse(parts[0]!.body).url).toBe('/p/first');
    expect(JSON.parse(parts[1]!.body).code).toBe('invalid_path');
    expect(JSON.parse(parts[2]!.body).url).toBe('/p/third');
  });

  it('forwards HEAD and returns headers without a body', async () => {
    const res = await fetch(`${gw.url}/p/head`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe('');
  });

  it('rejects TRACE on a route that allows every default method', async () => {
    const res = await rawRequest(gw.port, 'TRACE /p/x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(405);
    expect(JSON.parse(res.body).code).toBe('method_not_allowed');
  });
});
