import { describe, expect, it } from 'vitest';
import type { Expr, Module } from '../../../../src/policy/rego/syntax/ast.js';
import { parseModule, parseQuery } from '../../../../src/policy/rego/syntax/parser.js';
import { checkModules, formatError, type CheckOptions, type CompileError, type Program } from '../../../../src/policy/rego/check/index.js';

function mods(srcs: string[], regoVersion: 'v0' | 'v1' = 'v1'): Module[] {
  return srcs.map((src, i) => parseModule(src, { file: `m${i}.rego`, regoVersion }));
}

function errorsOf(srcs: string | string[], regoVersion: 'v0' | 'v1' = 'v1', opts: CheckOptions = {}): string[] {
  const r = checkModules(mods(Array.isArray(srcs) ? srcs : [srcs], regoVersion), opts);
  return r.ok ? [] : r.errors.map(formatError);
}

function program(srcs: string | string[], regoVersion: 'v0' | 'v1' = 'v1', opts: CheckOptions = {}): Program {
  const r = checkModules(mods(Array.isArray(srcs) ? srcs : [srcs], regoVersion), opts);
  if (!r.ok) throw new Error(r.errors.map(formatError).join('\n'));
  return r.program;
}

/** Compact text of an expression for asserting order/resolution. */
function show(e: Expr): string {
  return JSON.stringify(e, (k, v: unknown) => (k === 'location' || k === 'generated' ? undefined : v));
}

describe('error format', () => {
  it('prints file:row:col: code: message', () => {
    const e: CompileError = { code: 'rego_unsafe_var_error', message: 'var x is unsafe', location: { file: 'a.rego', row: 3, col: 7 } };
    expect(formatError(e)).toBe('a.rego:3:7: rego_unsafe_var_error: var x is unsafe');
  });
});

describe('ref resolution and grouping', () => {
  it('resolves rule names, imports and aliases to absolute refs', () => {
    const p = program([
      'package a.b\nimport data.lib.util\nimport input.request as req\nallow if { util.ok; req.method == "GET"; q }\nq := true',
      'package lib.util\nok := true',
    ]);
    const allow = p.byPath.get('data.a.b.allow');
    expect(allow?.kind).toBe('complete');
    const body = (allow?.rules[0]?.body ?? []).map(show).join('\n');
    expect(body).toContain('{"type":"var","name":"data"},{"type":"string","value":"lib"},{"type":"string","value":"util"},{"type":"string","value":"ok"}');
    expect(body).toContain('{"type":"var","name":"input"},{"type":"string","value":"request"},{"type":"string","value":"method"}');
    expect(body).toContain('{"type":"string","value":"b"},{"type":"string","value":"q"}');
    expect(p.byPath.get('data.lib.util.ok')?.kind).toBe('complete');
  });

  it('resolves user function calls and groups rule kinds', () => {
    const p = program('package t\nf(x) := x + 1\nf(x) := 2 if x > 10\ns contains 1\no[k] := 1 if some k in ["a"]\ndefault d := false\nd if f(1) == 2');
    expect(p.byPath.get('data.t.f')).toMatchObject({ kind: 'function', arity: 1 });
    expect(p.byPath.get('data.t.f')?.rules).toHaveLength(2);
    expect(p.byPath.get('data.t.s')?.kind).toBe('partial-set');
    expect(p.byPath.get('data.t.o')?.kind).toBe('partial-object');
    const d = p.byPath.get('data.t.d');
    expect(d?.default?.default).toBe(true);
    expect(d?.rules).toHaveLength(1);
    expect(show(d?.rules[0]?.body[0] as Expr)).toContain('"name":"data.t.f"');
  });

  it('leaves local vars that shadow rule names alone', () => {
    const p = program('package t\nq := 1\nr if { q := 2; q == 2 }');
    expect(show(p.byPath.get('data.t.r')?.rules[0]?.body[0] as Expr)).toContain('"lhs":{"type":"var","name":"q"}');
  });

  it('does not resolve operators to rules of the same name', () => {
    expect(errorsOf('package t\nlt := 1 < 2\nplus := 1 + 2', 'v1')).toEqual([]);
  });

  it('checks and resolves a query', () => {
    const p = program('package t\np := 1', 'v1', { query: parseQuery('x = data.t.p') });
    expect(p.query).toHaveLength(1);
    expect(errorsOf('package t\np := 1', 'v1', { query: parseQuery('x > data.t.p') })).toEqual([':1:1: rego_unsafe_var_error: var x is unsafe']);
  });
});

