/**
 * Checks JSON Schema cannot express: references between sections, duplicate and overlapping
 * routes, path template structure, key-source/algorithm consistency, URLs, and that referenced
 * files and secrets exist. Runs on the raw data even when the schema found problems (so one run
 * reports everything), so every access is guarded; values of the wrong shape are skipped here
 * because the schema already reports them. Secrets are resolved here and returned, never logged.
 */
import { createPrivateKey } from 'node:crypto';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import {
  HEADER_NAME_PATTERN,
  HMAC_MIN_SECRET_BYTES,
  HTTP_METHODS,
  IDENTITY_HEADER_DEFAULTS,
  JWS_ALGORITHMS,
  RESERVED_HEADERS,
} from './defaults.js';
import { toDotted, type PathSegment } from './errors.js';
import { PATH_PREFIX_PATTERN, PATH_TEMPLATE_PATTERN, pathProblems, templateShape } from './path-template.js';
import { HTTP_URL_PATTERN } from './schema.js';
import type { RawIssue } from './yaml-doc.js';

export interface SemanticContext {
  /** Directory relative file paths are resolved against. */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  /** Line of a path in the YAML text, for messages that refer to another place. */
  lineOf: (path: PathSegment[]) => number | undefined;
}

export interface SemanticResult {
  issues: RawIssue[];
  /** Secret bytes by issuer name, for issuers whose secret resolved. */
  secrets: Map<string, Uint8Array>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter(isStr) : []);
const entries = (v: unknown): [string, Obj][] =>
  isObj(v) ? Object.entries(v).filter((e): e is [string, Obj] => isObj(e[1])) : [];

/** Keys of non-issuer secrets among the resolved secrets (issuer names cannot start with "#"). */
export const REDIS_PASSWORD_SECRET = '#redis';
export const AUDIT_REDIS_PASSWORD_SECRET = '#audit-redis';
export const AUDIT_SIGNING_KEY_SECRET = '#audit-key';
export const HIGH_RISK_REDIS_PASSWORD_SECRET = '#highrisk-redis';

export function resolveFile(baseDir: string, file: string): string {
  return isAbsolute(file) ? file : resolve(baseDir, file);
}

export function semanticCheck(data: unknown, ctx: SemanticContext): SemanticResult {
  const issues: RawIssue[] = [];
  const secrets = new Map<string, Uint8Array>();
  if (!isObj(data)) return { issues, secrets };
  const add = (path: PathSegment[], message: string) => issues.push({ path, message });

  checkIdentityHeaders(data['identityHeaders'], add);
  for (const [name, issuer] of entries(data['issuers'])) {
    const secret = checkIssuer(name, issuer, ctx, add);
    if (secret !== undefined) secrets.set(name, secret);
  }
  for (const [name, upstream] of entries(data['upstreams'])) checkUpstream(name, upstream, ctx, add);
  checkRoutes(data, ctx, add);
  const password = checkRateLimits(data, ctx, add);
  if (password !== undefined) secrets.set(REDIS_PASSWORD_SECRET, password);
  checkPolicy(data, ctx, add);
  if (isObj(data['highRisk'])) {
    const hr = data['highRisk'];
    if (hr['store'] === 'redis' && !isObj(hr['redis'])) add(['highRisk', 'store'], 'store is redis but highRisk.redis is not set');
    const idem = isObj(hr['idempotency']) ? hr['idempotency'] : {};
    const ttl = typeof idem['ttlSeconds'] === 'number' ? idem['ttlSeconds'] : 86_400;
    const lease = typeof idem['leaseSeconds'] === 'number' ? idem['leaseSeconds'] : 120;
    if (lease > ttl) {
      add(['highRisk', 'idempotency', typeof idem['leaseSeconds'] === 'number' ? 'leaseSeconds' : 'ttlSeconds'], `leaseSeconds (${lease}) must not exceed ttlSeconds (${ttl}): a key must outlive the request that holds it`);
    }
    if (isObj(hr['redis'])) {
      const password = checkRedis(hr['redis'], ['highRisk', 'redis'], ctx, add);
      if (password !== undefined) secrets.set(HIGH_RISK_REDIS_PASSWORD_SECRET, password);
    }
  }
  if (isObj(data['audit'])) {
    const audit = checkAudit(data['audit'], ctx, add);
    if (audit.password !== undefined) secrets.set(AUDIT_REDIS_PASSWORD_SECRET, audit.password);
    if (audit.signingKey !== undefined) secrets.set(AUDIT_SIGNING_KEY_SECRET, audit.signingKey);
  }
  return { issues, secrets };
}

