/**
 * Host built-ins: OPA built-ins that tollgate's compiled policies call through the ABI's `env.opa_builtinN`
 * imports and that tollgate's loader (`../load.ts`) supplies. The in-module ones (`tg_bi_*`) are listed in
 * src/policy/runtime/assembly/builtins/README.md.
 *
 * Values cross the boundary as OPA value text produced inside the module, so the host sees exact numbers: an
 * integer outside ±(2^53−1) arrives as a `bigint`, every other number as a JS `number`. Sets arrive as arrays
 * unless the built-in declares `sets: true` ({@link SetAwareBuiltin}), which gets and may return {@link RegoSet}s.
 */
export type HostValue = null | boolean | number | bigint | string | HostValue[] | { [key: string]: HostValue };

/** Operand type names as OPA's type checker prints them; `any` accepts everything. */
export type OperandType = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object' | 'set' | 'any';

/** A Rego set, for built-ins that declare `sets: true` (others see sets as arrays, as `json.marshal` writes them). */
export class RegoSet {
  constructor(readonly items: RegoValue[]) {}
}

/**
 * An object with a key that is not a string (`{1: 2}`), for built-ins that declare `maps: true` (they print values);
 * other built-ins get a built-in error for such an operand.
 */
export class RegoMap {
  constructor(readonly entries: [RegoValue, RegoValue][]) {}
}

/** A {@link HostValue} that may hold sets (and, for `maps: true` built-ins, objects with non-string keys). */
export type RegoValue = null | boolean | number | bigint | string | RegoValue[] | RegoSet | RegoMap | { [key: string]: RegoValue };

/** A built-in that needs to tell sets from arrays in its operands or returns sets. */
export interface SetAwareBuiltin {
  readonly args: readonly (readonly OperandType[])[];
  readonly raisesTypeErrors?: boolean;
  readonly sets: true;
  /** Objects with non-string keys arrive as {@link RegoMap}s (else they are a built-in error). */
  readonly maps?: true;
  readonly impl: (args: RegoValue[], ctx: HostContext) => RegoValue | undefined;
}

export interface HostBuiltin {
  readonly sets?: false;
  /** Allowed top-level types of each operand (several = union). The generated code checks them before the call. */
  readonly args: readonly (readonly OperandType[])[];
  /**
   * OPA raises `eval_type_error` for a wrong top-level operand type even without strict built-in errors
   * (otherwise the call is undefined).
   */
  readonly raisesTypeErrors?: boolean;
  /** Not a pure function of its operands (`time.now_ns`, `rand.intn`): the loader gives it per-evaluation state. */
  readonly impl: (args: HostValue[], ctx: HostContext) => HostValue | undefined;
}

/** Per-evaluation state: OPA returns one `time.now_ns` for a whole query, and the same `rand.intn` per (str, n). */
export interface HostContext {
  /** Nanoseconds since the Unix epoch, fixed for one evaluation. */
  readonly nowNs: bigint;
  /** Memo for built-ins OPA caches per query (key chosen by the built-in). */
  readonly cache: Map<string, HostValue>;
  /** Where `print` output goes (the loader's sink); absent = discarded. */
  readonly print?: (line: string) => void;
}

export type HostCatalogue = Readonly<Record<string, HostBuiltin | SetAwareBuiltin>>;

/**
 * A built-in error (OPA `eval_builtin_error`): the call is undefined, or with strict built-in errors the
 * evaluation fails with this message.
 */
export class BuiltinError extends Error {}

/**
 * A built-in error OPA reports even without strict built-in errors (its compliance cases: a regex syntax error, a
 * second operand of `net.cidr_contains` that is neither an IP nor a CIDR).
 */
export class RaisedBuiltinError extends BuiltinError {}

/** An operand of the wrong type below the top level (OPA `eval_type_error`); handled like {@link BuiltinError}. */
export class BuiltinTypeError extends Error {}
