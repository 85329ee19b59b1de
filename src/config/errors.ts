/**
 * Configuration errors. Loading collects every problem it can find (YAML syntax, schema,
 * cross-references, files and secrets) and throws one `ConfigError` listing all of them, each
 * with its place in the document, so one run of `tollgate config check` shows everything to fix.
 * Messages never include secret values or file contents.
 */

/** A key or index in the document. */
export type PathSegment = string | number;

export interface ConfigIssue {
  /** JSON pointer (RFC 6901) into the document, e.g. `/routes/2/upstream`; '' is the whole document. */
  path: string;
  /** The same place for people, e.g. `routes[2].upstream`; '' is the whole document. */
  dotted: string;
  /** 1-based line in the YAML text, when known. */
  line?: number;
  /** 1-based column in the YAML text, when known. */
  column?: number;
  message: string;
}

export function toPointer(segments: readonly PathSegment[]): string {
  return segments.map((s) => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

export function fromPointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `routes[2].match.path`; keys that are not plain identifiers are quoted: `upstreams["a.b"]`. */
export function toDotted(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (IDENT.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** `<file>:<line>:<col> <path>: <message>`; parts that are unknown are left out. */
export function formatIssue(issue: ConfigIssue, file?: string): string {
  let where = file ?? '<config>';
  if (issue.line !== undefined) where += `:${issue.line}` + (issue.column !== undefined ? `:${issue.column}` : '');
  return `${where} ${issue.dotted === '' ? '(document)' : issue.dotted}: ${issue.message}`;
}

export class ConfigError extends Error {
  readonly errors: readonly ConfigIssue[];
  /** The file the configuration came from, if any. */
  readonly filePath: string | undefined;

  /** SHA-256 of the rejected YAML text, when there was text (for the audit record of a rejected reload). */
  readonly sourceHash: string | undefined;

  constructor(errors: readonly ConfigIssue[], filePath?: string, sourceHash?: string) {
    const n = errors.length;
    const lines = errors.map((e) => formatIssue(e, filePath));
    super(`Invalid gateway configuration (${n} ${n === 1 ? 'error' : 'errors'}):\n${lines.join('\n')}`);
    this.name = 'ConfigError';
    this.errors = errors;
    this.filePath = filePath;
    this.sourceHash = sourceHash;
  }

  /** One line per problem, as `formatIssue` renders them. */
  lines(): string[] {
    return this.errors.map((e) => formatIssue(e, this.filePath));
  }
}
