/**
 * Rego → OPA-WebAssembly compiler entry point: parse → checkModules → generate → linkPolicy onto runtime.wasm.
 * Supported subset and design: see generate.ts. Unsupported constructs are `rego_unsupported_error` compile errors.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkModules, type CompileError } from '../check/index.js';
import { parseModule, RegoParseError, type RegoVersion } from '../syntax/parser.js';
import type { Module } from '../syntax/ast.js';
import { linkPolicy } from '../../wasm/link.js';
import { generate, REGO_UNSUPPORTED_ERROR, UnsupportedError } from './generate.js';

export { REGO_UNSUPPORTED_ERROR, UnsupportedError } from './generate.js';
export type { CompileError } from '../check/index.js';

export interface CompileOptions {
  /** Entrypoints as slash paths below `data` (`test/p` = `data.test.p`). */
  entrypoints: string[];
  regoVersion: RegoVersion;
  /**
   * OPA's `--strict-builtin-errors`, partly: operand type errors of every built-in raise `eval_type_error`
   * (by default only where OPA raises them without the flag); other built-in errors stay undefined.
   */
  strictBuiltinErrors?: boolean;
  /** runtime.wasm bytes; default: {@link loadRuntime}. */
  runtime?: Uint8Array;
}

export type CompileResult = { wasm: Uint8Array; errors?: undefined } | { wasm?: undefined; errors: CompileError[] };

const HERE = dirname(fileURLToPath(import.meta.url));
/** Project root: this file is src/policy/rego/codegen/ or dist/policy/rego/codegen/. */
const ROOT = resolve(HERE, '../../../..');
let runtimeCache: Uint8Array | undefined;

/**
 * runtime.wasm: `dist/policy/runtime/runtime.wasm` when present, else built once per process with
 * scripts/build-policy-runtime.mjs into a temp dir.
 */
export function loadRuntime(): Uint8Array {
  if (runtimeCache) return runtimeCache;
  const shipped = join(ROOT, 'dist/policy/runtime/runtime.wasm');
  if (existsSync(shipped)) {
    runtimeCache = new Uint8Array(readFileSync(shipped));
    return runtimeCache;
  }
  const out = mkdtempSync(join(tmpdir(), 'tollgate-runtime-'));
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-policy-runtime.mjs'), '--runtime-only', '--out', out], { cwd: ROOT, stdio: 'pipe' });
  runtimeCache = new Uint8Array(readFileSync(join(out, 'runtime.wasm')));
  return runtimeCache;
}

export function compilePolicy(sources: { file: string; text: string }[], opts: CompileOptions): CompileResult {
  const modules: Module[] = [];
  for (const s of sources) {
    try {
      modules.push(parseModule(s.text, { file: s.file, regoVersion: opts.regoVersion }));
    } catch (e) {
      if (e instanceof RegoParseError) {
        return { errors: [{ code: e.code, message: e.detail, location: e.location }] };
      }
      throw e;
    }
  }
  const checked = checkModules(modules);
  if (!checked.ok) return { errors: checked.errors };
  try {
    const packages = modules.map((m) => m.package.path.terms.map((t, i) => (i === 0 && t.type === 'var' ? t.name : t.type === 'string' ? t.value : '?')).join('.'));
    const input = generate(checked.program, opts.entrypoints, packages, { strictBuiltinErrors: opts.strictBuiltinErrors ?? false });
    return { wasm: linkPolicy(opts.runtime ?? loadRuntime(), input) };
  } catch (e) {
    if (e instanceof UnsupportedError) {
      return { errors: [{ code: REGO_UNSUPPORTED_ERROR, message: e.message, location: e.location ?? { file: '', row: 0, col: 0 } }] };
    }
    throw e;
  }
}
