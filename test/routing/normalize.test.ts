import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { normalizeTarget } from '../../src/routing/normalize.js';

function reason(target: string): string | undefined {
  try {
    normalizeTarget(target);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return `${(err as GatewayError).code}:${(err as GatewayError).reason}`;
  }
}

describe('normalizeTarget', () => {
  it.each([
    ['/v1/orders', '/v1/orders', ''],
    ['/v1/orders?x=1&y=%20', '/v1/orders', 'x=1&y=%20'],
    ['/%41%62c', '/Abc', ''],
    ['/a%2d%2E%5f%7e', '/a-._~', ''],
    ['/a%3a%40', '/a%3A%40', ''],
    ['/caf%c3%a9', '/caf%C3%A9', ''],
    ['//admin', '/admin', ''],
    ['/a//b///c/', '/a/b/c/', ''],
    ["/a:b@c!$&'()*+,;=", "/a:b@c!$&'()*+,;=", ''],
    ['/x?a=/b?c', '/x', 'a=/b?c'],
    ['/.well-known/jwks', '/.well-known/jwks', ''],
    ['/a/..b/c.', '/a/..b/c.', ''],
  ])('%s → %s', (target, path, query) => {
    expect(normalizeTarget(target)).toEqual({ path, query });
  });

  it.each([
    ['/public/../admin', 'invalid_path:dot_segment'],
    ['/public/%2e%2e/admin', 'invalid_path:dot_segment'],
    ['/public/.%2e/admin', 'invalid_path:dot_segment'],
    ['/public/%2E%2e/admin', 'invalid_path:dot_segment'],
    ['/public/./x', 'invalid_path:dot_segment'],
    ['/public/%2e/x', 'invalid_path:dot_segment'],
    ['/public/..', 'invalid_path:dot_segment'],
    ['/public%2fadmin', 'invalid_path:encoded_slash'],
    ['/public%2Fadmin', 'invalid_path:encoded_slash'],
    ['/public%5cadmin', 'invalid_path:encoded_slash'],
    ['/public\\..\\admin', 'invalid_path:backslash'],
    ['/a%00b', 'invalid_path:nul'],
    ['/a%zz', 'invalid_path:invalid_encoding'],
    ['/public/%c0%ae%c0%ae/admin', 'invalid_path:invalid_utf8'],
    ['/x/%e0%80%ae', 'invalid_path:invalid_utf8'],
    ['/x/%ff', 'invalid_path:invalid_utf8'],
    ['/x/%c3', 'invalid_path:invalid_utf8'],
    ['/x/%ed%a0%80', 'invalid_path:invalid_utf8'],
    ['/a%4', 'invalid_path:invalid_encoding'],
    ['/a%', 'invalid_path:invalid_encoding'],
    ['/a b', 'invalid_path:invalid_char'],
    ['/a#frag', 'invalid_path:invalid_char'],
    ['/a\u00e9', 'invalid_path:invalid_char'],
    ['/a<b>', 'invalid_path:invalid_char'],
    ['/x?a=%zz', 'invalid_path:invalid_query_encoding'],
    ['/x?a=%2', 'invalid_path:invalid_query_encoding'],
    ['/x?a=b#c', 'invalid_path:invalid_query_char'],
    ['http://evil.example/admin', 'invalid_request_target:not_origin_form'],
    ['*', 'invalid_request_target:not_origin_form'],
    ['evil.example:443', 'invalid_request_target:not_origin_form'],
    ['', 'invalid_request_target:not_origin_form'],
  ])('rejects %s (%s)', (target, expected) => {
    expect(reason(target)).toBe(expected);
  });

  it('is idempotent: a normalised path normalises to itself', () => {
    for (const t of ['/%41//b/%c3%a9?q', '/a%3a/b', '//x//y']) {
      const once = normalizeTarget(t);
      expect(normalizeTarget(once.path)).toEqual({ path: once.path, query: '' });
    }
  });

  it('agrees with the WHATWG URL parser on every path it accepts, so no downstream re-parse changes it', () => {
    const samples = ['/a/b', '/a%3A', "/x!$&'()*+,;=:@", '/%C3%A9', '/a/.b/..c'];
    for (const s of samples) {
      const { path } = normalizeTarget(s);
      expect(new URL(path, 'http://h').pathname).toBe(path);
    }
  });
});
