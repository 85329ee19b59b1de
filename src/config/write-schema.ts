/**
 * Writes the published `config/gateway.schema.json` from `gatewaySchema`, so editors can use it
 * (e.g. `# yaml-language-server: $schema=../config/gateway.schema.json` at the top of a YAML file).
 * `test/config/schema-file.test.ts` fails when the checked-in file is stale; regenerate with
 * `UPDATE_SCHEMA=1 npx vitest run test/config/schema-file.test.ts`, or after a build with
 * `node dist/config/write-schema.js [path]`.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gatewaySchema } from './schema.js';

/** The exact text of the published schema file. */
export function renderSchema(): string {
  return JSON.stringify(gatewaySchema, null, 2) + '\n';
}

export function writeSchemaFile(path: string): void {
  writeFileSync(path, renderSchema());
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeSchemaFile(process.argv[2] ?? 'config/gateway.schema.json');
}
