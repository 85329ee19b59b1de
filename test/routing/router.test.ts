import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../../src/config/types.js';
import { GatewayError } from '../../src/errors.js';
import { createRouter } from '../../src/routing/router.js';

function route(id: string, match: Partial<RouteConfig['match']>): RouteConfig {
  return {
    id,
    match: { methods: [], ...match },
    upstream: 'u',
    auth: false,
    risk: 'low',
    forwardAuthorization: false,
    maxBodyBytes: 1024,
    rateLimits: { policies: [], quotas: [], cost: 1 },
    policy: {},
    highRisk: { jtiOnce: false },
  };
}

const router = createRouter([
  route('public', { prefix: '/public' }),
  route('root', { prefix: '/' , methods: ['GET'] }),
  route('order', { path: '/v1/tenants/{tenant}/orders/{id}', methods: ['GET'] }),
  route('order-new', { path: '/v1/tenants/{tenant}/orders/new', methods: ['GET'] }),
  route('orders-post', { path: '/v1/tenants/{tenant}/orders', methods: ['POST'] }),
  route('exact', { path: '/health/deep', methods: ['GET'] }),
  route('hosted', { path: '/health/deep', methods: ['GET'], host: 'API.example.com' }),
  route('api-prefix', { prefix: '/public/api/' }),
]);

function matchId(method: string, path: string, host?: string): string {
  return router.match(method, host, path).route.id;
}

function errorOf(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    return err as GatewayError;
  }
  throw new Error('expected an error');
}

describe('router', () => {
  it('extracts template parameters, decoded', () => {
    const m = router.match('GET', undefined, '/v1/tenants/acme/orders/o%20%C3%A9');
    expect(m.route.id).toBe('order');
    expect(m.params).toEqual({ tenant: 'acme', id: 'o é' });
  });

  it('prefers more literal segments among templates', () => {
    expect(matchId('GET', '/v1/tenants/acme/orders/new')).toBe('order-new');
  });

  it('matches prefixes on whole segments, longest first', () => {
    expect(matchId('GET', '/public')).toBe('public');
    expect(matchId('POST', '/public/x/y')).toBe('public');
    expect(matchId('POST', '/public/api/x')).toBe('api-prefix');
    expect(matchId('GET', '/publicity')).toBe('root');
  });

  it('is case-sensitive on paths and case-insensitive on hosts, ignoring the port', () => {
    expect(matchId('GET', '/health/deep', 'api.EXAMPLE.com:8080')).toBe('hosted');
    expect(matchId('GET', '/health/deep', 'other.example.com')).toBe('exact');
    expect(matchId('GET', '/Public/x')).toBe('root');
    expect(errorOf(() => router.match('POST', undefined, '/PUBLIC/x')).code).toBe('method_not_allowed');
  });

  it('answers 405 with Allow when only the method is wrong', () => {
    const err = errorOf(() => router.match('DELETE', undefined, '/v1/tenants/acme/orders'));
    expect(err.status).toBe(405);
    expect(err.headers?.allow).toContain('POST');
  });

  it('answers 404 when nothing matches', () => {
    const only = createRouter([route('a', { path: '/a' })]);
    expect(errorOf(() => only.match('GET', undefined, '/b')).code).toBe('route_not_found');
    expect(errorOf(() => only.match('GET', undefined, '/a/')).code).toBe('route_not_found');
  });

  it('never lets an empty segment fill a parameter', () => {
    const only = createRouter([route('t', { path: '/t/{id}' })]);
    expect(errorOf(() => only.match('GET', undefined, '/t/')).code).toBe('route_not_found');
  });

  it('rejects parameters that are not UTF-8 after decoding', () => {
    const only = createRouter([route('t', { path: '/t/{id}' })]);
    expect(errorOf(() => only.match('GET', undefined, '/t/%C3')).code).toBe('invalid_path');
  });
});
