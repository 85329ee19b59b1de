import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { extractBearer } from '../../src/tokens/bearer.js';
import { get, rawRequest } from '../helpers/raw-http.js';

/** extractBearer against real requests on loopback, sent byte-for-byte (duplicate headers included). */

let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    try {
      const token = extractBearer(req);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      res.writeHead(err.status, { 'content-type': 'application/json', ...err.headers });
      res.end(JSON.stringify({ code: err.code, reason: err.reason }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

async function send(headers: string[], target = '/x') {
  const res = await rawRequest(port, get(target, headers));
  return { status: res.status, challenge: res.headers['www-authenticate'], body: JSON.parse(res.body) as Record<string, string> };
}

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_';

describe('extractBearer', () => {
  it('returns the token from "Authorization: Bearer <token>"', async () => {
    expect(await send([`Authorization: Bearer ${TOKEN}`])).toEqual({ status: 200, challenge: undefined, body: { token: TOKEN } });
  });

  it('accepts the scheme in any case and several spaces before the token', async () => {
    expect((await send([`authorization: bEaReR    ${TOKEN}`])).body.token).toBe(TOKEN);
  });

  it('accepts b64token characters and trailing "=" padding', async () => {
    expect((await send(['Authorization: Bearer aZ09-._~+/=='])).body.token).toBe('aZ09-._~+/==');
  });

  it('answers 401 token_missing with a bare challenge when there is no Authorization header', async () => {
    expect(await send([])).toEqual({
      status: 401,
      challenge: 'Bearer realm="tollgate"',
      body: { code: 'token_missing', reason: 'missing' },
    });
  });

  it('never reads a token from the query string', async () => {
    const res = await send([], `/x?access_token=${TOKEN}`);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('token_missing');
  });

  it('refuses two Authorization headers with 400 duplicate_header', async () => {
    const res = await send([`Authorization: Bearer ${TOKEN}`, 'authorization: Bearer other']);
    expect(res).toEqual({
      status: 400,
      challenge: 'Bearer realm="tollgate", error="invalid_request"',
      body: { code: 'duplicate_header', reason: 'authorization' },
    });
  });

  it('refuses two Authorization headers even when they are identical', async () => {
    const res = await send([`Authorization: Bearer ${TOKEN}`, `Authorization: Bearer ${TOKEN}`]);
    expect(res.body.code).toBe('duplicate_header');
  });

  it('answers another scheme (Basic) as "no bearer token": 401 with the bare challenge', async () => {
    expect(await send(['Authorization: Basic dXNlcjpwYXNz'])).toEqual({
      status: 401,
      challenge: 'Bearer realm="tollgate"',
      body: { code: 'token_missing', reason: 'scheme' },
    });
  });

  it('does not take a scheme that merely starts with "Bearer"', async () => {
    expect((await send([`Authorization: BearerX ${TOKEN}`])).body).toEqual({ code: 'token_missing', reason: 'scheme' });
  });

  it.each([
    ['no token', 'Authorization: Bearer'],
    ['an empty header', 'Authorization: '],
    ['a space inside the token', 'Authorization: Bearer abc def'],
    ['forbidden characters', 'Authorization: Bearer abc@def'],
    ['a quoted token', 'Authorization: Bearer "abc"'],
    ['padding not at the end', 'Authorization: Bearer ab=c'],
    ['only padding', 'Authorization: Bearer =='],
    ['a comma (auth-param list)', 'Authorization: Bearer abc, def'],
  ])('refuses %s with 400 invalid_request', async (_name, header) => {
    expect(await send([header])).toEqual({
      status: 400,
      challenge: 'Bearer realm="tollgate", error="invalid_request"',
      body: { code: 'invalid_request', reason: 'malformed' },
    });
  });
});
