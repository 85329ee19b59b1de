/**
 * Tests for scripts/check-ship.mjs: the shipped Dockerfile and Helm chart pass every check, and
 * each check catches the breakage it exists for. Broken variants are made by editing the shipped
 * text, so a test fails both if a check stops firing and if the shipped file drifts so far that
 * the edit no longer applies (see `edit`).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  CHART_DIR,
  INVALID_VALUE_SAMPLES,
  NOT_CHECKED,
  checkChartGatewayConfig,
  checkChartYaml,
  checkDockerfile,
  checkRuntimeImports,
  checkTemplates,
  checkValues,
  compileValuesSchema,
  isDockerignored,
  mergeValues,
  parseDockerfile,
  report,
  runChecks,
  splitStages,
  undescribedSchemaProperties,
  valueInvariantProblems,
} from '../../scripts/check-ship.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (rel: string): string => readFileSync(path.join(ROOT, rel), 'utf8');

const DOCKERFILE = read('Dockerfile');
const DOCKERIGNORE = read('.dockerignore');
const CHART_YAML = read(`${CHART_DIR}/Chart.yaml`);
const VALUES_TEXT = read(`${CHART_DIR}/values.yaml`);
const SCHEMA = JSON.parse(read(`${CHART_DIR}/values.schema.json`)) as Record<string, any>;
const VALUES = parseYaml(VALUES_TEXT) as Record<string, any>;
const PKG = JSON.parse(read('package.json')) as { version: string; dependencies: Record<string, string> };
const TEMPLATE_NAMES = [
  '_helpers.tpl',
  'deployment.yaml',
  'service.yaml',
  'configmap.yaml',
  'hpa.yaml',
  'pdb.yaml',
  'serviceaccount.yaml',
  'servicemonitor.yaml',
  'NOTES.txt',
];
const TEMPLATES: Record<string, string> = Object.fromEntries(
  TEMPLATE_NAMES.map((n) => [n, read(`${CHART_DIR}/templates/${n}`)]),
);

/** Replaces `from` in `text`, failing the test if it is not there (so no edit is silently a no-op). */
function edit(text: string, from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  if (out === text) throw new Error(`edit did not apply: ${String(from)}`);
  return out;
}

/** Removes the instruction starting with `prefix` in the final stage, continuation lines included. */
function dropFinalInstruction(text: string, prefix: string): string {
  const lines = text.split('\n');
  const finalFrom = lines.map((l) => l.startsWith('FROM ')).lastIndexOf(true);
  const start = lines.findIndex((l, i) => i > finalFrom && l.startsWith(prefix));
  if (start < 0) throw new Error(`no ${prefix} in the final stage`);
  let end = start;
  while (lines[end]?.trimEnd().endsWith('\\')) end++;
  lines.splice(start, end - start + 1);
  return lines.join('\n');
}

const problemsOf = (text: string) => checkDockerfile(text).problems;

