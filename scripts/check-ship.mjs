#!/usr/bin/env node
/**
 * Offline checks of what we ship besides the code: the Dockerfile (+ .dockerignore) and the Helm
 * chart in helm/tollgate. This machine has no docker engine, helm or hadolint, so this does what
 * can be done without them and says what it could not do.
 *
 *   node scripts/check-ship.mjs          # exit 0 when every check passes, 1 otherwise
 *
 * Every check is an exported function returning a {@link CheckResult}, so test/ship/ship.test.ts
 * runs the same code against the shipped files and against deliberately broken variants.
 *
 * Keep in sync: valueInvariantProblems() mirrors the `tollgate.validate` helper in
 * helm/tollgate/templates/_helpers.tpl (helm runs that one at render time; this one runs here,
 * where helm cannot).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import Ajv from 'ajv';
import { ValidationSeverity, validate as dockerfileUtilsValidate } from 'dockerfile-utils';
import { parse as parseYaml, parseDocument } from 'yaml';

/**
 * @typedef {object} CheckResult
 * @property {string} title     What was checked, e.g. "Dockerfile".
 * @property {string[]} checked One line per check that ran.
 * @property {string[]} problems One line per failure; empty means the section passed.
 */

/** @typedef {{ keyword: string, args: string, line: number }} Instruction */
/**
 * @typedef {object} Stage
 * @property {number} index
 * @property {string} image          The FROM image (or earlier stage name).
 * @property {string | undefined} name Lower-cased `AS` name.
 * @property {Instruction} from
 * @property {Instruction[]} instructions Everything after FROM up to the next FROM.
 */

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CHART_DIR = 'helm/tollgate';
/** The gateway's published config schema (written by src/config/write-schema.ts). */
export const GATEWAY_SCHEMA = 'config/gateway.schema.json';

/** What this script cannot check on this machine; printed at the end of every run. */
export const NOT_CHECKED = [
  '`docker build` / running the image and its HEALTHCHECK (no docker engine)',
  'hadolint (not installed; dockerfile-utils lint plus the rules above stand in for it)',
  '`helm lint` / `helm template` (no helm): templates were not rendered, only scanned; the ' +
    'render-time checks in tollgate.validate are mirrored in JS, not executed',
  'rendered manifests against the Kubernetes API schemas (kubeconform/kubeval, no cluster)',
  'the gateway loader\'s semantic checks on the chart\'s config (references, files, secret ' +
    'lengths): only its JSON Schema is applied here',
];

// ---------------------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------------------

/** The only things the runtime stage may copy in (by basename), as the image contract says. */
export const RUNTIME_COPY_ALLOWLIST = ['dist', 'node_modules', 'package.json', 'config', 'policy'];
export const REQUIRED_PORTS = ['8080', '9090'];
/** Paths .dockerignore must exclude: never needed by the build, and some are large or secret. */
export const REQUIRED_DOCKERIGNORE = ['node_modules', '.git', 'dist', 'test', 'coverage', '*.log'];

/** An npm command that installs or keeps production dependencies only. */
const PROD_ONLY_NPM = /\bnpm\s+(?:ci|install|i|prune)\b[^\n]*?\s--(?:omit[= ]dev|production)\b/;
/** Any npm dependency install. */
const NPM_INSTALL = /\bnpm\s+(?:ci|install|i)\b/;

/**
 * Splits a Dockerfile into instructions: joins continuation lines, drops comments (also inside
 * continuations, as BuildKit does) and honours the `# escape=` parser directive. Heredocs are
 * not understood (this Dockerfile has none).
 * @param {string} text
 * @returns {Instruction[]}
 */
