import { describe, expect, it } from 'vitest';
import { REGEX_BUILTINS } from '../../../src/policy/host/regex.js';
import { BuiltinError, type HostContext, type HostValue } from '../../../src/policy/host/types.js';

const ctx: HostContext = { nowNs: 0n, cache: new Map() };
const call = (name: string, ...args: HostValue[]): HostValue | undefined =>
  (REGEX_BUILTINS[name]!.impl as (a: HostValue[], c: HostContext) => HostValue | undefined)(args, ctx);
const match = (p: string, s: string): HostValue | undefined => call('regex.match', p, s);
const error = (p: string): string => {
  try {
    match(p, '');
  } catch (e) {
    expect(e).toBeInstanceOf(BuiltinError);
    return (e as Error).message;
  }
  throw new Error(`${p} compiled`);
};

describe('regex.match / re_match (OPA conformance cases)', () => {
  it('matches and reports Go syntax errors', () => {
    expect(call('re_match', '^[a-z]+\\[[0-9]+\\]$', 'foo[1]')).toBe(true);
    expect(call('re_match', '^[a-z]+\\[[0-9]+\\]$', 'foo["bar"]')).toBe(false);
    expect(call('regex.match', '^[a-z]+\\[[0-9]+\\]$', 'foo[1]')).toBe(true);
    expect(() => call('re_match', '][', 'foo["bar"]')).toThrow('error parsing regexp: missing closing ]: `[`');
  });
  it('regorus email pattern', () => {
    const email = '^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$';
    expect(match(email, 'alice@example.com')).toBe(true);
    expect(match(email, 'not-an-email')).toBe(false);
    expect(match(email, 'bob@localhost')).toBe(false);
  });
});

