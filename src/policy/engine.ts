/**
 * The gateway's policy engine: one compiled policy (a `policy.dir` compiled by tollgate, its tests run first, or a
 * bundle built by `opa build -t wasm`), loaded into @open-policy-agent/opa-wasm with its data, asked for one decision
 * per request. Built at start and on every reload; a policy that fails to compile, load or pass its tests is never
 * swapped in (the caller keeps the last good one).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PolicyConfig, RiskTier } from '../config/types.js';
import { readBundle } from './bundle.js';
import { loadTollgatePolicy } from './load.js';
import { compilePolicyProject, loadPolicyProject } from './project.js';
import { formatError } from './rego/check/index.js';
import { runPolicyTests } from './test-runner.js';

/** A policy the gateway refused; the message says why (compile errors with file:line, failing tests, a bad bundle). */
export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
}

export interface PolicyEngine {
  /** SHA-256 over the module and its data: what a reload record names. */
  readonly revision: string;
  /** `dir <path>` or `bundle <path>`. */
  readonly source: string;
  /** Files read to build it (a change to any of them triggers a watch reload). */
  readonly files: readonly string[];
  /** Evaluates the decision entrypoint; throws on an evaluation error. */
  evaluate(input: unknown): unknown;
  /** Tests run before acceptance (dir policies with runTests). */
  readonly tests: { passed: number; failed: number } | undefined;
}

const TIERS: Readonly<Record<string, RiskTier>> = { low: 'low', medium: 'medium', high: 'high' };

/** Compiles or reads the configured policy, runs its tests, loads it with its data. Throws PolicyLoadError. */
export async function loadPolicyEngine(config: PolicyConfig): Promise<PolicyEngine> {
  let wasm: Uint8Array;
  let data: Record<string, unknown>;
  let files: string[];
  let source: string;
  let tests: PolicyEngine['tests'];
  if (config.dir !== undefined) {
    source = `dir ${config.dir}`;
    let project;
    try {
      project = loadPolicyProject(config.dir);
    } catch (err) {
      throw new PolicyLoadError(`policy ${config.dir}: ${(err as Error).message}`);
    }
    const compiled = compilePolicyProject(project, { entrypoint: config.entrypoint, includeTests: false });
    if (compiled.errors !== undefined) {
      throw new PolicyLoadError(`policy ${config.dir} does not compile:\n${compiled.errors.map((e) => formatError(e)).join('\n')}`);
    }
    if (config.runTests) {
      const run = await runPolicyTests(project);
      if (run.errors.length > 0) throw new PolicyLoadError(`policy ${config.dir}: its tests do not run:\n${run.errors.join('\n')}`);
      if (run.failed > 0) {
        const failing = run.results.filter((r) => !r.pass).map((r) => `${r.name}${r.error !== undefined ? `: ${r.error}` : ''}`);
        throw new PolicyLoadError(`policy ${config.dir}: ${run.failed} of ${run.results.length} tests fail:\n${failing.join('\n')}`);
      }
      tests = { passed: run.passed, failed: run.failed };
    }
    wasm = compiled.wasm;
    data = project.data;
    files = [...project.files];
  } else if (config.bundle !== undefined) {
    source = `bundle ${config.bundle}`;
    try {
      const bundle = readBundle(readFileSync(config.bundle));
      wasm = bundle.wasm;
      data = bundle.data;
    } catch (err) {
      throw new PolicyLoadError(`policy bundle ${config.bundle}: ${(err as Error).message}`);
    }
    files = [config.bundle];
  } else {
    throw new PolicyLoadError('policy: neither dir nor bundle is set');
  }

  let loaded;
  try {
    loaded = await loadTollgatePolicy(wasm);
  } catch (err) {
    throw new PolicyLoadError(`policy (${source}): cannot load the WebAssembly module: ${(err as Error).message}`);
  }
  const entrypoints = loaded.entrypoints as Record<string, number>;
  const id = entrypoints[config.entrypoint];
  if (id === undefined) {
    throw new PolicyLoadError(`policy (${source}) has no entrypoint ${config.entrypoint} (it has: ${Object.keys(entrypoints).join(', ') || 'none'})`);
  }
  try {
    loaded.setData(data);
  } catch (err) {
    throw new PolicyLoadError(`policy (${source}): data does not load: ${(err as Error).message}`);
  }
  const revision = createHash('sha256').update(wasm).update(JSON.stringify(data)).digest('hex');
  return {
    revision,
    source,
    files,
    tests,
    evaluate: (input) => loaded.evaluate(input, id),
  };
}

/** A decision the gateway can act on. Everything else a policy returns is a deny. */
export interface Decision {
  allow: boolean;
  /** Every reason (audited). */
  reasons: string[];
  /** The reasons the client may see (a subset the policy marked public). */
  publicReasons: string[];
  risk: RiskTier | undefined;
  /** Headers to add to the upstream request. */
  headers: Array<[name: string, value: string]>;
}

/** Why a result is not a decision (a stable token for metrics and the audit record). */
export type InvalidDecision = 'undefined' | 'not_an_object' | 'bad_allow' | 'bad_reasons' | 'bad_risk' | 'bad_obligation';

// RFC 9110 §5.5: a field value is visible characters, spaces and tabs; no CR/LF (header injection).
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * Reads OPA's result set (`[{ result: decision }]`) strictly: `allow` must be the boolean true to allow; reasons
 * must be strings; `risk` a tier; obligation headers only the configured names (`allowedHeaders`, which config
 * validation keeps free of framing, credential and identity headers) with valid values. Anything off is
 * `InvalidDecision`, which the stage turns into a deny.
 */
export function readDecision(resultSet: unknown, allowedHeaders: ReadonlySet<string>): Decision | InvalidDecision {
  if (!Array.isArray(resultSet) || resultSet.length !== 1) return 'undefined';
  const entry = resultSet[0] as { result?: unknown } | undefined;
  const r = entry?.result;
  if (r === undefined) return 'undefined';
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return 'not_an_object';
  const d = r as Record<string, unknown>;
  if (typeof d['allow'] !== 'boolean') return 'bad_allow';
  const reasons = d['reasons'] ?? [];
  const publicReasons = d['public_reasons'] ?? [];
  if (!strings(reasons) || !strings(publicReasons)) return 'bad_reasons';
  let risk: RiskTier | undefined;
  if (d['risk'] !== undefined) {
    risk = typeof d['risk'] === 'string' ? TIERS[d['risk']] : undefined;
    if (risk === undefined) return 'bad_risk';
  }
  const headers: Array<[string, string]> = [];
  const obligations = d['obligations'];
  if (obligations !== undefined) {
    if (obligations === null || typeof obligations !== 'object' || Array.isArray(obligations)) return 'bad_obligation';
    for (const [key, value] of Object.entries(obligations as Record<string, unknown>)) {
      if (key !== 'headers') return 'bad_obligation';
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'bad_obligation';
      for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
        const lower = name.toLowerCase();
        if (!allowedHeaders.has(lower) || typeof v !== 'string' || !HEADER_VALUE.test(v)) return 'bad_obligation';
        headers.push([lower, v]);
      }
    }
  }
  // Only reasons the policy also listed can be public: a typo in public_reasons must not invent a reason.
  return { allow: d['allow'], reasons, publicReasons: publicReasons.filter((p) => reasons.includes(p)), risk, headers };
}
