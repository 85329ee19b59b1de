/**
 * Loads a policy module (tollgate-compiled, or built by `opa build -t wasm`) into @open-policy-agent/opa-wasm with
 * tollgate's host built-ins (src/policy/host/) supplied as the SDK's custom built-ins.
 */
import * as opa from '@open-policy-agent/opa-wasm';
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import {
  BuiltinError, BuiltinTypeError, HOST_CATALOGUE, RaisedBuiltinError, hostImportName, RegoMap, RegoSet, type HostBuiltin, type HostContext, type HostValue,
  type RegoValue, type SetAwareBuiltin,
} from './host/index.js';
import { parseValueText, stringifyExact, stringifyTagged } from './host/json.js';

export interface LoadOptions {
  /** Wall clock in ns since the epoch, read once per evaluation (OPA: one `time.now_ns` per query). */
  readonly now?: () => bigint;
  readonly memory?: Parameters<typeof loadPolicy>[1];
  /** Receives each line `print` writes (`file:row: text`); default: discarded. */
  readonly print?: (line: string) => void;
}

// the SDK's ESM entry names only `loadPolicy`; the sync loader is on the default export
const { loadPolicySync } = (opa as unknown as { default: unknown }).default as { loadPolicySync: typeof import('@open-policy-agent/opa-wasm').loadPolicySync };

type Custom = Record<string, (...args: unknown[]) => unknown>;
/** What the SDK loads: wasm bytes or a compiled module. */
export type PolicyModule = Parameters<typeof loadPolicySync>[0];

const encoder = new TextEncoder();

/** Nanoseconds since the epoch, microsecond resolution. */
function defaultNow(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

/** Per-policy state: one context per evaluation, created on the first host call that needs it. */
class Evaluation {
  private ctx: HostContext | undefined;
  constructor(private readonly now: () => bigint, private readonly print?: (line: string) => void) {}
  reset(): void { this.ctx = undefined; }
  get(): HostContext {
    this.ctx ??= this.print ? { nowNs: this.now(), cache: new Map(), print: this.print } : { nowNs: this.now(), cache: new Map() };
    return this.ctx;
  }
}

/** The SDK takes an ArrayBuffer result as JSON text, which the module parses keeping every digit. */
function toJsonBuffer(text: string): ArrayBuffer {
  return encoder.encode(text).buffer as ArrayBuffer;
}

/** Sets as arrays (what JSON-only callers get). */
function flattenSets(v: RegoValue): HostValue {
  if (v instanceof RegoSet) return v.items.map(flattenSets);
  if (v instanceof RegoMap) throw new BuiltinError('objects with non-string keys cannot be passed to this built-in');
  if (Array.isArray(v)) return v.map(flattenSets);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, flattenSets(x)]));
  return v;
}

/**
 * Runs one host built-in. `tagged`: the caller is a tollgate-compiled module, which parses a set-aware built-in's
 * answer in the tagged form (runtime hostcall.ts); otherwise the answer is plain JSON.
 */
function call(name: string, b: HostBuiltin | SetAwareBuiltin, strict: boolean, operands: () => RegoValue[], ev: Evaluation, tagged: boolean): ArrayBuffer | undefined {
  let r: RegoValue | undefined;
  try {
    const args = operands();
    r = b.sets === true ? b.impl(args, ev.get()) : b.impl(args.map(flattenSets), ev.get());
  } catch (e) {
    if (e instanceof BuiltinError || e instanceof BuiltinTypeError) {
      // OPA: a built-in error makes the call undefined unless built-in errors are strict
      if (!strict && !(e instanceof RaisedBuiltinError) && !(e instanceof BuiltinTypeError && b.raisesTypeErrors)) return undefined;
      throw new Error(`${e instanceof BuiltinTypeError ? 'eval_type_error' : 'eval_builtin_error'}: ${name}: ${e.message}`);
    }
    throw e;
  }
  if (r === undefined) return undefined;
  return toJsonBuffer(b.sets === true && tagged ? stringifyTagged(r) : stringifyExact(flattenSets(r)));
}

function customBuiltins(ev: Evaluation): Custom {
  const out: Custom = {};
  for (const [name, b] of Object.entries(HOST_CATALOGUE)) {
    // tollgate-compiled modules pass each operand as its OPA value text (exact numbers, sets)
    const exact = (strict: boolean) => (...texts: unknown[]): ArrayBuffer | undefined =>
      call(name, b, strict, () => texts.map((t) => parseValueText(t as string, b.sets === true, b.sets === true && b.maps === true)), ev, true);
    out[hostImportName(name, false)] = exact(false);
    out[hostImportName(name, true)] = exact(true);
    // `opa build` modules pass operands as values (the SDK's JSON round trip)
    out[name] = (...args: unknown[]) => call(name, b, false, () => args as HostValue[], ev, false);
  }
  return out;
}

function wrap(policy: LoadedPolicy, ev: Evaluation): LoadedPolicy {
  const evaluate = policy.evaluate.bind(policy);
  policy.evaluate = (input: unknown, entrypoint?: number | string): unknown => {
    ev.reset();
    return evaluate(input, entrypoint);
  };
  return policy;
}

/** Loads `wasm` with tollgate's host built-ins. */
export async function loadTollgatePolicy(wasm: PolicyModule, opts: LoadOptions = {}): Promise<LoadedPolicy> {
  const ev = new Evaluation(opts.now ?? defaultNow, opts.print);
  return wrap(await loadPolicy(wasm, opts.memory, customBuiltins(ev)), ev);
}

/** Synchronous variant for modules already compiled (`WebAssembly.Module`) or small buffers. */
export function loadTollgatePolicySync(wasm: PolicyModule, opts: LoadOptions = {}): LoadedPolicy {
  const ev = new Evaluation(opts.now ?? defaultNow, opts.print);
  return wrap(loadPolicySync(wasm, opts.memory, customBuiltins(ev)), ev);
}
