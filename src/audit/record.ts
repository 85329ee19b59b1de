/**
 * Audit record type and hashing.
 *
 * SECURITY: the record type deliberately has NO field able to hold a bearer token, Authorization header,
 * cookie, client secret or request/response body. Callers pass only the fields of `AuditFields`;
 * `buildRecord` copies exactly those (unknown properties are dropped, never written), and `path` is
 * stripped of query-string values by `sanitizePath`.
 *
 * Hash (exact bytes):
 *   hash = lowercase-hex( SHA-256( ASCII(prev) || UTF-8( JCS(record without the `hash` member) ) ) )
 * where `prev` is the 64-char lowercase hex hash of the previous record in the chain (64 zeros for a
 * genesis record) and JCS is RFC 8785 (see canonical.ts). `prev` is both prefixed and contained in the
 * canonical JSON; the prefix makes the chaining explicit and independent of the JSON layout.
 */
import * as cryptoModule from 'node:crypto';
import { createHash } from 'node:crypto';
import { canonicalBytes, canonicalize } from './canonical.js';

export const AUDIT_SCHEMA_VERSION = 1;
export const GENESIS_PREV = '0'.repeat(64);

/** `decision` = one gateway decision; the others are privileged operations of the gateway itself. */
export const AUDIT_KINDS = [
  'decision',
  'genesis',
  'start',
  'stop',
  'config_reload',
  'policy_reload',
  'key_rotation',
  'recovery',
  'checkpoint',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** Scalar-only detail for privileged operations (e.g. config hash, accepted/rejected, bytes dropped). */
export type AuditDetail = Record<string, string | number | boolean | null>;

/** The only fields a caller may supply. Everything is optional; absent fields are omitted from the record. */
export interface AuditFields {
  requestId?: string;
  /** Verified client id (from a validated token), never the token itself. */
  clientId?: string;
  partner?: string;
  routeId?: string;
  method?: string;
  /** Request path; query-string values are removed (see sanitizePath). */
  path?: string;
  riskTier?: string;
  decision?: 'allow' | 'deny';
  /** Pipeline stage that decided (e.g. "authenticate", "policy"). */
  stage?: string;
  reasons?: string[];
  policyDecisionId?: string;
  scopes?: string[];
  status?: number;
  upstreamStatus?: number;
  /** Durations in milliseconds by phase, e.g. { total: 12.5, upstream: 9 }. */
  durations?: Record<string, number>;
  /** SHA-256 hex of the Idempotency-Key header, never the key itself. */
  idempotencyKeyHash?: string;
  detail?: AuditDetail;
}

/** Signed statement carried by a `checkpoint` record (RFC 8032 Ed25519 over JCS({chain, seq, hash})). */
export interface CheckpointStatement {
  /** seq and hash of the record immediately before the checkpoint record (so hash === checkpoint.prev). */
  seq: number;
  hash: string;
  kid: string;
  alg: 'EdDSA';
  /** base64url Ed25519 signature over canonicalBytes({ chain, seq, hash }). */
  sig: string;
}

export interface AuditRecord extends AuditFields {
  v: number;
  seq: number;
  /** RFC 3339 UTC timestamp. */
  ts: string;
  chain: string;
  kind: AuditKind;
  checkpoint?: CheckpointStatement;
  prev: string;
  hash: string;
}

/** Drops query-string values: "/a?x=1&y=2" → "/a?x&y" (names kept for correlation, values can be secrets). */
export function sanitizePath(path: string): string {
  const hashless = path.split('#', 1)[0] ?? '';
  const q = hashless.indexOf('?');
  if (q < 0) return hashless;
  const names = hashless
    .slice(q + 1)
    .split('&')
    .filter((p) => p.length > 0)
    .map((p) => p.split('=', 1)[0] ?? '');
  return names.length > 0 ? `${hashless.slice(0, q)}?${names.join('&')}` : hashless.slice(0, q);
}

/** Members a record has besides the caller's fields. */
const HEADER_MEMBERS = ['v', 'seq', 'ts', 'chain', 'kind', 'checkpoint', 'prev', 'hash'] as const;

/**
 * Copies only the AuditFields members (with type checks; query values removed from `path`); anything else the
 * caller passed is dropped. Defined by buildRecord, so the filter exists once.
 */
export function pickAuditFields(input: AuditFields): AuditFields {
  const r = buildRecord({ seq: 0, ts: '', chain: '', kind: 'decision', prev: GENESIS_PREV, fields: input }) as unknown as Record<string, unknown>;
  for (const k of HEADER_MEMBERS) delete r[k];
  return r as AuditFields;
}

/** SHA-256 over ASCII(prev) || JCS(record minus `hash`), lowercase hex. See the module comment. */
export function computeRecordHash(record: Omit<AuditRecord, 'hash'> | AuditRecord): string {
  const { hash: _ignored, ...body } = record as AuditRecord;
  return createHash('sha256')
    .update(Buffer.from(body.prev, 'ascii'))
    .update(canonicalBytes(body))
    .digest('hex');
}

/** The JSON line of each record buildRecord made, so sinks do not serialize it a second time. */
const lines = new WeakMap<AuditRecord, string>();

/** The record as one JSON line (no newline): the canonical body with `hash` last. */
export function recordLine(record: AuditRecord): string {
  return lines.get(record) ?? JSON.stringify(record);
}

/** One-shot SHA-256 (crypto.hash, Node >= 20.12) where available: for a record-sized input it is much cheaper. */
const oneShot = (cryptoModule as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;
const sha256Hex = (s: string): string => (oneShot !== undefined ? oneShot('sha256', s, 'hex') : createHash('sha256').update(s, 'utf8').digest('hex'));

/** Lone surrogates (not I-JSON, RFC 7493 §2.1) become U+FFFD, so text from a request can never make a record fail. */
const wellFormed = (s: string): string => (s as unknown as { toWellFormed(): string }).toWellFormed();
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? wellFormed(v) : undefined);

function stringsOf(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: string[] = [];
  for (const x of v) if (typeof x === 'string') out.push(wellFormed(x));
  return out;
}

/** `durations` (finite numbers only) or `detail` (scalars only), everything else dropped. */
function mapOf(v: unknown, scalars: boolean): Record<string, unknown> | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const out: Record<string, unknown> = {};
  for (const [name, x] of Object.entries(v as Record<string, unknown>)) {
    if (finite(x)) out[wellFormed(name)] = x;
    else if (scalars && (x === null || typeof x === 'boolean')) out[wellFormed(name)] = x;
    else if (scalars && typeof x === 'string') out[wellFormed(name)] = wellFormed(x);
  }
  return out;
}