describe('safety', () => {
  it('reports a var bound nowhere', () => {
    expect(errorsOf('package t\np if { x > 1 }')).toEqual(['m0.rego:2:8: rego_unsafe_var_error: var x is unsafe']);
  });

  it('reports unsafe head vars', () => {
    expect(errorsOf('package t\np := y if { true }')).toEqual(['m0.rego:2:6: rego_unsafe_var_error: var y is unsafe']);
    expect(errorsOf('package t\ns contains x if { input.a == 1 }')).toEqual(['m0.rego:2:12: rego_unsafe_var_error: var x is unsafe']);
  });

  it('reorders the body so bindings come before use (OPA reorderBodyForSafety)', () => {
    const p = program('package t\np if { x > 1; y = x + 1; x = input.n }');
    const body = p.byPath.get('data.t.p')?.rules[0]?.body ?? [];
    expect(body.map((e) => e.location.col)).toEqual([26, 8, 15]);
  });

  it('treats ref iteration, some-in, function outputs and unification as binding', () => {
    expect(errorsOf('package t\np if { input.xs[i] > 0; i < 3 }')).toEqual([]);
    expect(errorsOf('package t\np if { some k, v in input.o; k != v }')).toEqual([]);
    expect(errorsOf('package t\np if { count(input.xs, n); n > 1 }')).toEqual([]);
    expect(errorsOf('package t\np if { [a, {"b": b}] = [1, {"b": 2}]; a < b }')).toEqual([]);
    expect(errorsOf('package t\nf(x) := y if { y := x * 2 }')).toEqual([]);
  });

  it('requires the vars of a negated expression to be bound elsewhere', () => {
    expect(errorsOf('package t\np if { not x == 1 }')).toEqual(['m0.rego:2:12: rego_unsafe_var_error: var x is unsafe']);
    expect(errorsOf('package t\np if { not input.xs[_] == 1 }')).toEqual([]);
    expect(errorsOf('package t\np if { not x == 1; x = 2 }')).toEqual([]);
    // with `:=` OPA rejects the earlier use instead
    expect(errorsOf('package t\np if { not x == 1; x := 2 }')).toEqual(['m0.rego:2:20: rego_compile_error: var x referenced above']);
  });

  it('gives comprehensions their own scope that sees outer bindings', () => {
    expect(errorsOf('package t\np := [x | x := input.xs[_]]')).toEqual([]);
    expect(errorsOf('package t\np := [x | y > 1]')).toEqual([
      'm0.rego:2:7: rego_unsafe_var_error: var x is unsafe',
      'm0.rego:2:11: rego_unsafe_var_error: var y is unsafe',
    ]);
    expect(errorsOf('package t\np if { n := 2; c := [x | x := input.xs[_]; x > n]; count(c) > 0 }')).toEqual([]);
    // the outer var must be bound before the comprehension runs
    expect(errorsOf('package t\np if { c := [x | x := input.xs[_]; x > n]; n := 2; c == [] }')).toEqual([]);
  });

  it('checks every bodies with the domain vars bound', () => {
    expect(errorsOf('package t\np if { every x in input.xs { x > 0 } }')).toEqual([]);
    expect(errorsOf('package t\np if { every x in input.xs { x > z } }')).toEqual(['m0.rego:2:34: rego_unsafe_var_error: var z is unsafe']);
  });
});

describe('functions', () => {
  it('reports unknown functions', () => {
    expect(errorsOf('package t\np if { nope(1) }')).toEqual(['m0.rego:2:8: rego_type_error: undefined function nope']);
    expect(errorsOf('package t\np if { data.lib.f(1) }')).toEqual(['m0.rego:2:8: rego_type_error: undefined function data.lib.f']);
  });

  it('reports arity errors for built-ins and user functions', () => {
    expect(errorsOf('package t\np if { count(1, 2, 3) }')).toEqual(['m0.rego:2:8: rego_type_error: count: too many arguments']);
    expect(errorsOf('package t\np if { x := count(1, 2) }')).toEqual(['m0.rego:2:13: rego_type_error: count: too many arguments']);
    expect(errorsOf('package t\np if { startswith("a") }')).toEqual(['m0.rego:2:8: rego_type_error: startswith: too few arguments']);
    expect(errorsOf('package t\nf(a, b) := a + b\np if { f(1) }')).toEqual(['m0.rego:3:8: rego_type_error: data.t.f: too few arguments']);
    expect(errorsOf('package t\nf(a, b) := a + b\np if { f(1, 2, x); x > 0 }')).toEqual([]);
  });

  it('knows deprecated built-ins only in v0', () => {
    expect(errorsOf('package t\np { re_match("a", "a") }', 'v0')).toEqual([]);
    expect(errorsOf('package t\np if { re_match("a", "a") }')).toEqual(['m0.rego:2:8: rego_type_error: undefined function re_match']);
  });
});

describe('recursion', () => {
  it('reports cycles between rules with the path', () => {
    expect(errorsOf('package x\np if q\nq if p')).toEqual(['m0.rego:2:1: rego_recursion_error: rule data.x.p is recursive: data.x.p -> data.x.q -> data.x.p']);
  });

  it('reports self-recursive functions and refs to the enclosing package', () => {
    expect(errorsOf('package x\nf(n) := f(n - 1)')).toEqual(['m0.rego:2:1: rego_recursion_error: rule data.x.f is recursive: data.x.f -> data.x.f']);
    expect(errorsOf('package x\np := count(data.x)')).toEqual(['m0.rego:2:1: rego_recursion_error: rule data.x.p is recursive: data.x.p -> data.x.p']);
  });

  it('accepts refs that cannot reach the rule', () => {
    expect(errorsOf('package x\np := data[2]\nq := data.y.z')).toEqual([]);
  });
});