type Add = (path: PathSegment[], message: string) => void;

function checkIdentityHeaders(value: unknown, add: Add): void {
  const given = isObj(value) ? value : {};
  const seen = new Map<string, string>();
  for (const field of Object.keys(IDENTITY_HEADER_DEFAULTS) as (keyof typeof IDENTITY_HEADER_DEFAULTS)[]) {
    const raw = given[field] ?? IDENTITY_HEADER_DEFAULTS[field];
    if (!isStr(raw) || !new RegExp(HEADER_NAME_PATTERN).test(raw)) continue;
    const header = raw.toLowerCase();
    if (RESERVED_HEADERS.has(header)) add(['identityHeaders', field], `"${header}" is reserved; choose a header the gateway does not otherwise use`);
    const other = seen.get(header);
    if (other !== undefined) {
      // Report it where the author wrote it: a default cannot be the mistake.
      const [at, clash] = given[field] !== undefined ? [field, other] : [other, field];
      add(['identityHeaders', at], `"${header}" is also used for identityHeaders.${clash}`);
    }
    seen.set(header, field);
  }
}

function checkIssuer(name: string, issuer: Obj, ctx: SemanticContext, add: Add): Uint8Array | undefined {
  const base: PathSegment[] = ['issuers', name];
  const algorithms = Array.isArray(issuer['algorithms']) ? issuer['algorithms'] : [];
  const hasSecret = issuer['secret'] !== undefined;
  algorithms.forEach((alg, i) => {
    if (!isStr(alg) || !(JWS_ALGORITHMS as readonly string[]).includes(alg)) return; // the schema reports it
    const hmac = /^HS(256|384|512)$/.test(alg);
    if (hmac && !hasSecret) add([...base, 'algorithms', i], `${alg} needs the "secret" key source (HMAC keys are shared secrets)`);
    if (!hmac && hasSecret) add([...base, 'algorithms', i], `${alg} cannot be used with "secret": a shared secret only verifies HS256, HS384 or HS512`);
  });

  if (isStr(issuer['keysFile'])) checkFile(ctx, [...base, 'keysFile'], issuer['keysFile'], add);
  const jwks = issuer['jwks'];
  if (isObj(jwks)) {
    if (isStr(jwks['uri'])) checkUrl([...base, 'jwks', 'uri'], jwks['uri'], add);
    if (isStr(jwks['caFile'])) checkFile(ctx, [...base, 'jwks', 'caFile'], jwks['caFile'], add);
  }

  const secretRef = issuer['secret'];
  if (!isObj(secretRef) || Object.keys(secretRef).length !== 1) return undefined;
  const secret = readSecret(secretRef, [...base, 'secret'], ctx, add);
  if (secret === undefined) return undefined;
  const needed = Math.max(0, ...strings(issuer['algorithms']).map((a) => HMAC_MIN_SECRET_BYTES[a] ?? 0));
  if (secret.length < needed) {
    add([...base, 'secret'], `the secret is ${secret.length} bytes; ${algorithmsNeeding(issuer, needed)} needs at least ${needed} (RFC 7518 §3.2)`);
    return undefined;
  }
  return secret;
}

function algorithmsNeeding(issuer: Obj, bytes: number): string {
  return strings(issuer['algorithms']).find((a) => HMAC_MIN_SECRET_BYTES[a] === bytes) ?? 'HMAC';
}

