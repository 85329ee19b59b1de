/**
 * `tollgate audit verify <files…> [--public-key jwks.json] [--checkpoint <prefix>.checkpoint.json]`
 * `tollgate audit verify <redis://…|rediss://…> [--prefix P] [--public-key jwks.json]`
 *
 * A redis:// or rediss:// URL as the first argument verifies the Redis Streams store (redis-sink.ts layout,
 * redis-verify.ts checks) under key prefix P (default the sink's, {tollgate:audit}:). The client is a plain
 * ioredis client that gives up instead of waiting: one connection attempt (connectTimeout), no reconnects, no
 * offline queue; a connection failure, or a prefix without any records, exits 2.
 *
 * Files are verified in the order given (rotation order). If --checkpoint is not given and a
 * `<prefix>.checkpoint.json` sits next to the first file (segment naming from file-sink.ts), it is used, so a
 * log truncated before its last signed checkpoint is reported as "truncated".
 * Exit 0: prints each verified range. Exit 1: prints the first bad seq and why. Exit 2: usage error.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import { checkpointFileName } from './file-sink.js';
import { DEFAULT_REDIS_AUDIT_PREFIX } from './redis-sink.js';
import { verifyAuditRedis, type RedisVerifyResult } from './redis-verify.js';
import { verifyAuditFiles, type VerifyOptions, type VerifyResult } from './verify.js';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const USAGE =
  'usage: tollgate audit verify <files…> [--public-key jwks.json] [--checkpoint file]\n' +
  '       tollgate audit verify <redis://…|rediss://…> [--prefix P] [--public-key jwks.json]';

const REDIS_URL = /^rediss?:\/\//;

/** argv: the arguments after "audit" (e.g. ["verify", "a.jsonl", "--public-key", "k.json"]). */
export async function runAuditVerify(
  argv: string[],
  io: CliIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) },
): Promise<number> {
  const args = argv[0] === 'verify' ? argv.slice(1) : argv;
  const files: string[] = [];
  let publicKey: string | undefined;
  let checkpoint: string | undefined;
  let prefix: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--public-key' || a === '--checkpoint' || a === '--prefix') {
      const v = args[++i];
      if (v === undefined) {
        io.err(`${a} needs ${a === '--prefix' ? 'a value' : 'a file'}\n${USAGE}`);
        return 2;
      }
      if (a === '--public-key') publicKey = v;
      else if (a === '--prefix') prefix = v;
      else checkpoint = v;
    } else if (a.startsWith('--')) {
      io.err(`unknown option ${a}\n${USAGE}`);
      return 2;
    } else files.push(a);
  }
  if (files.length === 0) {
    io.err(USAGE);
    return 2;
  }
  if (REDIS_URL.test(files[0] as string)) {
    if (files.length > 1 || checkpoint !== undefined) {
      io.err(`with a Redis URL give no other sources and no --checkpoint (the store holds its checkpoints)\n${USAGE}`);
      return 2;
    }
    return verifyRedis(files[0] as string, prefix ?? DEFAULT_REDIS_AUDIT_PREFIX, publicKey, io);
  }
  if (prefix !== undefined) {
    io.err(`--prefix is for a Redis URL\n${USAGE}`);
    return 2;
  }
  if (checkpoint === undefined) {
    const m = /^(.*)\.\d{6,}\.jsonl$/.exec(basename(files[0] as string));
    const guess = m?.[1] ? join(dirname(files[0] as string), checkpointFileName(m[1])) : undefined;
    if (guess && existsSync(guess)) checkpoint = guess;
  }
  const opts: VerifyOptions = {};
  if (publicKey) opts.publicKeys = publicKey;
  if (checkpoint) opts.checkpoint = checkpoint;
  let result;
  try {
    result = verifyAuditFiles(files, opts);
  } catch (err) {
    io.err(`audit verify: ${(err as Error).message}`);
    return 2;
  }
  return report(result, io);
}

function report(result: VerifyResult, io: CliIo, unprotected = result.unprotected ? [result.unprotected] : []): number {
  if (!result.ok && result.error) {
    const e = result.error;
    io.err(`FAIL seq ${e.seq}: ${e.kind}: ${e.detail}${e.file ? ` (${e.file})` : ''}`);
    return 1;
  }
  for (const r of result.ranges) io.out(`ok chain ${r.chain} seq ${r.fromSeq}..${r.toSeq} ${r.file}`);
  if (result.signaturesUnchecked) io.out('warning: no --public-key given, checkpoint signatures were not checked');
  else io.out(`checkpoints verified: ${result.checkpointsVerified}`);
  for (const u of unprotected) io.out(`unprotected (after last checkpoint): chain ${u.chain} seq ${u.fromSeq}..${u.toSeq}`);
  return 0;
}

async function verifyRedis(url: string, prefix: string, publicKey: string | undefined, io: CliIo): Promise<number> {
  // Never hang on an unreachable or silent server: one attempt, bounded connect and command time.
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 5000,
    commandTimeout: 30_000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectionName: 'tollgate-audit-verify',
  });
  client.on('error', () => undefined); // reported through the rejected connect / command below
  try {
    try {
      await client.connect();
    } catch (err) {
      io.err(`audit verify: cannot connect to ${redactUrl(url)}: ${(err as Error).message}`);
      return 2;
    }
    let result: RedisVerifyResult;
    try {
      result = await verifyAuditRedis(client, { prefix, ...(publicKey ? { publicKeys: publicKey } : {}) });
    } catch (err) {
      io.err(`audit verify: ${(err as Error).message}`);
      return 2;
    }
    if (result.ok && result.chains.length === 0) {
      // Nothing to verify: most likely a wrong --prefix (a running gateway writes its genesis record at once).
      io.err(`audit verify: no audit records under ${result.stream} (wrong --prefix?)`);
      return 2;
    }
    const unprotected = result.chains.flatMap((c) => (c.unprotected ? [{ chain: c.chain, ...c.unprotected }] : []));
    return report(result, io, unprotected);
  } finally {
    client.disconnect();
  }
}

/** The URL for messages, without a password. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'the Redis URL';
  }
}
