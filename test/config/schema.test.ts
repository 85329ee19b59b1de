import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { gatewaySchema, type JsonSchema } from '../../src/config/schema.js';
import { SECRET_32 } from './fixtures.js';

type Visit = (schema: JsonSchema, where: string) => void;

/** Every subschema with a readable location, e.g. `routes[].match.methods`. */
function walk(schema: JsonSchema, where: string, visit: Visit): void {
  visit(schema, where);
  const props = schema['properties'] as Record<string, JsonSchema> | undefined;
  for (const [k, s] of Object.entries(props ?? {})) walk(s, where === '' ? k : `${where}.${k}`, visit);
  for (const key of ['items', 'additionalProperties', 'then', 'else', 'if', 'propertyNames'] as const) {
    const sub = schema[key];
    if (sub !== null && typeof sub === 'object') walk(sub as JsonSchema, `${where}<${key}>`, visit);
  }
  for (const key of ['allOf', 'oneOf', 'anyOf'] as const) {
    (schema[key] as JsonSchema[] | undefined)?.forEach((s, i) => walk(s, `${where}<${key}${i}>`, visit));
  }
}

describe('gatewaySchema', () => {
  it('is a valid draft-07 schema that compiles in strict mode', () => {
    const ajv = new Ajv({ strict: true, strictRequired: false, allowUnionTypes: true });
    ajv.addVocabulary(['errorMessage']);
    ajv.addFormat('uri', true);
    expect(ajv.validateSchema(gatewaySchema)).toBe(true);
    expect(() => ajv.compile(gatewaySchema)).not.toThrow();
    expect(gatewaySchema['$schema']).toBe('http://json-schema.org/draft-07/schema#');
  });

  it('is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(gatewaySchema))).toStrictEqual(gatewaySchema);
  });

  it('closes every object: additionalProperties is false wherever properties are listed', () => {
    const open: string[] = [];
    walk(gatewaySchema, '', (s, where) => {
      if (s['properties'] !== undefined && s['additionalProperties'] !== false) open.push(where);
    });
    expect(open).toEqual([]);
  });

  it('gives every property, list item and map entry a title and a description', () => {
    const missing: string[] = [];
    const check = (s: JsonSchema, where: string) => {
      if (typeof s['title'] !== 'string' || typeof s['description'] !== 'string' || s['description'] === '') missing.push(where);
    };
    walk(gatewaySchema, '', (s, where) => {
      for (const [k, p] of Object.entries((s['properties'] as Record<string, JsonSchema> | undefined) ?? {})) check(p, `${where}.${k}`);
      if (typeof s['items'] === 'object') check(s['items'] as JsonSchema, `${where}[]`);
      if (typeof s['additionalProperties'] === 'object') check(s['additionalProperties'] as JsonSchema, `${where}.*`);
    });
    check(gatewaySchema, '(root)');
    expect(missing).toEqual([]);
  });

  it('publishes the defaults the loader applies', () => {
    // Every optional object present, every defaulted field omitted.
    const text = `version: 1
server: { public: { port: 1 }, admin: { port: 2 } }
issuers:
  a: { issuer: a, audiences: [x], algorithms: [RS256], jwks: { uri: "https://a.example/jwks" } }
  h: { issuer: h, audiences: [x], algorithms: [HS256], secret: { env: S } }
upstreams:
  u: { url: "https://u.example", tls: {} }
routes:
  - { id: r1, match: { path: /a }, upstream: u, auth: { issuer: a }, risk: low }
  - { id: r2, match: { path: /b }, upstream: u, auth: false, risk: low }
`;
    const config = loadConfig(text, { env: { S: SECRET_32 } });
    const checked: string[] = [];
    // Walk schema, loaded config and written YAML together; a default must equal the loaded value
    // wherever the YAML left the field out.
    const compare = (schema: JsonSchema, value: unknown, written: unknown, where: string): void => {
      if (value === null || typeof value !== 'object') return;
      const obj = value as Record<string, unknown>;
      const raw = (written ?? {}) as Record<string, unknown>;
      for (const [k, s] of Object.entries((schema['properties'] as Record<string, JsonSchema> | undefined) ?? {})) {
        if ('default' in s && !(k in raw)) {
          expect(obj[k], `${where}.${k}`).toStrictEqual(s['default']);
          checked.push(`${where}.${k}`);
        }
        compare(s, obj[k], raw[k], `${where}.${k}`);
      }
      const entry = schema['additionalProperties'];
      if (typeof entry === 'object') for (const [k, v] of Object.entries(obj)) compare(entry as JsonSchema, v, raw[k], `${where}.${k}`);
      const items = schema['items'];
      if (typeof items === 'object' && Array.isArray(value)) value.forEach((v, i) => compare(items as JsonSchema, v, (written as unknown[] | undefined)?.[i], `${where}[${i}]`));
      const otherwise = schema['else'];
      if (typeof otherwise === 'object' && !Array.isArray(value)) compare(otherwise as JsonSchema, value, written, where);
    };
    compare(gatewaySchema, config, parse(text), '');
    // The walk reached every section that has defaults.
    expect(checked).toEqual(
      expect.arrayContaining([
        '.server.public.host',
        '.server.admin.host',
        '.server.maxBodyBytes',
        '.server.requestTimeoutMs',
        '.logging',
        '.logging.level',
        '.identityHeaders',
        '.issuers.a.jwks.cacheMaxAgeMs',
        '.issuers.a.clockToleranceSec',
        '.issuers.a.clientIdClaims',
        '.issuers.h.requiredClaims',
        '.upstreams.u.connectTimeoutMs',
        '.upstreams.u.responseTimeoutMs',
        '.upstreams.u.maxSockets',
        '.routes[0].match.methods',
        '.routes[0].auth.scopes',
        '.routes[1].forwardAuthorization',
      ]),
    );
  });

  it('marks auth and risk required on routes: nothing is public or low-risk by omission', () => {
    const routes = (gatewaySchema['properties'] as Record<string, JsonSchema>)['routes'];
    const route = routes?.['items'] as JsonSchema;
    expect(route['required']).toEqual(expect.arrayContaining(['auth', 'risk']));
    expect((route['properties'] as Record<string, JsonSchema>)['risk']).not.toHaveProperty('default');
  });
});