describe('RE2 syntax as Go parses it', () => {
  it.each<[string, string, boolean]>([
    // unanchored search, leftmost-first
    ['b', 'abc', true],
    ['^b', 'abc', false],
    // `.` excludes only \n unless (?s)
    ['^a.c$', 'a\rc', true],
    ['^a.c$', 'a\u2028c', true],
    ['^a.c$', 'a\nc', false],
    ['(?s)^a.c$', 'a\nc', true],
    ['^.$', '😀', true],
    // $ is end of text only, ^/$ around \n only with (?m)
    ['a$', 'a\n', false],
    ['(?m)a$', 'a\nb', true],
    ['(?m)^b', 'a\nb', true],
    ['(?m)^b', 'a\rb', false],
    ['(?m)a$', 'a\rb', false],
    ['\\Aab\\z', 'ab', true],
    ['\\Aab\\z', 'ab\n', false],
    // case folding, global and scoped
    ['(?i)hello', 'HeLLo', true],
    ['a(?i)b', 'aB', true],
    ['a(?i)b', 'AB', false],
    ['(?i:a)b', 'Ab', true],
    ['(?i:a)b', 'AB', false],
    ['(?i)a(?-i)b', 'Ab', true],
    ['(?i)a(?-i)b', 'AB', false],
    ['(a(?i)b)c', 'aBc', true],
    ['(a(?i)b)c', 'aBC', false],
    ['(?i)k', '\u212a', true], // Kelvin sign is in k's fold orbit
    ['(?i)[a-z]+', 'ſK', true],
    ['(?i)[^k]', 'K', false],
    ['(?i)σ', 'ς', true],
    ['(?i)\\w', 'ſ', true],
    ['\\w', 'ſ', false],
    // Perl and POSIX classes are ASCII
    ['^\\d+$', '١٢', false],
    ['^\\s$', '\u00a0', false],
    ['^\\s$', '\u000b', false],
    ['^[[:alpha:]]+$', 'abcXYZ', true],
    ['^[[:alpha:]]+$', 'é', false],
    ['^[[:^digit:]]+$', 'ab', true],
    ['^[[:word:][:punct:]]+$', 'a_b!', true],
    // Unicode classes
    ['^\\pL+$', 'héllo', true],
    ['^\\p{Greek}+$', 'αβγ', true],
    ['^\\p{Greek}+$', 'abc', false],
    ['^\\P{Greek}+$', 'abc', true],
    ['^\\p{^Greek}+$', 'abc', true],
    ['^[\\p{Lu}\\d]+$', 'AB12', true],
    ['^\\p{Any}$', '\n', true],
    // escapes
    ['^\\x41\\x{1F600}\\101\\0$', 'A😀A\u0000', true],
    ['^\\Q.*+\\E$', '.*+', true],
    ['^\\Qab', 'ab', true],
    ['^a\\-\\_\\/\\ $', 'a-_/ ', true],
    ['^[\\]a-]+$', ']-a', true],
    ['^[]a]+$', ']a', true],
    ['^[^]a]$', 'b', true],
    // named groups, both spellings
    ['^(?P<first>a)(?<second>b)$', 'ab', true],
    // repetition
    ['^a{2}$', 'aa', true],
    ['^a{2,}$', 'aaaa', true],
    ['^a{2,3}$', 'aaaa', false],
    ['^a{,2}$', 'a{,2}', true], // not a repeat: literal
    ['^a{01}$', 'a{01}', true], // Go rejects leading zeros in counts: literal
    ['^{$', '{', true],
    ['^x}$', 'x}', true],
    ['(?:^)*a', 'a', true],
    ['a(?i)*', 'aaa', true], // Go repeats the term before a flag group
    ['(?U)^a+', 'aaa', true],
    // empty alternatives
    ['^(|a)$', '', true],
    ['^a|b$', 'xb', true],
  ])('regex.match(%j, %j) = %j', (p, s, want) => {
    expect(match(p, s)).toBe(want);
  });

  it.each<[string, string]>([
    ['a**', 'error parsing regexp: invalid nested repetition operator: `**`'],
    ['a*?+', 'error parsing regexp: invalid nested repetition operator: `*?+`'],
    ['*a', 'error parsing regexp: missing argument to repetition operator: `*`'],
    ['(*)', 'error parsing regexp: missing argument to repetition operator: `*`'],
    ['a|?', 'error parsing regexp: missing argument to repetition operator: `?`'],
    ['{2}', 'error parsing regexp: missing argument to repetition operator: `{2}`'],
    ['a{1001}', 'error parsing regexp: invalid repeat count: `{1001}`'],
    ['a{3,2}', 'error parsing regexp: invalid repeat count: `{3,2}`'],
    ['(a', 'error parsing regexp: missing closing ): `(a`'],
    ['a)', 'error parsing regexp: unexpected ): `a)`'],
    ['[a', 'error parsing regexp: missing closing ]: `[a`'],
    ['x[]', 'error parsing regexp: missing closing ]: `[]`'],
    ['[z-a]', 'error parsing regexp: invalid character class range: `z-a`'],
    ['[[:foo:]]', 'error parsing regexp: invalid character class range: `[:foo:]`'],
    ['\\p{Foo}', 'error parsing regexp: invalid character class range: `\\p{Foo}`'],
    ['\\p{Grek}', 'error parsing regexp: invalid character class range: `\\p{Grek}`'],
    ['a\\', 'error parsing regexp: trailing backslash at end of expression: ``'],
    ['\\8', 'error parsing regexp: invalid escape sequence: `\\8`'],
    ['(a)\\1', 'error parsing regexp: invalid escape sequence: `\\1`'],
    ['\\Z', 'error parsing regexp: invalid escape sequence: `\\Z`'],
    ['\\C', 'error parsing regexp: invalid escape sequence: `\\C`'],
    ['\\x{110000}', 'error parsing regexp: invalid escape sequence: `\\x{110000`'], // Go stops at the overflowing digit
    ['[\\b]', 'error parsing regexp: invalid escape sequence: `\\b`'],
    ['(?=a)', 'error parsing regexp: invalid or unsupported Perl syntax: `(?=`'],
    ['(?!a)', 'error parsing regexp: invalid or unsupported Perl syntax: `(?!`'],
    ['(?i-)a', 'error parsing regexp: invalid or unsupported Perl syntax: `(?i-)`'],
    ['(?x)a', 'error parsing regexp: invalid or unsupported Perl syntax: `(?x`'],
    ['(?P<n!>a)', 'error parsing regexp: invalid named capture: `(?P<n!>`'],
    ['(?P<>a)', 'error parsing regexp: invalid named capture: `(?P<>`'],
  ])('rejects %j', (p, msg) => {
    expect(error(p)).toBe(msg);
  });

  it('accepts what Go accepts and JS would not take as is', () => {
    for (const p of ['(?i)(?-i)a', '(?)', 'a{', 'a{1,2', '}', ']', '\\_', '(?P<1a>x)', '(?<a>x)(?<a>y)', '^*', '$+', '\\b*']) {
      expect(() => match(p, 'x')).not.toThrow();
    }
  });
});

