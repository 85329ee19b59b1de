#!/usr/bin/env node
// `npm run bench:policy` (issue #3): compile time of the shipped policies (policy/**.rego) and evaluation latency
// of the shipped decision policy through @open-policy-agent/opa-wasm's evaluate() with a ~1 KB input and a few
// hundred lines of data. Environment: BENCH_EVALS (default 100000), BENCH_COMPILES (default 20).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchData, benchInput } from './fixture.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { compilePolicy, loadRuntime } = await import(join(root, 'dist/policy/rego/codegen/index.js'));
const { loadTollgatePolicy } = await import(join(root, 'dist/policy/load.js'));

const EVALS = Number(process.env.BENCH_EVALS ?? 100_000);
const COMPILES = Number(process.env.BENCH_COMPILES ?? 20);
const ENTRYPOINT = 'tollgate/decision';

function regoFiles(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? regoFiles(p) : n.endsWith('.rego') && !n.endsWith('_test.rego') ? [p] : [];
  }).sort();
}

const pct = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const fmt = (ns) => `${(Number(ns) / 1000).toFixed(1)} µs`;

const sources = regoFiles(join(root, 'policy')).map((f) => ({ file: relative(root, f), text: readFileSync(f, 'utf8') }));
const lines = sources.reduce((n, s) => n + s.text.split('\n').length, 0);
loadRuntime(); // the prebuilt runtime.wasm is read once per process; not part of a compile

const compileMs = [];
let wasm;
for (let i = 0; i < COMPILES; i++) {
  const t0 = process.hrtime.bigint();
  const r = compilePolicy(sources, { entrypoints: [ENTRYPOINT], regoVersion: 'v1' });
  compileMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  if (r.errors) throw new Error(`compile failed: ${JSON.stringify(r.errors)}`);
  wasm = r.wasm;
}
compileMs.sort((a, b) => a - b);

const policy = await loadTollgatePolicy(wasm);
const data = benchData();
policy.setData(data);
const input = benchInput();
const first = policy.evaluate(input);
if (first[0]?.result?.allow !== true) throw new Error(`bench input is not allowed: ${JSON.stringify(first)}`);

for (let i = 0; i < 10_000; i++) policy.evaluate(input); // warm-up (JIT, memory growth)
const ns = new Array(EVALS);
for (let i = 0; i < EVALS; i++) {
  const t0 = process.hrtime.bigint();
  policy.evaluate(input);
  ns[i] = process.hrtime.bigint() - t0;
}
ns.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

console.log(`node ${process.version}`);
console.log(`policies: ${sources.length} file(s), ${lines} lines; module ${wasm.length} bytes`);
console.log(`data: ${JSON.stringify(data).length} bytes JSON (${JSON.stringify(data, null, 1).split('\n').length} lines pretty-printed); input: ${JSON.stringify(input).length} bytes`);
console.log(`compile (${COMPILES} runs): median ${pct(compileMs, 0.5).toFixed(1)} ms, max ${compileMs.at(-1).toFixed(1)} ms (goal < 1000 ms)`);
console.log(`evaluate (${EVALS} runs): p50 ${fmt(pct(ns, 0.5))}, p90 ${fmt(pct(ns, 0.9))}, p99 ${fmt(pct(ns, 0.99))} (goal p50 < 25 µs)`);