describe('shipped files', () => {
  it('pass every check, and every section runs', () => {
    const results = runChecks(ROOT);
    expect(results.flatMap((r) => r.problems.map((p) => `${r.title}: ${p}`))).toEqual([]);
    expect(results.map((r) => r.title)).toEqual(
      expect.arrayContaining([
        'Dockerfile',
        'Chart.yaml',
        'values.yaml / values.schema.json',
        'Helm templates (static scan)',
        'Runtime imports (src/)',
      ]),
    );
    // Each of the Dockerfile's own rules reported that it ran.
    const docker = results.find((r) => r.title === 'Dockerfile');
    expect(docker?.checked.length).toBeGreaterThanOrEqual(13);
  });

  it('the CLI exits 0, prints what it checked and what it could not check', () => {
    const run = spawnSync(process.execPath, [path.join(ROOT, 'scripts/check-ship.mjs')], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('checked  runtime stage runs as a numeric non-root USER');
    expect(run.stdout).toContain('Not checked on this machine');
    expect(run.stdout).toContain('helm lint');
    expect(run.stdout).toMatch(/check-ship: all checks passed\s*$/);
  });

  it('the Dockerfile is multi-stage with a clean runtime stage', () => {
    const stages = splitStages(parseDockerfile(DOCKERFILE));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    // Tag pin, optionally with a digest as the Dockerfile's comment recommends.
    for (const s of stages) expect(s.image).toMatch(/^node:24-bookworm-slim(@sha256:[a-f0-9]{64})?$/);
    const final = stages[stages.length - 1];
    expect(final?.instructions.find((i) => i.keyword === 'USER')?.args).toBe('10001:10001');
    expect(final?.instructions.find((i) => i.keyword === 'ENTRYPOINT')?.args).toBe('["node", "dist/cli.js"]');
  });
});

describe('runChecks on a broken tree', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('exits 1 and names the problem', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'check-ship-'));
    dirs.push(dir);
    cpSync(path.join(ROOT, CHART_DIR), path.join(dir, CHART_DIR), { recursive: true });
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', '.dockerignore']) {
      cpSync(path.join(ROOT, f), path.join(dir, f));
    }
    for (const d of ['src', 'config', 'policy', 'scripts']) mkdirSync(path.join(dir, d));
    cpSync(path.join(ROOT, 'scripts', 'build-policy-runtime.mjs'), path.join(dir, 'scripts', 'build-policy-runtime.mjs'));
    writeFileSync(path.join(dir, 'Dockerfile'), dropFinalInstruction(DOCKERFILE, 'USER '));
    // Checked in-process (the script's own imports resolve from the repo); the CLI itself is
    // covered by the test above.
    const results = runChecks(dir);
    const lines: string[] = [];
    expect(report(results, (l) => lines.push(l))).toBe(1);
    expect(lines.join('\n')).toContain('PROBLEM  final stage has no USER instruction');
    expect(lines.join('\n')).toMatch(/check-ship: 1 problem\(s\)$/);
  });

  it('report() lists the unchecked items and returns 0 only without problems', () => {
    const lines: string[] = [];
    expect(report([{ title: 'x', checked: ['a'], problems: [] }], (l) => lines.push(l))).toBe(0);
    for (const n of NOT_CHECKED) expect(lines).toContain(`   - ${n}`);
    expect(report([{ title: 'x', checked: [], problems: ['boom'] }], () => {})).toBe(1);
  });
});