describe('regex.is_valid', () => {
  it.each<[HostValue, boolean]>([
    ['.*', true],
    ['[a-z]+', true],
    ['[', false],
    ['(?=x)', false],
    [1, false],
    [null, false],
    [['a'], false],
  ])('regex.is_valid(%j) = %j', (v, want) => {
    expect(call('regex.is_valid', v)).toBe(want);
  });
});

describe('regex.split (Go Regexp.Split(s, -1))', () => {
  it.each<[string, string, string[]]>([
    // opa/regexsplit
    ['^[a-z]+\\[[0-9]+\\]$', '', ['']],
    ['a', 'banana', ['b', 'n', 'n', '']],
    ['z+', 'pizza', ['pi', 'a']],
    // Go specifics
    ['', '', []],
    ['', 'abc', ['a', 'b', 'c']],
    ['x*', 'abc', ['a', 'b', 'c']],
    ['a*', 'baaac', ['b', 'c']],
    [',', 'a,b,,c,', ['a', 'b', '', 'c', '']],
    [',', ',a', ['', 'a']],
    ['', '😀é', ['😀', 'é']],
  ])('regex.split(%j, %j)', (p, s, want) => {
    expect(call('regex.split', p, s)).toEqual(want);
  });
});

describe('regex.find_n and regex.find_all_string_submatch_n', () => {
  it('finds up to n matches (-1: all) with Go empty-match rules', () => {
    expect(call('regex.find_n', 'a.', 'paranormal', -1)).toEqual(['ar', 'an', 'al']);
    expect(call('regex.find_n', 'a.', 'paranormal', 2)).toEqual(['ar', 'an']);
    expect(call('regex.find_n', 'a.', 'paranormal', 0)).toEqual([]);
    expect(call('regex.find_n', 'a*', 'baaac', -1)).toEqual(['', 'aaa', '']);
    expect(call('regex.find_n', '', 'ab', -1)).toEqual(['', '', '']);
    expect(call('regex.find_n', '[^aeiou\\s]{2}', 'this is a test', -1)).toEqual(['th', 'st']);
  });
  it('returns every group, unmatched as ""', () => {
    expect(call('regex.find_all_string_submatch_n', 'a(x*)b', '-ab-axxb-', -1)).toEqual([['ab', ''], ['axxb', 'xx']]);
    expect(call('regex.find_all_string_submatch_n', 'a(x)?(y)?b', 'ab ayb', -1)).toEqual([['ab', '', ''], ['ayb', '', 'y']]);
    expect(call('regex.find_all_string_submatch_n', '([a-z]+)@([a-z]+)', 'a@b c@d e@f', 2)).toEqual([
      ['a@b', 'a', 'b'],
      ['c@d', 'c', 'd'],
    ]);
  });
  it('rejects a non-integer count', () => {
    expect(() => call('regex.find_n', 'a', 'a', 1.5)).toThrow(BuiltinError);
  });
});

describe('regex.replace (Go ReplaceAllString)', () => {
  it.each<[string, string, string, string]>([
    ['-ab-axxb-', 'a(x*)b', 'T', '-T-T-'],
    ['-ab-axxb-', 'a(x*)b', '$1', '--xx-'],
    ['-ab-axxb-', 'a(x*)b', '$1W', '---'], // `$1W` names group "1W"
    ['-ab-axxb-', 'a(x*)b', '${1}W', '-W-xxW-'],
    ['-ab-axxb-', 'a(?P<x>x*)b', '[$x]', '-[]-[xx]-'],
    ['-ab-axxb-', 'a(x*)b', '$$1', '-$1-$1-'],
    ['-ab-axxb-', 'a(x*)b', '$', '-$-$-'],
    ['-ab-axxb-', 'a(x*)b', '${1', '-${1-${1-'],
    ['-ab-axxb-', 'a(x*)b', '$2$01', '---'],
    ['abc', 'x*', '-', '-a-b-c-'],
    ['baaac', 'a*', '-', '-b-c-'],
    ['hello', 'l', 'L', 'heLLo'],
    ['😀😀', '', '-', '-😀-😀-'],
  ])('regex.replace(%j, %j, %j) = %j', (s, p, r, want) => {
    expect(call('regex.replace', s, p, r)).toBe(want);
  });
});

