// The spike policy of src/policy/runtime/assembly/example-policy.ts, generated with the
// instruction encoder (src/policy/wasm/emit.ts) the way the code generator will, for linking
// onto runtime.wasm. Equivalent Rego:
//
//   package example
//   default allow := false
//   allow if input.user == "alice"
//   allow if { some u in data.admins; u == input.user }
//   echo := input
//   set := {x | some x in input}
//   greeting := sprintf("hello %s", [input.user])      # host built-in via env.opa_builtin2

import { fn, type Code, type GeneratedFunction } from '../../../src/policy/wasm/emit.js';
import type { Constant, LinkInput } from '../../../src/policy/wasm/link.js';

const T_ARRAY = 5;
const T_OBJECT = 6;

export function examplePolicyInput(): LinkInput {
  const constants: Constant[] = [];
  const konst = (c: Constant): number => constants.push(c) - 1;
  const K_USER = konst('user');
  const K_ADMINS = konst('admins');
  const C_ALICE = konst('alice');
  const C_HELLO_FMT = konst('hello %s');
  const C_FALSE = konst(false);
  const MSG_BAD_EP = konst({ cstring: 'invalid entrypoint id' });
  const builtins = ['sprintf'];
  const BUILTIN_SPRINTF = builtins.indexOf('sprintf');

  const INPUT = 0;
  const DATA = 1;

  /** x = (t == object) ? tg_object_value_at(coll, i) : tg_elem(coll, i) — leaves x on the stack. */
  const elemOrValue = (c: Code, coll: number, t: number, i: number): Code => c
    .local_get(t).i32_const(T_OBJECT).i32_eq()
    .if_('i32').local_get(coll).local_get(i).call('tg_object_value_at')
    .else_().local_get(coll).local_get(i).call('tg_elem')
    .end();

  const allow = fn('rule_allow', ['i32', 'i32'], ['i32'], ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], (c) => {
    const admins = 2, t = 3, n = 4, i = 5, x = 6, u = 7;
    // allow if input.user == "alice"   (failure of an expression = br out of the body block)
    c.block()
      .local_get(INPUT).constAddr(K_USER).call('tg_get').local_tee(u).i32_eqz().br_if(0)
      .local_get(u).constAddr(C_ALICE).call('tg_compare').br_if(0)
      .i32_const(1).call('tg_bool').return_()
      .end();
    // allow if { some u in data.admins; u == input.user }
    c.block()
      .local_get(DATA).constAddr(K_ADMINS).call('tg_get').local_tee(admins).call('tg_type').local_set(t)
      .local_get(t).i32_const(T_ARRAY).i32_lt_u().br_if(0) // not a collection (or undefined)
      .local_get(admins).call('tg_len').local_set(n)
      .i32_const(0).local_set(i)
      .block()
      .loop()
      .local_get(i).local_get(n).i32_ge_u().br_if(1);
    elemOrValue(c, admins, t, i).local_set(x);
    c.block() // one iteration; failure → next element
      .local_get(INPUT).constAddr(K_USER).call('tg_get').local_tee(u).i32_eqz().br_if(0)
      .local_get(x).local_get(u).call('tg_compare').br_if(0)
      .i32_const(1).call('tg_bool').return_()
      .end()
      .local_get(i).i32_const(1).i32_add().local_set(i)
      .br(0)
      .end() // loop
      .end() // block
      .end();
    // default allow := false
    c.constAddr(C_FALSE);
  });

  const echo = fn('rule_echo', ['i32', 'i32'], ['i32'], [], (c) => c.local_get(INPUT));

  const set = fn('rule_set', ['i32', 'i32'], ['i32'], ['i32', 'i32', 'i32', 'i32'], (c) => {
    const s = 2, t = 3, n = 4, i = 5;
    c.i32_const(0).call('tg_set').local_set(s)
      .local_get(INPUT).call('tg_type').local_set(t)
      .block()
      .local_get(t).i32_const(T_ARRAY).i32_lt_u().br_if(0)
      .local_get(INPUT).call('tg_len').local_set(n)
      .i32_const(0).local_set(i)
      .loop()
      .local_get(i).local_get(n).i32_ge_u().br_if(1)
      .local_get(s);
    elemOrValue(c, INPUT, t, i).call('tg_set_add')
      .local_get(i).i32_const(1).i32_add().local_set(i)
      .br(0)
      .end()
      .end()
      .local_get(s);
  });

  const greeting = fn('rule_greeting', ['i32', 'i32'], ['i32'], ['i32', 'i32'], (c) => {
    const u = 2, args = 3;
    c.local_get(INPUT).constAddr(K_USER).call('tg_get').local_tee(u).i32_eqz()
      .if_().i32_const(0).return_().end()
      .i32_const(1).call('tg_array').local_tee(args).local_get(u).call('tg_array_push')
      .i32_const(BUILTIN_SPRINTF).i32_const(0).constAddr(C_HELLO_FMT).local_get(args).call('opa_builtin2');
  });

  const rules: GeneratedFunction[] = [allow, echo, set, greeting];
  const dispatch = fn('dispatch', ['i32', 'i32', 'i32'], ['i32'], [], (c) => {
    for (let k = 0; k <= rules.length; k++) c.block();
    c.local_get(0).br_table(rules.map((_, k) => k), rules.length).end();
    for (const r of rules) c.local_get(1).local_get(2).call(r.name).return_().end();
    c.constAddr(MSG_BAD_EP).call('opa_abort').unreachable();
  });

  return {
    functions: [...rules, dispatch],
    constants,
    entrypoints: ['example/allow', 'example/echo', 'example/set', 'example/greeting'],
    builtins,
  };
}
