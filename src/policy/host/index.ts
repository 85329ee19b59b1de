/**
 * The host built-in catalogue: OPA built-ins that compiled policies call through `env.opa_builtinN` and that
 * tollgate's loader (`../load.ts`) implements in TypeScript. Which built-ins run where is listed in
 * src/policy/runtime/assembly/builtins/README.md.
 *
 * Import names. A module names each host built-in in its `builtins()` map as `tollgate/<name>` (or
 * `tollgate/strict/<name>` when compiled with strict built-in errors), never by OPA's bare name: the JS SDK's own
 * implementations take precedence over a loader's for the names it knows (`sprintf` with sprintf-js, `regex.split`
 * with JS RegExp), and their semantics differ from OPA's. Bundles built by `opa build -t wasm` import bare names;
 * the loader supplies those too, for the names the SDK does not implement.
 */
import { BITS_BUILTINS } from './bits.js';
import { DOCUMENT_BUILTINS } from './documents.js';
import { ENCODING_BUILTINS } from './encoding.js';
import { GLOB_BUILTINS } from './glob.js';
import { NET_BUILTINS } from './net.js';
import { PRINT_BUILTINS } from './print.js';
import { REGEX_BUILTINS } from './regex.js';
import { SPRINTF_BUILTINS } from './sprintf.js';
import { TESTING_BUILTINS } from './testing.js';
import { TIME_BUILTINS } from './time.js';
import { UNITS_BUILTINS } from './units.js';
import type { HostCatalogue } from './types.js';

export * from './types.js';
export { PRINT_BUILTIN } from './print.js';

const CATALOGUES: HostCatalogue[] = [
  BITS_BUILTINS, DOCUMENT_BUILTINS, ENCODING_BUILTINS, GLOB_BUILTINS, NET_BUILTINS, PRINT_BUILTINS, REGEX_BUILTINS, SPRINTF_BUILTINS,
  TESTING_BUILTINS, TIME_BUILTINS, UNITS_BUILTINS,
];

export const HOST_CATALOGUE: HostCatalogue = Object.freeze(Object.assign({}, ...CATALOGUES) as HostCatalogue);

const PREFIX = 'tollgate/';
const STRICT_PREFIX = 'tollgate/strict/';

/** The name a compiled module imports host built-in `name` under. */
export function hostImportName(name: string, strict: boolean): string {
  return (strict ? STRICT_PREFIX : PREFIX) + name;
}

/** Inverse of {@link hostImportName}: OPA name and strictness, or undefined for a bare (OPA-built) name. */
export function parseImportName(imported: string): { name: string; strict: boolean } | undefined {
  if (imported.startsWith(STRICT_PREFIX)) return { name: imported.slice(STRICT_PREFIX.length), strict: true };
  if (imported.startsWith(PREFIX)) return { name: imported.slice(PREFIX.length), strict: false };
  return undefined;
}
