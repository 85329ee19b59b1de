import { describe, expect, it } from 'vitest';
import { GLOB_BUILTINS } from '../../../src/policy/host/glob.js';
import { BuiltinError, BuiltinTypeError, type HostContext, type HostValue } from '../../../src/policy/host/types.js';

const ctx: HostContext = { nowNs: 0n, cache: new Map() };
const match = (pattern: string, delims: HostValue, s: string): HostValue | undefined =>
  GLOB_BUILTINS['glob.match']!.impl([pattern, delims, s] as never, ctx) as HostValue | undefined;

describe('glob.match (OPA and regorus conformance cases)', () => {
  it.each<[string, HostValue, string, boolean]>([
    // opa/globmatch
    ['*.github.com', ['.'], 'api.github.com', true],
    ['api.**.com', ['.'], 'api.github.com', true],
    ['api.**.com', ['.'], 'api.cdn.github.com', true],
    ['*.github.com', ['.'], 'api.not-github.com', false],
    ['[abc]at', [], 'cat', true],
    ['[abc]at', [], 'fat', false],
    ['[!abc]at', [], 'cat', false],
    ['[a-c]at', [], 'bat', true],
    ['[a-c]at', [], 'fat', false],
    ['[!a-c]at', [], 'fat', true],
    ['?at', [], 'fat', true],
    ['?at', [], 'at', false],
    ['?at', ['f'], 'fat', false],
    ['{cat,bat,[fr]at}', [], 'cat', true],
    ['{cat,bat,[fr]at}', [], 'bat', true],
    ['*', [], 'foo.bar', false],
    ['*', null, 'foo.bar', true],
    ['foo*', null, 'foo.bar', true],
    // regorus builtins/glob
    ['api://*/appId', null, 'api://foo.com/appId', true],
    ['*.github.com', [], 'api.github.com', true],
    ['*.github.com', [], 'api.cdn.github.com', false],
    ['*hub.com', null, 'api.cdn.github.com', true],
    ['*:github:com', [':'], 'api:github:com', true],
    ['api.**.com', [], 'api.github.com', true],
    ['api.**.com', [], 'api.cdn.github.com', true],
    ['?at', [], 'cat', true],
    ['[abc]at', [], 'bat', true],
    ['[abc]at', [], 'lat', false],
    ['[!a-c]at', [], 'lat', true],
    ['{cat,bat,[fr]at}', [], 'rat', true],
    ['{cat,bat,[fr]at}', [], 'at', false],
    // opa globmatch wildcards
    ['?', null, '', false],
    ['[!0-9]', null, '', false],
    ['a/*/b', null, 'a/b', false],
    ['a/*/b', null, 'a/x/b', true],
    ['a/**/b', null, 'a/b', false],
    ['a/**/b', null, 'a//b', true],
    ['**/x', null, 'x', false],
    ['{**/,}x', null, 'x', true],
    ['***', ['.'], '', true],
    ['*?*', ['.', '/'], 'api.github.com', false],
    ['*?*', ['.', '/'], 'abc', true],
    ['*', ['.', '/'], 'a/b', false],
    ['\\*', null, '*', true],
    ['\\*', null, 'a', false],
  ])('glob.match(%j, %j, %j) = %j', (p, d, s, want) => {
    expect(match(p, d, s)).toBe(want);
  });
});

describe('glob.match syntax (gobwas/glob lexer rules)', () => {
  it('takes `,` `}` `]` as text outside their groups', () => {
    expect(match('a,b}c]', null, 'a,b}c]')).toBe(true);
    expect(match('{a,b}', null, 'a,b')).toBe(false);
  });
  it('nests alternatives and allows empty ones', () => {
    expect(match('x{a,b{c,d}}y', null, 'xbdy')).toBe(true);
    expect(match('x{a,b{c,d}}y', null, 'xby')).toBe(false);
    expect(match('x{,a}y', null, 'xy')).toBe(true);
    expect(match('{}', null, '')).toBe(true);
  });
  it('reads a class as one set or one range; `-` elsewhere in a set is literal', () => {
    expect(match('[ab-c]', null, '-')).toBe(true);
    expect(match('[ab-c]', null, 'b')).toBe(true);
    expect(match('[ab-c]', null, 'B')).toBe(false);
    expect(match('[\\]]', null, ']')).toBe(true);
    expect(match('[!!]', null, 'a')).toBe(true);
    expect(match('[!!]', null, '!')).toBe(false);
  });
  it('lets a negated class match a separator, but not `?` or `*`', () => {
    expect(match('a[!x]b', ['.'], 'a.b')).toBe(true);
    expect(match('a?b', ['.'], 'a.b')).toBe(false);
    expect(match('a*b', ['.'], 'a.b')).toBe(false);
    expect(match('a**b', ['.'], 'a.b')).toBe(true);
  });
  it('matches characters, not UTF-16 code units', () => {
    expect(match('?', null, '😀')).toBe(true);
    expect(match('[😀-😂]', null, '😁')).toBe(true);
    expect(match('*.*', ['.'], 'é.ü')).toBe(true);
  });
  it('takes a delimiter that is not one character as U+0000 (OPA RuneSliceOperand)', () => {
    expect(match('*', ['ab'], 'ab')).toBe(true);
    expect(match('*', ['ab'], 'a\u0000b')).toBe(false);
  });
  it('treats regexp meta characters literally', () => {
    expect(match('a.b(c)|d$^+', null, 'a.b(c)|d$^+')).toBe(true);
    expect(match('a.b', null, 'axb')).toBe(false);
  });
  it.each(['[', '[a', '[]', '[!]', '[a-', '[a-z', '[a-zA-Z]', '[z-a]', '{a,b', 'a\\', '{a,{b}'])(
    'rejects %j with a built-in error',
    (p) => {
      expect(() => match(p, null, 'x')).toThrow(BuiltinError);
    },
  );
  it('rejects a non-string delimiter as a type error', () => {
    expect(() => match('*', [1], 'x')).toThrow(BuiltinTypeError);
  });
});

describe('glob.quote_meta', () => {
  const quote = (s: string): HostValue | undefined => GLOB_BUILTINS['glob.quote_meta']!.impl([s] as never, ctx) as HostValue | undefined;
  it('escapes * ? \\ [ ] { } only', () => {
    expect(quote('*.github.com')).toBe('\\*.github.com');
    expect(quote('{foo*}')).toBe('\\{foo\\*\\}');
    expect(quote('[a]?\\,!-')).toBe('\\[a\\]\\?\\\\,!-');
  });
  it('round-trips through glob.match', () => {
    const s = 'a*b?[c]{d,e}\\f';
    expect(match(quote(s) as string, null, s)).toBe(true);
  });
});

describe('glob.match limits', () => {
  it('rejects absurd nesting with a built-in error', () => {
    expect(() => match(`${'{'.repeat(5000)}a${'}'.repeat(5000)}`, null, 'a')).toThrow(BuiltinError);
    expect(match(`${'{'.repeat(50)}a${'}'.repeat(50)}`, null, 'a')).toBe(true);
  });
});

describe('glob.match operand errors', () => {
  it('reports OPA messages', () => {
    expect(() => match('*', 'x', 'x')).toThrow('operand 2 must be one of {array, null} but got string');
    expect(() => match('*', [true], 'x')).toThrow('operand 2 must be array of strings but got array containing boolean');
  });
});