function readSecret(ref: Obj, path: PathSegment[], ctx: SemanticContext, add: Add): Uint8Array | undefined {
  if (isStr(ref['env'])) {
    const value = ctx.env[ref['env']];
    if (value === undefined) add([...path, 'env'], `environment variable ${ref['env']} is not set`);
    else if (value === '') add([...path, 'env'], `environment variable ${ref['env']} is empty`);
    else return new Uint8Array(Buffer.from(value, 'utf8'));
    return undefined;
  }
  if (isStr(ref['file'])) {
    const file = checkFile(ctx, [...path, 'file'], ref['file'], add);
    if (file === undefined) return undefined;
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      add([...path, 'file'], `cannot read secret file ${file}: ${errorCode(err)}`);
      return undefined;
    }
    // One trailing newline (as `echo` writes) is not part of the secret.
    let end = bytes.length;
    if (bytes[end - 1] === 0x0a) end -= bytes[end - 2] === 0x0d ? 2 : 1;
    if (end === 0) {
      add([...path, 'file'], `secret file ${file} is empty`);
      return undefined;
    }
    return new Uint8Array(bytes.subarray(0, end));
  }
  return undefined;
}

/** Checks a referenced file is a readable regular file; returns its absolute path if so. */
function checkFile(ctx: SemanticContext, path: PathSegment[], file: string, add: Add): string | undefined {
  const abs = resolveFile(ctx.baseDir, file);
  try {
    if (!statSync(abs).isFile()) {
      add(path, `${abs} is not a regular file`);
      return undefined;
    }
    accessSync(abs, constants.R_OK);
    return abs;
  } catch (err) {
    const code = errorCode(err);
    add(path, code === 'ENOENT' ? `file not found: ${abs}` : `cannot read ${abs}: ${code}`);
    return undefined;
  }
}

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
}

/** URLs that already match the schema pattern: parseable, with a host and no credentials. */
function checkUrl(path: PathSegment[], value: string, add: Add): URL | undefined {
  if (!new RegExp(HTTP_URL_PATTERN).test(value)) return undefined; // the schema reports it
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined; // the schema's format check reports it
  }
  if (url.username !== '' || url.password !== '') {
    add(path, 'must not contain credentials (user:password@); use tls or a secret reference instead');
    return undefined;
  }
  return url;
}

function checkUpstream(name: string, upstream: Obj, ctx: SemanticContext, add: Add): void {
  const base: PathSegment[] = ['upstreams', name];
  const url = isStr(upstream['url']) ? checkUrl([...base, 'url'], upstream['url'], add) : undefined;
  const tls = upstream['tls'];
  if (!isObj(tls)) return;
  if (url?.protocol === 'http:') add([...base, 'tls'], 'tls is set but the upstream URL is http://; use https:// or remove tls');
  if (isStr(tls['caFile'])) checkFile(ctx, [...base, 'tls', 'caFile'], tls['caFile'], add);
}

interface MatchKey {
  index: number;
  id: string;
  shape: string;
  methods: Set<string>;
}

function checkRoutes(data: Obj, ctx: SemanticContext, add: Add): void {
  const routes = Array.isArray(data['routes']) ? data['routes'] : [];
  const upstreams = isObj(data['upstreams']) ? data['upstreams'] : {};
  const issuers = isObj(data['issuers']) ? data['issuers'] : {};
  const ids = new Map<string, number>();
  const matches: MatchKey[] = [];
  const where = (i: number) => {
    const line = ctx.lineOf(['routes', i]);
    return line === undefined ? toDotted(['routes', i]) : `line ${line}`;
  };

  routes.forEach((route: unknown, i) => {
    if (!isObj(route)) return;
    const base: PathSegment[] = ['routes', i];
    const id = isStr(route['id']) ? route['id'] : `#${i}`;
    if (isStr(route['id'])) {
      const first = ids.get(route['id']);
      if (first !== undefined) add([...base, 'id'], `duplicate route id "${route['id']}" (first used at ${where(first)})`);
      else ids.set(route['id'], i);
    }
    if (isStr(route['upstream']) && !Object.hasOwn(upstreams, route['upstream'])) {
      add([...base, 'upstream'], `unknown upstream "${route['upstream']}"${known(upstreams)}`);
    }
    const auth = route['auth'];
    if (isObj(auth) && isStr(auth['issuer']) && !Object.hasOwn(issuers, auth['issuer'])) {
      add([...base, 'auth', 'issuer'], `unknown issuer "${auth['issuer']}"${known(issuers)}`);
    }
    const key = matchKey(route['match'], base, add);
    if (key === undefined) return;
    const entry: MatchKey = { index: i, id, ...key };
    const clash = matches.find((m) => m.shape === entry.shape && [...m.methods].some((x) => entry.methods.has(x)));
    if (clash !== undefined) {
      const same = clash.methods.size === entry.methods.size && [...clash.methods].every((x) => entry.methods.has(x));
      add(
        [...base, 'match'],
        same
          ? `same match as route "${clash.id}" (${where(clash.index)}): methods, path and host are identical`
          : `overlaps route "${clash.id}" (${where(clash.index)}): same path and host, and both accept ${[...clash.methods].filter((x) => entry.methods.has(x)).join(', ')}`,
      );
    }
    matches.push(entry);
  });
}

