import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { pathProblems, templateSegments, templateShape } from '../../src/config/path-template.js';
import { brief, issuesOf, MINIMAL } from './fixtures.js';

/** MINIMAL with the health route's match replaced; the match line is line 9. */
const withMatch = (match: string) => MINIMAL.replace('match: { path: /health }', `match: ${match}`);

describe('path templates at load', () => {
  it('accepts templates with whole-segment parameters, and prefixes', () => {
    const c = loadConfig(withMatch('{ path: "/v1/tenants/{tenant}/orders/{order_id}" }'), { env: {} });
    expect(c.routes[0]?.match.path).toBe('/v1/tenants/{tenant}/orders/{order_id}');
    expect(loadConfig(withMatch('{ prefix: /public }'), { env: {} }).routes[0]?.match.prefix).toBe('/public');
    expect(loadConfig(withMatch('{ path: "/.well-known/jwks.json" }'), { env: {} }).routes[0]?.match.path).toBe('/.well-known/jwks.json');
  });

  it.each([
    ['"/a/{x}/b/{x}"', 'parameter "{x}" appears more than once'],
    ['"/a/b{x}"', 'segment "b{x}": a parameter must be a whole segment written {name}'],
    ['"/a/{x}y"', 'segment "{x}y": a parameter must be a whole segment written {name}'],
    ['"/a/{}"', 'parameter "{}": the name must match [A-Za-z_][A-Za-z0-9_]*'],
    ['"/a/{1x}"', 'parameter "{1x}": the name must match [A-Za-z_][A-Za-z0-9_]*'],
    ['"/a/{x-y}"', 'parameter "{x-y}": the name must match [A-Za-z_][A-Za-z0-9_]*'],
    ['"/a/{{x}}"', 'segment "{{x}}": a parameter must be a whole segment written {name}'],
    ['/a/../b', 'must not contain "." or ".." segments (requests are matched after dot-segment removal)'],
    ['/a/./b', 'must not contain "." or ".." segments (requests are matched after dot-segment removal)'],
    ['/a//b', 'must not contain an empty segment ("//")'],
  ])('rejects path %s', (path, message) => {
    expect(brief(issuesOf(withMatch(`{ path: ${path} }`)))).toEqual([`9:20 routes[0].match.path ${message}`]);
  });

  it.each([['"/a%2Fb"'], ['"/a?b=1"'], ['"/a#x"'], ['"/a b"'], ['a/b'], ['"/é"']])('rejects characters in path %s', (path) => {
    expect(brief(issuesOf(withMatch(`{ path: ${path} }`)))).toEqual([
      '9:20 routes[0].match.path must start with "/" and use only unreserved characters, sub-delimiters, ":", "@" and {name} parameters (no "%", "?", "#" or spaces)',
    ]);
  });

  it('rejects parameters, dot segments and a trailing slash in a prefix', () => {
    expect(brief(issuesOf(withMatch('{ prefix: "/a/{x}" }')))).toEqual([
      '9:22 routes[0].match.prefix must start with "/" and use only unreserved characters, sub-delimiters, ":" and "@" (no "{}", "%", "?", "#" or spaces)',
    ]);
    expect(brief(issuesOf(withMatch('{ prefix: /a/.. }')))).toEqual([
      '9:22 routes[0].match.prefix must not contain "." or ".." segments (requests are matched after dot-segment removal)',
    ]);
    expect(brief(issuesOf(withMatch('{ prefix: /public/ }')))).toEqual([
      '9:22 routes[0].match.prefix must not end with "/" (a prefix matches whole segments: "/public" already matches "/public/x")',
    ]);
  });

  it('requires exactly one of path and prefix', () => {
    expect(brief(issuesOf(withMatch('{ methods: [GET] }')))).toEqual(['9:5 routes[0].match must set exactly one of path or prefix (none is set)']);
    expect(brief(issuesOf(withMatch('{ path: /a, prefix: /a }')))).toEqual(['9:5 routes[0].match must set exactly one of path or prefix (more than one is set)']);
  });

  it('validates the host and stores it lower-case', () => {
    expect(loadConfig(withMatch('{ path: /a, host: API.Example.COM }'), { env: {} }).routes[0]?.match.host).toBe('api.example.com');
    expect(brief(issuesOf(withMatch('{ path: /a, host: "api.example.com:443" }')))).toEqual([
      '9:30 routes[0].match.host must be a hostname or a bracketed IPv6 address, without port',
    ]);
  });
});

describe('path-template helpers', () => {
  it('splits a template into literal and parameter segments', () => {
    expect(templateSegments('/v1/{tenant}/x')).toEqual([{ literal: 'v1' }, { param: 'tenant' }, { literal: 'x' }]);
    expect(templateSegments('/')).toEqual([{ literal: '' }]);
  });

  it('erases parameter names for comparison', () => {
    expect(templateShape('/a/{x}/b/{y}')).toBe('/a/{}/b/{}');
    expect(templateShape('/a/b')).toBe('/a/b');
  });

  it('finds no problems in valid templates and prefixes', () => {
    expect(pathProblems('/', 'path')).toEqual([]);
    expect(pathProblems('/', 'prefix')).toEqual([]);
    expect(pathProblems('/a/{b}/c/{d_1}', 'path')).toEqual([]);
    expect(pathProblems('/a/', 'path')).toEqual([]);
    expect(pathProblems('relative', 'path')).toEqual(['must start with "/"']);
  });
});
