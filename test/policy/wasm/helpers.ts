import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';

const ROOT = resolve(import.meta.dirname, '../../..');

function build(flag: string, file: string): Uint8Array {
  const out = mkdtempSync(join(tmpdir(), 'tollgate-wasm-'));
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-policy-runtime.mjs'), '--out', out, flag], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  return new Uint8Array(readFileSync(join(out, file)));
}

/** Runs scripts/build-policy-runtime.mjs into a fresh temp dir and returns the spike module bytes. */
export function buildExamplePolicy(): Uint8Array {
  return build('--example-only', 'example-policy.wasm');
}

/** Same, for the policy-agnostic runtime.wasm that src/policy/wasm/link.ts links onto. */
export function buildRuntime(): Uint8Array {
  return build('--runtime-only', 'runtime.wasm');
}

export type AbiPath = '1.1' | '1.2';

/**
 * Loads the module through the real SDK. The SDK picks its evaluate() path from the module's
 * opa_wasm_abi_minor_version; forcing `minorVersion = 1` on the LoadedPolicy makes the same
 * module go through the ABI 1.1 path (opa_eval_ctx_* + eval + opa_json_dump).
 */
export async function load(bytes: Uint8Array, path: AbiPath): Promise<LoadedPolicy> {
  const policy = await loadPolicy(bytes);
  if (path === '1.1') policy.minorVersion = 1;
  return policy;
}

export interface PolicyExports {
  opa_heap_ptr_get(): number;
  opa_heap_ptr_set(p: number): void;
  opa_malloc(n: number): number;
  opa_json_parse(p: number, n: number): number;
  opa_json_dump(v: number): number;
  opa_value_dump(v: number): number;
  opa_eval(r: number, ep: number, data: number, input: number, len: number, heap: number, fmt: number): number;
}

export function exportsOf(policy: LoadedPolicy): PolicyExports {
  return (policy.wasmInstance as unknown as { exports: PolicyExports }).exports;
}

export function readCString(mem: { buffer: ArrayBuffer }, addr: number): string {
  const buf = new Uint8Array(mem.buffer);
  let end = addr;
  while (buf[end] !== 0) end++;
  return new TextDecoder().decode(buf.subarray(addr, end));
}

interface ModuleDescriptor {
  module?: string;
  name: string;
  kind: string;
}

/** A module instantiated without the SDK. */
export interface RawInstance {
  exports: Record<string, unknown>;
}

/** The bits of the WebAssembly JS API the tests use (the project's lib settings do not declare it). */
export const Wasm = (globalThis as unknown as {
  WebAssembly: {
    Module: {
      new (bytes: Uint8Array): object;
      imports(m: object): ModuleDescriptor[];
      exports(m: object): ModuleDescriptor[];
    };
    Memory: new (d: { initial: number }) => { buffer: ArrayBuffer };
    Instance: new (m: object, imports: object) => RawInstance;
  };
}).WebAssembly;