describe('Dockerfile checks catch', () => {
  it('a clean shipped Dockerfile (baseline for the cases below)', () => {
    expect(problemsOf(DOCKERFILE)).toEqual([]);
  });

  it.each<[string, () => string, RegExp]>([
    ['no USER', () => dropFinalInstruction(DOCKERFILE, 'USER '), /final stage has no USER instruction/],
    ['USER root', () => edit(DOCKERFILE, 'USER 10001:10001', 'USER root'), /USER root is root/],
    ['USER 0', () => edit(DOCKERFILE, 'USER 10001:10001', 'USER 0:0'), /USER 0:0 is root/],
    ['a named USER', () => edit(DOCKERFILE, 'USER 10001:10001', 'USER tollgate'), /not a numeric UID/],
    ['no HEALTHCHECK', () => dropFinalInstruction(DOCKERFILE, 'HEALTHCHECK '), /final stage has no HEALTHCHECK/],
    ['HEALTHCHECK NONE', () => edit(dropFinalInstruction(DOCKERFILE, 'HEALTHCHECK '), 'STOPSIGNAL', 'HEALTHCHECK NONE\nSTOPSIGNAL'), /no HEALTHCHECK/],
    ['a single stage', () => DOCKERFILE.slice(DOCKERFILE.lastIndexOf('FROM node:24-bookworm-slim AS runtime')), /multi-stage build \(>= 2 FROM\), found 1/],
    ['EXPOSE without 9090', () => edit(DOCKERFILE, 'EXPOSE 8080 9090', 'EXPOSE 8080'), /does not EXPOSE 9090/],
    ['EXPOSE without 8080', () => edit(DOCKERFILE, 'EXPOSE 8080 9090', 'EXPOSE 9090/tcp'), /does not EXPOSE 8080/],
    ['deps stage installing devDependencies', () => edit(DOCKERFILE, 'npm ci --omit=dev', 'npm ci'), /never runs npm with --omit=dev/],
    ['node_modules from the build stage', () => edit(DOCKERFILE, 'COPY --from=deps /app/node_modules', 'COPY --from=build /app/node_modules'), /stage "build", which never runs npm with --omit=dev/],
    ['a full npm ci in the runtime stage', () => edit(DOCKERFILE, 'USER 10001:10001', 'RUN npm ci\nUSER 10001:10001'), /final stage installs dependencies without --omit=dev/],
    ['no node_modules at all', () => edit(DOCKERFILE, /^COPY --from=deps .*$/m, ''), /final stage gets no production node_modules/],
    ['COPY . . in the runtime stage', () => edit(DOCKERFILE, 'COPY policy ./policy', 'COPY . .'), /final stage copies "\."/],
    ['copying src into the runtime stage', () => edit(DOCKERFILE, 'COPY policy ./policy', 'COPY policy ./policy\nCOPY --from=build /app/src ./src'), /final stage copies "\/app\/src"/],
    ['runtime stage built FROM the build stage', () => edit(DOCKERFILE, 'FROM node:24-bookworm-slim AS runtime', 'FROM build AS runtime'), /FROM build, an earlier stage/],
    ['shell-form ENTRYPOINT', () => edit(DOCKERFILE, 'ENTRYPOINT ["node", "dist/cli.js"]', 'ENTRYPOINT node dist/cli.js'), /ENTRYPOINT is in shell form/],
    ['no NODE_ENV', () => edit(DOCKERFILE, 'ENV NODE_ENV=production\n', ''), /does not set ENV NODE_ENV=production/],
    ['an unpinned base image', () => edit(DOCKERFILE, 'FROM node:24-bookworm-slim AS deps', 'FROM node AS deps'), /base image "node" is not pinned/],
    ['a :latest base image', () => edit(DOCKERFILE, 'FROM node:24-bookworm-slim AS build', 'FROM node:latest AS build'), /"node:latest" is not pinned/],
    ['a dockerfile-utils error (unknown instruction)', () => edit(DOCKERFILE, /^COPY package\.json \.\/$/m, 'COPPY package.json ./'), /dockerfile-utils error at line \d+: Unknown instruction: COPPY/],
    ['a dockerfile-utils warning (lower-case instruction)', () => edit(DOCKERFILE, 'STOPSIGNAL SIGTERM', 'stopsignal SIGTERM'), /dockerfile-utils warning at line \d+: Instructions should be written in uppercase/],
    ['a dockerfile-utils warning (relative WORKDIR)', () => edit(DOCKERFILE, /^WORKDIR \/app$/m, 'WORKDIR app'), /dockerfile-utils warning at line \d+: WORKDIR paths should be absolute/],
  ])('%s', (_name, make, expected) => {
    const problems = problemsOf(make());
    expect(problems.some((p) => expected.test(p)), problems.join('\n')).toBe(true);
  });

  it('a .dockerignore that misses required entries or hides a COPY source', () => {
    const ok = checkDockerfile(DOCKERFILE, { contextDir: ROOT, dockerignore: DOCKERIGNORE });
    expect(ok.problems).toEqual([]);

    const missing = checkDockerfile(DOCKERFILE, { contextDir: ROOT, dockerignore: edit(DOCKERIGNORE, /^node_modules$/m, '') });
    expect(missing.problems).toContain('.dockerignore does not exclude node_modules');

    const hides = checkDockerfile(DOCKERFILE, { contextDir: ROOT, dockerignore: `${DOCKERIGNORE}\nsrc\n` });
    expect(hides.problems.some((p) => /COPY source "src" is excluded by \.dockerignore/.test(p))).toBe(true);

    const absent = checkDockerfile(edit(DOCKERFILE, 'COPY src ./src', 'COPY srcx ./src'), { contextDir: ROOT, dockerignore: DOCKERIGNORE });
    expect(absent.problems.some((p) => /COPY source "srcx" does not exist/.test(p))).toBe(true);
  });
});

