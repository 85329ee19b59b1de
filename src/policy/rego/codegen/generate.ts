/**
 * First code generator: checked Rego program (check/index.ts `Program`) → generated functions + constants for
 * `linkPolicy` (src/policy/wasm/DESIGN.md §3). Core subset only; anything else throws {@link UnsupportedError}
 * naming the construct (never a silently different result).
 *
 * Evaluation is compiled in continuation-passing style onto wasm structured control flow: every term/expression
 * generator takes a continuation `k` that emits the code for "the rest of the body", so iteration (`xs[i]`,
 * `some x in xs`) becomes a loop whose per-iteration block contains the continuation, and failure is a `br` to the
 * innermost failure label (the current iteration's block, or the end of the body).
 */
import type { Body, Expr, Location, RefTerm, Rule, Term } from '../syntax/ast.js';
import type { Program, RuleGroup } from '../check/index.js';
import { builtinArity } from '../check/builtins.js';
import { Code, type GeneratedFunction } from '../../wasm/emit.js';
import type { Constant, ConstValue, LinkInput } from '../../wasm/link.js';
import { HOST_CATALOGUE, hostImportName, PRINT_BUILTIN, type OperandType } from '../../host/index.js';

export const REGO_UNSUPPORTED_ERROR = 'rego_unsupported_error';

export class UnsupportedError extends Error {
  constructor(readonly construct: string, readonly location: Location | undefined) {
    super(`unsupported: ${construct}`);
  }
}

const T_ARRAY = 5;
const T_SET = 7;
const T_OBJECT = 6;
const INPUT = 0;
const DATA = 1;

const COMPARE: Record<string, 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'> = {
  equal: 'eq', neq: 'ne', lt: 'lt', lte: 'le', gt: 'gt', gte: 'ge',
};

/** Type bits for operand checks: 1 << tag (null 1 … set 7, DESIGN.md §2). */
const TY = { null: 1 << 1, boolean: 1 << 2, number: 1 << 3, string: 1 << 4, array: 1 << 5, object: 1 << 6, set: 1 << 7 } as const;
const ANY = 0xfe;
const TYPE_NAMES = ['', 'null', 'boolean', 'number', 'string', 'array', 'object', 'set'];
const { number: N, string: S, array: A, object: O, set: ST } = TY;

/**
 * In-module built-ins of runtime.wasm (`tg_bi_<name>`, src/policy/runtime/assembly/builtins/README.md): OPA name →
 * the allowed top-level types of each operand. A result 0 from the runtime (wrong operand types, invalid values)
 * is undefined, as OPA's non-strict built-in errors are; built-ins in {@link RAISES_TYPE_ERRORS} abort with
 * `eval_type_error` on an operand of another type instead. Built-ins not listed here are refused at compile time.
 */
/**
 * Built-ins whose operand type errors OPA's evaluator raises even without strict built-in errors (OPA's
 * compliance cases for `format_int`, `array.concat`, `object.remove`/`union`/`filter` and the `cast_*` built-ins
 * expect `eval_type_error` in non-strict mode, while e.g. `strings.any_prefix_match` or `count` make the call
 * undefined).
 */
/**
 * Built-ins @open-policy-agent/opa-wasm implements on the host (called through `env.opa_builtinN`; a bare
 * `loadPolicy()` supplies them): name → number of inputs. Not `sprintf`: the SDK's sprintf-js differs from Go's
 * fmt (`%f` of an integer, `%[1]v` argument indexes), so it stays refused until tollgate's loader supplies its own.
 */
const HOST_BUILTINS: Record<string, number> = { 'json.is_valid': 1 };
/** Operand types of {@link HOST_BUILTINS}, checked with strict built-in errors. */
const SDK_HOST_SIGS: Record<string, number[]> = { 'json.is_valid': [TY.string] };

/** Operand type bits of tollgate's host built-ins (src/policy/host/), from their catalogue entries. */
const HOST_SIGS: Record<string, number[]> = Object.fromEntries(Object.entries(HOST_CATALOGUE).map(([name, b]) => [
  name, b.args.map((alts) => alts.reduce((m, t: OperandType) => m | (t === 'any' ? ANY : TY[t]), 0)),
]));

const RAISES_TYPE_ERRORS = new Set(['format_int', 'array.concat', 'object.remove', 'object.union', 'object.filter',
  'cast_null', 'cast_boolean', 'cast_string', 'cast_object', 'cast_array', 'cast_set']);

const BUILTINS: Record<string, number[]> = {
  count: [S | A | O | ST], sum: [A | ST], product: [A | ST], max: [A | ST], min: [A | ST], sort: [A | ST],
  abs: [N], round: [N], ceil: [N], floor: [N],
  plus: [N, N], minus: [N | ST, N | ST], mul: [N, N], div: [N, N], rem: [N, N], or: [ST, ST], and: [ST, ST],
  'numbers.range': [N, N], union: [ST], intersection: [ST],
  concat: [S, A | ST], contains: [S, S], startswith: [S, S], endswith: [S, S], lower: [S], upper: [S], split: [S, S],
  replace: [S, S, S], 'strings.replace_n': [O, S], trim: [S, S], trim_left: [S, S], trim_right: [S, S],
  trim_prefix: [S, S], trim_suffix: [S, S], trim_space: [S], indexof: [S, S], substring: [S, N, N],
  format_int: [N, N], to_number: [TY.null | TY.boolean | N | S],
  'array.concat': [A, A], 'array.slice': [A, N, N], 'object.get': [O, ANY, ANY], 'object.keys': [O],
  'object.remove': [O, A | ST | O], 'object.filter': [O, A | ST | O], 'object.union': [O, O],
  is_null: [ANY], is_boolean: [ANY], is_number: [ANY], is_string: [ANY], is_array: [ANY], is_object: [ANY], is_set: [ANY],
  type_name: [ANY],
  'base64.encode': [S], 'base64.decode': [S], 'base64url.encode': [S], 'base64url.encode_no_pad': [S],
  'base64url.decode': [S], 'json.marshal': [ANY], 'json.unmarshal': [S], 'units.parse_bytes': [S],
  'semver.compare': [S, S], walk: [ANY], 'object.subset': [O | A | ST, O | A | ST],
  // v0-only deprecated built-ins, generated inline from the runtime's helpers (see FnGen.inlineBuiltin)
  set_diff: [ST, ST], cast_null: [TY.null], cast_boolean: [TY.boolean], cast_string: [S], cast_object: [O],
  cast_array: [A | ST], cast_set: [A | ST], all: [A | ST], any: [A | ST],
  'strings.any_prefix_match': [S | A | ST, S | A | ST], 'strings.any_suffix_match': [S | A | ST, S | A | ST],
};

/** Operand type lists in the order OPA's error messages name them, where it is not the type order. */
const OPERAND_ORDER: Record<string, string[]> = {
  'strings.any_prefix_match': ['string', 'set', 'array'], 'strings.any_suffix_match': ['string', 'set', 'array'],
};

const MSG_RULE_CONFLICT = 'eval_conflict_error: complete rules must not produce multiple outputs';
const MSG_FN_CONFLICT = 'eval_conflict_error: functions must not produce multiple outputs for same inputs';
const MSG_OBJ_CONFLICT = 'eval_conflict_error: object keys must be unique';

type K = () => void;
/**
 * A `with` replacement of a function or built-in: a constant result, another function/built-in (by name), or a
 * value computed where the `with` is, which reaches the (possibly indirect) calls through a memory cell (a `with`
 * site cannot be re-entered while its value is in use: Rego has no recursion).
 */
