import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Counter } from 'prom-client';
import pino from 'pino';
import { expect } from 'vitest';
import type { IssuerConfig, JwksConfig } from '../../src/config/types.js';
import { GatewayError } from '../../src/errors.js';
import { createMetrics, type GatewayMetrics } from '../../src/observability/metrics.js';
import type { IssuerVerifier, VerifiedToken } from '../../src/tokens/types.js';

/** Shared helpers for the token tests: real loopback servers, real keys, no mocks. */

export const silentLogger = pino({ level: 'silent' });

export function newMetrics(): GatewayMetrics {
  return createMetrics({ defaultMetrics: false });
}

export const AUD = 'https://api.example.test';

export function issuerConfig(overrides: Partial<IssuerConfig> = {}): IssuerConfig {
  return {
    name: 'test',
    issuer: 'https://issuer.example.test',
    audiences: [AUD],
    algorithms: ['ES256'],
    clockToleranceSec: 30,
    requiredClaims: ['exp'],
    clientIdClaims: ['client_id', 'azp', 'sub'],
    ...overrides,
  };
}

export function jwksConfig(uri: string, overrides: Partial<JwksConfig> = {}): JwksConfig {
  return { uri, cacheMaxAgeMs: 600_000, cooldownMs: 30_000, timeoutMs: 2_000, ...overrides };
}

/** Value of a labelled counter (0 when the series does not exist yet). */
export async function counterValue<T extends string>(counter: Counter<T>, labels: Partial<Record<T, string>>): Promise<number> {
  const { values } = await counter.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k as T] === want));
  return hit?.value ?? 0;
}

/** Awaits a promise that must reject with a GatewayError, and returns that error. */
export async function rejection(p: Promise<unknown>): Promise<GatewayError> {
  let settled: unknown;
  try {
    settled = await p;
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(settled)}`);
}

/** A rejected token: 401, the RFC 6750 invalid_token challenge, and no detail for the client. */
export async function expectInvalid(p: Promise<unknown>, reason: string): Promise<GatewayError> {
  const err = await rejection(p);
  expect({ code: err.code, status: err.status, reason: err.reason }).toEqual({
    code: reason === 'expired' ? 'token_expired' : 'token_invalid',
    status: 401,
    reason,
  });
  expect(err.headers).toEqual({ 'WWW-Authenticate': 'Bearer realm="tollgate", error="invalid_token"' });
  expect(err.detail).toBeUndefined();
  return err;
}

// ---------------------------------------------------------------------------------------------
// Signing with arbitrary headers (jose refuses to produce several of the forgeries we need)

const b64u = (v: string | Buffer): string => Buffer.from(v).toString('base64url');

export interface Signer {
  readonly alg: 'ES256' | 'ES384' | 'RS256';
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Public JWK with kid, alg and use. */
  readonly jwk: Record<string, unknown>;
  /** Compact JWS over exactly these header and payload objects (alg defaults to the signer's). */
  sign(payload: Record<string, unknown>, header?: Record<string, unknown>): string;
}

export function createSigner(alg: Signer['alg'] = 'ES256', kid = `kid-${Math.random().toString(36).slice(2)}`): Signer {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: alg === 'ES256' ? 'P-256' : 'P-384' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  return {
    alg,
    kid,
    privateKey,
    publicKey,
    jwk,
    sign(payload, header = {}) {
      const h = { alg, typ: 'at+jwt', kid, ...header };
      const input = `${b64u(JSON.stringify(h))}.${b64u(JSON.stringify(payload))}`;
      const hash = alg === 'ES384' ? 'sha384' : 'sha256';
      const sig = sign(hash, Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return `${input}.${sig.toString('base64url')}`;
    },
  };
}

/** HS256 over arbitrary header/payload with any key bytes (used for the key-confusion attack too). */
export function signHs256(payload: Record<string, unknown>, key: Uint8Array, header: Record<string, unknown> = {}): string {
  const input = `${b64u(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', ...header }))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

/** An unsigned token with arbitrary header (for alg none and malformed-structure cases). */
export function unsigned(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ''): string {
  return `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}.${signature}`;
}

export const nowSec = (): number => Math.floor(Date.now() / 1000);

export function claims(overrides: Record<string, unknown> = {}, at = nowSec()): Record<string, unknown> {
  return {
    iss: 'https://issuer.example.test',
    aud: AUD,
    iat: at,
    exp: at + 300,
    client_id: 'svc-a',
    sub: 'svc-a',
    scope: 'orders:read',
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------------
// A JWKS endpoint we control

export type JwksMode = 'ok' | 'http500' | 'hang' | { body: string };

export interface JwksServer {
  readonly url: string;
  /** GET requests received. */
  readonly fetches: number;
  setKeys(keys: unknown[]): void;
  setMode(mode: JwksMode): void;
  /** Stop listening and drop connections (an outage). */
  stop(): Promise<void>;
}

export async function startJwksServer(
  keys: unknown[],
  tls?: { key: string | Buffer; cert: string | Buffer },
): Promise<JwksServer> {
  let body = JSON.stringify({ keys });
  let mode: JwksMode = 'ok';
  let fetches = 0;
  const hanging = new Set<ServerResponse>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    fetches++;
    if (mode === 'hang') {
      hanging.add(res);
      return;
    }
    if (mode === 'http500') {
      res.writeHead(500).end('boom');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
    res.end(typeof mode === 'object' ? mode.body : body);
  };
  const server: Server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  let stopped = false;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/jwks`,
    get fetches() {
      return fetches;
    },
    setKeys(next) {
      body = JSON.stringify({ keys: next });
    },
    setMode(next) {
      mode = next;
    },
    stop() {
      if (stopped) return Promise.resolve();
      stopped = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
      });
    },
  };
}

/** Polls until `check` is true (for background work such as a refresh we must not await). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * `IssuerVerifier.verify` answers a cache hit synchronously (and throws synchronously); tests
 * that want one uniform promise go through this.
 */
export function verifyAsync(v: IssuerVerifier, token: string, audiences: readonly string[]): Promise<VerifiedToken> {
  return Promise.resolve().then(() => v.verify(token, audiences));
}