describe('Dockerfile helpers', () => {
  it('parseDockerfile joins continuations, drops comments, keeps line numbers', () => {
    const ins = parseDockerfile('# c\nFROM a AS b\nRUN x \\\n  # inner comment\n  y\n\nUSER 1\n');
    expect(ins).toEqual([
      { keyword: 'FROM', args: 'a AS b', line: 2 },
      { keyword: 'RUN', args: 'x    y', line: 3 }, // whitespace kept as written
      { keyword: 'USER', args: '1', line: 7 },
    ]);
  });

  it('parseDockerfile honours the escape directive', () => {
    const ins = parseDockerfile('# escape=`\nFROM a\nRUN x `\n  y\n');
    expect(ins.map((i) => i.args)).toEqual(['a', 'x    y']);
  });

  it('isDockerignored follows Docker pattern rules', () => {
    expect(isDockerignored('node_modules', 'node_modules/x/y.js')).toBe(true);
    expect(isDockerignored('*.log', 'a.log')).toBe(true);
    expect(isDockerignored('*.log', 'sub/a.log')).toBe(false);
    expect(isDockerignored('**/*.log', 'sub/a.log')).toBe(true);
    expect(isDockerignored('config\n!config', 'config')).toBe(false);
    expect(isDockerignored('/dist/', 'dist')).toBe(true);
    expect(isDockerignored('test', 'tests')).toBe(false);
  });
});

describe('chart metadata', () => {
  it('Chart.yaml passes and tracks package.json', () => {
    expect(checkChartYaml(CHART_YAML, PKG.version).problems).toEqual([]);
    expect(checkChartYaml(CHART_YAML, '9.9.9').problems).toEqual([
      `Chart.yaml: appVersion ${PKG.version} differs from package.json version 9.9.9`,
    ]);
  });

  it('Chart.yaml with apiVersion v1, an unquoted appVersion or a bad version fails', () => {
    expect(checkChartYaml(edit(CHART_YAML, 'apiVersion: v2', 'apiVersion: v1'), PKG.version).problems).toEqual([
      'Chart.yaml: apiVersion is v1, expected v2',
    ]);
    expect(checkChartYaml(edit(CHART_YAML, /^appVersion: .*$/m, 'appVersion: 1.0'), '1.0').problems).toEqual([
      'Chart.yaml: appVersion must be a quoted string',
    ]);
    expect(checkChartYaml(edit(CHART_YAML, /^version: .*$/m, 'version: "1.0"'), PKG.version).problems).toEqual([
      'Chart.yaml: version "1.0" is not SemVer',
    ]);
  });
});

