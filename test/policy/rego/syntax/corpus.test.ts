/**
 * Parses every module of every case in the shared conformance corpus (../shared/rego-conformance) and pins the
 * counts reached, so parser regressions fail. OPA's cases are all v0 syntax (corpus README); regorus's mix v0 and
 * v1, so a regorus module is parsed as v1 first and, failing that, as v0 (what its own engine accepts).
 */
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RegoParseError } from '../../../../src/policy/rego/syntax/errors.js';
import { parseModule, parseQuery } from '../../../../src/policy/rego/syntax/parser.js';
import { readCases, yamlFiles } from '../../../../src/policy/rego/conformance/corpus.js';
import { requireCorpus } from '../../../helpers/corpus.js';

const CORPUS = requireCorpus();


interface Failure {
  file: string;
  note: string;
  message: string;
  expectsError: boolean;
}


function parseAny(src: string, file: string, versions: ('v0' | 'v1')[]): RegoParseError | null {
  let last: RegoParseError | null = null;
  for (const regoVersion of versions) {
    try {
      parseModule(src, { file, regoVersion });
      return null;
    } catch (e) {
      if (!(e instanceof RegoParseError)) throw e; // crashes are never acceptable
      last = e;
    }
  }
  return last;
}

interface Tally {
  modules: number;
  parsed: number;
  expectedErrors: number;
  /** Modules rejected in cases that expect some error (the case does not say whether a parse or later error). */
  rejected: string[];
  failures: Failure[];
}

function run(folder: string, versions: ('v0' | 'v1')[]): Map<string, Tally> {
  const byTop = new Map<string, Tally>();
  for (const path of yamlFiles(join(CORPUS, folder))) {
    const rel = relative(join(CORPUS, folder), path);
    const top = rel.split('/')[0] as string;
    const tally = byTop.get(top) ?? { modules: 0, parsed: 0, expectedErrors: 0, rejected: [], failures: [] };
    byTop.set(top, tally);
    // Two files (opa/time/test-time-0948, regorus/loop/chained) have under-indented flow collections in their data,
    // which go-yaml accepts and the `yaml` package reports; the documents still compose, so read them anyway.
    for (const c of readCases(path).cases) {
      const expectsError = c.want_error !== undefined || c.want_error_code !== undefined || c.error !== undefined;
      (c.modules ?? []).forEach((src, i) => {
        tally.modules++;
        const err = parseAny(src, `${rel}#${i}`, versions);
        if (!err) tally.parsed++;
        else if (expectsError) {
          tally.expectedErrors++;
          tally.rejected.push(`${rel} [${c.note ?? ''}] want "${c.error ?? c.want_error ?? c.want_error_code}", got: ${err.detail}`);
        }
        else tally.failures.push({ file: rel, note: c.note ?? '', message: err.message, expectsError });
      });
      // OPA-style queries (`data.x.p = y`) must parse too; regorus queries are sometimes regorus-only syntax.
      if (folder === 'opa' && c.query) {
        try {
          parseQuery(c.query, { file: `${rel}:query` });
        } catch (e) {
          tally.failures.push({ file: rel, note: `${c.note ?? ''} (query)`, message: String(e), expectsError });
        }
      }
    }
  }
  return byTop;
}

function summarise(label: string, byTop: Map<string, Tally>): { modules: number; parsed: number; failures: Failure[] } {
  let modules = 0;
  let parsed = 0;
  const failures: Failure[] = [];
  const lines: string[] = [];
  const rejected: string[] = [];
  for (const [top, t] of byTop) {
    modules += t.modules;
    parsed += t.parsed;
    failures.push(...t.failures);
    rejected.push(...t.rejected);
    lines.push(`${label}/${top}: ${t.parsed}/${t.modules} parsed, ${t.expectedErrors} expected-error, ${t.failures.length} unexpected`);
  }
  console.log([...lines, `${label} total: ${parsed}/${modules} parsed, ${failures.length} unexpected`, ...rejected.map((r) => `  rejected (error expected) ${r}`), ...failures.map((f) => `  unexpected parse failure ${f.file} [${f.note}]: ${f.message}`)].join('\n'));
  return { modules, parsed, failures };
}

describe('rego conformance corpus parses', () => {
  it('opa/ (v0 syntax)', () => {
    const r = summarise('opa', run('opa', ['v0']));
    expect(r.modules).toBe(896);
    // Baseline reached: every module of every OPA case (all categories, core ones included) parses, and so does
    // every query.
    expect(r.failures).toEqual([]);
    expect(r.parsed).toBe(r.modules);
  });

  it('regorus/ (v1, else v0)', () => {
    const byTop = run('regorus', ['v1', 'v0']);
    const r = summarise('regorus', byTop);
    expect(r.modules).toBe(730);
    // Baseline: 705 parse; the other 25 are 23 modules of cases that expect an error (all rejected for the reason
    // the case names) and the 2 of rego-extensions/, regorus's non-Rego `or` operator.
    expect(r.parsed).toBeGreaterThanOrEqual(705);
    expect(r.failures.filter((f) => !f.file.startsWith('rego-extensions/'))).toEqual([]);
    expect(r.failures.length).toBeLessThanOrEqual(2);
  });
});
