/**
 * Typed AST for Rego modules and queries. The shapes follow OPA's `ast` package (ast/term.go, ast/policy.go) closely
 * enough that the later compiler stages can port OPA's algorithms, but as discriminated unions instead of Go
 * interfaces. Every node carries a 1-based `{ file, row, col }` location, as OPA reports them.
 */

export interface Location {
  file: string;
  /** 1-based line. */
  row: number;
  /** 1-based column, counted in UTF-16 code units (OPA counts bytes; identical for ASCII source). */
  col: number;
}

interface Node {
  location: Location;
  /** True for nodes the parser synthesised (e.g. the implicit `true` value of `p if …`), as OPA's `Generated`. */
  generated?: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Terms (OPA ast/term.go)

export interface NullTerm extends Node { type: 'null' }
export interface BooleanTerm extends Node { type: 'boolean'; value: boolean }
/** Numbers keep their source text: Rego numbers are arbitrary-precision (OPA uses json.Number / big.Float). */
export interface NumberTerm extends Node { type: 'number'; text: string }
export interface StringTerm extends Node {
  type: 'string';
  /** The decoded value (escapes resolved). */
  value: string;
  /** True for backtick raw strings. */
  raw?: boolean;
}
export interface VarTerm extends Node { type: 'var'; name: string }
/**
 * A reference: `terms[0]` is the head (a var such as `data`/`input`/`x`, or a call/composite/comprehension for
 * refs like `f(x)[0]` or `[1, 2][i]`); dot parts are string terms, bracket parts any term — as OPA's `Ref`.
 */
export interface RefTerm extends Node { type: 'ref'; terms: [Term, ...Term[]] }
export interface ArrayTerm extends Node { type: 'array'; items: Term[] }
export interface ObjectEntry { key: Term; value: Term }
export interface ObjectTerm extends Node { type: 'object'; entries: ObjectEntry[] }
export interface SetTerm extends Node { type: 'set'; items: Term[] }
export interface ArrayComprehension extends Node { type: 'arraycompr'; term: Term; body: Body }
export interface SetComprehension extends Node { type: 'setcompr'; term: Term; body: Body }
export interface ObjectComprehension extends Node { type: 'objectcompr'; key: Term; value: Term; body: Body }
/**
 * A call `f(a, b)`, or an infix operator desugared to its built-in (`a + b` is `plus(a, b)`, `x in xs` is
 * `internal.member_2(x, xs)`, `k, v in xs` is `internal.member_3(k, v, xs)`), as OPA does. `operator` is the
 * callee's ref (`[var plus]`, `[var internal, "member_2"]`); `name` its dotted form; `infix` the source operator.
 */
export interface CallTerm extends Node {
  type: 'call';
  operator: RefTerm;
  name: string;
  args: Term[];
  infix?: InfixOperator;
}

export type Scalar = NullTerm | BooleanTerm | NumberTerm | StringTerm;
export type Term =
  | Scalar
  | VarTerm
  | RefTerm
  | ArrayTerm
  | ObjectTerm
  | SetTerm
  | ArrayComprehension
  | SetComprehension
  | ObjectComprehension
  | CallTerm;

/** Infix operators inside terms, with the built-in each one calls (OPA ast/builtins.go). */
export const INFIX_BUILTINS = {
  '==': 'equal',
  '!=': 'neq',
  '<': 'lt',
  '<=': 'lte',
  '>': 'gt',
  '>=': 'gte',
  '|': 'or',
  '&': 'and',
  '+': 'plus',
  '-': 'minus',
  '*': 'mul',
  '/': 'div',
  '%': 'rem',
  in: 'internal.member_2',
  'k,v in': 'internal.member_3',
} as const;
export type InfixOperator = keyof typeof INFIX_BUILTINS;

// ---------------------------------------------------------------------------------------------------------------
// Expressions and bodies (OPA ast/policy.go: Expr, Body, SomeDecl, Every, With)

/** `with target as value`. */
export interface WithModifier extends Node { type: 'with'; target: Term; value: Term }

export interface TermExpr { kind: 'term'; term: Term }
export interface CallExpr { kind: 'call'; call: CallTerm }
/** `lhs = rhs` (unification, built-in `eq`). */
export interface UnifyExpr { kind: 'unify'; lhs: Term; rhs: Term }
/** `lhs := rhs` (assignment, built-in `assign`). */
export interface AssignExpr { kind: 'assign'; lhs: Term; rhs: Term }
/** `some x, y` — declares local variables. */
export interface SomeVarsExpr { kind: 'some-vars'; vars: VarTerm[] }
/** `some x in xs` (key null) / `some k, v in xs`. */
export interface SomeInExpr { kind: 'some-in'; key: Term | null; value: Term; collection: Term }
/** `every x in xs { body }` (key null) / `every k, v in xs { body }`. */
export interface EveryExpr { kind: 'every'; key: Term | null; value: Term; domain: Term; body: Body }

export type ExprNode = TermExpr | CallExpr | UnifyExpr | AssignExpr | SomeVarsExpr | SomeInExpr | EveryExpr;
export type Expr = Node & { type: 'expr'; negated: boolean; with: WithModifier[] } & ExprNode;
/** A query / rule body: expressions joined by `;` or newlines (a conjunction). */
export type Body = Expr[];

// ---------------------------------------------------------------------------------------------------------------
// Rules and modules

/**
 * A rule head. `ref` is the rule's reference (`p` → [var p]; `a.b[c]` → [var a, "b", var c]).
 * - `single`: complete rule or single-value ref head (`p := 1`, `p[x] := y`, `p if …`); `value` is always set
 *   (the implicit `true` is synthesised, `generated: true`, as OPA does).
 * - `multi`: partial set (`p contains x`, v0 `p[x] { … }`); `key` is the element, `ref` excludes it.
 * - `function`: `f(x) := y`; `args` set, `value` always set.
 */
export interface RuleHead extends Node {
  type: 'head';
  kind: 'single' | 'multi' | 'function';
  ref: [VarTerm, ...Term[]];
  /** The first ref segment (OPA's `Head.Name` for non-ref heads). */
  name: string;
  args?: Term[];
  key?: Term;
  value?: Term;
  /** True when the head used `:=` rather than `=`. */
  assign: boolean;
}

export interface Rule extends Node {
  type: 'rule';
  default: boolean;
  head: RuleHead;
  /** The body; a rule without one gets `[true]` (generated), as in OPA. */
  body: Body;
  /** The `else` chain: `p := 1 if { a } else := 2 if { b }`. */
  else?: Rule;
}

export interface Package extends Node {
  type: 'package';
  /** `package a.b` → ref data.a.b (OPA's `Package.Path`). */
  path: RefTerm;
}

export interface Import extends Node {
  type: 'import';
  /** e.g. data.foo.bar, input.x, future.keywords.in, rego.v1 */
  path: RefTerm;
  alias?: string;
}

export interface Module extends Node {
  type: 'module';
  package: Package;
  imports: Import[];
  rules: Rule[];
  /** The syntax the module was parsed with: `v1` if asked for, or if a v0 module imports `rego.v1`. */
  regoVersion: 'v0' | 'v1';
}

export interface Comment extends Node { type: 'comment'; text: string }
