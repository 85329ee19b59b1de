import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runConformance } from '../../../../src/policy/rego/conformance/run.js';
import { requireCorpus } from '../../../helpers/corpus.js';

/**
 * The committed lists of cases that do not pass yet (failed or skipped), one id per line, written by
 * `node scripts/conformance.mjs <corpus>/<suite> --write-known-failures test/policy/rego/codegen/known-failures/<suite>.txt`.
 * A case outside the list that stops passing fails CI; so does a listed case that now passes (shrink the list).
 */
function known(suite: string): string[] {
  return readFileSync(new URL(`./known-failures/${suite}.txt`, import.meta.url), 'utf8').split('\n').filter((l) => l !== '');
}

describe.each([
  { suite: 'opa', minCases: 670 },
  { suite: 'regorus', minCases: 680 },
])('$suite conformance corpus', ({ suite, minCases }) => {
  it('passes every case not on the known-failures list, and every listed case still fails', async () => {
    const s = await runConformance(join(requireCorpus(), suite));
    expect(s.results.length).toBeGreaterThanOrEqual(minCases);
    const list = new Set(known(suite));
    const notPassing = s.results.filter((r) => r.outcome !== 'passed');
    const regressions = notPassing.filter((r) => !list.has(r.id)).map((r) => `${r.id}: ${r.outcome} ${r.detail ?? ''}`);
    expect(regressions).toEqual([]);
    const nowPassing = new Set(notPassing.map((r) => r.id));
    expect([...list].filter((id) => !nowPassing.has(id))).toEqual([]);
  }, 180_000);
});

describe('OPA conformance corpus', () => {
  it('never produces a wrong result: every failure is a compile error (unsupported construct) or a named gap', async () => {
    const s = await runConformance(join(requireCorpus(), 'opa'));
    const wrong = s.results.filter((r) => r.outcome === 'failed' && !/^compile error: /.test(r.detail ?? ''));
    expect(wrong.map((r) => `${r.id}: ${r.detail}`)).toEqual([]);
  }, 180_000);
});
