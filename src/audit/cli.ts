/**
 * `tollgate audit verify <files…> [--public-key jwks.json] [--checkpoint <prefix>.checkpoint.json]`
 *
 * Files are verified in the order given (rotation order). If --checkpoint is not given and a
 * `<prefix>.checkpoint.json` sits next to the first file (segment naming from file-sink.ts), it is used, so a
 * log truncated before its last signed checkpoint is reported as "truncated".
 * Exit 0: prints each verified range. Exit 1: prints the first bad seq and why. Exit 2: usage error.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { checkpointFileName } from './file-sink.js';
import { verifyAuditFiles, type VerifyOptions } from './verify.js';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const USAGE = 'usage: tollgate audit verify <files…> [--public-key jwks.json] [--checkpoint file]';

/** argv: the arguments after "audit" (e.g. ["verify", "a.jsonl", "--public-key", "k.json"]). */
export async function runAuditVerify(
  argv: string[],
  io: CliIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) },
): Promise<number> {
  const args = argv[0] === 'verify' ? argv.slice(1) : argv;
  const files: string[] = [];
  let publicKey: string | undefined;
  let checkpoint: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--public-key' || a === '--checkpoint') {
      const v = args[++i];
      if (v === undefined) {
        io.err(`${a} needs a file\n${USAGE}`);
        return 2;
      }
      if (a === '--public-key') publicKey = v;
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
  if (!result.ok && result.error) {
    const e = result.error;
    io.err(`FAIL seq ${e.seq}: ${e.kind}: ${e.detail}${e.file ? ` (${e.file})` : ''}`);
    return 1;
  }
  for (const r of result.ranges) io.out(`ok chain ${r.chain} seq ${r.fromSeq}..${r.toSeq} ${r.file}`);
  if (result.signaturesUnchecked) io.out('warning: no --public-key given, checkpoint signatures were not checked');
  else io.out(`checkpoints verified: ${result.checkpointsVerified}`);
  if (result.unprotected) {
    const u = result.unprotected;
    io.out(`unprotected (after last checkpoint): chain ${u.chain} seq ${u.fromSeq}..${u.toSeq}`);
  }
  return 0;
}