describe('values and schema', () => {
  const validate = compileValuesSchema(SCHEMA);

  it('values.yaml is valid, every schema property is described', () => {
    expect(validate(VALUES)).toEqual([]);
    expect(valueInvariantProblems(VALUES)).toEqual([]);
    expect(undescribedSchemaProperties(SCHEMA)).toEqual([]);
    expect(checkValues({ schema: SCHEMA, valuesText: VALUES_TEXT }).problems).toEqual([]);
  });

  it('the ci/ sample is valid after merging over the defaults', () => {
    const sample = parseYaml(read(`${CHART_DIR}/ci/production-values.yaml`)) as unknown;
    const merged = mergeValues(VALUES, sample);
    expect(validate(merged)).toEqual([]);
    expect(valueInvariantProblems(merged)).toEqual([]);
    expect(merged.hpa.enabled).toBe(true);
    expect(merged.resources.limits.cpu).toBe('1'); // merged from the defaults, not replaced
  });

  it.each(INVALID_VALUE_SAMPLES.map((s) => [s.name, s] as const))('rejects: %s', (_name, sample) => {
    const merged = mergeValues(VALUES, sample.override);
    const messages = [...validate(merged), ...valueInvariantProblems(merged)];
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.some((m) => sample.expect?.test(m) ?? false), messages.join('\n')).toBe(true);
  });

  it.each<[string, unknown, RegExp]>([
    ['a capability added back', { containerSecurityContext: { capabilities: { add: ['NET_ADMIN'] } } }, /capabilities\/add: must NOT have more than 0 items/],
    ['capabilities not dropping ALL', { containerSecurityContext: { capabilities: { drop: ['NET_RAW'] } } }, /capabilities\/drop: must contain at least 1 valid item/],
    ['runAsNonRoot off', { podSecurityContext: { runAsNonRoot: false } }, /podSecurityContext\/runAsNonRoot: must be equal to constant/],
    ['a bad image digest', { image: { digest: 'latest' } }, /\/image\/digest: must match pattern/],
    ['a secret mounted over the config', { secretFiles: [{ secretName: 'x', mountPath: '/etc/tollgate' }] }, /\/secretFiles\/0\/mountPath: must NOT be valid/],
    ['a non-boolean hpa.enabled', { hpa: { enabled: 'yes' } }, /\/hpa\/enabled: must be boolean/],
    ['liveness successThreshold above 1', { probes: { liveness: { successThreshold: 2 } } }, /\/probes\/liveness\/successThreshold: must be equal to constant/],
    ['a bad resource quantity', { resources: { limits: { memory: '256MB' } } }, /\/resources\/limits\/memory/],
    ['config that is neither object nor string', { config: 42 }, /\/config: must be object,string/],
    ['admin listener on its loopback default', { config: { server: { admin: { host: null } } } }, /server\.admin\.host is 127\.0\.0\.1/],
    ['config text that is not YAML', { config: 'a: [unclosed' }, /config: not valid YAML/],
    ['hpa min above max', { hpa: { enabled: true, minReplicas: 5, maxReplicas: 2 } }, /hpa\.minReplicas \(5\) is greater than hpa\.maxReplicas \(2\)/],
    ['a drain longer than the grace period (config as text)', { config: 'server:\n  shutdownGraceMs: 60000\n' }, /must exceed config server\.shutdownGraceMs \(60000 ms\)/],
  ])('also rejects: %s', (_name, override, expected) => {
    const merged = mergeValues(VALUES, override);
    const messages = [...validate(merged), ...valueInvariantProblems(merged)];
    expect(messages.some((m) => expected.test(m)), messages.join('\n')).toBe(true);
  });

  it('checkValues fails when an invalid sample is accepted or a valid one rejected', () => {
    const tooLoose = checkValues({
      schema: SCHEMA,
      valuesText: VALUES_TEXT,
      invalidSamples: [{ name: 'actually fine', override: { replicaCount: 3 }, expect: /x/ }],
    });
    expect(tooLoose.problems).toEqual(['invalid sample "actually fine" was ACCEPTED: the schema is too loose']);

    const wrongReason = checkValues({
      schema: SCHEMA,
      valuesText: VALUES_TEXT,
      invalidSamples: [{ name: 'typo', override: { replicas: 3 }, expect: /must be integer/ }],
    });
    expect(wrongReason.problems).toHaveLength(1);
    expect(wrongReason.problems[0]).toMatch(/^invalid sample "typo" failed, but not with/);

    const rejected = checkValues({
      schema: SCHEMA,
      valuesText: VALUES_TEXT,
      validSamples: [{ name: 'bad', override: { replicaCount: -1 } }],
      invalidSamples: [],
    });
    expect(rejected.problems).toEqual(['sample "bad": /replicaCount: must be >= 0']);
  });

  it('checkValues fails on a duplicate key, an undescribed property or a non-compiling schema', () => {
    const dup = checkValues({ schema: SCHEMA, valuesText: `${VALUES_TEXT}\nreplicaCount: 3\n`, invalidSamples: [] });
    expect(dup.problems.some((p) => /values\.yaml: Map keys must be unique/.test(p))).toBe(true);

    const undocumented = structuredClone(SCHEMA);
    delete undocumented.properties.replicaCount.description;
    expect(checkValues({ schema: undocumented, valuesText: VALUES_TEXT, invalidSamples: [] }).problems).toEqual([
      'values.schema.json: replicaCount has no description',
    ]);

    const broken = structuredClone(SCHEMA);
    broken.properties.replicaCount.type = 'integr';
    const res = checkValues({ schema: broken, valuesText: VALUES_TEXT });
    expect(res.problems).toHaveLength(1);
    expect(res.problems[0]).toMatch(/^values\.schema\.json does not compile/);
  });

  it('mergeValues merges maps, replaces lists and deletes on null, like helm', () => {
    const base = { a: { b: 1, c: 2 }, l: [1, 2], k: 'x' };
    expect(mergeValues(base, { a: { b: 3 }, l: [9], k: null })).toEqual({ a: { b: 3, c: 2 }, l: [9] });
    expect(base).toEqual({ a: { b: 1, c: 2 }, l: [1, 2], k: 'x' }); // not mutated
  });
});

