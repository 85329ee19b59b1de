/**
 * Validates plain configuration data against `gatewaySchema` with Ajv (all errors) and turns Ajv's
 * errors into issues that name the place and read well: unknown keys point at the key itself,
 * `errorMessage` annotations replace generic text, and the inner errors of a failed `oneOf` or
 * `if` are dropped in favour of the one message that explains them. Compiled once, on first use.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { fromPointer, type PathSegment } from './errors.js';
import { gatewaySchema } from './schema.js';
import type { RawIssue } from './yaml-doc.js';

let validator: ValidateFunction | undefined;

function compile(): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true });
  ajv.addVocabulary(['errorMessage']);
  ajv.addFormat('uri', (s: string) => URL.canParse(s));
  return ajv.compile(gatewaySchema);
}

/** Schema problems in `data`; empty when it conforms. */
export function schemaIssues(data: unknown): RawIssue[] {
  validator ??= compile();
  if (validator(data)) return [];
  const errors = validator.errors ?? [];
  // A value of the wrong type fails its other keywords too (enum, pattern...): report the type only.
  const wrongType = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const issues: RawIssue[] = [];
  const seen = new Set<string>();
  for (const err of errors) {
    if (err.keyword !== 'type' && wrongType.has(err.instancePath) && !CHILD_KEYWORDS.has(err.keyword)) continue;
    const issue = translate(err, data);
    if (issue === undefined) continue;
    const key = JSON.stringify([issue.path, issue.message]);
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return issues;
}

/** Keywords whose issue is about a child (a key or item), not the value itself. */
const CHILD_KEYWORDS = new Set(['additionalProperties', 'required', 'propertyNames', 'uniqueItems']);

const BRANCH = /\/(?:oneOf|anyOf)\/\d+\//;

function customMessage(schema: unknown): string | undefined {
  const m = (schema as { errorMessage?: unknown } | undefined)?.errorMessage;
  return typeof m === 'string' ? m : undefined;
}

function translate(err: ErrorObject, data: unknown): RawIssue | undefined {
  // Inner errors: the enclosing oneOf / if / propertyNames error explains them better.
  if (err.keyword === 'if' || BRANCH.test(err.schemaPath)) return undefined;
  if (err.propertyName !== undefined && err.keyword !== 'propertyNames') return undefined;

  const path = segmentsIn(data, err.instancePath);
  const custom = customMessage(err.parentSchema);
  const p = err.params as Record<string, unknown>;

  switch (err.keyword) {
    case 'additionalProperties': {
      const key = String(p['additionalProperty']);
      const allowed = Object.keys((err.parentSchema?.['properties'] as object | undefined) ?? {});
      const guess = closest(key, allowed);
      let message = `unknown key "${key}"`;
      if (guess !== undefined) message += `; did you mean "${guess}"?`;
      else if (allowed.length > 0) message += `; allowed keys: ${allowed.join(', ')}`;
      if (custom !== undefined) message += ` (${custom})`;
      return { path: [...path, key], atKey: true, message };
    }
    case 'required':
      return { path: [...path, String(p['missingProperty'])], message: custom ?? 'is required' };
    case 'propertyNames': {
      const name = String(p['propertyName']);
      return { path: [...path, name], atKey: true, message: `invalid name "${name}": ${customMessage(err.schema) ?? 'not allowed'}` };
    }
    case 'oneOf': {
      const several = Array.isArray(p['passingSchemas']);
      return { path, message: `${custom ?? 'must match exactly one alternative'} (${several ? 'more than one is set' : 'none is set'})` };
    }
    case 'uniqueItems': {
      const [a, b] = [Number(p['i']), Number(p['j'])].sort((x, y) => x - y);
      return { path: [...path, b ?? 0], message: `duplicates item ${a} of the list` };
    }
    case 'type':
      return { path, message: custom ?? `must be ${String(p['type']).split(',').map((t) => TYPE_NAMES[t] ?? t).join(' or ')}` };
    case 'const':
      return { path, message: custom ?? `must be ${JSON.stringify(p['allowedValue'])}` };
    case 'enum':
      return { path, message: custom ?? `must be one of ${(p['allowedValues'] as unknown[]).join(', ')}` };
    case 'minItems':
      return { path, message: custom ?? `must have at least ${String(p['limit'])} item${p['limit'] === 1 ? '' : 's'}` };
    case 'minProperties':
      return { path, message: custom ?? `must have at least ${String(p['limit'])} entr${p['limit'] === 1 ? 'y' : 'ies'}` };
    default:
      return { path, message: custom ?? err.message ?? `fails ${err.keyword}` };
  }
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
};

/** Pointer segments as path segments: numbers where the data has an array. */
function segmentsIn(data: unknown, pointer: string): PathSegment[] {
  let node = data;
  return fromPointer(pointer).map((s) => {
    const seg: PathSegment = Array.isArray(node) && /^\d+$/.test(s) ? Number(s) : s;
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[s] : undefined;
    return seg;
  });
}

/** The allowed key within edit distance 2 of a misspelt one, if exactly one is closest. */
function closest(key: string, allowed: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of allowed) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
