import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';

/**
 * Reading the Rego conformance corpus: OPA's and regorus's YAML case files. One reader for the
 * runner and every corpus test, so they all see the same cases.
 */

/** A case as written in the YAML (OPA's fields, plus regorus's `strict`). */
export interface RawCase {
  note?: string;
  /** regorus: the lines `print` must write. */
  want_prints?: string[];
  modules?: string[];
  data?: unknown;
  input?: unknown;
  input_term?: string;
  query?: string;
  want_result?: unknown;
  want_error?: string;
  want_error_code?: string;
  error?: string;
  no_result?: boolean;
  sort_bindings?: boolean;
  strict_error?: boolean;
  /** regorus: built-in errors are strict unless `strict: false`. */
  strict?: boolean;
  skip?: unknown;
}

/** Every `.yaml`/`.yml` file under `dir`, recursively, in sorted order. */
export function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return yamlFiles(p);
      return /\.ya?ml$/.test(name) ? [p] : [];
    });
}

/**
 * The cases of one file, read leniently (`parseDocument(...).toJS()`), with the YAML errors
 * found. Two corpus files have under-indented flow collections: their modules survive a lenient
 * read (the corpus tests parse them), but some expected values do not, so the conformance
 * runner skips a file that has errors rather than compare against a garbled expectation.
 */
export function readCases(path: string, opts: { bigInts?: boolean } = {}): { cases: RawCase[]; yamlErrors: string[] } {
  // bigInts: integers beyond 2^53 keep their digits (as bigints; smaller ones stay numbers)
  const doc = parseDocument(readFileSync(path, 'utf8'), opts.bigInts ? { intAsBigInt: true } : {});
  const value = doc.toJS() as { cases?: RawCase[] } | null;
  return { cases: value?.cases ?? [], yamlErrors: doc.errors.map((e) => e.message) };
}