describe('gateway config carried by the chart', () => {
  // A tiny stand-in for config/gateway.schema.json (the real one is generated from src/).
  const gatewaySchema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    additionalProperties: false,
    required: ['version', 'routes'],
    properties: {
      version: { const: 1, errorMessage: 'must be 1' },
      server: { type: 'object' },
      routes: { type: 'array', minItems: 1 },
      upstreams: { type: 'object', additionalProperties: { type: 'object', properties: { url: { type: 'string', format: 'uri' } } } },
    },
  };

  it('accepts a conforming config, as object or as text', () => {
    const r = checkChartGatewayConfig(gatewaySchema, [
      { name: 'object', values: { config: { version: 1, routes: [{}], upstreams: { a: { url: 'http://a:1' } } } } },
      { name: 'text', values: { config: 'version: 1\nroutes: [{}]\n' } },
    ]);
    expect(r.problems).toEqual([]);
    expect(r.checked).toHaveLength(2);
  });

  it('reports unknown keys, missing routes and bad URLs', () => {
    const r = checkChartGatewayConfig(gatewaySchema, [
      { name: 'bad', values: { config: { version: 1, routes: [], sever: {}, upstreams: { a: { url: 'not a url' } } } } },
    ]);
    expect(r.problems).toEqual(
      expect.arrayContaining([
        'bad: config: must NOT have additional properties "sever"',
        'bad: config.routes: must NOT have fewer than 1 items',
        'bad: config.upstreams.a.url: must match format "uri"',
      ]),
    );
  });
});