/**
 * Builds and hashes a record. Only the members of AuditFields are taken from `fields` (unknown properties and
 * wrongly typed values dropped, query values removed from `path`).
 *
 * Hot path (one record per request): the members are written in RFC 8785 §3.2.3 order (UTF-16 code units) as
 * they are picked, so the canonical text comes out of one pass with no key sorting and no second serialization.
 * The statements below MUST stay in that order — chain, checkpoint, clientId, decision, detail, durations,
 * idempotencyKeyHash, kind, method, partner, path, policyDecisionId, prev, reasons, requestId, riskTier, routeId,
 * scopes, seq, stage, status, ts, upstreamStatus, v — and a test compares the result with canonicalize() for
 * every member.
 */
export function buildRecord(args: {
  seq: number;
  ts: string;
  chain: string;
  kind: AuditKind;
  prev: string;
  fields?: AuditFields;
  checkpoint?: CheckpointStatement;
}): AuditRecord {
  const f = (args.fields ?? {}) as Record<string, unknown>;
  const r = {} as AuditRecord;
  const chain = wellFormed(args.chain);
  r.chain = chain;
  let t = `{"chain":${JSON.stringify(chain)}`;
  if (args.checkpoint !== undefined) {
    r.checkpoint = args.checkpoint;
    t += `,"checkpoint":${canonicalize(args.checkpoint)}`;
  }
  const clientId = str(f.clientId);
  if (clientId !== undefined) {
    r.clientId = clientId;
    t += `,"clientId":${JSON.stringify(clientId)}`;
  }
  if (f.decision === 'allow' || f.decision === 'deny') {
    r.decision = f.decision;
    t += `,"decision":"${f.decision}"`;
  }
  const detail = mapOf(f.detail, true);
  if (detail !== undefined) {
    r.detail = detail as AuditDetail;
    t += `,"detail":${canonicalize(detail)}`;
  }
  const durations = mapOf(f.durations, false);
  if (durations !== undefined) {
    r.durations = durations as Record<string, number>;
    t += `,"durations":${canonicalize(durations)}`;
  }
  const idempotencyKeyHash = str(f.idempotencyKeyHash);
  if (idempotencyKeyHash !== undefined) {
    r.idempotencyKeyHash = idempotencyKeyHash;
    t += `,"idempotencyKeyHash":${JSON.stringify(idempotencyKeyHash)}`;
  }
  const kind = wellFormed(args.kind) as AuditKind;
  r.kind = kind;
  t += `,"kind":${JSON.stringify(kind)}`;
  const method = str(f.method);
  if (method !== undefined) {
    r.method = method;
    t += `,"method":${JSON.stringify(method)}`;
  }
  const partner = str(f.partner);
  if (partner !== undefined) {
    r.partner = partner;
    t += `,"partner":${JSON.stringify(partner)}`;
  }
  const path = typeof f.path === 'string' ? wellFormed(sanitizePath(f.path)) : undefined;
  if (path !== undefined) {
    r.path = path;
    t += `,"path":${JSON.stringify(path)}`;
  }
  const policyDecisionId = str(f.policyDecisionId);
  if (policyDecisionId !== undefined) {
    r.policyDecisionId = policyDecisionId;
    t += `,"policyDecisionId":${JSON.stringify(policyDecisionId)}`;
  }
  const prev = wellFormed(args.prev);
  r.prev = prev;
  t += `,"prev":${JSON.stringify(prev)}`;
  const reasons = stringsOf(f.reasons);
  if (reasons !== undefined) {
    r.reasons = reasons;
    t += `,"reasons":${JSON.stringify(reasons)}`;
  }
  const requestId = str(f.requestId);
  if (requestId !== undefined) {
    r.requestId = requestId;
    t += `,"requestId":${JSON.stringify(requestId)}`;
  }
  const riskTier = str(f.riskTier);
  if (riskTier !== undefined) {
    r.riskTier = riskTier;
    t += `,"riskTier":${JSON.stringify(riskTier)}`;
  }
  const routeId = str(f.routeId);
  if (routeId !== undefined) {
    r.routeId = routeId;
    t += `,"routeId":${JSON.stringify(routeId)}`;
  }
  const scopes = stringsOf(f.scopes);
  if (scopes !== undefined) {
    r.scopes = scopes;
    t += `,"scopes":${JSON.stringify(scopes)}`;
  }
  r.seq = args.seq;
  t += `,"seq":${JSON.stringify(args.seq)}`;
  const stage = str(f.stage);
  if (stage !== undefined) {
    r.stage = stage;
    t += `,"stage":${JSON.stringify(stage)}`;
  }
  if (finite(f.status)) {
    r.status = f.status;
    t += `,"status":${JSON.stringify(f.status)}`;
  }
  const ts = wellFormed(args.ts);
  r.ts = ts;
  t += `,"ts":${JSON.stringify(ts)}`;
  if (finite(f.upstreamStatus)) {
    r.upstreamStatus = f.upstreamStatus;
    t += `,"upstreamStatus":${JSON.stringify(f.upstreamStatus)}`;
  }
  r.v = AUDIT_SCHEMA_VERSION;
  t += `,"v":${AUDIT_SCHEMA_VERSION}}`;
  // Same bytes as computeRecordHash: ASCII(prev) || JCS(body).
  const hash = sha256Hex(prev + t);
  r.hash = hash;
  lines.set(r, `${t.slice(0, -1)},"hash":"${hash}"}`);
  return r;
}

/** The bytes a checkpoint signature covers: JCS({ chain, seq, hash }) (RFC 8785), signed with Ed25519 (RFC 8032). */
export function checkpointPayload(chain: string, seq: number, hash: string): Buffer {
  return canonicalBytes({ chain, seq, hash });
}

/** Parses one JSONL line into a record, checking shape (not integrity). Returns an error string on failure. */
export function parseRecord(line: string): AuditRecord | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
  const r = v as Record<string, unknown>;
  if (typeof r.seq !== 'number' || !Number.isInteger(r.seq) || r.seq < 0) return 'missing or bad seq';
  if (typeof r.prev !== 'string' || !/^[0-9a-f]{64}$/.test(r.prev)) return 'missing or bad prev';
  if (typeof r.hash !== 'string' || !/^[0-9a-f]{64}$/.test(r.hash)) return 'missing or bad hash';
  if (typeof r.chain !== 'string') return 'missing chain';
  if (typeof r.kind !== 'string' || !(AUDIT_KINDS as readonly string[]).includes(r.kind)) return 'bad kind';
  return v as AuditRecord;
}
