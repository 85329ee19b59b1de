import { describe, expect, it } from 'vitest';
import type { Expr, Module, Rule, Term } from '../../../../src/policy/rego/syntax/ast.js';
import { RegoParseError } from '../../../../src/policy/rego/syntax/errors.js';
import { parseModule, parseQuery, tryParseModule } from '../../../../src/policy/rego/syntax/parser.js';
import { MAX_NESTING_DEPTH } from '../../../../src/policy/rego/syntax/terms.js';

const v1 = (src: string): Module => parseModule(src, { file: 'p.rego', regoVersion: 'v1' });
const v0 = (src: string): Module => parseModule(src, { file: 'p.rego', regoVersion: 'v0' });
const rule = (m: Module, i = 0): Rule => m.rules[i] as Rule;
const expr = (src: string): Expr => parseQuery(src)[0] as Expr;

/** Compact S-expression of a term, to assert shapes and precedence readably. */
function sx(t: Term): string {
  switch (t.type) {
    case 'null': return 'null';
    case 'boolean': return String(t.value);
    case 'number': return t.text;
    case 'string': return JSON.stringify(t.value);
    case 'var': return t.name;
    case 'ref': return `ref(${t.terms.map(sx).join(' ')})`;
    case 'array': return `[${t.items.map(sx).join(' ')}]`;
    case 'set': return `set(${t.items.map(sx).join(' ')})`;
    case 'object': return `{${t.entries.map((e) => `${sx(e.key)}:${sx(e.value)}`).join(' ')}}`;
    case 'call': return `(${t.name} ${t.args.map(sx).join(' ')})`;
    case 'arraycompr': return `[${sx(t.term)} | ${t.body.length}]`;
    case 'setcompr': return `{${sx(t.term)} | ${t.body.length}}`;
    case 'objectcompr': return `{${sx(t.key)}:${sx(t.value)} | ${t.body.length}}`;
  }
}
function termOf(e: Expr): Term {
  if (e.kind === 'term') return e.term;
  if (e.kind === 'call') return e.call;
  throw new Error(`not a term expr: ${e.kind}`);
}
function parseError(fn: () => unknown): RegoParseError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RegoParseError) return e;
    throw e;
  }
  throw new Error('expected a parse error');
}

describe('terms', () => {
  it('scalars keep number text and decode strings', () => {
    expect(sx(termOf(expr('[null, true, false, 1, -2.5e10, 123456789012345678901234567890, "a\\n\\u0041", `r\\n`]')))).toBe(
      '[null true false 1 -2.5e10 123456789012345678901234567890 "a\\nA" "r\\\\n"]',
    );
  });
  it('refs with dot and bracket parts; input/data alone are refs', () => {
    expect(sx(termOf(expr('input.a[b]["c"].d')))).toBe('ref(input "a" b "c" "d")');
    expect(sx(termOf(expr('data')))).toBe('ref(data)');
    expect(sx(termOf(expr('f(x)[0]')))).toBe('ref((f x) 0)');
    expect(sx(termOf(expr('input.package')))).toBe('ref(input "package")');
  });
  it('collections, set(), comprehensions', () => {
    expect(sx(termOf(expr('[{}, set(), {1, 2}, {"a": 1, "b": [2]}]')))).toBe('[{} set() set(1 2) {"a":1 "b":[2]}]');
    expect(sx(termOf(expr('[x | x := input[_]; x > 1]')))).toBe('[x | 2]');
    expect(sx(termOf(expr('{x | some x in xs}')))).toBe('{x | 1}');
    expect(sx(termOf(expr('{k: v | v := o[k]}')))).toBe('{k:v | 1}');
    // `|` followed by something that is no body is set union (OPA retries the same way).
    expect(sx(termOf(expr('[x | y, 5]')))).toBe('[(or x y) 5]');
  });
  it('calls, including dotted built-ins and multi-line arguments', () => {
    expect(sx(termOf(expr('object.get(o,\n  "k",\n  null)')))).toBe('(object.get o "k" null)');
  });
});

