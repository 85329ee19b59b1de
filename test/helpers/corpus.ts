import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The Rego conformance corpus lives in the shared folder beside the repository
 * (`../shared/rego-conformance`), on developer machines and in CI alike; TOLLGATE_REGO_CORPUS
 * overrides it. A missing corpus fails the corpus tests rather than skipping them.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CORPUS_DIR = process.env.TOLLGATE_REGO_CORPUS ?? join(repoRoot, '..', 'shared', 'rego-conformance');

export function requireCorpus(): string {
  if (!existsSync(join(CORPUS_DIR, 'opa'))) {
    throw new Error(`Rego conformance corpus not found at ${CORPUS_DIR} (set TOLLGATE_REGO_CORPUS)`);
  }
  return CORPUS_DIR;
}