function known(section: Obj): string {
  const names = Object.keys(section);
  if (names.length === 0) return ' (none are defined)';
  return ` (defined: ${names.slice(0, 10).join(', ')}${names.length > 10 ? `, and ${names.length - 10} more` : ''})`;
}

/** Validates path/prefix structure; returns what the route matches, if the match is well-formed. */
function matchKey(match: unknown, base: PathSegment[], add: Add): { shape: string; methods: Set<string> } | undefined {
  if (!isObj(match)) return undefined;
  let shape: string | undefined;
  let valid = true;
  for (const [kind, pattern] of [['path', PATH_TEMPLATE_PATTERN], ['prefix', PATH_PREFIX_PATTERN]] as const) {
    const value = match[kind];
    if (!isStr(value)) continue;
    if (!new RegExp(pattern).test(value)) {
      valid = false; // the schema reports it
      continue;
    }
    const problems = pathProblems(value, kind);
    for (const p of problems) add([...base, 'match', kind], p);
    if (problems.length > 0) valid = false;
    shape = shape === undefined ? `${kind} ${templateShape(value)}` : undefined;
  }
  if (!valid || shape === undefined) return undefined;
  const host = isStr(match['host']) ? match['host'].toLowerCase() : '*';
  const listed: unknown[] = Array.isArray(match['methods']) ? match['methods'] : [];
  if (!listed.every((m) => (HTTP_METHODS as readonly unknown[]).includes(m))) return undefined; // the schema reports it
  const methods = new Set((listed.length > 0 ? listed : HTTP_METHODS) as string[]);
  return { shape: `${shape} host ${host}`, methods };
}

/**
 * rateLimits: names that routes, defaults and plans refer to exist; Redis when the store is redis, its URL without
 * credentials and its password resolvable; trusted proxies are CIDRs; a public route has no client- or
 * partner-keyed limit (it has no verified client to count).
 */
