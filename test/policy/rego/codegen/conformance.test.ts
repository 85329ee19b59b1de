import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runConformance } from '../../../../src/policy/rego/conformance/run.js';
import { requireCorpus } from '../../../helpers/corpus.js';

const OPA = join(requireCorpus(), 'opa');
/** Baseline reached by the first code generator; raise it as the compiler grows (regressions fail). */
const BASELINE_PASSED = 466;

describe('OPA conformance corpus', () => {
  it(`passes at least ${BASELINE_PASSED} cases`, async () => {
    const s = await runConformance(OPA);
    expect(s.passed + s.failed + s.skipped).toBeGreaterThan(600);
    expect(s.passed).toBeGreaterThanOrEqual(BASELINE_PASSED);
    // no case may produce a wrong result silently: every failure is a compile error, an unsupported construct or a
    // missing runtime error we can name
    const wrong = s.results.filter((r) => r.outcome === 'failed' && !/^compile error: /.test(r.detail ?? ''));
    expect(wrong.map((r) => `${r.file} [${r.note}]: ${r.detail}`)).toEqual([]);
  }, 120_000);
});
