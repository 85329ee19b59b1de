#!/usr/bin/env node
// Rego conformance runner (issue #3): `npm run conformance -- <folder> [--show-skipped] [--write-known-failures f]`.
// Runs the compiled TypeScript from dist/: run `npm run build` first.
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const mod = join(root, 'dist/policy/rego/conformance/run.js');
if (!existsSync(mod)) {
  console.error('conformance: dist/ is missing; run `npm run build` first');
  process.exit(2);
}
const args = process.argv.slice(2);
const writeAt = args.indexOf('--write-known-failures');
const knownFile = writeAt >= 0 ? args[writeAt + 1] : undefined;
const folder = args.find((a, i) => !a.startsWith('--') && !(writeAt >= 0 && i === writeAt + 1));
if (!folder || (writeAt >= 0 && !knownFile)) {
  console.error('usage: npm run conformance -- <folder> [--show-skipped] [--write-known-failures file.txt]');
  process.exit(2);
}
const { runConformance, formatReport } = await import(pathToFileURL(mod).href);
const summary = await runConformance(resolve(folder));
console.log(formatReport(summary, { showSkipped: args.includes('--show-skipped') }));
if (knownFile) {
  // the committed list test/policy/rego/codegen/known-failures/*.txt: one case id per line (failed or skipped)
  const ids = summary.results.filter((r) => r.outcome !== 'passed').map((r) => r.id).sort();
  writeFileSync(knownFile, ids.map((id) => `${id}\n`).join(''));
  console.log(`wrote ${ids.length} known failures to ${knownFile}`);
}
process.exit(summary.failed > 0 ? 1 : 0);