type Mock = { value: ConstValue } | { fn: string } | { cell: number };
/** Active replacements, keyed by the replaced function's name (`data.p.f`, `count`, `http.send`). */
type Mocks = ReadonlyMap<string, Mock>;
const NO_MOCKS: Mocks = new Map();
function mocksKey(m: Mocks): string {
  if (m.size === 0) return '';
  return JSON.stringify([...m].sort((a, b) => (a[0] < b[0] ? -1 : 1)), (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}
type KV = (local: number) => void;

/** Compile-time value of a ground term, or undefined when it is not ground. */
function constOf(t: Term): ConstValue | undefined {
  switch (t.type) {
    case 'null': return null;
    case 'boolean': return t.value;
    case 'string': return t.value;
    case 'number': return numberConst(t.text);
    case 'array': {
      const items = t.items.map(constOf);
      return items.every((x) => x !== undefined) ? { array: items as ConstValue[] } : undefined;
    }
    case 'set': {
      const items = t.items.map(constOf);
      return items.every((x) => x !== undefined) ? { set: items as ConstValue[] } : undefined;
    }
    case 'object': {
      const pairs: [ConstValue, ConstValue][] = [];
      for (const e of t.entries) {
        const k = constOf(e.key);
        const v = constOf(e.value);
        if (k === undefined || v === undefined) return undefined;
        pairs.push([k, v]);
      }
      return { object: pairs };
    }
    default: return undefined;
  }
}

function numberConst(text: string): ConstValue {
  if (/^-?\d+$/.test(text)) {
    const v = BigInt(text);
    // the runtime's integers are i64; a wider literal keeps its digits (printed exactly, a double in arithmetic)
    if (v < -(1n << 63n) || v >= 1n << 63n) {
      if (!Number.isFinite(Number(text))) throw new UnsupportedError(`integer literal ${text} (out of float range)`, undefined);
      return { raw: text };
    }
    return v;
  }
  const n = Number(text);
  if (!Number.isFinite(n)) throw new UnsupportedError(`number literal ${text} (out of float range)`, undefined);
  return n;
}

export interface GenerateResult extends LinkInput {}

/** Generates the link input for `entrypoints` (slash paths such as `test/p`); `packages`: dotted package paths (`data.a.b`). */
export function generate(program: Program, entrypoints: string[], packages: string[] = [], opts: { strictBuiltinErrors?: boolean } = {}): GenerateResult {
  return new Generator(program, packages, opts.strictBuiltinErrors ?? false).run(entrypoints);
}

class Generator {
  readonly constants: Constant[] = [];
  /** Host built-ins called, in first-use order (their ids). */
  readonly hostBuiltins: string[] = [];
  private readonly constIndex = new Map<string, number>();
  private readonly ruleFns = new Map<string, string>();
  private readonly queue: [RuleGroup | string, Mocks, string][] = [];
  private readonly treeFns = new Map<string, string>();
  private readonly functions: GeneratedFunction[] = [];
  /** Sorted group paths, to detect refs to virtual-document prefixes. */
  private readonly groupPaths: string[];

  /**
   * OPA's strict built-in errors, partly: operand type errors of every built-in abort with `eval_type_error`
   * (other built-in errors stay undefined: the runtime does not say which error it met).
   */
  constructor(readonly program: Program, readonly packages: string[], readonly strict = false) {
    this.groupPaths = program.groups.map((g) => g.path);
  }

  private cells = 0;
  /** A fresh name for a writable cell constant. */
  nextCell(): number { return this.cells++; }

  konst(c: Constant): number {
    const key = JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) + (typeof c === 'number' ? 'f' : '');
    let i = this.constIndex.get(key);
    if (i === undefined) {
      i = this.constants.push(c) - 1;
      this.constIndex.set(key, i);
    }
    return i;
  }

  /** The function evaluating group `g`; one variant per set of active `with` function replacements. */
  ruleFn(g: RuleGroup, mocks: Mocks = NO_MOCKS): string {
    const key = `${g.path}|${mocksKey(mocks)}`;
    let name = this.ruleFns.get(key);
    if (name === undefined) {
      name = `rule_${this.ruleFns.size}`;
      this.ruleFns.set(key, name);
      this.queue.push([g, mocks, name]);
    }
    return name;
  }

  /** The function building the virtual document tree at group path `path` (see {@link genTree}). */
  treeFn(path: string, mocks: Mocks = NO_MOCKS): string {
    const key = `${path}|${mocksKey(mocks)}`;
    let name = this.treeFns.get(key);
    if (name === undefined) {
      name = `tree_${this.treeFns.size}`;
      this.treeFns.set(key, name);
      this.queue.push([path, mocks, name]);
    }
    return name;
  }

  /**
   * Whether group `g`'s document is a tree of several rules' values rather than one rule group's: groups live
   * below it (`p[q].r := 1` and `p.a.r := 0`), or its rules' ref heads go deeper than one key (`p[q].r := 1`,
   * `p[q] contains x`).
   */
  isTree(g: RuleGroup): boolean {
    if (g.kind === 'function' || g.kind === 'complete') return false;
    if (this.hasGroupsBelow(g.path)) return true;
    const depth = g.path.split('.').length;
    return g.rules.some((r) => r.head.ref.length !== depth + (g.kind === 'partial-object' ? 1 : 0));
  }

  /**
   * Builds the document at group path `path` from every rule at or below it: each rule's value goes to its path
   * (the rule's ref head below `path`) through the runtime's `tg_tree_put`, which merges the objects on the way
   * and raises OPA's conflict errors when two rules produce different values for one path or one reaches into
   * another's value.
   */
  private genTree(path: string, mocks: Mocks, name: string): GeneratedFunction {
    const f = new FnGen(this, name, 2);
    f.mocks = mocks;
    const root = f.local(), leaves = f.local();
    f.c.i32_const(0).call('tg_object').local_set(root).i32_const(0).call('tg_set').local_set(leaves);
    const groups = this.program.groups.filter((g) => g.path === path || g.path.startsWith(`${path}.`));
    const put = (parts: Term[], v: number, mode: number): void => {
      f.terms(parts, (locs) => {
        const arr = f.local();
        f.c.i32_const(locs.length).call('tg_array').local_set(arr);
        for (const l of locs) f.c.local_get(arr).local_get(l).call('tg_array_push');
        f.c.local_get(root).local_get(leaves).local_get(arr).local_get(v).i32_const(mode).call('tg_tree_put');
      });
    };
    for (const g of groups) {
      if (g.kind === 'function') continue;
      if (g.default && g.kind !== 'complete') throw new UnsupportedError(`default on ${g.path}, which is not a complete rule`, g.default.location);
      const loc: Location = (g.rules[0] ?? g.default)?.location ?? { file: '', row: 0, col: 0 };
      const rel: Term[] = g.path === path ? [] : g.path.slice(path.length + 1).split('.').map((value) => ({ type: 'string', value, location: loc }));
      if (g.kind === 'complete' || mocks.has(g.path)) {
        const v = f.local();
        f.groupValue(g);
        f.c.local_set(v);
        const skip = f.open();
        f.c.local_get(v).i32_eqz();
        f.brIf(skip);
        put(rel, v, 0);
        f.close();
        continue;
      }
      const depth = g.path.split('.').length;
      for (const r of g.rules) {
        if (r.else) throw new UnsupportedError(`else on a ${g.kind === 'partial-set' ? 'multi-value' : 'ref-head'} rule`, r.location);
        const parts = [...rel, ...r.head.ref.slice(depth)];
        if (g.kind === 'partial-set') {
          const key = r.head.key;
          if (!key) throw new UnsupportedError('multi-value rule without a key', r.location);
          f.ruleBody(r, () => f.term(key, (kv) => put(parts, kv, 1)));
        } else {
          const valT = valueOf(r);
          f.ruleBody(r, () => f.term(valT, (v) => put(parts, v, 0)));
        }
      }
    }
    f.c.local_get(root);
    return f.finish();
  }

  /** Whether some rule group lives strictly below `path`. */
  hasGroupsBelow(path: string): boolean {
    const pre = `${path}.`;
    return this.groupPaths.some((p) => p.startsWith(pre));
  }

  run(entrypoints: string[]): GenerateResult {
    const eps: GeneratedFunction[] = [];
    entrypoints.forEach((ep, idx) => {
      const parts = ep.split('/').filter((s) => s !== '');
      const loc: Location = { file: '<entrypoint>', row: 1, col: 1 };
      const ref: RefTerm = {
        type: 'ref', location: loc,
        terms: [{ type: 'var', name: 'data', location: loc }, ...parts.map((p) => ({ type: 'string' as const, value: p, location: loc }))],
      };
      const f = new FnGen(this, `entrypoint_${idx}`, 2);
      f.c.block();
      f.depth++;
      f.failTarget = f.depth;
      f.term(ref, (v) => { f.c.local_get(v).return_(); });
      f.close();
      f.c.i32_const(0);
      eps.push(f.finish());
    });
    while (this.queue.length > 0) {
      const [g, mocks, name] = this.queue.shift() as [RuleGroup | string, Mocks, string];
      this.functions.push(typeof g === 'string' ? this.genTree(g, mocks, name) : this.genGroup(g, mocks, name));
    }
    const msgBadEp = this.konst({ cstring: 'invalid entrypoint id' });
    const dispatch = new Code();
    for (let k = 0; k <= eps.length; k++) dispatch.block();
    dispatch.local_get(0).br_table(eps.map((_, k) => k), eps.length).end();
    for (const e of eps) dispatch.local_get(1).local_get(2).call(e.name).return_().end();
    dispatch.constAddr(msgBadEp).call('opa_abort').unreachable();
    return {
      functions: [...eps, ...this.functions, { name: 'dispatch', params: ['i32', 'i32', 'i32'], results: ['i32'], locals: [], code: dispatch }],
      constants: this.constants,
      entrypoints,
      builtins: this.hostBuiltins,
    };
  }

  private genGroup(g: RuleGroup, mocks: Mocks, name: string): GeneratedFunction {
    const arity = g.kind === 'function' ? g.arity ?? 0 : 0;
    const f = new FnGen(this, name, 2 + arity);
    f.mocks = mocks;
    const res = f.local();
    if (g.kind === 'complete' || g.kind === 'function') {
      const MSG_CONFLICT = g.kind === 'function' ? MSG_FN_CONFLICT : MSG_RULE_CONFLICT;
      f.c.i32_const(0).local_set(res);
      for (const r of g.rules) {
        if (r.else) {
          const chain = f.local();
          f.c.i32_const(0).local_set(chain);
          let firstInChain = true;
          for (let x: Rule | undefined = r; x; x = x.else) {
            if (!firstInChain) { f.open(); f.c.local_get(chain); f.brIf(f.depth); }
            const cur = x;
            f.ruleBody(cur, () => f.term(valueOf(cur), (v) => f.merge(chain, v, MSG_CONFLICT)), r.head.args);
            if (!firstInChain) f.close();
            firstInChain = false;
          }
          f.open();
          f.c.local_get(chain).i32_eqz();
          f.brIf(f.depth);
          f.merge(res, chain, MSG_CONFLICT);
          f.close();
        } else if (constOf(valueOf(r)) !== undefined) {
          // early exit (as OPA's evaluator): a rule with a constant value is done at its first solution, since
          // every further one gives the same value (later rules of the group are still evaluated)
          const done = f.open();
          f.ruleBody(r, () => f.term(valueOf(r), (v) => { f.merge(res, v, MSG_CONFLICT); f.br(done); }));
          f.close();
        } else {
          f.ruleBody(r, () => f.term(valueOf(r), (v) => f.merge(res, v, MSG_CONFLICT)));
        }
      }
      if (g.default) {
        const d = g.default;
        if (d.else) throw new UnsupportedError('default rule with else', d.location);
        const cv = constOf(valueOf(d));
        if (cv !== undefined) f.c.local_get(res).i32_eqz().if_().constAddr(this.konst(cv)).local_set(res).end();
        else {
          // e.g. a comprehension: evaluated only when no other rule produced a value
          const skip = f.open();
          f.c.local_get(res);
          f.brIf(skip);
          f.ruleBody({ ...d, body: [] }, () => f.term(valueOf(d), (v) => { f.c.local_get(v).local_set(res); }));
          f.close();
        }
      }
    } else if (g.default) {
      throw new UnsupportedError(`default on ${g.path}, which is not a complete rule`, g.default.location);
    } else if (g.kind === 'partial-set') {
      f.c.i32_const(0).call('tg_set').local_set(res);
      for (const r of g.rules) {
        if (r.else) throw new UnsupportedError('else on a partial set rule', r.location);
        const key = r.head.key;
        if (!key || r.head.ref.length !== g.path.split('.').length) throw new UnsupportedError('partial set rule with a ref head', r.location);
        f.ruleBody(r, () => f.term(key, (v) => { f.c.local_get(res).local_get(v).call('tg_set_add'); }));
      }
    } else {
      f.c.i32_const(0).call('tg_object').local_set(res);
      const depth = g.path.split('.').length;
      for (const r of g.rules) {
        if (r.else) throw new UnsupportedError('else on a partial object rule', r.location);
        if (r.head.ref.length !== depth + 1) throw new UnsupportedError('ref-head rule with several variable parts', r.location);
        const keyT = r.head.ref[depth] as Term;
        const valT = valueOf(r);
        f.ruleBody(r, () => f.term(keyT, (k) => f.term(valT, (v) => {
          const old = f.local();
          f.c.local_get(res).local_get(k).call('tg_get').local_tee(old)
            .if_().local_get(old).local_get(v).call('tg_equal').i32_eqz()
            .if_().constAddr(this.konst({ cstring: MSG_OBJ_CONFLICT })).call('opa_abort').unreachable().end()
            .else_().local_get(res).local_get(k).local_get(v).call('tg_object_insert').end();
        })));
      }
    }
    f.c.local_get(res);
    return f.finish();
  }
}

function valueOf(r: Rule): Term {
  if (!r.head.value) throw new UnsupportedError('rule without a value', r.location);
  return r.head.value;
}

class FnGen {
  readonly c = new Code();
  depth = 0;
  failTarget = 0;
  private readonly locals: 'i32'[] = [];
  vars = new Map<string, number>();
  /** Locals holding the current input/data (params 0/1, or replacements made by `with`). */
  inputL = INPUT;
  dataL = DATA;
  /** `with` replacements of functions/built-ins in effect (rules called from here get a variant with the same). */
  mocks: Mocks = NO_MOCKS;

  constructor(private readonly g: Generator, private readonly name: string, private readonly nparams: number) {}

  local(): number {
    this.locals.push('i32');
    return this.nparams + this.locals.length - 1;
  }

  finish(): GeneratedFunction {
    if (this.depth !== 0) throw new Error('codegen: unbalanced blocks');
    return { name: this.name, params: Array(this.nparams).fill('i32'), results: ['i32'], locals: this.locals, code: this.c };
  }

  open(): number { this.c.block(); return ++this.depth; }
  openLoop(): number { this.c.loop(); return ++this.depth; }
  close(): void { this.c.end(); this.depth--; }
  br(label: number): void { this.c.br(this.depth - label); }
  brIf(label: number): void { this.c.br_if(this.depth - label); }
  fail(): void { this.br(this.failTarget); }
  failIf(): void { this.brIf(this.failTarget); }
  /** Fails when the value on the stack is 0 (undefined), else stores it in `into`. */
  setOrFail(into: number): void {
    this.c.local_tee(into).i32_eqz();
    this.failIf();
  }

  /** Runs `inner` with a fresh failure block; failure continues after the block. Var bindings are scoped. */
  scoped(inner: K): void {
    const saved = new Map(this.vars);
    const savedFail = this.failTarget;
    this.failTarget = this.open();
    inner();
    this.close();
    this.failTarget = savedFail;
    this.vars = saved;
  }

  /**
   * Evaluates `ts` left to right (each may iterate) and hands `k` the locals of one combination of their values;
   * `k` runs once per combination.
   */
  terms(ts: readonly Term[], k: (locs: number[]) => void): void {
    const locs: number[] = [];
    const step = (i: number): void => {
      const t = ts[i];
      if (!t) { k(locs); return; }
      this.term(t, (l) => { locs.push(l); step(i + 1); locs.pop(); });
    };
    step(0);
  }

  ruleBody(r: Rule, k: K, headArgs?: Term[]): void {
    this.vars = new Map();
    const args = headArgs ?? r.head.args ?? [];
    this.scoped(() => {
      const step = (i: number): void => {
        const a = args[i];
        if (a) { this.unify(a, 2 + i, () => step(i + 1)); return; }
        this.body(r.body, 0, k);
      };
      step(0);
    });
  }

  /** Merges `v` into accumulator `acc` (0 = none yet); a different value aborts with `msg`. */
  merge(acc: number, v: number, msg: string): void {
    this.c.local_get(acc).i32_eqz()
      .if_().local_get(v).local_set(acc)
      .else_().local_get(acc).local_get(v).call('tg_equal').i32_eqz()
      .if_().constAddr(this.g.konst({ cstring: msg })).call('opa_abort').unreachable().end()
      .end();
  }

  body(b: Body, i: number, k: K): void {
    const e = b[i];
    if (!e) { k(); return; }
    const saved = new Map(this.vars);
    this.expr(e, () => this.body(b, i + 1, k));
    this.vars = saved;
  }

  expr(e: Expr, k: K): void {
    if (e.with.length > 0) { this.withExpr(e, 0, k); return; }
    this.exprNoWith(e, k);
  }

  /** `expr with target as value …`: input/data replaced for this expression only (rule calls see it too). */
  private withExpr(e: Expr, i: number, k: K): void {
    const w = e.with[i];
    if (!w) {
      const [ci, cd] = [this.inputL, this.dataL];
      const origI = this.withOrig?.[0] ?? ci, origD = this.withOrig?.[1] ?? cd;
      const saved = this.withOrig;
      this.withOrig = undefined;
      this.exprNoWith(e, () => {
        this.inputL = origI; this.dataL = origD;
        k();
        this.inputL = ci; this.dataL = cd;
      });
      this.withOrig = saved;
      return;
    }
    const tgt = w.target;
    const mocked = this.fnName(tgt);
    if (mocked !== undefined) {
      if (COMPARE[mocked] || mocked.startsWith('internal.') || mocked === 'eq' || mocked === 'assign') throw new UnsupportedError(`with on built-in ${mocked}`, w.location);
      const cv = constOf(w.value);
      const fn = cv === undefined ? this.fnName(w.value) : undefined;
      if (cv === undefined && fn === undefined) {
        const cell = this.g.konst({ cell: `with@${this.g.nextCell()}` });
        this.term(w.value, (v) => {
          this.c.constAddr(cell).local_get(v).i32_store();
          const outer = this.mocks;
          this.mocks = new Map(outer).set(mocked, { cell });
          this.withExpr(e, i + 1, () => { const cur = this.mocks; this.mocks = outer; k(); this.mocks = cur; });
          this.mocks = outer;
        });
        return;
      }
      if (fn !== undefined) {
        const want = this.callArity(mocked) ?? builtinArity(mocked, 'v0');
        const rg = fn.startsWith('data.') ? this.g.program.byPath.get(fn) : undefined;
        const have = rg ? rg.arity : BUILTINS[fn]?.length ?? HOST_BUILTINS[fn] ?? builtinArity(fn, 'v0');
        if (want !== have) throw new UnsupportedError(`with replacing ${mocked} by ${fn} of another arity`, w.location);
      }
      const outer = this.mocks;
      const inner = new Map(outer);
      inner.set(mocked, cv !== undefined ? { value: cv } : { fn: fn as string });
      this.mocks = inner;
      this.withExpr(e, i + 1, () => { const cur = this.mocks; this.mocks = outer; k(); this.mocks = cur; });
      this.mocks = outer;
      return;
    }
    const root = tgt.type === 'var' ? tgt : tgt.type === 'ref' ? tgt.terms[0] : undefined;
    const parts: string[] = [];
    if (tgt.type === 'ref') for (const p of tgt.terms.slice(1)) {
      if (p.type !== 'string') throw new UnsupportedError('with target with a non-string path part', w.location);
      parts.push(p.value);
    }
    if (root?.type !== 'var' || (root.name !== 'input' && root.name !== 'data')) throw new UnsupportedError('with on a function or built-in', w.location);
    if (root.name === 'data') {
      const prefix = ['data', ...parts].join('.');
      const g = this.g.program.byPath.get(prefix);
      if (g && g.kind !== 'function' && !this.g.hasGroupsBelow(prefix)) {
        // a rule's value replaced: references to the rule (here and in rules called from here) see the value
        const cv = constOf(w.value);
        const bind = (mock: Mock): void => {
          const outer = this.mocks;
          this.mocks = new Map(outer).set(prefix, mock);
          this.withExpr(e, i + 1, () => { const cur = this.mocks; this.mocks = outer; k(); this.mocks = cur; });
          this.mocks = outer;
        };
        if (cv !== undefined) { bind({ value: cv }); return; }
        const cell = this.g.konst({ cell: `with@${this.g.nextCell()}` });
        this.term(w.value, (v) => { this.c.constAddr(cell).local_get(v).i32_store(); bind({ cell }); });
        return;
      }
      const touches = this.g.program.groups.some((g) => g.path === prefix || g.path.startsWith(`${prefix}.`) || prefix.startsWith(`${g.path}.`))
        || this.g.packages.some((p) => p === prefix || p.startsWith(`${prefix}.`));
      if (touches) throw new UnsupportedError(`with on virtual document ${prefix}`, w.location);
    }
    this.term(w.value, (v) => {
      const first = this.withOrig === undefined;
      if (first) this.withOrig = [this.inputL, this.dataL];
      const [ci, cd] = [this.inputL, this.dataL];
      if (root.name === 'input') this.inputL = this.upsert(this.inputL, parts, v);
      else this.dataL = this.upsert(this.dataL, parts, v);
      this.withExpr(e, i + 1, k);
      this.inputL = ci; this.dataL = cd;
      if (first) this.withOrig = undefined;
    });
  }

  private withOrig: [number, number] | undefined;

  /** A copy of `cur` with `parts` set to `v` (non-objects along the path are replaced by objects). */
  private upsert(cur: number, parts: string[], v: number): number {
    const key = parts[0];
    if (key === undefined) return v;
    const res = this.local(), child = this.local(), n = this.local(), i = this.local();
    this.c.local_get(cur).call('tg_type').i32_const(T_OBJECT).i32_eq().if_();
    this.depth++;
    this.c.local_get(cur).call('tg_len').local_tee(n).i32_const(1).i32_add().call('tg_object').local_set(res).i32_const(0).local_set(i);
    const exit = this.open();
    const loop = this.openLoop();
    this.c.local_get(i).local_get(n).i32_ge_u();
    this.brIf(exit);
    this.c.local_get(res).local_get(cur).local_get(i).call('tg_elem').local_get(cur).local_get(i).call('tg_object_value_at').call('tg_object_insert');
    this.c.local_get(i).i32_const(1).i32_add().local_set(i);
    this.br(loop);
    this.close();
    this.close();
    this.c.local_get(cur).constAddr(this.g.konst(key)).call('tg_get').local_set(child);
    this.c.else_();
    this.c.i32_const(1).call('tg_object').local_set(res).i32_const(0).local_set(child);
    this.c.end();
    this.depth--;
    const nv = this.upsert(child, parts.slice(1), v);
    this.c.local_get(res).constAddr(this.g.konst(key)).local_get(nv).call('tg_object_insert');
    return res;
  }

  private exprNoWith(e: Expr, k: K): void {
    if (e.negated) {
      if (e.kind === 'some-vars' || e.kind === 'some-in' || e.kind === 'every') throw new UnsupportedError(`not ${e.kind}`, e.location);
      const outerFail = this.failTarget;
      this.scoped(() => this.exprPos(e, () => this.br(outerFail)));
      k();
      return;
    }
    this.exprPos(e, k);
  }

  private exprPos(e: Expr, k: K): void {
    switch (e.kind) {
      case 'term':
        this.term(e.term, (v) => {
          this.c.local_get(v).i32_const(0).call('tg_bool').call('tg_equal');
          this.failIf();
          k();
        });
        return;
      case 'unify': this.unifyTerms(e.lhs, e.rhs, k); return;
      case 'assign':
        for (const n of patternVarNames(e.lhs)) this.vars.delete(n);
        this.unifyTerms(e.lhs, e.rhs, k);
        return;
      case 'some-vars':
        for (const v of e.vars) this.vars.delete(v.name);
        k();
        return;
      case 'some-in': {
        for (const t of [e.key, e.value]) if (t) for (const n of patternVarNames(t)) this.vars.delete(n);
        this.term(e.collection, (coll) => this.iterate(coll, e.location, (key, val) => {
          const withVal = (): void => this.unify(e.value, val, k);
          if (e.key) this.unify(e.key, key, withVal);
          else withVal();
        }));
        return;
      }
      case 'call': this.callExpr(e.call, k); return;
      case 'every': this.every(e, k); return;
    }
  }

  /** `every k, v in domain { body }`: undefined or non-collection domain fails; every element must satisfy body. */
  private every(e: Extract<Expr, { kind: 'every' }>, k: K): void {
    this.term(e.domain, (coll) => {
      const bad = this.local();
      this.c.i32_const(0).local_set(bad);
      const done = this.open();
      this.iterate(coll, e.location, (key, val) => {
        this.c.i32_const(1).local_set(bad);
        this.scoped(() => {
          const b = this.depth;
          for (const t of [e.key, e.value]) if (t) for (const n of patternVarNames(t)) this.vars.delete(n);
          const withVal = (): void => this.unify(e.value, val, () => this.body(e.body, 0, () => {
            this.c.i32_const(0).local_set(bad);
            this.br(b);
          }));
          if (e.key) this.unify(e.key, key, withVal);
          else withVal();
        });
        this.c.local_get(bad);
        this.brIf(done);
      });
      this.close();
      this.c.local_get(bad);
      this.failIf();
      k();
    });
  }

  /** Calls user function `g` with evaluated args; `k` gets the result (undefined fails). */
  private callUser(g: RuleGroup, args: Term[], loc: Location, k: KV, mocks: Mocks = this.mocks): void {
    if (g.kind !== 'function') throw new UnsupportedError(`call of non-function ${g.path}`, loc);
    if (this.g.hasGroupsBelow(g.path)) throw new UnsupportedError(`rules below function ${g.path}`, loc);
    const fnName = this.g.ruleFn(g, mocks);
    this.terms(args, (locs) => {
      const r = this.local();
      this.c.local_get(this.inputL).local_get(this.dataL);
      for (const l of locs) this.c.local_get(l);
      this.c.call(fnName);
      this.setOrFail(r);
      k(r);
    });
  }

  /** `x in xs` / `k, x in xs` (internal.member_2/3): `k` gets an i32 local holding 1 when found, else 0. */
  private member(call: Extract<Term, { type: 'call' }>, k: (found: number) => void): void {
    const three = call.args.length === 3;
    const kt = three ? call.args[0] as Term : undefined;
    const x = call.args[three ? 1 : 0] as Term;
    const xs = call.args[three ? 2 : 1] as Term;
    if (this.isPattern(x) || (kt && this.isPattern(kt))) throw new UnsupportedError('`in` with an unbound left-hand side', call.location);
    const withKey = (f: KV): void => { if (kt) this.term(kt, f); else f(-1); };
    withKey((kv) => this.term(x, (xv) => this.term(xs, (coll) => {
      const found = this.local();
      this.c.i32_const(0).local_set(found);
      const savedFail = this.failTarget;
      const done = this.open();
      this.failTarget = done;
      this.iterate(coll, call.location, (key, val) => {
        this.c.local_get(val).local_get(xv).call('tg_equal');
        if (kv >= 0) this.c.local_get(key).local_get(kv).call('tg_equal').i32_and();
        this.c.if_().i32_const(1).local_set(found).end();
      });
      this.close();
      this.failTarget = savedFail;
      k(found);
    })));
  }

  private callExpr(call: Extract<Term, { type: 'call' }>, k: K): void {
    if (call.name === 'print') { this.printCall(call, k); return; }
    const op = COMPARE[call.name];
    if (op && call.args.length === 2) {
      this.compare(op, call.args[0] as Term, call.args[1] as Term, (r) => {
        this.c.local_get(r).i32_eqz();
        this.failIf();
        k();
      });
      return;
    }
    if (isMember(call)) {
      this.member(call, (found) => {
        this.c.local_get(found).i32_eqz();
        this.failIf();
        k();
      });
      return;
    }
    const arity = this.callArity(call.name);
    if (arity !== undefined && call.args.length === arity) {
      // no output argument: the expression fails when the result is undefined or false (as OPA)
      this.invoke(call.name, call.args, call.location, (r) => {
        this.c.local_get(r).i32_const(0).call('tg_bool').call('tg_equal');
        this.failIf();
        k();
      });
      return;
    }
    if (arity !== undefined && call.args.length === arity + 1) {
      const out = call.args[arity] as Term;
      this.invoke(call.name, call.args.slice(0, arity), call.location, (r) => this.unify(out, r, k));
      return;
    }
    throw new UnsupportedError(`call to ${call.name}/${call.args.length}`, call.location);
  }

  /** Number of inputs of a callable function (user function, in-module built-in, or a replaced one), else undefined. */
  private callArity(name: string): number | undefined {
    const ug = name.startsWith('data.') ? this.g.program.byPath.get(name) : undefined;
    if (ug) return ug.kind === 'function' ? ug.arity : undefined;
    const sig = BUILTINS[name] ?? HOST_SIGS[name];
    if (sig) return sig.length;
    if (HOST_BUILTINS[name] !== undefined) return HOST_BUILTINS[name];
    if (this.mocks.has(name)) return builtinArity(name, 'v0');
    return undefined;
  }

  /** Calls `name` (arity checked by the caller) with `args`, honouring `with` replacements; `k` gets the result. */
  private invoke(name: string, args: Term[], loc: Location, k: KV): void {
    const m = this.mocks.get(name);
    if (m && ('value' in m || 'cell' in m)) {
      // replaced by a value: the arguments are still evaluated (an undefined one makes the call undefined)
      this.terms(args, () => {
        const l = this.local();
        if ('value' in m) this.c.constAddr(this.g.konst(m.value)).local_set(l);
        else this.c.constAddr(m.cell).i32_load().local_set(l);
        k(l);
      });
      return;
    }
    if (m) {
      // replaced by another function, evaluated without this replacement (a mock may call the original, as in OPA)
      const rest = new Map(this.mocks);
      rest.delete(name);
      const rg = m.fn.startsWith('data.') ? this.g.program.byPath.get(m.fn) : undefined;
      if (rg) { this.callUser(rg, args, loc, k, rest); return; }
      if (BUILTINS[m.fn]) { this.callBuiltin(m.fn, args, loc, k); return; }
      if (HOST_SIGS[m.fn]) { this.callTollgateHost(m.fn, args, k); return; }
      if (HOST_BUILTINS[m.fn] !== undefined) { this.callHost(m.fn, args, k); return; }
      throw new UnsupportedError(`call to ${m.fn}/${args.length}`, loc);
    }
    const ug = name.startsWith('data.') ? this.g.program.byPath.get(name) : undefined;
    if (ug) { this.callUser(ug, args, loc, k); return; }
    if (!BUILTINS[name] && HOST_SIGS[name]) { this.callTollgateHost(name, args, k); return; }
    if (HOST_BUILTINS[name] !== undefined) { this.callHost(name, args, k); return; }
    this.callBuiltin(name, args, loc, k);
  }

  /**
   * Calls tollgate host built-in `name` (src/policy/host/) through `env.opa_builtin<N>`. Each operand crosses as
   * its OPA value text (runtime hostcall.ts), so the host sees sets and every digit (the SDK's own transfer is
   * `JSON.parse`, which rounds integers beyond 2^53); the host answers with JSON text the module parses exactly,
   * tagged for set-aware built-ins.
   */
  private callTollgateHost(name: string, args: Term[], k: KV): void {
    const sig = HOST_SIGS[name] as number[];
    const imported = hostImportName(name, this.g.strict);
    let id = this.g.hostBuiltins.indexOf(imported);
    if (id < 0) id = this.g.hostBuiltins.push(imported) - 1;
    const raises = HOST_CATALOGUE[name]?.raisesTypeErrors === true || this.g.strict;
    this.terms(args, (locs) => {
      locs.forEach((l, j) => (raises ? this.checkOperand(name, j, sig[j] as number, l) : this.requireType(sig[j] as number, l)));
      this.emitHostCall(name, id, locs, k);
    });
  }

  /** The `opa_builtin<N>` call of host built-in `name` (import id `id`) on operand locals `locs`. */
  private emitHostCall(name: string, id: number, locs: number[], k: KV): void {
    const texts = locs.map((l) => {
      const t = this.local();
      this.c.local_get(l).call('tg_host_arg').local_set(t);
      return t;
    });
    const r = this.local();
    this.c.i32_const(id).i32_const(0);
    for (const t of texts) this.c.local_get(t);
    this.c.call(`opa_builtin${texts.length}`);
    this.setOrFail(r);
    if (HOST_CATALOGUE[name]?.sets === true) this.c.local_get(r).call('tg_host_untag').local_set(r);
    k(r);
  }

  /**
   * `print(a, …)`: each operand becomes the set of its values (empty when undefined, as OPA's lowering does), and
   * the host prints one line per combination, prefixed with the call's location. Always succeeds.
   */
  private printCall(call: Extract<Term, { type: 'call' }>, k: K): void {
    const ops = this.local();
    this.c.i32_const(call.args.length).call('tg_array').local_set(ops);
    for (const a of call.args) {
      const set = this.local();
      this.c.i32_const(0).call('tg_set').local_set(set);
      this.scoped(() => this.term(a, (v) => { this.c.local_get(set).local_get(v).call('tg_set_add'); }));
      this.c.local_get(ops).local_get(set).call('tg_array_push');
    }
    const loc = this.local();
    this.c.constAddr(this.g.konst(`${call.location.file}:${call.location.row}`)).local_set(loc);
    const imported = hostImportName(PRINT_BUILTIN, false);
    let id = this.g.hostBuiltins.indexOf(imported);
    if (id < 0) id = this.g.hostBuiltins.push(imported) - 1;
    this.emitHostCall(PRINT_BUILTIN, id, [loc, ops], () => k());
  }

  /** Calls host built-in `name` through `env.opa_builtin<N>(id, ctx, args…)`; an undefined result fails. */
  private callHost(name: string, args: Term[], k: KV): void {
    let id = this.g.hostBuiltins.indexOf(name);
    if (id < 0) id = this.g.hostBuiltins.push(name) - 1;
    this.terms(args, (locs) => {
      // the SDK's implementations answer undefined for operands of other types; strict mode raises OPA's error
      const sig = SDK_HOST_SIGS[name];
      if (sig && this.g.strict) locs.forEach((l, j) => this.checkOperand(name, j, sig[j] as number, l));
      const r = this.local();
      this.c.i32_const(id).i32_const(0);
      for (const l of locs) this.c.local_get(l);
      this.c.call(`opa_builtin${locs.length}`);
      this.setOrFail(r);
      k(r);
    });
  }

  /** The function a `with` target/value names (`data.p.f` for a user function, `count`, `http.send`), if any. */
  fnName(t: Term): string | undefined {
    const root = t.type === 'var' ? t : t.type === 'ref' ? t.terms[0] : undefined;
    if (root?.type !== 'var' || root.name === 'input') return undefined;
    const parts = [root.name];
    if (t.type === 'ref') for (const p of t.terms.slice(1)) { if (p.type !== 'string') return undefined; parts.push(p.value); }
    const name = parts.join('.');
    if (root.name === 'data') return this.g.program.byPath.get(name)?.kind === 'function' ? name : undefined;
    if (t.type === 'var' && this.vars.has(root.name)) return undefined;
    return builtinArity(name, 'v0') !== undefined ? name : undefined;
  }

  /**
   * Calls in-module built-in `name` (`tg_bi_*`) with evaluated `args`; `k` gets the result. An operand of a type
   * the built-in does not take aborts with `eval_type_error`; a 0 result (undefined) fails.
   */
  private callBuiltin(name: string, args: Term[], loc: Location, k: KV): void {
    const sig = BUILTINS[name] as number[];
    this.terms(args, (locs) => {
      // operand types: an error where OPA raises one, else undefined (the runtime checks them again)
      locs.forEach((l, j) => (RAISES_TYPE_ERRORS.has(name) || this.g.strict ? this.checkOperand(name, j, sig[j] as number, l) : this.requireType(sig[j] as number, l)));
      this.checkValues(name, locs);
      if (name === 'walk') {
        // a relation: one result per node, as OPA's `walk(x, [path, value])`
        const all = this.local();
        this.c.local_get(locs[0] as number).call('tg_bi_walk').local_set(all);
        this.iterate(all, loc, (_key, node) => k(node));
        return;
      }
      const r = this.local();
      if (!this.inlineBuiltin(name, locs)) {
        // strict built-in errors: a 0 result with a recorded error (runtime biFail) aborts with OPA's message
        if (this.g.strict) this.c.call('tg_bi_error_clear');
        for (const l of locs) this.c.local_get(l);
        this.c.call(`tg_bi_${name.replace(/\./g, '_')}`);
        if (this.g.strict) {
          const t = this.local();
          this.c.local_tee(t).i32_eqz().if_().call('tg_bi_error_raise').end().local_get(t);
        }
      }
      this.setOrFail(r);
      k(r);
    });
  }

  /**
   * Pushes the result of a built-in made of runtime helpers (operand types already checked); false when `name`
   * is a `tg_bi_*` call instead.
   */
  private inlineBuiltin(name: string, locs: number[]): boolean {
    const x = locs[0] as number;
    /** for i in 0..len(coll): body(i) (body must not branch). */
    const eachOf = (coll: number, body: (i: number) => void): void => {
      const n = this.local(), i = this.local();
      this.c.local_get(coll).call('tg_len').local_set(n).i32_const(0).local_set(i);
      this.c.block().loop().local_get(i).local_get(n).i32_ge_u().br_if(1);
      body(i);
      this.c.local_get(i).i32_const(1).i32_add().local_set(i).br(0).end().end();
    };
    const each = (body: (i: number) => void): void => eachOf(x, body);
    switch (name) {
      case 'strings.any_prefix_match': case 'strings.any_suffix_match': {
        // operands: a string, or an array/set of strings (another element type: undefined, OPA's non-strict type error)
        const colls = locs.map((l) => {
          const cl = this.local();
          this.c.local_get(l).local_set(cl).local_get(l).call('tg_type').i32_const(4).i32_eq().if_()
            .i32_const(1).call('tg_array').local_tee(cl).local_get(l).call('tg_array_push').end();
          return cl;
        });
        const bad = this.local(), r = this.local();
        this.c.i32_const(0).local_set(bad).i32_const(0).local_set(r);
        colls.forEach((cl, j) => {
          const et = this.local();
          eachOf(cl, (i) => {
            this.c.local_get(cl).local_get(i).call('tg_elem').call('tg_type').local_tee(et).i32_const(4).i32_ne().if_().i32_const(1).local_set(bad);
            if (this.g.strict) {
              // strict built-in errors: OPA's element type error, e.g. "operand 1 must be array of strings but got
              // array containing number"
              for (const [ct, cn] of [[T_ARRAY, 'array'], [T_SET, 'set']] as const) {
                for (let t = 1; t < TYPE_NAMES.length; t++) {
                  if (t === 4) continue;
                  const msg = `eval_type_error: ${name}: operand ${j + 1} must be ${cn} of strings but got ${cn} containing ${TYPE_NAMES[t] as string}`;
                  this.c.local_get(cl).call('tg_type').i32_const(ct).i32_eq().local_get(et).i32_const(t).i32_eq().i32_and()
                    .if_().constAddr(this.g.konst({ cstring: msg })).call('opa_abort').unreachable().end();
                }
              }
            }
            this.c.end();
          });
        });
        const [sc, bc] = colls as [number, number];
        eachOf(sc, (i) => eachOf(bc, (j) => {
          this.c.local_get(sc).local_get(i).call('tg_elem').local_get(bc).local_get(j).call('tg_elem')
            .call(name === 'strings.any_prefix_match' ? 'tg_bi_startswith' : 'tg_bi_endswith')
            .i32_const(1).call('tg_bool').call('tg_equal').if_().i32_const(1).local_set(r).end();
        }));
        this.c.local_get(bad).if_('i32').i32_const(0).else_().local_get(r).call('tg_bool').end();
        return true;
      }
      case 'set_diff': this.c.local_get(x).local_get(locs[1] as number).call('tg_bi_minus'); return true;
      case 'cast_null': case 'cast_boolean': case 'cast_string': case 'cast_object': this.c.local_get(x); return true;
      case 'cast_array': case 'cast_set': {
        const [keep, mk, add] = name === 'cast_array' ? [T_ARRAY, 'tg_array', 'tg_array_push'] : [T_SET, 'tg_set', 'tg_set_add'];
        const r = this.local();
        this.c.local_get(x).local_set(r).local_get(x).call('tg_type').i32_const(keep).i32_ne().if_();
        this.c.local_get(x).call('tg_len').call(mk).local_set(r);
        each((i) => { this.c.local_get(r).local_get(x).local_get(i).call('tg_elem').call(add); });
        this.c.end().local_get(r);
        return true;
      }
      case 'all': case 'any': {
        // all: every element is `true` (empty → true); any: some element is `true`
        const r = this.local();
        this.c.i32_const(name === 'all' ? 1 : 0).local_set(r);
        each((i) => {
          this.c.local_get(x).local_get(i).call('tg_elem').i32_const(1).call('tg_bool').call('tg_equal');
          if (name === 'all') this.c.i32_eqz();
          this.c.if_().i32_const(name === 'all' ? 0 : 1).local_set(r).end();
        });
        this.c.local_get(r).call('tg_bool');
        return true;
      }
      default: return false;
    }
  }

  /** Run-time errors OPA raises even without strict built-in errors, checked before the call (operand types are checked). */
  private checkValues(name: string, locs: number[]): void {
    const abort = (msg: string): void => { this.c.if_().constAddr(this.g.konst({ cstring: msg })).call('opa_abort').unreachable().end(); };
    const [a, b] = locs as [number, number];
    if (name === 'div' || name === 'rem') {
      if (name === 'rem') {
        // OPA: both operands must be integral (`1.0 % 1` is fine, `1.5 % 1` is not)
        for (const l of [a, b]) {
          this.c.local_get(l).call('tg_bi_floor').local_get(l).call('tg_compare').i32_const(0).i32_ne();
          abort('eval_builtin_error: rem: modulo on floating-point number');
        }
      }
      this.c.local_get(b).constAddr(this.g.konst(0n)).call('tg_compare').i32_eqz();
      abort(name === 'div' ? 'eval_builtin_error: div: divide by zero' : 'eval_builtin_error: rem: modulo by zero');
    } else if (name === 'format_int') {
      this.c.i32_const(1);
      for (const base of [2n, 8n, 10n, 16n]) this.c.local_get(b).constAddr(this.g.konst(base)).call('tg_compare').i32_eqz().i32_eqz().i32_and();
      abort('eval_type_error: format_int: operand 2 must be one of {2, 8, 10, 16}');
    }
  }

  /** Fails (undefined) when the value in `l` has a type outside `mask`. */
  private requireType(mask: number, l: number): void {
    if ((mask & ANY) === ANY) return;
    this.c.i32_const(1).local_get(l).call('tg_type').i32_shl().i32_const(mask).i32_and().i32_eqz();
    this.failIf();
  }

  /** Aborts with OPA's operand type error when the value in `l` has a type outside `mask`. */
  private checkOperand(name: string, j: number, mask: number, l: number): void {
    if ((mask & ANY) === ANY) return;
    const allowed = OPERAND_ORDER[name] ?? TYPE_NAMES.filter((_n, t) => (mask >> t) & 1);
    const want = allowed.length === 1 ? allowed[0] as string : `one of {${allowed.join(', ')}}`;
    const t = this.local();
    this.c.i32_const(1).local_get(l).call('tg_type').local_tee(t).i32_shl().i32_const(mask).i32_and().i32_eqz().if_();
    for (let ty = 1; ty < TYPE_NAMES.length; ty++) {
      if ((mask >> ty) & 1) continue;
      const msg = `eval_type_error: ${name}: operand ${j + 1} must be ${want} but got ${TYPE_NAMES[ty] as string}`;
      this.c.local_get(t).i32_const(ty).i32_eq().if_().constAddr(this.g.konst({ cstring: msg })).call('opa_abort').unreachable().end();
    }
    this.c.end();
  }

  /** Evaluates a comparison into an i32 local holding 0/1. */
  private compare(op: string, a: Term, b: Term, k: KV): void {
    this.term(a, (av) => this.term(b, (bv) => {
      const r = this.local();
      this.c.local_get(av).local_get(bv).call('tg_compare');
      switch (op) {
        case 'eq': this.c.i32_eqz(); break;
        case 'ne': this.c.i32_const(0).i32_ne(); break;
        case 'lt': this.c.i32_const(0).i32_lt_s(); break;
        case 'le': this.c.i32_const(0).i32_le_s(); break;
        case 'gt': this.c.i32_const(0).i32_gt_s(); break;
        default: this.c.i32_const(0).i32_ge_s(); break;
      }
      this.c.local_set(r);
      k(r);
    }));
  }

  /** A term that binds vars when unified (an unbound var, or an array/object holding one outside refs). */
  isPattern(t: Term): boolean {
    switch (t.type) {
      case 'var': return !this.vars.has(t.name) && t.name !== 'input' && t.name !== 'data';
      case 'array': return t.items.some((x) => this.isPattern(x));
      case 'object': return t.entries.some((x) => this.isPattern(x.value));
      case 'set': if (t.items.some((x) => this.isPattern(x))) throw new UnsupportedError('set pattern with unbound vars', t.location); return false;
      default: return false;
    }
  }

  private unifyTerms(a: Term, b: Term, k: K): void {
    const pa = this.isPattern(a);
    const pb = this.isPattern(b);
    if (pa && pb) {
      if (a.type === 'array' && b.type === 'array') {
        if (a.items.length !== b.items.length) { this.fail(); return; }
        const step = (i: number): void => {
          if (i === a.items.length) { k(); return; }
          this.unifyTerms(a.items[i] as Term, b.items[i] as Term, () => step(i + 1));
        };
        step(0);
        return;
      }
      if (a.type === 'object' && b.type === 'object') {
        const key = (t: Term): string | undefined => { const c = constOf(t); return c === undefined ? undefined : JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)); };
        const ka = a.entries.map((e) => key(e.key)), kb = b.entries.map((e) => key(e.key));
        if (ka.every((x) => x !== undefined) && kb.every((x) => x !== undefined) && new Set(ka).size === ka.length && new Set(kb).size === kb.length) {
          if (ka.length !== kb.length || !ka.every((x) => kb.includes(x))) { this.fail(); return; }
          const step = (i: number): void => {
            const ea = a.entries[i];
            if (!ea) { k(); return; }
            const eb = b.entries[kb.indexOf(ka[i] as string)] as { value: Term };
            this.unifyTerms(ea.value, eb.value, () => step(i + 1));
          };
          step(0);
          return;
        }
      }
      throw new UnsupportedError('unification of two non-ground terms', a.location);
    }
    if (pa) this.term(b, (v) => this.unify(a, v, k));
    else if (pb) this.term(a, (v) => this.unify(b, v, k));
    else this.term(a, (av) => this.term(b, (bv) => {
      this.c.local_get(av).local_get(bv).call('tg_equal').i32_eqz();
      this.failIf();
      k();
    }));
  }

  /** Unifies pattern `p` with the value in local `v`. */
  unify(p: Term, v: number, k: K): void {
    if (p.type === 'var' && this.isPattern(p)) {
      this.vars.set(p.name, v);
      k();
      return;
    }
    if (p.type === 'array' && this.isPattern(p)) {
      this.c.local_get(v).call('tg_type').i32_const(T_ARRAY).i32_ne();
      this.failIf();
      this.c.local_get(v).call('tg_len').i32_const(p.items.length).i32_ne();
      this.failIf();
      const step = (i: number): void => {
        if (i === p.items.length) { k(); return; }
        const el = this.local();
        this.c.local_get(v).i32_const(i).call('tg_elem').local_set(el);
        this.unify(p.items[i] as Term, el, () => step(i + 1));
      };
      step(0);
      return;
    }
    if (p.type === 'object' && this.isPattern(p)) {
      this.c.local_get(v).call('tg_type').i32_const(T_OBJECT).i32_ne();
      this.failIf();
      this.c.local_get(v).call('tg_len').i32_const(p.entries.length).i32_ne();
      this.failIf();
      const step = (i: number): void => {
        const e = p.entries[i];
        if (!e) { k(); return; }
        if (this.isPattern(e.key)) throw new UnsupportedError('object pattern with a variable key', e.key.location);
        this.term(e.key, (kl) => {
          const el = this.local();
          this.c.local_get(v).local_get(kl).call('tg_get');
          this.setOrFail(el);
          this.unify(e.value, el, () => step(i + 1));
        });
      };
      step(0);
      return;
    }
    this.term(p, (pv) => {
      this.c.local_get(pv).local_get(v).call('tg_equal').i32_eqz();
      this.failIf();
      k();
    });
  }

  /** Loops over a collection in local `coll` (fails when it is not one); `k(key, value)` runs per element. */
  iterate(coll: number, _loc: Location, k: (key: number, val: number) => void): void {
    const t = this.local(), n = this.local(), i = this.local(), key = this.local(), val = this.local();
    this.c.local_get(coll).call('tg_type').local_tee(t).i32_const(T_ARRAY).i32_lt_u();
    this.failIf();
    this.c.local_get(coll).call('tg_len').local_set(n).i32_const(0).local_set(i);
    const savedFail = this.failTarget;
    const exit = this.open();
    const loop = this.openLoop();
    this.c.local_get(i).local_get(n).i32_ge_u();
    this.brIf(exit);
    // key: array → index (number), object → key, set → element; value: array/set → element, object → value
    this.c.local_get(t).i32_const(T_ARRAY).i32_eq()
      .if_('i32').local_get(i);
    this.c.parts.push(0xad); // i64.extend_i32_u
    this.c.call('tg_int')
      .else_().local_get(coll).local_get(i).call('tg_elem').end()
      .local_set(key);
    this.c.local_get(t).i32_const(T_OBJECT).i32_eq()
      .if_('i32').local_get(coll).local_get(i).call('tg_object_value_at')
      .else_().local_get(coll).local_get(i).call('tg_elem').end()
      .local_set(val);
    const saved = new Map(this.vars);
    this.failTarget = this.open();
    k(key, val);
    this.close();
    this.vars = saved;
    this.failTarget = savedFail;
    this.c.local_get(i).i32_const(1).i32_add().local_set(i);
    this.br(loop);
    this.close();
    this.close();
  }

  /** Evaluates `t` (iterating where it has unbound vars in refs); `k` gets a local holding the value. */
  term(t: Term, k: KV): void {
    const cv = constOf(t);
    if (cv !== undefined) {
      const l = this.local();
      this.c.constAddr(this.g.konst(cv)).local_set(l);
      k(l);
      return;
    }
    switch (t.type) {
      case 'var': {
        if (t.name === 'input') { k(this.inputL); return; }
        if (t.name === 'data') { this.ref({ type: 'ref', terms: [t], location: t.location }, k); return; }
        const l = this.vars.get(t.name);
        if (l === undefined) throw new UnsupportedError(`unbound variable ${t.name}`, t.location);
        k(l);
        return;
      }
      case 'ref': this.ref(t, k); return;
      case 'array': case 'set': {
        const items = t.items;
        this.terms(items, (locs) => {
          const a = this.local();
          this.c.i32_const(items.length).call(t.type === 'array' ? 'tg_array' : 'tg_set').local_set(a);
          for (const l of locs) this.c.local_get(a).local_get(l).call(t.type === 'array' ? 'tg_array_push' : 'tg_set_add');
          k(a);
        });
        return;
      }
      case 'object': {
        const locs: [number, number][] = [];
        const step = (i: number): void => {
          const e = t.entries[i];
          if (e) { this.term(e.key, (kl) => this.term(e.value, (vl) => { locs.push([kl, vl]); step(i + 1); locs.pop(); })); return; }
          const o = this.local();
          this.c.i32_const(t.entries.length).call('tg_object').local_set(o);
          for (const [kl, vl] of locs) this.c.local_get(o).local_get(kl).local_get(vl).call('tg_object_insert');
          k(o);
        };
        step(0);
        return;
      }
      case 'arraycompr': case 'setcompr': case 'objectcompr': {
        const acc = this.local();
        this.c.i32_const(0).call(t.type === 'arraycompr' ? 'tg_array' : t.type === 'setcompr' ? 'tg_set' : 'tg_object').local_set(acc);
        this.scoped(() => this.body(t.body, 0, () => {
          if (t.type === 'objectcompr') {
            this.term(t.key, (kl) => this.term(t.value, (vl) => {
              const old = this.local();
              this.c.local_get(acc).local_get(kl).call('tg_get').local_tee(old)
                .if_().local_get(old).local_get(vl).call('tg_equal').i32_eqz()
                .if_().constAddr(this.g.konst({ cstring: MSG_OBJ_CONFLICT })).call('opa_abort').unreachable().end()
                .else_().local_get(acc).local_get(kl).local_get(vl).call('tg_object_insert').end();
            }));
          } else {
            this.term(t.term, (vl) => { this.c.local_get(acc).local_get(vl).call(t.type === 'arraycompr' ? 'tg_array_push' : 'tg_set_add'); });
          }
        }));
        k(acc);
        return;
      }
      case 'call': {
        const op = COMPARE[t.name];
        if (op && t.args.length === 2) {
          this.compare(op, t.args[0] as Term, t.args[1] as Term, (r) => {
            const b = this.local();
            this.c.local_get(r).call('tg_bool').local_set(b);
            k(b);
          });
          return;
        }
        if (isMember(t)) {
          this.member(t, (found) => {
            const b = this.local();
            this.c.local_get(found).call('tg_bool').local_set(b);
            k(b);
          });
          return;
        }
        if (this.callArity(t.name) === t.args.length) { this.invoke(t.name, t.args, t.location, k); return; }
        throw new UnsupportedError(`call to ${t.name}/${t.args.length}`, t.location);
      }
      default:
        throw new UnsupportedError(`term ${t.type}`, t.location);
    }
  }

  /** Pushes the value of rule group `g` (0 when undefined): a `with` replacement, its tree, or its rules. */
  groupValue(g: RuleGroup): void {
    const m = this.mocks.get(g.path);
    if (m && 'value' in m) { this.c.constAddr(this.g.konst(m.value)); return; }
    if (m && 'cell' in m) { this.c.constAddr(m.cell).i32_load(); return; }
    this.c.local_get(this.inputL).local_get(this.dataL).call(this.g.isTree(g) ? this.g.treeFn(g.path, this.mocks) : this.g.ruleFn(g, this.mocks));
  }

  private ref(t: RefTerm, k: KV): void {
    const head = t.terms[0];
    let start = 1;
    /** Walking base documents under `data`: integer keys address string keys, as in OPA. */
    let baseData = false;
    const steps = (cur: number, i: number): void => {
      const part = t.terms[i];
      if (!part) { k(cur); return; }
      if (this.isPattern(part)) {
        this.iterate(cur, part.location, (key, val) => this.unify(part, key, () => steps(val, i + 1)));
        return;
      }
      if (baseData && part.type === 'number' && /^-?\d+(\.\d+)?$/.test(part.text)) {
        // base documents: `data.x[2]` is x[2] for arrays, x["2"] for objects (JSON keys are strings), as in OPA
        const nx = this.local();
        this.c.local_get(cur).constAddr(this.g.konst(numberConst(part.text))).call('tg_get').local_tee(nx).i32_eqz()
          .if_().local_get(cur).constAddr(this.g.konst(part.text)).call('tg_get').local_set(nx).end()
          .local_get(nx).i32_eqz();
        this.failIf();
        steps(nx, i + 1);
        return;
      }
      this.term(part, (pl) => {
        const nx = this.local();
        this.c.local_get(cur).local_get(pl).call('tg_get');
        this.setOrFail(nx);
        steps(nx, i + 1);
      });
    };
    if (head.type === 'var' && head.name === 'data') {
      // longest ground string prefix
      const parts: string[] = ['data'];
      let groupAt = -1;
      let group: RuleGroup | undefined;
      for (let i = 1; i < t.terms.length; i++) {
        const p = t.terms[i] as Term;
        if (p.type !== 'string') break;
        parts.push(p.value);
        const g = this.g.program.byPath.get(parts.join('.'));
        if (g) { group = g; groupAt = i; break; }
      }
      if (group) {
        if (group.kind === 'function') throw new UnsupportedError(`reference to function ${group.path} without a call`, t.location);
        const l = this.local();
        this.groupValue(group);
        this.setOrFail(l);
        steps(l, groupAt + 1);
        return;
      }
      const prefix = parts.join('.');
      const next = t.terms[parts.length];
      const scalarNext = next !== undefined && (next.type === 'number' || next.type === 'boolean' || next.type === 'null');
      if (!scalarNext && (this.g.hasGroupsBelow(prefix) || this.g.packages.some((p) => p === prefix || p.startsWith(`${prefix}.`)))) {
        // virtual document tree (package or ref-head prefix): base data at the prefix merged with every rule below
        const all = this.g.program.groups.filter((g) => g.path.startsWith(`${prefix}.`));
        // groups below another group are part of that group's tree
        const below = all.filter((g) => !all.some((o) => o !== g && g.path.startsWith(`${o.path}.`)));
        let cur = this.local();
        this.c.local_get(this.dataL).local_set(cur);
        for (const p of parts.slice(1)) this.c.local_get(cur).constAddr(this.g.konst(p)).call('tg_get').local_set(cur);
        const base = this.local();
        this.c.local_get(cur).local_set(base);
        // keep base data only when it is an object
        this.c.local_get(cur).call('tg_type').i32_const(T_OBJECT).i32_ne().if_().i32_const(0).call('tg_object').local_set(cur).end();
        // functions are not part of the tree, but a ref-head function's parent objects are (OPA: `{"p": {"q": {}}}`),
        // and so is a package without rules (an empty object)
        const emptyNodes = [
          ...below.filter((g) => g.kind === 'function').map((g) => g.path.slice(prefix.length + 1).split('.').slice(0, -1)),
          ...this.g.packages.filter((p) => p.startsWith(`${prefix}.`)).map((p) => p.slice(prefix.length + 1).split('.')),
        ];
        for (const rel of emptyNodes) {
          if (rel.length === 0) continue;
          const skip = this.open();
          const probe = this.local();
          this.c.local_get(cur).local_set(probe);
          for (const p of rel) this.c.local_get(probe).constAddr(this.g.konst(p)).call('tg_get').local_set(probe);
          this.c.local_get(probe);
          this.brIf(skip);
          const empty = this.local();
          this.c.i32_const(0).call('tg_object').local_set(empty);
          const next = this.upsert(cur, rel, empty);
          this.c.local_get(next).local_set(cur);
          this.close();
        }
        for (const g of below) {
          if (g.kind === 'function') continue;
          const v = this.local();
          this.groupValue(g);
          this.c.local_set(v);
          const skip = this.open();
          this.c.local_get(v).i32_eqz();
          this.brIf(skip);
          // where base data and a rule overlap, the base value is kept (as OPA's tree merge does)
          const rel = g.path.slice(prefix.length + 1).split('.');
          const probe = this.local();
          this.c.local_get(base).local_set(probe);
          for (const p of rel) this.c.local_get(probe).constAddr(this.g.konst(p)).call('tg_get').local_set(probe);
          this.c.local_get(probe);
          this.brIf(skip);
          const next = this.upsert(cur, rel, v);
          this.c.local_get(next).local_set(cur);
          this.close();
        }
        steps(cur, parts.length);
        return;
      }
      baseData = true;
      steps(this.dataL, start);
      return;
    }
    if (head.type === 'var' && head.name === 'input') { steps(this.inputL, start); return; }
    start = 1;
    this.term(head, (hl) => steps(hl, start));
  }
}

function isMember(call: Extract<Term, { type: 'call' }>): boolean {
  return (call.name === 'internal.member_2' && call.args.length === 2) || (call.name === 'internal.member_3' && call.args.length === 3);
}

/** Vars a pattern term would bind (vars outside refs). */
function patternVarNames(t: Term): string[] {
  switch (t.type) {
    case 'var': return [t.name];
    case 'array': return t.items.flatMap(patternVarNames);
    case 'object': return t.entries.flatMap((e) => patternVarNames(e.value));
    default: return [];
  }
}