export function parseDockerfile(text) {
  const lines = text.split(/\r?\n/);
  let escape = '\\';
  for (const line of lines) {
    // Parser directives are only recognised before anything else in the file.
    const m = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(line);
    if (!m) break;
    if (m[1].toLowerCase() === 'escape') escape = m[2];
  }
  /** @type {Instruction[]} */
  const out = [];
  /** @type {Instruction | null} */
  let cur = null;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (cur === null) {
      if (/^\s*(#|$)/.test(line)) continue;
      const m = /^\s*(\S+)\s*(.*)$/.exec(line);
      cur = { keyword: m[1].toUpperCase(), args: '', line: i + 1 };
      line = m[2];
    } else if (/^\s*(#|$)/.test(line)) {
      continue;
    }
    const trimmed = line.replace(/\s+$/, '');
    if (trimmed.endsWith(escape)) {
      cur.args += trimmed.slice(0, -escape.length) + ' ';
    } else {
      cur.args = (cur.args + trimmed).trim();
      out.push(cur);
      cur = null;
    }
  }
  if (cur) {
    cur.args = cur.args.trim();
    out.push(cur);
  }
  return out;
}

/**
 * @param {Instruction[]} instructions
 * @returns {Stage[]}
 */
export function splitStages(instructions) {
  /** @type {Stage[]} */
  const stages = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const words = ins.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const asAt = words.findIndex((w) => w.toUpperCase() === 'AS');
      stages.push({
        index: stages.length,
        image: words[0] ?? '',
        name: asAt >= 0 ? words[asAt + 1]?.toLowerCase() : undefined,
        from: ins,
        instructions: [],
      });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return stages;
}

/**
 * Flags, sources and destination of a COPY/ADD (shell or JSON form).
 * @param {string} args
 */
export function parseCopy(args) {
  /** @type {Record<string, string>} */
  const flags = {};
  let rest = args.trim();
  let m;
  while ((m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest))) {
    flags[m[1]] = m[2] ?? 'true';
    rest = rest.slice(m[0].length);
  }
  /** @type {string[]} */
  let words;
  try {
    words = rest.startsWith('[') ? JSON.parse(rest) : rest.split(/\s+/).filter(Boolean);
  } catch {
    words = rest.split(/\s+/).filter(Boolean);
  }
  return { flags, sources: words.slice(0, -1), dest: words[words.length - 1] ?? '' };
}

/** @param {string} p */
const baseName = (p) => path.posix.basename(p.replace(/\/+$/, '')) || p;

/** Is the argument list in exec (JSON array) form? @param {string} args */
function isExecForm(args) {
  if (!args.startsWith('[')) return false;
  try {
    return Array.isArray(JSON.parse(args));
  } catch {
    return false;
  }
}

/**
 * Does a `.dockerignore` exclude this context path? Docker's rules, simplified: patterns are
 * anchored at the context root, `*` and `?` stay within a path segment, `**` spans segments,
 * a match on a parent directory excludes everything below it, and the last matching pattern
 * wins (so `!pattern` re-includes).
 * @param {string} dockerignore
 * @param {string} relPath
 */
export function isDockerignored(dockerignore, relPath) {
  const target = path.posix.normalize(relPath).replace(/^\.\/|\/$/g, '');
  const prefixes = target.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const raw of dockerignore.split(/\r?\n/)) {
    let pattern = raw.trim();
    if (!pattern || pattern.startsWith('#')) continue;
    const negate = pattern.startsWith('!');
    if (negate) pattern = pattern.slice(1).trim();
    pattern = path.posix.normalize(pattern.replace(/^\/+/, '')).replace(/\/$/, '');
    const re = new RegExp(
      '^' +
        pattern
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\/?/g, '\u0000')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]')
          .replace(/\u0000/g, '(?:.*/)?') +
        '$',
    );
    if (prefixes.some((p) => re.test(p))) ignored = !negate;
  }
  return ignored;
}

/**
 * Lints a Dockerfile with dockerfile-utils (every optional rule on, warnings count as failures)
 * and with our own rules for the image contract. With `contextDir`, also checks that what is
 * copied from the build context exists and is not excluded by `.dockerignore`.
 * @param {string} text
 * @param {{ contextDir?: string, dockerignore?: string }} [opts]
 * @returns {CheckResult}
 */