function checkRateLimits(data: Obj, ctx: SemanticContext, add: Add): Uint8Array | undefined {
  const rl = isObj(data['rateLimits']) ? data['rateLimits'] : {};
  const base: PathSegment[] = ['rateLimits'];
  const policies = isObj(rl['policies']) ? rl['policies'] : {};
  const quotas = isObj(rl['quotas']) ? rl['quotas'] : {};
  const plans = isObj(rl['plans']) ? rl['plans'] : {};
  const refs = (value: unknown, section: Obj, kind: string, path: PathSegment[]) => {
    if (!Array.isArray(value)) return;
    value.forEach((name, i) => {
      if (isStr(name) && !Object.hasOwn(section, name)) add([...path, i], `unknown ${kind} "${name}"${known(section)}`);
    });
  };
  const defaults = isObj(rl['defaults']) ? rl['defaults'] : {};
  refs(defaults['policies'], policies, 'rate-limit policy', [...base, 'defaults', 'policies']);
  refs(defaults['quotas'], quotas, 'quota', [...base, 'defaults', 'quotas']);
  for (const [name, plan] of entries(plans)) {
    for (const [sec, section, kind] of [['policies', policies, 'rate-limit policy'], ['quotas', quotas, 'quota']] as const) {
      for (const ref of Object.keys(isObj(plan[sec]) ? plan[sec] : {})) {
        if (!Object.hasOwn(section, ref)) add([...base, 'plans', name, sec, ref], `unknown ${kind} "${ref}"${known(section)}`);
      }
    }
  }
  for (const field of ['partnerPlans', 'clientPlans'] as const) {
    const map = isObj(rl[field]) ? rl[field] : {};
    for (const [who, plan] of Object.entries(map)) {
      if (isStr(plan) && !Object.hasOwn(plans, plan)) add([...base, field, who], `unknown plan "${plan}"${known(plans)}`);
    }
  }
  strings(rl['trustedProxies']).forEach((cidr, i) => {
    if (!isCidr(cidr)) add([...base, 'trustedProxies', i], `"${cidr}" is not a CIDR such as 10.0.0.0/8 or fd00::/8`);
  });
  let password: Uint8Array | undefined;
  if (rl['store'] === 'redis' && !isObj(rl['redis'])) add([...base, 'store'], 'store is redis but rateLimits.redis is not set');
  if (isObj(rl['redis'])) password = checkRedis(rl['redis'], [...base, 'redis'], ctx, add);
  // routes: the limits they name exist, and public routes only count what they can know
  const routes = Array.isArray(data['routes']) ? data['routes'] : [];
  routes.forEach((route: unknown, i) => {
    if (!isObj(route)) return;
    const own = isObj(route['rateLimits']) ? route['rateLimits'] : undefined;
    const path: PathSegment[] = ['routes', i, 'rateLimits'];
    if (own) {
      refs(own['policies'], policies, 'rate-limit policy', [...path, 'policies']);
      refs(own['quotas'], quotas, 'quota', [...path, 'quotas']);
    }
    // (defaults keyed by client or partner simply do not apply to public routes: see normalize.ts)
    if (route['auth'] !== false || !own) return;
    strings(own['policies']).forEach((name) => {
      const p = policies[name];
      if (isObj(p) && p['key'] !== 'ip' && p['key'] !== 'route') {
        add([...path, 'policies'], `public route uses rate-limit policy "${name}" keyed by ${String(p['key'])}, which needs a verified client; key it by ip or route`);
      }
    });
    const qnames = strings(own['quotas']);
    if (qnames.length > 0) add([...path, 'quotas'], `public route uses quotas (${qnames.join(', ')}), which count verified clients or partners`);
  });
  return password;
}

function isCidr(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return false;
  const ip = s.slice(0, slash), bits = s.slice(slash + 1);
  const v = isIP(ip);
  if (v === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (v === 4 ? 32 : 128);
}

/** A Redis section: the URL carries no credentials (they go in `password`, a secret reference) and names a host. */
function checkRedis(r: Obj, base: PathSegment[], ctx: SemanticContext, add: Add): Uint8Array | undefined {
  if (isStr(r['url'])) {
    try {
      const u = new URL(r['url']);
      if (u.password !== '' || u.username !== '') add([...base, 'url'], `must not contain credentials; use ${toDotted(base)}.password: { env: NAME }`);
      if (u.hostname === '') add([...base, 'url'], 'must name a host');
    } catch {
      add([...base, 'url'], 'is not a valid URL');
    }
  }
  return isObj(r['password']) ? readSecret(r['password'], [...base, 'password'], ctx, add) : undefined;
}

/**
 * audit: the Redis sink has its Redis; the signing key is an Ed25519 private key in PKCS#8 PEM (RFC 8410), read now
 * so a wrong key stops the boot instead of the first checkpoint; the file sink's directory, if it exists, is one.
 */
function checkAudit(audit: Obj, ctx: SemanticContext, add: Add): { password?: Uint8Array; signingKey?: Uint8Array } {
  const out: { password?: Uint8Array; signingKey?: Uint8Array } = {};
  if (audit['enabled'] === false) return out;
  if (audit['sink'] === 'redis' && !isObj(audit['redis'])) add(['audit', 'sink'], 'sink is redis but audit.redis is not set');
  if (isObj(audit['redis'])) {
    const password = checkRedis(audit['redis'], ['audit', 'redis'], ctx, add);
    if (password !== undefined) out.password = password;
  }
  if (isObj(audit['signingKey'])) {
    const path: PathSegment[] = ['audit', 'signingKey'];
    const pem = readSecret(audit['signingKey'], path, ctx, add);
    if (pem !== undefined) {
      let ok = false;
      try {
        const key = createPrivateKey(Buffer.from(pem).toString('utf8'));
        ok = key.asymmetricKeyType === 'ed25519';
      } catch {
        ok = false;
      }
      if (ok) out.signingKey = pem;
      else add(path, 'is not an Ed25519 private key in PKCS#8 PEM (openssl genpkey -algorithm ed25519)');
    }
  }
  const dir = isObj(audit['file']) && isStr(audit['file']['dir']) ? resolveFile(ctx.baseDir, audit['file']['dir']) : undefined;
  if (dir !== undefined && (audit['sink'] ?? 'file') === 'file') {
    try {
      if (!statSync(dir).isDirectory()) add(['audit', 'file', 'dir'], `${dir} exists and is not a directory`);
    } catch {
      // Created at start.
    }
  }
  return out;
}

/** Headers that carry credentials: never copied into the policy input (which is logged by policy authors' prints). */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'dpop']);

