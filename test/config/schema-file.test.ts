import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gatewaySchema } from '../../src/config/schema.js';
import { renderSchema, writeSchemaFile } from '../../src/config/write-schema.js';

const SCHEMA_FILE = fileURLToPath(new URL('../../config/gateway.schema.json', import.meta.url));

describe('config/gateway.schema.json', () => {
  // Regenerate after changing the schema: UPDATE_SCHEMA=1 npx vitest run test/config/schema-file.test.ts
  if (process.env['UPDATE_SCHEMA'] === '1') writeSchemaFile(SCHEMA_FILE);

  it('is exactly gatewaySchema as rendered by write-schema', () => {
    expect(renderSchema()).toBe(JSON.stringify(gatewaySchema, null, 2) + '\n');
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(renderSchema());
  });
});