describe('rule conflicts and defaults', () => {
  it('reports rules of different kinds at one path', () => {
    expect(errorsOf('package t\np := 1\np contains 2')).toEqual(['m0.rego:3:1: rego_type_error: conflicting rules data.t.p found']);
    expect(errorsOf('package t\nf(x) := 1\nf(x, y) := 2')).toEqual(['m0.rego:3:1: rego_type_error: conflicting rules data.t.f found']);
  });

  it('reports multiple defaults and non-ground default values', () => {
    expect(errorsOf('package t\ndefault p := 1\ndefault p := 2')).toEqual(['m0.rego:3:1: rego_type_error: multiple default rules data.t.p found']);
    expect(errorsOf('package t\ndefault p := x')).toContain('m0.rego:2:1: rego_parse_error: illegal default rule (value cannot contain var)');
    expect(errorsOf('package t\ndefault p := [x | x := 1]')).toEqual([]);
  });

  it('reports a complete rule with rules below it', () => {
    expect(errorsOf('package t\np := 1\np.q := 2')).toEqual(['m0.rego:2:1: rego_type_error: rule data.t.p conflicts with [data.t.p.q]']);
  });
});

describe('assignments', () => {
  it('reports := twice and := after use', () => {
    expect(errorsOf('package t\np if { x := 1; x := 2 }')).toEqual(['m0.rego:2:16: rego_compile_error: var x assigned above']);
    expect(errorsOf('package t\np if { x = 1; x := 2 }')).toEqual(['m0.rego:2:15: rego_compile_error: var x referenced above']);
    expect(errorsOf('package t\nf(x) := y if { x := 1; y := 2 }')).toEqual(['m0.rego:2:16: rego_compile_error: var x assigned above']);
  });

  it('reports := to a ref', () => {
    expect(errorsOf('package t\np if { input.x := 1 }')).toEqual(['m0.rego:2:8: rego_compile_error: cannot assign to ref']);
  });

  it('forbids shadowing input/data in v1 only', () => {
    expect(errorsOf('package t\np if { input := 1; input > 0 }')).toEqual(['m0.rego:2:8: rego_compile_error: variables must not shadow input (use a different variable name)']);
    expect(errorsOf('package t\np { input := 1; input > 0 }', 'v0')).toEqual([]);
    expect(errorsOf('package t\ndata := 1')).toEqual(['m0.rego:2:1: rego_compile_error: rules must not shadow data (use a different rule name)']);
  });
});

describe('imports', () => {
  it('rejects two imports bound to the same name in v1 (OPA strict mode) only', () => {
    expect(errorsOf('package t\nimport data.a.x\nimport data.b.x\np := x.y')).toEqual(['m0.rego:3:1: rego_compile_error: import must not shadow import x']);
    expect(errorsOf('package t\nimport data.a.x\nimport data.b.x\np := x.y', 'v0')).toEqual([]);
  });
});

describe('a realistic v1 policy', () => {
  it('checks cleanly and keeps else chains and ref heads', () => {
    const src = `package gateway.authz

import rego.v1
import data.gateway.tiers as tiers

default allow := false

allow if {
  not denied
  tier := tiers[input.tenant.tier]
  input.amount <= tier.max_amount
  every s in input.route.scopes { s in input.token.scopes }
}

denied if { some ip in input.blocked; ip == input.client_ip }

risk := "high" if {
  input.amount > 1000
} else := "medium" if {
  input.amount > 100
} else := "low"

reasons contains msg if {
  some i, s in input.route.scopes
  not s in input.token.scopes
  msg := sprintf("missing scope %s (%d)", [s, i])
}

limits[name] := v if {
  some name, t in tiers
  v := object.get(t, "max_amount", 0)
}

headers.out.risk := risk
`;
    const p = program([src, 'package gateway.tiers\nfree := {"max_amount": 10}\npro := {"max_amount": 1000}']);
    expect(p.groups.map((g) => `${g.path}:${g.kind}`)).toEqual([
      'data.gateway.authz.allow:complete',
      'data.gateway.authz.denied:complete',
      'data.gateway.authz.risk:complete',
      'data.gateway.authz.reasons:partial-set',
      'data.gateway.authz.limits:partial-object',
      'data.gateway.authz.headers.out.risk:complete',
      'data.gateway.tiers.free:complete',
      'data.gateway.tiers.pro:complete',
    ]);
    expect(p.byPath.get('data.gateway.authz.risk')?.rules[0]?.else?.else).toBeDefined();
    // `tiers` resolved through the import alias, `denied` to its rule
    const allowBody = (p.byPath.get('data.gateway.authz.allow')?.rules[0]?.body ?? []).map(show).join('\n');
    expect(allowBody).toContain('{"type":"string","value":"tiers"},{"type":"ref"');
    expect(allowBody).toContain('{"type":"string","value":"authz"},{"type":"string","value":"denied"}');
  });
});
