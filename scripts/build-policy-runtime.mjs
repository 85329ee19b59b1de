#!/usr/bin/env node
// Builds tollgate's OPA-WASM policy runtime (AssemblyScript) into WebAssembly.
//
//   node scripts/build-policy-runtime.mjs [--out <dir>]      (default: dist/policy/runtime)
//
// Writes <out>/runtime.wasm (the policy-agnostic runtime that src/policy/wasm/link.ts links
// generated policies onto; shipped in dist/) and <out>/example-policy.wasm (runtime + the
// hand-written spike policy, used by tests). `--runtime-only` / `--example-only` build one. The build is
// deterministic: same sources + same assemblyscript version → same bytes (checked by
// test/policy/wasm/determinism.test.ts). No debug info, no source map, no names that
// embed absolute paths.
import asc from "assemblyscript/asc";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const assemblyDir = join(root, "src/policy/runtime/assembly");

/** Flags shared by every runtime build. Keep in sync with src/policy/wasm/DESIGN.md. */
export const ASC_FLAGS = [
  "--runtime", "stub", // no GC; the runtime never allocates managed objects anyway
  "--importMemory", // the SDK creates env.memory (5 pages by default) and passes it in
  "--noExportMemory",
  "--use", "abort=", // no env.abort import: the SDK only provides opa_abort/opa_println/opa_builtin0..4
  "--optimizeLevel", "3",
  "--shrinkLevel", "0",
  "--noAssert",
];

/**
 * Compiles one AssemblyScript entry file (relative to src/policy/runtime/assembly) to wasm bytes.
 * @param {string} entry
 * @returns {Promise<Uint8Array>}
 */
export async function compileEntry(entry) {
  /** @type {Uint8Array | undefined} */
  let binary;
  let stderr = "";
  const { error } = await asc.main(
    [relative(root, join(assemblyDir, entry)), "--outFile", "out.wasm", ...ASC_FLAGS],
    {
      // Capture output in memory instead of writing files.
      writeFile(name, contents) {
        if (name.endsWith(".wasm")) binary = contents;
      },
      stdout: { write() { return true; } },
      stderr: { write(s) { stderr += String(s); return true; } },
      // asc resolves relative paths against cwd; pin it to the repo root for stable output
      // regardless of where the script is launched from.
      baseDir: root,
    },
  );
  if (error) throw new Error(`asc failed for ${entry}: ${error.message}\n${stderr}`);
  if (!binary) throw new Error(`asc produced no binary for ${entry}\n${stderr}`);
  return binary;
}

/**
 * Builds the runtime artifacts into outDir and returns their paths.
 * @param {string} outDir
 * @param {{ runtime?: boolean, example?: boolean }} [which] default: both
 */
export async function buildPolicyRuntime(outDir, { runtime: withRuntime = true, example = true } = {}) {
  await mkdir(outDir, { recursive: true });
  /** @type {Record<string, string>} */
  const out = {};
  if (withRuntime) {
    const runtime = join(outDir, "runtime.wasm");
    await writeFile(runtime, await compileEntry("runtime-entry.ts"));
    out.runtime = runtime;
  }
  if (example) {
    const file = join(outDir, "example-policy.wasm");
    await writeFile(file, await compileEntry("example-policy.ts"));
    out.examplePolicy = file;
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--out");
  const outDir = resolve(i > 0 && process.argv[i + 1] ? process.argv[i + 1] : join(root, "dist/policy/runtime"));
  const out = await buildPolicyRuntime(outDir, {
    runtime: !process.argv.includes("--example-only"),
    example: !process.argv.includes("--runtime-only"),
  });
  for (const f of Object.values(out)) console.log(`wrote ${relative(process.cwd(), f)}`);
}
