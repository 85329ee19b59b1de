/**
 * Loads `gateway.yaml`: parse (keeping positions), check against the schema, run the semantic
 * checks, and either return a `GatewayConfig` with defaults applied or throw one `ConfigError`
 * listing every problem with its path and line:column. Runs once per load or reload; nothing
 * here runs per request.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isScalar, LineCounter, parseDocument } from 'yaml';
import { ConfigError, toDotted, toPointer, type ConfigIssue } from './errors.js';
import { normalize, type GatewayYaml } from './normalize.js';
import { semanticCheck } from './semantic.js';
import type { GatewayConfig } from './types.js';
import { schemaIssues } from './validate-schema.js';
import { lineCol, offsetOf, pathAtOffset, toPlain, type RawIssue } from './yaml-doc.js';

export { ConfigError, formatIssue, type ConfigIssue } from './errors.js';

export interface LoadOptions {
  /** Where the text came from: shown in errors, made absolute as `sourcePath`. */
  filePath?: string;
  /** Environment for `secret: { env }` references. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Directory relative file paths are resolved against. Default: the file's directory, else the cwd. */
  baseDir?: string;
}

export function loadConfig(text: string, opts: LoadOptions = {}): GatewayConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const raw: RawIssue[] = [];

  // YAML problems, warnings included (e.g. unresolved tags): a gateway config should be unambiguous.
  // After a syntax error the parser often loses its place and reports every following token as
  // "unexpected in YAML stream"; those follow-on errors are counted, not listed, and at most one
  // error is listed per line.
  const yamlLines = new Set<number>();
  let syntaxBroken = false;
  let followOn = 0;
  for (const e of [...doc.errors, ...doc.warnings]) {
    const structural = !STRUCTURE_SAFE.has(e.code);
    const { line } = lineCounter.linePos(e.pos[0]);
    if (yamlLines.has(line) || (syntaxBroken && structural && FOLLOW_ON.test(e.message))) {
      if (structural) followOn++;
      continue;
    }
    if (structural) syntaxBroken = true;
    yamlLines.add(line);
    raw.push({ path: pathAtOffset(doc, e.pos[0]), message: yamlMessage(e.code, e.message), offset: e.pos[0] });
  }
  if (followOn > 0) {
    const last = raw[raw.length - 1];
    if (last !== undefined) last.message += ` (${followOn} follow-on YAML error${followOn === 1 ? '' : 's'} not shown)`;
  }

  const position = (issue: RawIssue) =>
    issue.unplaced === true ? {} : lineCol(lineCounter, issue.offset ?? offsetOf(doc, issue.path, issue.atKey));
  const baseDir = resolve(opts.baseDir ?? (opts.filePath !== undefined ? dirname(opts.filePath) : process.cwd()));

  let data: unknown;
  let secrets = new Map<string, Uint8Array>();
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    if (raw.length === 0) raw.push({ path: [], unplaced: true, message: 'the configuration is empty; expected a mapping with version, server, upstreams and routes' });
  } else if (!syntaxBroken) {
    // Schema and semantic checks only on a document that parsed: after a syntax error the
    // recovered structure is a guess and checking it would bury the real error in noise.
    const plain = toPlain(doc);
    data = plain.value;
    raw.push(...plain.issues);
    // A value that could not be converted is reported once, not again as the wrong type.
    const unconverted = plain.issues.filter((i) => i.replaced === true).map((i) => toPointer(i.path));
    raw.push(...schemaIssues(data).filter((i) => !unconverted.some((p) => isWithin(toPointer(i.path), p))));
    const semantic = semanticCheck(data, {
      baseDir,
      env: opts.env ?? process.env,
      lineOf: (path) => position({ path, message: '' }).line,
    });
    raw.push(...semantic.issues);
    secrets = semantic.secrets;
  }

  const sourceHash = createHash('sha256').update(text, 'utf8').digest('hex');
  if (raw.length > 0) throw new ConfigError(toIssues(raw, position), opts.filePath, sourceHash);

  return normalize(data as GatewayYaml, {
    baseDir,
    secrets,
    routeLine: (index) => position({ path: ['routes', index], message: '' }).line,
    sourcePath: opts.filePath === undefined ? undefined : resolve(opts.filePath),
    sourceHash,
  });
}

/** Reads and loads a file; an unreadable file is reported as a `ConfigError` too. */
export function loadConfigFile(path: string, opts: Omit<LoadOptions, 'filePath'> = {}): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const message = code === 'ENOENT' ? 'file not found' : `cannot read the file: ${code}`;
    throw new ConfigError([{ path: '', dotted: '', message }], path);
  }
  return loadConfig(text, { ...opts, filePath: path });
}

function isWithin(pointer: string, ancestor: string): boolean {
  return pointer === ancestor || pointer.startsWith(ancestor + '/');
}

function toIssues(raw: RawIssue[], position: (i: RawIssue) => { line?: number; column?: number }): ConfigIssue[] {
  const issues = raw.map((r): ConfigIssue => ({ path: toPointer(r.path), dotted: toDotted(r.path), ...position(r), message: r.message }));
  // In document order; problems without a position (whole document) first. Array#sort is stable.
  return issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

/** YAML errors after which the document structure is still what the author wrote. */
const STRUCTURE_SAFE = new Set(['DUPLICATE_KEY', 'TAG_RESOLVE_FAILED', 'MULTIPLE_DOCS', 'KEY_OVER_1024_CHARS']);
/** Errors the parser reports for tokens it could not place after an earlier error. */
const FOLLOW_ON = /^Unexpected .* token in YAML stream/;

const YAML_MESSAGES: Record<string, string> = {
  DUPLICATE_KEY: 'duplicate key (each key may appear once in a mapping)',
  MULTIPLE_DOCS: 'only one YAML document is allowed (remove "---" separators)',
};

function yamlMessage(code: string, message: string): string {
  // `{` starts a flow mapping inside `{ ... }`, the usual way to break a one-line route match.
  const hint = /flow-map/.test(message) ? ' (inside { } quote values that contain braces, e.g. path: "/v1/orders/{id}")' : '';
  return `YAML: ${YAML_MESSAGES[code] ?? message}${hint}`;
}