describe('operator precedence (OPA: in < relations < | < & < + - < * / %)', () => {
  it.each([
    ['1 + 2 * 3', '(plus 1 (mul 2 3))'],
    ['1 - 2 - 3', '(minus (minus 1 2) 3)'],
    ['a & b | c', '(or (and a b) c)'],
    ['a + 1 == b * 2', '(equal (plus a 1) (mul b 2))'],
    ['x == y in z', '(internal.member_2 (equal x y) z)'],
    ['k, v in xs', '(internal.member_3 k v xs)'],
    ['(1 + 2) * 3', '(mul (plus 1 2) 3)'],
    ['a % b / c', '(div (rem a b) c)'],
  ])('%s', (src, want) => {
    expect(sx(termOf(expr(src)))).toBe(want);
  });
  it('= and := bind loosest', () => {
    const e = expr('x := 1 + 2');
    expect(e.kind).toBe('assign');
    const u = expr('data.test.p = x');
    expect(u.kind === 'unify' && sx(u.lhs)).toBe('ref(data "test" "p")');
  });
});

describe('literals', () => {
  it('not, some, every, with', () => {
    const r = rule(v1('package t\np if {\n  not q\n  some x\n  some k, v in input.m\n  every y in [1] { y > 0 }\n  q with input as {} with data.a as 1\n}'));
    expect(r.body.map((e) => e.kind)).toEqual(['term', 'some-vars', 'some-in', 'every', 'term']);
    expect(r.body[0]?.negated).toBe(true);
    const some = r.body[2];
    expect(some?.kind === 'some-in' && [some.key && sx(some.key), sx(some.value), sx(some.collection)]).toEqual(['k', 'v', 'ref(input "m")']);
    expect(r.body[4]?.with.map((w) => sx(w.target))).toEqual(['ref(input)', 'ref(data "a")']);
  });
  it('newlines and ; separate expressions; operators may continue on the next line', () => {
    const r = rule(v1('package t\np if { a; b\n c\n d +\n 1 }'));
    expect(r.body).toHaveLength(4);
  });
  it('two expressions on one line are an error', () => {
    const e = parseError(() => v1('package t\np if { a b }'));
    expect(e.message).toBe('p.rego:2:10: rego_parse_error: unexpected ident token: expected \\n or ; or }');
  });
});

describe('rules', () => {
  it('v1 forms', () => {
    const m = v1(`package a.b
import rego.v1
import data.x.y as z
default allow := false
allow if input.ok
s contains x if some x in input.xs
o[k] := v if { some k, v in input.m }
a.b[c] := 1 if c := "k"
f(x, y) := x + y
g(x) if x > 1
r := 1 if { false } else := 2 if { false } else := 3
`);
    expect(sx(m.package.path)).toBe('ref(data "a" "b")');
    expect(m.imports.map((i) => [sx(i.path), i.alias])).toEqual([['ref(rego "v1")', undefined], ['ref(data "x" "y")', 'z']]);
    const heads = m.rules.map((r) => [r.default, r.head.kind, r.head.ref.map(sx).join('.'), r.head.value && sx(r.head.value)]);
    expect(heads).toEqual([
      [true, 'single', 'allow', 'false'],
      [false, 'single', 'allow', 'true'],
      [false, 'multi', 's', undefined],
      [false, 'single', 'o.k', 'v'],
      [false, 'single', 'a."b".c', '1'],
      [false, 'function', 'f', '(plus x y)'],
      [false, 'function', 'g', 'true'],
      [false, 'single', 'r', '1'],
    ]);
    expect(rule(m, 5).head.args?.map(sx)).toEqual(['x', 'y']);
    const r = rule(m, 7);
    expect(r.else?.head.value && sx(r.else.head.value)).toBe('2');
    expect(r.else?.else?.head.value && sx(r.else.else.head.value)).toBe('3');
  });
  it('v0 forms: bodies without if, p[x] partial sets, keywords as names', () => {
    const m = v0('package t\np { true }\nq[x] { x := 1 }\nr[k] = v { k := "a"; v := 1 }\nin := 1\ncontains := 2\ns = x { x := 1 } else = 2 { true }');
    expect(m.rules.map((r) => r.head.kind)).toEqual(['single', 'multi', 'single', 'single', 'single', 'single']);
    expect(rule(m, 1).head.key && sx(rule(m, 1).head.key as Term)).toBe('x');
    expect(m.regoVersion).toBe('v0');
  });
  it('v0 with future.keywords / rego.v1 imports', () => {
    const m = v0('package t\nimport future.keywords.every\np { every x in [1] { x > 0 } }');
    expect(rule(m).body[0]?.kind).toBe('every');
    expect(v0('package t\nimport future.keywords\ns contains 1 if true').rules[0]?.head.kind).toBe('multi');
    expect(v0('package t\nimport rego.v1\np if true').regoVersion).toBe('v1');
    expect(parseError(() => v0('package t\nimport rego.v1\np { true }')).detail).toBe('`if` keyword is required before rule body');
    // Without the import, `in` is a plain name in v0.
    expect(parseError(() => v0('package t\np { x in [1] }')).detail).toMatch(/^unexpected ident token/);
  });
  it('v1 rejects v0-only forms', () => {
    expect(parseError(() => v1('package t\np { true }')).message).toBe('p.rego:2:3: rego_parse_error: `if` keyword is required before rule body');
    expect(parseError(() => v1('package t\nq[x] { x := 1 }')).detail).toBe('`if` keyword is required before rule body');
    expect(parseError(() => v1('package t\nin := 1')).detail).toBe('unexpected in token');
  });
  it('contains(…) stays a built-in call where contains is a keyword', () => {
    expect(sx(termOf(rule(v1('package t\np if contains("ab", "b")')).body[0] as Expr))).toBe('(contains "ab" "b")');
  });
});