/**
 * policy: the directory or bundle exists; input headers carry no credential (the approval header included: approval
 * tokens reach the policy only as verified claims); the approvals issuer exists; routes that read their body for the
 * policy have a policy to read it for, within their own body limit.
 */
function checkPolicy(data: Obj, ctx: SemanticContext, add: Add): void {
  const policy = isObj(data['policy']) ? data['policy'] : undefined;
  if (policy !== undefined) {
    if (isStr(policy['dir'])) {
      const dir = resolveFile(ctx.baseDir, policy['dir']);
      try {
        if (!statSync(dir).isDirectory()) add(['policy', 'dir'], `${dir} is not a directory`);
      } catch {
        add(['policy', 'dir'], `directory not found: ${dir}`);
      }
    }
    if (isStr(policy['bundle'])) checkFile(ctx, ['policy', 'bundle'], policy['bundle'], add);
    const approvals = isObj(policy['approvals']) ? policy['approvals'] : undefined;
    const approvalHeader = isStr(approvals?.['header']) ? approvals['header'].toLowerCase() : 'approval-token';
    strings(policy['headers']).forEach((h, i) => {
      const name = h.toLowerCase();
      if (CREDENTIAL_HEADERS.has(name)) add(['policy', 'headers', i], `${name} carries credentials and is never given to the policy`);
      else if (approvals !== undefined && name === approvalHeader) add(['policy', 'headers', i], `${name} carries approval tokens; the policy gets them verified, as input.approvals`);
    });
    const identity = isObj(data['identityHeaders']) ? Object.values(data['identityHeaders']).filter(isStr).map((h) => h.toLowerCase()) : [];
    const identityNames = new Set([...identity, ...Object.values(IDENTITY_HEADER_DEFAULTS)]);
    strings(policy['obligationHeaders']).forEach((h, i) => {
      const name = h.toLowerCase();
      if (RESERVED_HEADERS.has(name) || CREDENTIAL_HEADERS.has(name) || identityNames.has(name)) {
        add(['policy', 'obligationHeaders', i], `${name} is a framing, credential, forwarding or identity header; a policy cannot set it`);
      }
    });
    if (approvals !== undefined && isStr(approvals['issuer'])) {
      const issuers = isObj(data['issuers']) ? data['issuers'] : {};
      if (!Object.hasOwn(issuers, approvals['issuer'])) add(['policy', 'approvals', 'issuer'], `unknown issuer "${approvals['issuer']}"${known(issuers)}`);
    }
  }
  const server = isObj(data['server']) ? data['server'] : {};
  const serverMax = typeof server['maxBodyBytes'] === 'number' ? server['maxBodyBytes'] : 1_048_576;
  const routes = Array.isArray(data['routes']) ? data['routes'] : [];
  routes.forEach((route: unknown, i) => {
    if (!isObj(route) || !isObj(route['policy'])) return;
    if (policy === undefined) {
      add(['routes', i, 'policy'], 'the route gives input to a policy, but no policy is configured (top-level `policy`)');
      return;
    }
    const body = isObj(route['policy']['body']) ? route['policy']['body'] : undefined;
    const routeMax = typeof route['maxBodyBytes'] === 'number' ? route['maxBodyBytes'] : serverMax;
    if (body !== undefined && typeof body['maxBytes'] === 'number' && body['maxBytes'] > routeMax) {
      add(['routes', i, 'policy', 'body', 'maxBytes'], `${body['maxBytes']} exceeds the route's body limit (${routeMax})`);
    }
  });
}
