/**
 * `|` inside `[…]` / `{…}`: comprehension separator or set union (`or`)? As OPA's parseArray / parseSetOrObject:
 * the first item is read as a single term; if `|` follows, a comprehension body is tried up to the closing bracket
 * (OPA prefers comprehensions: a term is a valid body); if that fails at a `,` the collection is re-read with `|` as
 * union. A first item with an infix operator before `|` is never a comprehension head. Cases from the regorus
 * conformance files compr/tricky.yaml, compr/array-vs-compr-tricky.yaml and snippets/snippets.yaml (snippet1).
 */
import { describe, expect, it } from 'vitest';
import type { Expr, Module, Rule, Term } from '../../../../src/policy/rego/syntax/ast.js';
import { RegoParseError } from '../../../../src/policy/rego/syntax/errors.js';
import { parseModule } from '../../../../src/policy/rego/syntax/parser.js';

const v1 = (src: string): Module => parseModule(src, { file: 'p.rego', regoVersion: 'v1' });
const v0 = (src: string): Module => parseModule(src, { file: 'p.rego', regoVersion: 'v0' });

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
    case 'arraycompr': return `[${sx(t.term)} | ${t.body.map(ex).join('; ')}]`;
    case 'setcompr': return `{${sx(t.term)} | ${t.body.map(ex).join('; ')}}`;
    case 'objectcompr': return `{${sx(t.key)}:${sx(t.value)} | ${t.body.map(ex).join('; ')}}`;
  }
}
function ex(e: Expr): string {
  switch (e.kind) {
    case 'term': return sx(e.term);
    case 'call': return sx(e.call);
    case 'unify': return `${sx(e.lhs)} = ${sx(e.rhs)}`;
    case 'assign': return `${sx(e.lhs)} := ${sx(e.rhs)}`;
    default: return e.kind;
  }
}
/** name → S-expression of each rule's value (and of its body when it is not the generated `true`). */
function shapes(m: Module): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of m.rules as Rule[]) {
    const body = r.body.length === 1 && r.body[0]?.generated ? '' : ` if ${r.body.map(ex).join('; ')}`;
    out[r.head.name] = `${r.head.value ? sx(r.head.value) : '?'}${body}`;
  }
  return out;
}
const value = (src: string): string => Object.values(shapes(v1(`package p\nx := ${src}`)))[0] as string;

describe('| in collections: the general rule', () => {
  it.each([
    ['[x | x := 1]', '[x | x := 1]'],
    ['[1 | 2]', '[1 | 2]'], // a term is a valid body: comprehension, as OPA
    ['{a | b}', '{a | b}'],
    ['{1: 2 | 3}', '{1:2 | 3}'],
    ['[x | y, 5]', '[(or x y) 5]'], // body fails at `,`: array with union
    ['{x | y, 5}', 'set((or x y) 5)'],
    ['[a & b | c]', '[(or (and a b) c)]'], // head is not a single term: never a comprehension
    ['[(a & b) | c]', '[(and a b) | c]'],
    ['{a - b | c}', 'set((or (minus a b) c))'],
    ['{(a | b)}', 'set((or a b))'],
    ['{a + 1: b}', '{(plus a 1):b}'],
    ['{k: v | w, 1: 2}', '{k:(or v w) 1:2}'], // object value: falls back to union whatever stopped the body
    ['{k: v | w}', '{k:v | w}'],
    ['[, a | b]', '[(or a b)]'], // leading comma (OPA back-compat): never a comprehension
    ['{, a | b}', 'set((or a b))'],
    ['[a.b[0] | c]', '[ref(a "b" 0) | c]'],
  ])('%s', (src, want) => {
    expect(value(src)).toBe(want);
  });

  it('a failed comprehension body not stopped at `,` is an error (no silent fallback)', () => {
    expect(() => v1('package p\nx := [a | b c]')).toThrow(RegoParseError);
    expect(() => v1('package p\nx := {a | b c}')).toThrow(RegoParseError);
  });
});