describe('template checks catch', () => {
  it('nothing in the shipped templates', () => {
    const r = checkTemplates(TEMPLATES, VALUES);
    expect(r.problems).toEqual([]);
    expect(r.checked.length).toBeGreaterThanOrEqual(5);
  });

  const withTemplate = (file: string, text: string) => checkTemplates({ ...TEMPLATES, [file]: text }, VALUES).problems;

  it.each<[string, () => string[], RegExp]>([
    ['an unclosed {{', () => withTemplate('pdb.yaml', `${TEMPLATES['pdb.yaml']}\n{{ .Values.pdb.enabled `), /templates\/pdb\.yaml:\d+: "\{\{" is never closed/],
    ['a stray }}', () => withTemplate('pdb.yaml', `${TEMPLATES['pdb.yaml']}\n.Values.pdb.enabled }}`), /"\}\}" without a matching "\{\{"/],
    ['a missing end', () => withTemplate('hpa.yaml', edit(TEMPLATES['hpa.yaml'] ?? '', /\{\{- end \}\}\s*$/, '')), /templates\/hpa\.yaml:1: "if" block is never closed/],
    ['an extra end', () => withTemplate('pdb.yaml', `${TEMPLATES['pdb.yaml']}{{- end }}\n`), /"end" without an open block/],
    ['an undefined value', () => withTemplate('deployment.yaml', edit(TEMPLATES['deployment.yaml'] ?? '', '.Values.image.pullPolicy', '.Values.image.pullPolcy')), /templates\/deployment\.yaml:\d+: \.Values\.image\.pullPolcy is not defined in values\.yaml/],
    ['a value nobody uses', () => checkTemplates(TEMPLATES, { ...VALUES, extraThing: { a: 1 } }).problems, /values\.yaml: extraThing\.a is not used by any template/],
    ['a missing template', () => checkTemplates(Object.fromEntries(Object.entries(TEMPLATES).filter(([k]) => k !== 'pdb.yaml')), VALUES).problems, /templates\/pdb\.yaml is missing/],
    ['a removed readiness probe', () => withTemplate('deployment.yaml', edit(TEMPLATES['deployment.yaml'] ?? '', 'path: /readyz', 'path: /healthz')), /templates\/deployment\.yaml: missing .*readinessProbe/],
    ['a mounted service-account token', () => withTemplate('serviceaccount.yaml', edit(TEMPLATES['serviceaccount.yaml'] ?? '', 'automountServiceAccountToken: false', 'automountServiceAccountToken: true')), /templates\/serviceaccount\.yaml: missing automountServiceAccountToken: false/],
  ])('%s', (_name, run, expected) => {
    const problems = run();
    expect(problems.some((p) => expected.test(p)), problems.join('\n')).toBe(true);
  });

  it('ignores .Values inside template comments, sees it in $.Values', () => {
    const text = '{{/* .Values.doesNotExist */}}{{- /* also .Values.nope */ -}}{{ $.Values.nope2 }}';
    const problems = withTemplate('extra.tpl', text);
    expect(problems).toEqual(['templates/extra.tpl:1: .Values.nope2 is not defined in values.yaml']);
  });
});

describe('runtime import checks', () => {
  const pkg = { dependencies: { fastify: '1', '@scope/lib': '1' } };

  it('accept production dependencies, builtins, relative and type-only imports', () => {
    const src = [
      "import Fastify from 'fastify';",
      "import { x } from '@scope/lib/sub/path';",
      "import { readFileSync } from 'node:fs';",
      "import path from 'path';",
      "import { helper } from './helper.js';",
      "import type { Suite } from 'vitest';",
      "export type { Foo } from 'typescript';",
      "const dev = await import('oidc-provider');",
    ].join('\n');
    const r = checkRuntimeImports({ 'src/a.ts': src }, pkg);
    expect(r.problems).toEqual([]);
    expect(r.checked).toContain('note: src/a.ts lazily imports oidc-provider (not in the image; fine for dev-only paths)');
  });

  it('reject a devDependency imported for its value, inline `type` specifiers included', () => {
    const src = ["import { describe } from 'vitest';", "import { type Provider } from 'oidc-provider';", "export * from 'autocannon';", "import 'typescript';"].join('\n');
    const r = checkRuntimeImports({ 'src/b.ts': src }, pkg);
    expect(r.problems.map((p) => /"([^"]+)"/.exec(p)?.[1])).toEqual(['vitest', 'oidc-provider', 'autocannon', 'typescript']);
  });

  it('the shipped src/ imports production dependencies only', () => {
    const r = runChecks(ROOT).find((x) => x.title === 'Runtime imports (src/)');
    expect(r?.problems).toEqual([]);
    expect(r?.checked[0]).toMatch(/static imports in [1-9]\d* file\(s\)/);
  });
});
