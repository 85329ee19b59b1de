/**
 * Audit record type and hashing.
 *
 * SECURITY: the record type deliberately has NO field able to hold a bearer token, Authorization header,
 * cookie, client secret or request/response body. Callers pass only the fields of `AuditFields`;
 * `pickAuditFields` copies exactly those (unknown properties are dropped, never written), and `path` is
 * stripped of query-string values by `sanitizePath`.
 *
 * Hash (exact bytes):
 *   hash = lowercase-hex( SHA-256( ASCII(prev) || UTF-8( JCS(record without the `hash` member) ) ) )
 * where `prev` is the 64-char lowercase hex hash of the previous record in the chain (64 zeros for a
 * genesis record) and JCS is RFC 8785 (see canonical.ts). `prev` is both prefixed and contained in the
 * canonical JSON; the prefix makes the chaining explicit and independent of the JSON layout.
 */
import { createHash } from 'node:crypto';
import { canonicalBytes } from './canonical.js';

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

const STRING_FIELDS = [
  'requestId',
  'clientId',
  'partner',
  'routeId',
  'method',
  'riskTier',
  'stage',
  'policyDecisionId',
  'idempotencyKeyHash',
] as const;

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

/** Copies only the whitelisted AuditFields (with type checks); anything else the caller passed is dropped. */
export function pickAuditFields(input: AuditFields): AuditFields {
  const src = input as Record<string, unknown>;
  const out: AuditFields = {};
  for (const k of STRING_FIELDS) {
    const v = src[k];
    if (typeof v === 'string') out[k] = v;
  }
  if (typeof src.path === 'string') out.path = sanitizePath(src.path);
  if (src.decision === 'allow' || src.decision === 'deny') out.decision = src.decision;
  for (const k of ['status', 'upstreamStatus'] as const) {
    const v = src[k];
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  }
  for (const k of ['reasons', 'scopes'] as const) {
    const v = src[k];
    if (Array.isArray(v)) out[k] = v.filter((s): s is string => typeof s === 'string');
  }
  if (src.durations !== null && typeof src.durations === 'object') {
    const d: Record<string, number> = {};
    for (const [k, v] of Object.entries(src.durations as Record<string, unknown>)) {
      if (typeof v === 'number' && Number.isFinite(v)) d[k] = v;
    }
    out.durations = d;
  }
  if (src.detail !== null && typeof src.detail === 'object') {
    const d: AuditDetail = {};
    for (const [k, v] of Object.entries(src.detail as Record<string, unknown>)) {
      if (v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) {
        d[k] = v;
      }
    }
    out.detail = d;
  }
  return out;
}

/** SHA-256 over ASCII(prev) || JCS(record minus `hash`), lowercase hex. See the module comment. */
export function computeRecordHash(record: Omit<AuditRecord, 'hash'> | AuditRecord): string {
  const { hash: _ignored, ...body } = record as AuditRecord;
  return createHash('sha256')
    .update(Buffer.from(body.prev, 'ascii'))
    .update(canonicalBytes(body))
    .digest('hex');
}

/** Builds and hashes a record. `fields` is filtered through pickAuditFields. */
export function buildRecord(args: {
  seq: number;
  ts: string;
  chain: string;
  kind: AuditKind;
  prev: string;
  fields?: AuditFields;
  checkpoint?: CheckpointStatement;
}): AuditRecord {
  const body: Omit<AuditRecord, 'hash'> = {
    v: AUDIT_SCHEMA_VERSION,
    seq: args.seq,
    ts: args.ts,
    chain: args.chain,
    kind: args.kind,
    ...pickAuditFields(args.fields ?? {}),
    ...(args.checkpoint ? { checkpoint: args.checkpoint } : {}),
    prev: args.prev,
  };
  return { ...body, hash: computeRecordHash(body) };
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