describe('regorus compr/array-vs-compr-tricky.yaml', () => {
  const z = (src: string): string => shapes(v0(`package test\nimport future.keywords.in\nx = {1}\ny = {2}\n${src}`))['z'] as string;
  it.each([
    ['z = [ x | y ] #, 5] # in {5}, 6]', '[x | y]'],
    ['z = [ x | y, 5] # in {5}, 6]', '[(or x y) 5]'],
    ['z = [ x | y, 5 in {5}] #, 6]', '[x | (internal.member_3 y 5 set(5))]'],
    ['z = [ x | y, 5 in {5}, 6]', '[(or x y) (internal.member_2 5 set(5)) 6]'],
    ['z = [ x - {10} | y, 5 in {5}] #, 6]', '[(or (minus x set(10)) y) (internal.member_2 5 set(5))]'],
    ['z = [ (x - {10}) | y, 5 in {5}] #, 6]', '[(minus x set(10)) | (internal.member_3 y 5 set(5))]'],
  ])('%s', (src, want) => {
    expect(z(src)).toBe(want);
  });
});

describe('regorus compr/tricky.yaml', () => {
  it('treat { 1 | 1 } as comprehension', () => {
    const m = v1(`package test
import rego.v1

x if { 1 | 1 }
y := { 1 | 1 }
z := { (1) | 1}

# Parsed as a set
a := { ({1} | {2}) }

b := v if { { 1 | 1 } = v } 
`);
    expect(shapes(m)).toEqual({
      x: 'true if {1 | 1}',
      y: '{1 | 1}',
      z: '{1 | 1}',
      a: 'set((or set(1) set(2)))',
      b: 'v if {1 | 1} = v',
    });
  });

  it('rule body is object comprehension', () => {
    const m = v0(`package test
import future.keywords
x if { 1:2 | some p in [1,2] }
y := 2 if { 1:2 | some p in [1,2] }
`);
    expect(shapes(m)).toEqual({ x: 'true if {1:2 | some-in}', y: '2 if {1:2 | some-in}' });
  });

  it('`if { … }` whose literal reading is a set literal is a body', () => {
    expect(shapes(v1('package p\nx if { input.a == 1 }'))['x']).toBe('true if (equal ref(input "a") 1)');
    expect(shapes(v1('package p\nx if { a }'))['x']).toBe('true if a');
    expect(shapes(v1('package p\nx if { a | b }'))['x']).toBe('true if {a | b}');
    expect(shapes(v0('package p\nx { a | b }'))['x']).toBe('true if (or a b)'); // v0 brace body: always a body
  });
});

describe('regorus snippets/snippets.yaml snippet1', () => {
  it('parses | as OPA does', () => {
    const m = v0(`package test

a := [ 1 | {3} ]

q:= {4}

e1 := q & {1} | {true}
e2 := (q & {1}) | {true}

e3 := [ q & {1} | {true}  ]
e4 := [ (q & {1}) | {true}  ]
`);
    expect(shapes(m)).toEqual({
      a: '[1 | set(3)]',
      q: 'set(4)',
      e1: '(or (and q set(1)) set(true))',
      e2: '(or (and q set(1)) set(true))',
      e3: '[(or (and q set(1)) set(true))]',
      e4: '[(and q set(1)) | set(true)]',
    });
  });
});

describe('v0 without future keywords: `if` is an identifier', () => {
  // OPA v0 (Parser.Parse): `result = true` is not followed by a body, so it is a statement of its own (a rule with
  // a generated body), and `if { … }` is the next statement: a rule named `if`. OPA only rejects the name under the
  // v1 checks ("if keyword cannot be used for rule name", opa check --strict / rego.v1), not in plain v0.
  it('`result = true if { … }` is two rules, `result = true` and `if { … }`', () => {
    const m = v0('package p\nresult = true if {\n  input.x\n}\n');
    expect(m.rules.map((r) => r.head.name)).toEqual(['result', 'if']);
    expect(shapes(m)).toEqual({ result: 'true', if: 'true if ref(input "x")' });
  });
  it('`allow if { … }` in v0 splits the same way (not as a rule `allow` with an `if` body)', () => {
    const m = v0('package p\nallow if { input.x }');
    expect(m.rules.map((r) => r.head.name)).toEqual(['allow', 'if']);
    expect(m.rules[0]?.body[0]?.generated).toBe(true);
  });
  it('with the import (or in v1) `if` is the keyword', () => {
    expect(shapes(v0('package p\nimport future.keywords.if\nresult = true if { input.x }'))).toEqual({ result: 'true if ref(input "x")' });
    expect(shapes(v1('package p\nresult := true if { input.x }'))).toEqual({ result: 'true if ref(input "x")' });
    expect(() => v1('package p\nif := 1')).toThrow(RegoParseError);
  });
});