export function checkDockerfile(text, opts = {}) {
  /** @type {CheckResult} */
  const r = { title: 'Dockerfile', checked: [], problems: [] };
  const W = ValidationSeverity.WARNING;
  const diagnostics = dockerfileUtilsValidate(text, {
    deprecatedMaintainer: W,
    directiveCasing: W,
    emptyContinuationLine: W,
    instructionCasing: W,
    instructionCmdMultiple: W,
    instructionEntrypointMultiple: W,
    instructionHealthcheckMultiple: W,
    instructionJSONInSingleQuotes: W,
    instructionWorkdirRelative: W,
  });
  r.checked.push('dockerfile-utils validate, all rules on, warnings fatal');
  for (const d of diagnostics) {
    // LSP severities: 1 error, 2 warning, 3 information, 4 hint.
    if (d.severity === 1 || d.severity === 2) {
      const kind = d.severity === 1 ? 'error' : 'warning';
      r.problems.push(`dockerfile-utils ${kind} at line ${d.range.start.line + 1}: ${d.message}`);
    }
  }

  const stages = splitStages(parseDockerfile(text));
  const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));
  r.checked.push('multi-stage build (at least 2 FROM)');
  if (stages.length < 2) {
    r.problems.push(`expected a multi-stage build (>= 2 FROM), found ${stages.length} FROM`);
  }
  if (stages.length === 0) return r;

  r.checked.push('base images pinned by tag or digest (not :latest)');
  for (const s of stages) {
    const img = s.image;
    if (stageNames.has(img.toLowerCase()) || img === 'scratch') continue;
    const lastSegment = img.split('/').pop() ?? img;
    if (!img.includes('@sha256:') && (!lastSegment.includes(':') || lastSegment.endsWith(':latest'))) {
      r.problems.push(`line ${s.from.line}: base image "${img}" is not pinned to a tag or digest`);
    }
  }

  const final = stages[stages.length - 1];
  const inFinal = (/** @type {string} */ kw) => final.instructions.filter((i) => i.keyword === kw);
  /** @param {Stage} stage */
  const stageText = (stage) => stage.instructions.map((i) => i.args).join('\n');

  r.checked.push('runtime stage starts from a fresh base image, not from an earlier stage');
  if (stageNames.has(final.image.toLowerCase())) {
    r.problems.push(
      `final stage is FROM ${final.image}, an earlier stage: its devDependencies and sources would ship`,
    );
  }

  r.checked.push('runtime stage runs as a numeric non-root USER');
  const users = inFinal('USER');
  const user = users[users.length - 1];
  if (!user) {
    r.problems.push('final stage has no USER instruction: the container would run as root');
  } else {
    const uid = user.args.split(':')[0].trim();
    if (uid === 'root' || uid === '0') {
      r.problems.push(`line ${user.line}: USER ${user.args} is root`);
    } else if (!/^\d+$/.test(uid)) {
      r.problems.push(
        `line ${user.line}: USER ${user.args} is not a numeric UID (Kubernetes runAsNonRoot cannot verify a name)`,
      );
    }
  }

  r.checked.push('runtime stage has a HEALTHCHECK hitting /healthz');
  const health = inFinal('HEALTHCHECK');
  const lastHealth = health[health.length - 1];
  if (!lastHealth || /^NONE\b/i.test(lastHealth.args)) {
    r.problems.push('final stage has no HEALTHCHECK');
  } else if (!stageText(final).includes('/healthz')) {
    r.problems.push(`line ${lastHealth.line}: HEALTHCHECK does not hit the admin /healthz endpoint`);
  }

  r.checked.push(`runtime stage EXPOSEs ${REQUIRED_PORTS.join(' and ')}`);
  const exposed = new Set(
    inFinal('EXPOSE').flatMap((i) => i.args.split(/\s+/).map((p) => p.replace(/\/(tcp|udp)$/i, ''))),
  );
  for (const port of REQUIRED_PORTS) {
    if (!exposed.has(port)) r.problems.push(`final stage does not EXPOSE ${port}`);
  }

  r.checked.push('runtime stage sets NODE_ENV=production');
  if (!inFinal('ENV').some((i) => /(^|\s)NODE_ENV(=|\s+)"?production"?(\s|$)/.test(i.args))) {
    r.problems.push('final stage does not set ENV NODE_ENV=production');
  }

  r.checked.push('ENTRYPOINT in exec form (node is PID 1 and receives SIGTERM)');
  const entry = inFinal('ENTRYPOINT').pop();
  if (!entry) r.problems.push('final stage has no ENTRYPOINT');
  else if (!isExecForm(entry.args)) {
    r.problems.push(
      `line ${entry.line}: ENTRYPOINT is in shell form; /bin/sh -c would not forward SIGTERM to node`,
    );
  }

  r.checked.push('runtime stage has production dependencies only (--omit=dev / prune)');
  for (const run of inFinal('RUN')) {
    if (NPM_INSTALL.test(run.args) && !PROD_ONLY_NPM.test(run.args)) {
      r.problems.push(`line ${run.line}: final stage installs dependencies without --omit=dev`);
    }
  }
  /** The stage and its ancestors (FROM an earlier stage), nearest first. @param {Stage} s */
  const lineage = (s) => {
    const chain = [s];
    for (let cur = s; cur; ) {
      const parent = stages.find((p) => p.index < cur.index && p.name === cur.image.toLowerCase());
      if (parent) chain.push(parent);
      cur = parent;
    }
    return chain;
  };
  let nodeModulesSource = false;
  if (inFinal('RUN').some((i) => PROD_ONLY_NPM.test(i.args))) nodeModulesSource = true;

  r.checked.push(`runtime stage copies only ${RUNTIME_COPY_ALLOWLIST.join(', ')}`);
  for (const ins of [...inFinal('COPY'), ...inFinal('ADD')]) {
    const { flags, sources } = parseCopy(ins.args);
    for (const src of sources) {
      const name = baseName(src);
      if (!RUNTIME_COPY_ALLOWLIST.includes(name)) {
        r.problems.push(`line ${ins.line}: final stage copies "${src}", which is not one of ${RUNTIME_COPY_ALLOWLIST.join(', ')}`);
      }
      if (name !== 'node_modules') continue;
      nodeModulesSource = true;
      const fromRef = (flags.from ?? '').toLowerCase();
      const from = stages.find((s) => s.name === fromRef || String(s.index) === fromRef);
      if (!from) {
        r.problems.push(`line ${ins.line}: node_modules is copied from outside this Dockerfile ("${flags.from ?? 'build context'}")`);
      } else if (!lineage(from).some((s) => PROD_ONLY_NPM.test(stageText(s)))) {
        r.problems.push(
          `line ${ins.line}: node_modules comes from stage "${fromRef}", which never runs npm with --omit=dev (or npm prune --omit=dev): devDependencies would ship`,
        );
      }
    }
  }
  if (!nodeModulesSource) r.problems.push('final stage gets no production node_modules (neither copied nor installed)');

  if (opts.contextDir !== undefined) {
    const ignore = opts.dockerignore ?? '';
    r.checked.push(`.dockerignore excludes ${REQUIRED_DOCKERIGNORE.join(', ')}`);
    const patterns = new Set(ignore.split(/\r?\n/).map((l) => l.trim().replace(/^\/|\/$/g, '')));
    for (const want of REQUIRED_DOCKERIGNORE) {
      if (!patterns.has(want)) r.problems.push(`.dockerignore does not exclude ${want}`);
    }
    r.checked.push('every COPY from the build context exists and is not excluded by .dockerignore');
    for (const s of stages) {
      for (const ins of s.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
        const { flags, sources } = parseCopy(ins.args);
        if (flags.from) continue;
        for (const src of sources) {
          if (/^[a-z]+:\/\//.test(src)) continue; // ADD <url>
          if (!existsSync(path.join(opts.contextDir, src))) {
            r.problems.push(`line ${ins.line}: COPY source "${src}" does not exist in the build context`);
          } else if (isDockerignored(ignore, src)) {
            r.problems.push(`line ${ins.line}: COPY source "${src}" is excluded by .dockerignore`);
          }
        }
      }
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Helm chart: Chart.yaml, values.yaml, values.schema.json
// ---------------------------------------------------------------------------------------------

/**
 * Parses YAML strictly (duplicate keys and syntax errors are errors, not last-one-wins).
 * @param {string} text
 * @param {string} label for messages
 * @returns {{ value: any, problems: string[] }}
 */
export function parseYamlStrict(text, label) {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const problems = [...doc.errors, ...doc.warnings].map((e) => `${label}: ${e.message}`);
  return { value: problems.length ? undefined : doc.toJS(), problems };
}

/**
 * Checks Chart.yaml's required fields; appVersion must equal package.json's version.
 * @param {string} text
 * @param {string} packageVersion
 * @param {string} [dirName] the chart directory name, which must equal `name`
 * @returns {CheckResult}
 */
export function checkChartYaml(text, packageVersion, dirName = 'tollgate') {
  /** @type {CheckResult} */
  const r = { title: 'Chart.yaml', checked: ['parses as YAML'], problems: [] };
  const { value: chart, problems } = parseYamlStrict(text, 'Chart.yaml');
  r.problems.push(...problems);
  if (!chart) return r;
  r.checked.push('apiVersion v2, type application, name, SemVer version, appVersion = package.json version');
  if (chart.apiVersion !== 'v2') r.problems.push(`Chart.yaml: apiVersion is ${chart.apiVersion}, expected v2`);
  if (chart.name !== dirName) r.problems.push(`Chart.yaml: name "${chart.name}" differs from its directory "${dirName}"`);
  if ((chart.type ?? 'application') !== 'application') r.problems.push(`Chart.yaml: type is ${chart.type}`);
  if (typeof chart.version !== 'string' || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(chart.version)) {
    r.problems.push(`Chart.yaml: version ${JSON.stringify(chart.version)} is not SemVer`);
  }
  if (typeof chart.appVersion !== 'string') {
    r.problems.push('Chart.yaml: appVersion must be a quoted string');
  } else if (chart.appVersion !== packageVersion) {
    r.problems.push(`Chart.yaml: appVersion ${chart.appVersion} differs from package.json version ${packageVersion}`);
  }
  return r;
}

/**
 * Helm's merge of user values over chart defaults: maps merge key by key, `null` deletes the
 * key, anything else (lists included) replaces. Helm validates the schema against this result.
 * @param {any} base
 * @param {any} override
 * @returns {any}
 */
export function mergeValues(base, override) {
  const isMap = (/** @type {any} */ v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isMap(base) || !isMap(override)) return structuredClone(override);
  const out = structuredClone(base);
  for (const [k, v] of Object.entries(override)) {
    if (v === null) delete out[k];
    else out[k] = isMap(out[k]) && isMap(v) ? mergeValues(out[k], v) : structuredClone(v);
  }
  return out;
}

/**
 * Cross-field rules the schema cannot express. Mirrors `tollgate.validate` in _helpers.tpl.
 * @param {any} values merged values
 * @returns {string[]}
 */
export function valueInvariantProblems(values) {
  const problems = [];
  let cfg = values?.config;
  if (typeof cfg === 'string') {
    try {
      cfg = parseYaml(cfg);
    } catch (e) {
      return [`config: not valid YAML: ${/** @type {Error} */ (e).message}`];
    }
  }
  const server = cfg?.server ?? {};
  for (const listener of ['public', 'admin']) {
    const port = server[listener]?.port;
    const want = values?.containerPorts?.[listener];
    if (port !== undefined && port !== want) {
      problems.push(`config server.${listener}.port is ${port} but containerPorts.${listener} is ${want}; they must match`);
    }
    // The gateway's own default admin host is loopback, which the kubelet cannot probe.
    const host = String(server[listener]?.host ?? (listener === 'admin' ? '127.0.0.1' : '0.0.0.0'));
    if (host === 'localhost' || host === '::1' || host.startsWith('127.')) {
      problems.push(`config server.${listener}.host is ${host}: in a pod it must be 0.0.0.0 (or ::)`);
    }
  }
  const graceMs = server.shutdownGraceMs ?? 10000; // the gateway's default
  if (!(values?.terminationGracePeriodSeconds * 1000 > graceMs)) {
    problems.push(
      `terminationGracePeriodSeconds (${values?.terminationGracePeriodSeconds} s) must exceed config server.shutdownGraceMs (${graceMs} ms)`,
    );
  }
  if (values?.hpa?.enabled && values.hpa.minReplicas > values.hpa.maxReplicas) {
    problems.push(`hpa.minReplicas (${values.hpa.minReplicas}) is greater than hpa.maxReplicas (${values.hpa.maxReplicas})`);
  }
  return problems;
}

/**
 * Compiles the values schema with Ajv in strict mode (which also rejects unknown keywords and
 * malformed schemas) and returns a validator that yields readable messages.
 * @param {object} schema
 * @returns {(values: any) => string[]}
 */
export function compileValuesSchema(schema) {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  const validate = ajv.compile(schema);
  return (values) => {
    if (validate(values)) return [];
    return (validate.errors ?? []).map((e) => {
      const where = e.instancePath || '(root)';
      const extra = e.keyword === 'additionalProperties' ? ` "${e.params.additionalProperty}"` : '';
      return `${where}: ${e.message}${extra}`;
    });
  };
}

/**
 * Schema properties without a description (directly or through their $ref), so that every
 * value is documented for `helm show values`/IDEs.
 * @param {any} schema
 * @returns {string[]} dotted property paths
 */
export function undescribedSchemaProperties(schema) {
  /** @param {string} ref */
  const deref = (ref) =>
    ref.startsWith('#/') ? ref.slice(2).split('/').reduce((n, k) => n?.[k], schema) : undefined;
  /** @type {string[]} */
  const out = [];
  const seen = new Set();
  /** @param {any} node @param {string} at */
  const walk = (node, at) => {
    if (!node || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    for (const [key, sub] of Object.entries(node.properties ?? {})) {
      const p = at ? `${at}.${key}` : key;
      if (sub !== true && !sub.description && !(sub.$ref && deref(sub.$ref)?.description)) out.push(p);
      walk(sub, p);
    }
    if (node.items) walk(node.items, `${at}[]`);
    if (node.additionalProperties) walk(node.additionalProperties, `${at}.*`);
    for (const k of ['allOf', 'anyOf', 'oneOf']) for (const s of node[k] ?? []) walk(s, at);
    if (node.$ref) walk(deref(node.$ref), at);
    for (const [name, def] of Object.entries(node.definitions ?? {})) walk(def, `definitions.${name}`);
  };
  walk(schema, '');
  return out;
}

/**
 * @typedef {object} ValueSample
 * @property {string} name
 * @property {any} override  user values, merged over values.yaml as helm does
 * @property {RegExp} [expect] for invalid samples: a message that must be among the failures
 */

/**
 * Overrides that must be REJECTED. If one of them is accepted the schema (or the invariant
 * checks) have become too loose, and this script fails.
 * @type {ValueSample[]}
 */
export const INVALID_VALUE_SAMPLES = [
  { name: 'unknown top-level key (typo of replicaCount)', override: { replicas: 3 }, expect: /must NOT have additional properties "replicas"/ },
  { name: 'wrong type', override: { replicaCount: '3' }, expect: /\/replicaCount: must be integer/ },
  { name: 'unknown nested key', override: { service: { public: { prot: 80 } } }, expect: /\/service\/public: must NOT have additional properties "prot"/ },
  { name: 'hardening switched off', override: { containerSecurityContext: { readOnlyRootFilesystem: false } }, expect: /\/containerSecurityContext\/readOnlyRootFilesystem: must be equal to constant/ },
  { name: 'root user', override: { podSecurityContext: { runAsUser: 0 } }, expect: /\/podSecurityContext\/runAsUser: must be >= 1/ },
  { name: 'secretEnv without key', override: { secretEnv: [{ name: 'DEV_HS_SECRET', secretName: 'keys' }] }, expect: /\/secretEnv\/0: must have required property 'key'/ },
  { name: 'port out of range', override: { containerPorts: { admin: 70000 } }, expect: /\/containerPorts\/admin: must be <= 65535/ },
  { name: 'grace period shorter than the drain', override: { terminationGracePeriodSeconds: 5 }, expect: /terminationGracePeriodSeconds \(5 s\) must exceed/ },
  { name: 'config port differs from containerPorts', override: { config: { server: { public: { port: 8081 } } } }, expect: /server\.public\.port is 8081 but containerPorts\.public is 8080/ },
];

/**
 * Validates values.yaml, the valid samples (merged over it) and the invalid samples (which
 * must fail with their expected message) against the schema plus the invariants.
 * @param {{ schema: any, valuesText: string, validSamples?: ValueSample[], invalidSamples?: ValueSample[] }} input
 * @returns {CheckResult}
 */
export function checkValues({ schema, valuesText, validSamples = [], invalidSamples = INVALID_VALUE_SAMPLES }) {
  /** @type {CheckResult} */
  const r = { title: 'values.yaml / values.schema.json', checked: [], problems: [] };
  r.checked.push('values.schema.json is a draft-07 schema that Ajv compiles in strict mode');
  if (schema?.$schema !== 'http://json-schema.org/draft-07/schema#') {
    r.problems.push(`values.schema.json: $schema is ${schema?.$schema}, expected draft-07`);
  }
  let validate;
  try {
    validate = compileValuesSchema(schema);
  } catch (e) {
    r.problems.push(`values.schema.json does not compile: ${/** @type {Error} */ (e).message}`);
    return r;
  }
  r.checked.push('every schema property has a description');
  for (const p of undescribedSchemaProperties(schema)) r.problems.push(`values.schema.json: ${p} has no description`);

  r.checked.push('values.yaml parses (no duplicate keys) and validates, with the invariants');
  const { value: defaults, problems } = parseYamlStrict(valuesText, 'values.yaml');
  r.problems.push(...problems);
  if (!defaults) return r;
  for (const m of [...validate(defaults), ...valueInvariantProblems(defaults)]) r.problems.push(`values.yaml: ${m}`);

  for (const s of validSamples) {
    r.checked.push(`valid sample "${s.name}" is accepted`);
    const merged = mergeValues(defaults, s.override);
    for (const m of [...validate(merged), ...valueInvariantProblems(merged)]) r.problems.push(`sample "${s.name}": ${m}`);
  }
  for (const s of invalidSamples) {
    r.checked.push(`invalid sample "${s.name}" is rejected`);
    const merged = mergeValues(defaults, s.override);
    const messages = [...validate(merged), ...valueInvariantProblems(merged)];
    if (messages.length === 0) {
      r.problems.push(`invalid sample "${s.name}" was ACCEPTED: the schema is too loose`);
    } else if (s.expect && !messages.some((m) => s.expect?.test(m))) {
      r.problems.push(`invalid sample "${s.name}" failed, but not with ${s.expect}: ${messages.join('; ')}`);
    }
  }
  return r;
}

/**
 * Validates the gateway YAML carried by the chart (values.yaml and each valid sample, merged)
 * against the gateway's published config schema, with the Ajv setup of
 * src/config/validate-schema.ts (not strict here, so a new annotation keyword there does not
 * break this script). Structure only: the loader's semantic checks (referenced issuers and
 * upstreams exist, files exist, secret lengths) need the built gateway and the pod's files.
 * @param {any} gatewaySchema contents of config/gateway.schema.json
 * @param {{ name: string, values: any }[]} valueSets merged chart values
 * @returns {CheckResult}
 */
export function checkChartGatewayConfig(gatewaySchema, valueSets) {
  /** @type {CheckResult} */
  const r = { title: 'Gateway config in the chart (config/gateway.schema.json)', checked: [], problems: [] };
  let validate;
  try {
    const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
    ajv.addVocabulary(['errorMessage']);
    ajv.addFormat('uri', (/** @type {string} */ s) => URL.canParse(s));
    validate = ajv.compile(gatewaySchema);
  } catch (e) {
    r.problems.push(`config/gateway.schema.json does not compile: ${/** @type {Error} */ (e).message}`);
    return r;
  }
  for (const { name, values } of valueSets) {
    r.checked.push(`${name}: config validated against the gateway's schema`);
    let cfg = values?.config;
    if (typeof cfg === 'string') {
      const parsed = parseYamlStrict(cfg, `${name}: config`);
      r.problems.push(...parsed.problems);
      cfg = parsed.value;
      if (parsed.problems.length) continue;
    }
    if (!validate(cfg)) {
      for (const e of validate.errors ?? []) {
        if (/\/(?:oneOf|anyOf)\/\d+\//.test(e.schemaPath)) continue; // the enclosing error says it
        const extra = e.keyword === 'additionalProperties' ? ` "${e.params.additionalProperty}"` : '';
        r.problems.push(`${name}: config${e.instancePath.replaceAll('/', '.')}: ${e.message}${extra}`);
      }
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Helm templates (static scan; no rendering without helm)
// ---------------------------------------------------------------------------------------------

const BLOCK_OPENERS = new Set(['if', 'with', 'range', 'define', 'block']);

/**
 * Snippets the templates must keep (the chart's contract: probes on the admin port, config
 * checksum, no service-account token, API versions...). A plain text search, not a render: it
 * guards against these being removed, not against them being broken.
 * @type {Array<[string, string | RegExp]>}
 */
export const REQUIRED_TEMPLATE_SNIPPETS = [
  ['deployment.yaml', /livenessProbe:\s+httpGet:\s+path: \/healthz\s+port: admin/],
  ['deployment.yaml', /readinessProbe:\s+httpGet:\s+path: \/readyz\s+port: admin/],
  ['deployment.yaml', 'checksum/config:'],
  ['deployment.yaml', 'automountServiceAccountToken: false'],
  ['deployment.yaml', 'include "tollgate.validate"'],
  ['deployment.yaml', /mountPath: \/etc\/tollgate\s+readOnly: true/],
  ['deployment.yaml', 'secretKeyRef:'],
  ['deployment.yaml', 'terminationGracePeriodSeconds:'],
  ['serviceaccount.yaml', 'automountServiceAccountToken: false'],
  ['hpa.yaml', 'apiVersion: autoscaling/v2'],
  ['pdb.yaml', 'apiVersion: policy/v1'],
  ['configmap.yaml', 'gateway.yaml: |'],
];

/**
 * Template actions `{{ ... }}` with their line, comments removed; reports unbalanced
 * delimiters. Does not understand `}}` inside a string literal in an action.
 * @param {string} text
 * @param {string} file
 */
export function scanActions(text, file) {
  /** @type {{ body: string, line: number }[]} */
  const actions = [];
  /** @type {string[]} */
  const problems = [];
  const lineAt = (/** @type {number} */ i) => text.slice(0, i).split('\n').length;
  let i = 0;
  for (;;) {
    const open = text.indexOf('{{', i);
    const close = text.indexOf('}}', i);
    if (open === -1 && close === -1) break;
    if (close !== -1 && (open === -1 || close < open)) {
      problems.push(`${file}:${lineAt(close)}: "}}" without a matching "{{"`);
      i = close + 2;
      continue;
    }
    const isComment = /^\{\{-?\s*\/\*/.test(text.slice(open, open + 6));
    const end = isComment ? text.indexOf('*/', open) : text.indexOf('}}', open + 2);
    const endClose = isComment && end !== -1 ? text.indexOf('}}', end) : end;
    if (endClose === -1) {
      problems.push(`${file}:${lineAt(open)}: "{{" is never closed`);
      break;
    }
    const inner = text.slice(open + 2, endClose);
    if (!isComment && inner.includes('{{')) {
      problems.push(`${file}:${lineAt(open)}: "{{" opened again before "}}"`);
    }
    if (!isComment) actions.push({ body: inner.replace(/^-?\s*|\s*-?$/g, ''), line: lineAt(open) });
    i = endClose + 2;
  }
  return { actions, problems };
}

/**
 * @param {any} values
 * @param {string[]} keys
 */
function hasPath(values, keys) {
  let node = values;
  for (const k of keys) {
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !(k in node)) return false;
    node = node[k];
  }
  return true;
}

/**
 * Dotted paths of the leaves of values.yaml (empty maps and lists count as leaves).
 * @param {any} node @param {string} [prefix] @returns {string[]}
 */
function leafPaths(node, prefix = '') {
  if (node === null || typeof node !== 'object' || Array.isArray(node) || Object.keys(node).length === 0) {
    return prefix ? [prefix] : [];
  }
  return Object.entries(node).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

/**
 * Static checks of the chart templates: balanced `{{ }}` and block keywords; every
 * `.Values.a.b` referenced exists in values.yaml; every value in values.yaml is used by some
 * template; the required snippets are present.
 * @param {Record<string, string>} templates file name -> text (templates/ directory)
 * @param {any} values parsed values.yaml
 * @returns {CheckResult}
 */
export function checkTemplates(templates, values) {
  /** @type {CheckResult} */
  const r = { title: 'Helm templates (static scan)', checked: [], problems: [] };
  const required = ['_helpers.tpl', 'deployment.yaml', 'service.yaml', 'configmap.yaml', 'hpa.yaml', 'pdb.yaml', 'serviceaccount.yaml', 'NOTES.txt'];
  r.checked.push(`templates present: ${required.join(', ')}`);
  for (const f of required) if (!(f in templates)) r.problems.push(`templates/${f} is missing`);

  r.checked.push('{{ }} delimiters and if/with/range/define ... end blocks balanced');
  r.checked.push('every .Values path used in a template exists in values.yaml');
  /** @type {Set<string>} */
  const referenced = new Set();
  for (const [file, text] of Object.entries(templates)) {
    const { actions, problems } = scanActions(text, `templates/${file}`);
    r.problems.push(...problems);
    /** @type {{ word: string, line: number }[]} */
    const stack = [];
    for (const { body, line } of actions) {
      const word = body.split(/[\s(]/)[0];
      if (BLOCK_OPENERS.has(word)) stack.push({ word, line });
      else if (word === 'end' && !stack.pop()) r.problems.push(`templates/${file}:${line}: "end" without an open block`);
      else if (word === 'else' && !stack.some((b) => b.word !== 'define' && b.word !== 'block')) {
        r.problems.push(`templates/${file}:${line}: "else" outside if/with/range`);
      }
      for (const m of body.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        const keys = m[1].slice(1).split('.');
        referenced.add(keys.join('.'));
        if (!hasPath(values, keys)) {
          r.problems.push(`templates/${file}:${line}: .Values.${keys.join('.')} is not defined in values.yaml`);
        }
      }
    }
    for (const b of stack) r.problems.push(`templates/${file}:${b.line}: "${b.word}" block is never closed with "end"`);
  }

  r.checked.push('every value in values.yaml is used by some template');
  for (const leaf of leafPaths(values)) {
    const used = [...referenced].some((ref) => leaf === ref || leaf.startsWith(`${ref}.`));
    if (!used) r.problems.push(`values.yaml: ${leaf} is not used by any template`);
  }

  r.checked.push('required template snippets (probes, checksum, SA token, API versions...)');
  for (const [file, snippet] of REQUIRED_TEMPLATE_SNIPPETS) {
    const text = templates[file];
    if (text === undefined) continue; // reported as missing above
    const found = typeof snippet === 'string' ? text.includes(snippet) : snippet.test(text);
    if (!found) r.problems.push(`templates/${file}: missing ${snippet}`);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Runtime imports: the image keeps production dependencies only
// ---------------------------------------------------------------------------------------------

/**
 * Every package that src/ imports statically must be a production dependency: the runtime
 * image has no devDependencies, so such an import would crash the container at start-up.
 * `import type` is erased by tsc; `import { type X }` is not (verbatimModuleSyntax keeps an
 * empty import) and so counts. Dynamic `import()` of a devDependency is only noted.
 * @param {Record<string, string>} sources relative path -> TypeScript text
 * @param {{ dependencies?: Record<string, string> }} pkg
 * @returns {CheckResult}
 */
export function checkRuntimeImports(sources, pkg) {
  /** @type {CheckResult} */
  const r = { title: 'Runtime imports (src/)', checked: [], problems: [] };
  const deps = new Set(Object.keys(pkg.dependencies ?? {}));
  const builtins = new Set(builtinModules);
  /** @param {string} spec */
  const packageOf = (spec) => {
    if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || spec.startsWith('#')) return undefined;
    const parts = spec.split('/');
    const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
    return builtins.has(name) ? undefined : name;
  };
  const files = Object.keys(sources);
  r.checked.push(`static imports in ${files.length} file(s) under src/ resolve to dependencies, not devDependencies`);
  const staticImport = /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/gm;
  const dynamicImport = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const [file, text] of Object.entries(sources)) {
    for (const m of text.matchAll(staticImport)) {
      const name = packageOf(m[1]);
      if (name && !deps.has(name)) {
        r.problems.push(`${file}: imports "${m[1]}", but ${name} is not in package.json dependencies (absent from the image)`);
      }
    }
    for (const m of text.matchAll(dynamicImport)) {
      const name = packageOf(m[1]);
      if (name && !deps.has(name)) r.checked.push(`note: ${file} lazily imports ${name} (not in the image; fine for dev-only paths)`);
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------------

/** @param {string} dir @param {(name: string) => boolean} keep @returns {string[]} */
function listFiles(dir, keep) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return listFiles(p, keep);
    return keep(name) ? [p] : [];
  });
}

/**
 * Runs every check against the files under `root`.
 * @param {string} [root]
 * @returns {CheckResult[]}
 */
export function runChecks(root = ROOT) {
  /** @type {CheckResult[]} */
  const results = [];
  /** @type {string[]} */
  const missing = [];
  const read = (/** @type {string} */ rel) => {
    const p = path.join(root, rel);
    if (!existsSync(p)) {
      missing.push(rel);
      return undefined;
    }
    return readFileSync(p, 'utf8');
  };
  const pkg = JSON.parse(read('package.json') ?? '{}');
  const chart = path.join(root, CHART_DIR);

  const dockerfile = read('Dockerfile');
  if (dockerfile !== undefined) {
    results.push(checkDockerfile(dockerfile, { contextDir: root, dockerignore: read('.dockerignore') ?? '' }));
  }

  const chartYaml = read(`${CHART_DIR}/Chart.yaml`);
  if (chartYaml !== undefined) results.push(checkChartYaml(chartYaml, pkg.version, path.basename(chart)));

  const valuesText = read(`${CHART_DIR}/values.yaml`);
  const schemaText = read(`${CHART_DIR}/values.schema.json`);
  if (valuesText !== undefined && schemaText !== undefined) {
    // Valid samples: every file in ci/ (the chart-testing convention, also usable with helm lint -f).
    const validSamples = listFiles(path.join(chart, 'ci'), (n) => /\.ya?ml$/.test(n)).map((p) => {
      const { value, problems } = parseYamlStrict(readFileSync(p, 'utf8'), path.relative(root, p));
      if (problems.length) missing.push(...problems);
      return { name: path.relative(chart, p), override: value ?? {} };
    });
    let schema;
    try {
      schema = JSON.parse(schemaText);
    } catch (e) {
      missing.push(`values.schema.json is not JSON: ${/** @type {Error} */ (e).message}`);
    }
    if (schema) results.push(checkValues({ schema, valuesText, validSamples }));
    const { value: values } = parseYamlStrict(valuesText, 'values.yaml');
    const gatewaySchemaText = existsSync(path.join(root, GATEWAY_SCHEMA)) ? read(GATEWAY_SCHEMA) : undefined;
    if (values && gatewaySchemaText !== undefined) {
      const valueSets = [
        { name: 'values.yaml', values },
        ...validSamples.map((s) => ({ name: s.name, values: mergeValues(values, s.override) })),
      ];
      results.push(checkChartGatewayConfig(JSON.parse(gatewaySchemaText), valueSets));
    } else if (values) {
      results.push({
        title: 'Gateway config in the chart',
        checked: [`skipped: ${GATEWAY_SCHEMA} not found (generate it with src/config/write-schema.ts)`],
        problems: [],
      });
    }
    const templates = Object.fromEntries(
      listFiles(path.join(chart, 'templates'), () => true).map((p) => [
        path.relative(path.join(chart, 'templates'), p),
        readFileSync(p, 'utf8'),
      ]),
    );
    if (values) results.push(checkTemplates(templates, values));
  }

  const sources = Object.fromEntries(
    listFiles(path.join(root, 'src'), (n) => n.endsWith('.ts') && !n.endsWith('.d.ts')).map((p) => [
      path.relative(root, p),
      readFileSync(p, 'utf8'),
    ]),
  );
  results.push(checkRuntimeImports(sources, pkg));

  if (missing.length) results.push({ title: 'Files', checked: ['shipping files present and readable'], problems: missing.map((m) => `missing or unreadable: ${m}`) });
  return results;
}

/** Prints the report; returns the exit code. @param {CheckResult[]} results */
export function report(results, out = console.log) {
  let failures = 0;
  for (const r of results) {
    out(`\n== ${r.title}: ${r.problems.length ? `FAIL (${r.problems.length})` : 'ok'}`);
    for (const c of r.checked) out(`   checked  ${c}`);
    for (const p of r.problems) out(`   PROBLEM  ${p}`);
    failures += r.problems.length;
  }
  out('\n== Not checked on this machine (run these in CI where the tools exist):');
  for (const n of NOT_CHECKED) out(`   - ${n}`);
  out(`\n${failures === 0 ? 'check-ship: all checks passed' : `check-ship: ${failures} problem(s)`}`);
  return failures === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    process.exitCode = report(runChecks());
  } catch (e) {
    console.error('check-ship: crashed:', e);
    process.exitCode = 2;
  }
}