describe('regex.template_match', () => {
  it.each<[string, string, string, string, boolean]>([
    ['urn:foo:{.*}', 'urn:foo:bar:baz', '{', '}', true],
    ['urn:foo:{.*}', 'urn:foo.bar.baz', '{', '}', false],
    ['urn:foo.bar.com:{.*}', 'urn:foo.bar.com:bar:baz', '{', '}', true],
    ['urn:foo.bar.com:{.*}', 'urn:fooXbar.com:bar:baz', '{', '}', false],
    ['urn:foo.bar.com:{.*}', 'urn:foo.bar.com:bar:baz', '<', '>', false],
    ['urn:foo.bar.com:<.*>', 'urn:foo.bar.com:bar:baz', '<', '>', true],
    ['urn:foo:<[0-9]{2,3}>:x', 'urn:foo:123:x', '<', '>', true],
    ['urn:foo:<[0-9]{2,3}>:x', 'urn:foo:1234:x', '<', '>', false],
  ])('regex.template_match(%j, %j, %j, %j) = %j', (t, s, a, b, want) => {
    expect(call('regex.template_match', t, s, a, b)).toBe(want);
  });
  it('rejects bad delimiters, unbalanced braces and bad patterns', () => {
    expect(() => call('regex.template_match', 'a{b}', 'ab', '{{', '}')).toThrow(
      'start delimiter has to be exactly one character long but is 2 long',
    );
    expect(() => call('regex.template_match', 'a{b', 'ab', '{', '}')).toThrow('unbalanced braces in "a{b"');
    expect(() => call('regex.template_match', 'a{[}', 'ab', '{', '}')).toThrow(BuiltinError);
  });
});

describe('regex.globs_match (glob-intersection)', () => {
  it.each<[string, string, boolean]>([
    // opa/globsmatch
    ['a.a.[0-9]+z', '.b.b2359825792*594823z', true],
    ['[a-z]+', '[0-9]*', false],
    ['b.*', 'bar', true],
    ['b.*', 'baz', true],
    ['[a-z]+\\[[0-9]+\\]', 'foo\\[1\\]', true],
    ['[a-z]+\\[[0-9]+\\]', 'foo["bar"]', false],
    // the library README
    ['a.a.', '.b.b', true],
    // only non-empty strings count
    ['a*', 'b*', false],
    ['a*', 'a*b*', true],
    ['a+b', 'a*ab', true],
    ['a+b', 'b', false],
    ['x.*y', '.*z.*', true],
    ['x.*y', 'z.*', false],
    ['x.*y', '.*z.*y', true],
    ['[\\]\\-]', '-', true],
  ])('regex.globs_match(%j, %j) = %j', (a, b, want) => {
    expect(call('regex.globs_match', a, b)).toBe(want);
  });
  it.each(['*a', 'a**', 'a+*', ']', '[a', 'a\\', '[-a]', '[a-]', '[z-a]', '[\\]-]'])('rejects %j', (g) => {
    expect(() => call('regex.globs_match', g, 'a')).toThrow(BuiltinError);
  });
});

describe('limits', () => {
  it('rejects nesting deeper than Go allows, with a built-in error', () => {
    expect(error(`${'('.repeat(5000)}a${')'.repeat(5000)}`)).toMatch(/^error parsing regexp: expression nests too deeply/);
    expect(match(`${'('.repeat(100)}a${')'.repeat(100)}`, 'a')).toBe(true);
  });
  it('compiles each pattern once (cache) and stays correct across calls', () => {
    for (let i = 0; i < 3; i++) expect(call('regex.find_n', 'a', 'aXa', -1)).toEqual(['a', 'a']);
  });
});

describe('operand errors', () => {
  it('reports wrong nested types like OPA', () => {
    expect(() => call('regex.match', 1, 'a')).toThrow('operand 1 must be string but got number');
    expect(() => call('regex.find_n', 'a', 'a', 'x')).toThrow('operand 3 must be number but got string');
  });
});
