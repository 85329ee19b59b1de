/**
 * Tamper-evident audit trail (issue 5) — public surface of the core module.
 * Record hashing: record.ts; canonical JSON (RFC 8785): canonical.ts; Ed25519 checkpoints (RFC 8032): chain.ts,
 * keys.ts; JSONL file sink with rotation / torn-tail recovery / back-pressure: file-sink.ts; verifier: verify.ts;
 * Redis Streams sink (per-instance chains in one stream): redis-sink.ts, its verifier: redis-verify.ts;
 * `tollgate audit verify`: cli.ts.
 */
export { canonicalize, canonicalBytes, CanonicalizationError, type JsonValue } from './canonical.js';
export {
  AUDIT_KINDS,
  AUDIT_SCHEMA_VERSION,
  GENESIS_PREV,
  buildRecord,
  checkpointPayload,
  computeRecordHash,
  parseRecord,
  pickAuditFields,
  sanitizePath,
  type AuditDetail,
  type AuditFields,
  type AuditKind,
  type AuditRecord,
  type CheckpointStatement,
} from './record.js';
export {
  exportJwks,
  jwkThumbprint,
  loadJwks,
  loadSigner,
  publicJwk,
  signEd25519,
  verifyEd25519,
  writeJwksFile,
  type AuditJwk,
  type AuditSigner,
} from './keys.js';
export { AuditChain, type AuditChainOptions } from './chain.js';
export { startAuditChain, type AuditLog } from './log.js';
export type { AuditSink, AuditSinkStats } from './sink.js';
export {
  AuditBackpressureError,
  AuditFileSink,
  checkpointFileName,
  listSegments,
  openAuditLog,
  segmentName,
  type AuditLogOptions,
  type FileSinkOptions,
  type FsyncPolicy,
  type RecoveryInfo,
} from './file-sink.js';
export {
  AuditRedisSink,
  AuditStoreConflictError,
  DEFAULT_REDIS_AUDIT_PREFIX,
  hasHashTag,
  openRedisAuditSink,
  redisAuditKeys,
  type RedisSinkOptions,
} from './redis-sink.js';
export { verifyAuditRedis, type RedisChainSummary, type RedisVerifyOptions, type RedisVerifyResult } from './redis-verify.js';
export { checkTrustedCheckpoint, verifyAuditEntries, type AuditEntry } from './verify.js';
export { verifyAuditFiles, type TamperKind, type VerifiedRange, type VerifyOptions, type VerifyResult } from './verify.js';
export { runAuditVerify, type CliIo } from './cli.js';