describe('errors and locations', () => {
  it.each([
    ['package t\np := [1, 2', 'p.rego:2:11: rego_parse_error: unexpected eof token: expected , or ]'],
    ['package t\np := "abc', 'p.rego:2:6: rego_parse_error: non-terminated string'],
    ['package t\np if {}', 'p.rego:2:7: rego_parse_error: found empty body'],
    ['package t\np if { x }\nq if not not x', 'p.rego:3:10: rego_parse_error: unexpected not token'],
    ['p := 1', 'p.rego:1:1: rego_parse_error: unexpected ident token: expected package'],
    ['package t\nimport foo.bar', 'p.rego:2:1: rego_parse_error: unexpected import path, must begin with one of: {data, future, input, rego}, got: foo'],
    ['package t\np := - x', 'p.rego:2:6: rego_parse_error: unary - can only be used with numeric literals'],
    ['package t\np := 01', 'p.rego:2:6: rego_parse_error: illegal number format'],
  ])('%j', (src, want) => {
    const r = tryParseModule(src, { file: 'p.rego', regoVersion: 'v1' });
    expect(r.error?.message).toBe(want);
    expect(r.error?.toJSON().code).toBe('rego_parse_error');
  });
  it('locations are 1-based rows/cols on every node', () => {
    const r = rule(v1('package t\n\n  p := {"a": [x]} if x := 1'));
    expect(r.location).toEqual({ file: 'p.rego', row: 3, col: 3 });
    const v = r.head.value;
    expect(v?.type === 'object' && v.entries[0]?.value.location).toEqual({ file: 'p.rego', row: 3, col: 14 });
  });
  it('raw strings spanning lines keep later locations right', () => {
    const m = v1('package t\np := `a\nb`\nq := 1');
    expect(rule(m, 1).location.row).toBe(4);
  });
});

describe('nesting limit', () => {
  it(`parses moderately deep input and rejects 10 000 nested arrays with an error (limit ${MAX_NESTING_DEPTH})`, () => {
    const deep = (n: number): string => `package t\np := ${'['.repeat(n)}${']'.repeat(n)}`;
    expect(() => v1(deep(200))).not.toThrow();
    // Each array level counts twice (term + infix), so this is the deepest accepted array: no stack overflow there.
    expect(() => v1(deep(MAX_NESTING_DEPTH / 2 - 1))).not.toThrow();
    const e = parseError(() => v1(deep(10_000)));
    expect(e.detail).toBe(`maximum nesting depth (${MAX_NESTING_DEPTH}) exceeded`);
    expect(parseError(() => v1(`package t\np if ${'('.repeat(10_000)}1`)).detail).toMatch(/maximum nesting depth/);
  });
});
