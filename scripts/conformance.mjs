#!/usr/bin/env node
// Rego conformance runner (issue #3): `npm run conformance -- <folder> [--show-skipped]`.
// Runs the compiled TypeScript from dist/: run `npm run build` first.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const mod = join(root, 'dist/policy/rego/conformance/run.js');
if (!existsSync(mod)) {
  console.error('conformance: dist/ is missing; run `npm run build` first');
  process.exit(2);
}
const args = process.argv.slice(2);
const folder = args.find((a) => !a.startsWith('--'));
if (!folder) {
  console.error('usage: npm run conformance -- <folder> [--show-skipped]');
  process.exit(2);
}
const { runConformance, formatReport } = await import(pathToFileURL(mod).href);
const summary = await runConformance(resolve(folder));
console.log(formatReport(summary, { showSkipped: args.includes('--show-skipped') }));
process.exit(summary.failed > 0 ? 1 : 0);
