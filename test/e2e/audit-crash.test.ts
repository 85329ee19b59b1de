// kill -9 of the real gateway process mid-load, then a restart with the same configuration and a clean
// `tollgate audit verify`: the chain continues across the crash, and a torn tail (a crash mid-write) is the only
// thing dropped — recovered and recorded. Records still buffered in memory at the SIGKILL may be lost (the file
// sink batches one event-loop turn per write); the assertions only cover what is guaranteed.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSegments } from '../../src/audit/file-sink.js';
import { yamlConfig } from '../helpers/gateway.js';
import { runCli, spawnGateway, type GatewayProcess } from '../helpers/process.js';
import { auditDirPath, registerSecret } from '../helpers/run-artifacts.js';
import { hs256Issuer, hs256Token } from '../helpers/tokens.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const SECRET = registerSecret('audit-crash-e2e-shared-secret-0123456789');
const env = { ...process.env, AUDIT_CRASH_SECRET: SECRET };

let upstream: TestUpstream;
// The config files and signing keys live outside the run folder (only the audit records belong there).
let confDir: string;
const running = new Set<GatewayProcess>();
beforeAll(async () => {
  upstream = await startUpstream();
  confDir = mkdtempSync(join(tmpdir(), 'tollgate-audit-crash-'));
});
afterAll(async () => {
  for (const gw of running) {
    gw.child.kill('SIGKILL');
    await gw.exited;
  }
  await upstream?.close();
  if (confDir !== undefined) rmSync(confDir, { recursive: true, force: true });
});

type Rec = Record<string, unknown>;

/** Complete records of every segment, plus the bytes after the last newline of the last segment (a torn line). */
function readTrail(dir: string): { records: Rec[]; torn: Buffer; lastSegment: string } {
  const segs = listSegments(dir);
  const records: Rec[] = [];
  let torn = Buffer.alloc(0);
  segs.forEach((file, i) => {
    const buf = readFileSync(file);
    const end = buf.lastIndexOf(0x0a) + 1;
    if (i === segs.length - 1) torn = Buffer.from(buf.subarray(end));
    else expect(end, `${file} ends mid-line`).toBe(buf.length);
    for (const line of buf.subarray(0, end).toString('utf8').split('\n')) if (line !== '') records.push(JSON.parse(line) as Rec);
  });
  return { records, torn, lastSegment: segs[segs.length - 1]! };
}

async function spawn(file: string): Promise<GatewayProcess> {
  const gw = await spawnGateway(['start', '--config', file], { env });
  running.add(gw);
  void gw.exited.then(() => running.delete(gw));
  return gw;
}

/** A config file with the file sink in a fresh run-folder directory and a signing key of its own. */
function writeConfig(name: string, chainId: string): { file: string; dir: string } {
  const dir = auditDirPath(name);
  const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  registerSecret(pem);
  const keyFile = join(confDir, `${name}.pem`);
  writeFileSync(keyFile, pem, { mode: 0o600 });
  const file = join(confDir, `${name}.yaml`);
  writeFileSync(
    file,
    `${yamlConfig({
      issuers: hs256Issuer('AUDIT_CRASH_SECRET'),
      upstreams: `  app: { url: "${upstream.url}" }`,
      routes: `  - id: orders
    match: { prefix: /orders }
    upstream: app
    auth: { issuer: local, scopes: [orders:read] }
    risk: low`,
    })}audit:
  chainId: ${chainId}
  file: { dir: ${JSON.stringify(dir)}, fsyncIntervalMs: 100, maxBytes: 65536 }
  signingKey: { file: ${JSON.stringify(keyFile)} }
  checkpoint: { every: 50 }
`,
  );
  return { file, dir };
}

/**
 * Runs `concurrency` fetch loops of authenticated GETs, each with its own x-request-id, until stop() — which is
 * meant to be called after the gateway died, so the loops end on connection errors.
 */
function load(url: string, token: string, concurrency: number) {
  const sent = new Set<string>();
  const answered = new Map<string, number>();
  let on = true;
  let n = 0;
  const loop = async (w: number) => {
    while (on) {
      const id = `load-${w}-${n++}`;
      sent.add(id);
      try {
        const res = await fetch(`${url}/orders/${n}`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': id } });
        await res.arrayBuffer();
        answered.set(id, res.status);
      } catch {
        // The gateway was killed under this request (or refused it): no answer.
      }
    }
  };
  const loops = Array.from({ length: concurrency }, (_, w) => loop(w));
  return {
    sent,
    answered,
    async stop() {
      on = false;
      await Promise.all(loops);
    },
  };
}

interface CrashRun {
  dir: string;
  file: string;
  /** Records on disk right after the kill (complete lines only). */
  pre: Rec[];
  /** Bytes of a line the kill itself tore (normally none). */
  killTorn: Buffer;
  lastSegment: string;
  sent: Set<string>;
  answered: Map<string, number>;
}

/** Starts the gateway, loads it with 20 concurrent clients, and SIGKILLs it while the load runs. */
async function crashUnderLoad(name: string, chainId: string): Promise<CrashRun> {
  const { file, dir } = writeConfig(name, chainId);
  const token = await hs256Token(SECRET, { client_id: 'crash-client', scope: 'orders:read' });
  const gw = await spawn(file);
  const traffic = load(gw.publicUrl, token, 20);
  // Run until the trail rotated a few times (several segments) and enough requests were answered, at most 5 s.
  const until = Date.now() + 5000;
  while (Date.now() < until && (listSegments(dir).length < 3 || traffic.answered.size < 500)) await new Promise((r) => setTimeout(r, 50));
  const answeredBeforeKill = traffic.answered.size;
  gw.child.kill('SIGKILL');
  await gw.exited;
  await traffic.stop();
  expect(gw.child.signalCode).toBe('SIGKILL');
  // The kill landed mid-load: requests were still being sent when it happened.
  expect(traffic.sent.size).toBeGreaterThan(answeredBeforeKill);
  expect(answeredBeforeKill).toBeGreaterThan(0);
  const { records, torn, lastSegment } = readTrail(dir);
  return { dir, file, pre: records, killTorn: torn, lastSegment, sent: traffic.sent, answered: traffic.answered };
}

/** Restarts with the same config, sends `n` requests, stops gracefully (SIGTERM). */
async function restartAndStop(run: CrashRun, n: number): Promise<string[]> {
  const token = await hs256Token(SECRET, { client_id: 'crash-client', scope: 'orders:read' });
  const gw = await spawn(run.file);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `after-restart-${i}`;
    const res = await fetch(`${gw.publicUrl}/orders/after/${i}`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': id } });
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    ids.push(id);
  }
  gw.child.kill('SIGTERM');
  expect(await gw.exited).toBe(0);
  return ids;
}

async function verifyCli(dir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(['audit', 'verify', ...listSegments(dir), '--public-key', join(dir, 'audit.jwks.json')], { env });
}

/** What holds for every crash run, torn or not. */
function commonAssertions(run: CrashRun, chainId: string, afterIds: string[], all: Rec[], verify: { code: number | null; stdout: string; stderr: string }): void {
  const { pre } = run;
  // A clean verify over every segment, signatures checked against the published keys.
  expect(verify.code, `${verify.stdout}\n${verify.stderr}`).toBe(0);
  const segments = listSegments(run.dir);
  expect(segments.length, 'rotation happened during the run').toBeGreaterThan(1);
  const rangeLines = verify.stdout.split('\n').filter((l) => l.startsWith('ok chain '));
  const nonEmpty = segments.filter((f) => readFileSync(f).length > 0);
  expect(rangeLines).toHaveLength(nonEmpty.length);
  nonEmpty.forEach((f, i) => expect(rangeLines[i]).toMatch(new RegExp(`^ok chain ${chainId} seq \\d+\\.\\.\\d+ ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)));
  const cps = /checkpoints verified: (\d+)/.exec(verify.stdout);
  expect(cps, verify.stdout).not.toBeNull();
  expect(Number(cps![1])).toBeGreaterThan(0);
  expect(verify.stdout).not.toContain('unprotected');

  // One chain, seq 0.. without a gap, rotation before the crash (the pre-crash trail spans segments).
  expect(new Set(all.map((r) => r['chain']))).toEqual(new Set([chainId]));
  all.forEach((r, i) => expect(r['seq']).toBe(i));
  for (let i = 1; i < all.length; i++) expect(all[i]!['prev']).toBe(all[i - 1]!['hash']);
  expect(pre.length).toBeGreaterThan(0);
  expect(pre[0]!['kind']).toBe('genesis');
  expect(pre[1]!['kind']).toBe('start');
  expect(pre.filter((r) => r['kind'] === 'checkpoint').length).toBeGreaterThan(0);

  // What was on disk at the kill is kept byte-for-byte (the restart only appends).
  expect(all.slice(0, pre.length)).toEqual(pre);
  // The crash: no stop between the first start and the restart.
  expect(pre.filter((r) => r['kind'] === 'stop')).toEqual([]);
  expect(all.filter((r) => r['kind'] === 'start')).toHaveLength(2);
  expect(all.filter((r) => r['kind'] === 'stop')).toHaveLength(1);

  // The pre-crash decisions: only requests the clients sent, each recorded once, allowed.
  const preDecisions = pre.filter((r) => r['kind'] === 'decision');
  expect(preDecisions.length).toBeGreaterThan(50);
  for (const d of preDecisions) {
    expect(run.sent.has(d['requestId'] as string), `unknown request id ${String(d['requestId'])}`).toBe(true);
    expect(d).toMatchObject({ decision: 'allow', status: 200, routeId: 'orders', clientId: 'crash-client' });
  }
  const ids = all.filter((r) => r['kind'] === 'decision').map((r) => r['requestId']);
  expect(new Set(ids).size).toBe(ids.length);
  // A record on disk means the gateway answered: a client that got an answer got 200 for that id.
  for (const d of preDecisions) {
    const status = run.answered.get(d['requestId'] as string);
    if (status !== undefined) expect(status).toBe(200);
  }

  // After the restart: every request recorded (graceful stop flushes), then stop and the final checkpoint.
  const restartStart = all.findLastIndex((r) => r['kind'] === 'start');
  const after = all.slice(restartStart);
  for (const id of afterIds) {
    expect(after.filter((r) => r['requestId'] === id), id).toHaveLength(1);
    expect(after.find((r) => r['requestId'] === id)).toMatchObject({ kind: 'decision', decision: 'allow', status: 200 });
  }
  const stop = all[all.length - 2]!;
  const last = all[all.length - 1]!;
  expect(stop['kind']).toBe('stop');
  expect(last['kind']).toBe('checkpoint');
  expect(last['checkpoint']).toMatchObject({ seq: stop['seq'], hash: stop['hash'], alg: 'EdDSA' });
  // The trusted latest checkpoint next to the segments is that final one.
  expect(JSON.parse(readFileSync(join(run.dir, 'audit.checkpoint.json'), 'utf8'))).toEqual(last);
}

describe('kill -9 of the gateway mid-load', () => {
  it('a torn tail (crash mid-write) is dropped, recorded as recovery, and the chain continues; verify is clean', async () => {
    const chainId = 'crash-torn';
    const run = await crashUnderLoad('e2e-crash-torn', chainId);
    // A crash in the middle of a write: a partial record line without its newline at the end of the last segment.
    const partial = Buffer.from(`{"v":1,"seq":${run.pre.length},"chain":"${chainId}","kind":"decision","requestId":"torn-by-the-crash","sta`);
    appendFileSync(run.lastSegment, partial);
    const dropped = Buffer.concat([run.killTorn, partial]);

    const afterIds = await restartAndStop(run, 5);
    const { records: all, torn } = readTrail(run.dir);
    expect(torn.length).toBe(0);
    expect(all.some((r) => r['requestId'] === 'torn-by-the-crash')).toBe(false);
    const verify = await verifyCli(run.dir);
    commonAssertions(run, chainId, afterIds, all, verify);

    // Exactly one recovery: the torn bytes, by count and SHA-256, right after the last pre-crash record, then start.
    const recoveries = all.filter((r) => r['kind'] === 'recovery');
    expect(recoveries).toHaveLength(1);
    const lastPre = run.pre[run.pre.length - 1]!;
    const recovery = all[run.pre.length]!;
    expect(recovery).toBe(recoveries[0]);
    expect(recovery).toMatchObject({
      kind: 'recovery',
      seq: (lastPre['seq'] as number) + 1,
      prev: lastPre['hash'],
      reasons: ['torn_tail'],
      detail: { file: run.lastSegment, droppedBytes: dropped.length, droppedSha256: createHash('sha256').update(dropped).digest('hex') },
    });
    expect(all[run.pre.length + 1]).toMatchObject({ kind: 'start', seq: (recovery['seq'] as number) + 1, prev: recovery['hash'] });
    // Nothing else happened between the last pre-crash record and the restart's start: no stop.
    expect(all.slice(run.pre.length, run.pre.length + 2).map((r) => r['kind'])).toEqual(['recovery', 'start']);
  });

  it('without a torn line the restart continues the chain with no recovery record; verify is clean', async () => {
    const chainId = 'crash-clean';
    const run = await crashUnderLoad('e2e-crash-clean', chainId);
    const afterIds = await restartAndStop(run, 5);
    const { records: all } = readTrail(run.dir);
    const verify = await verifyCli(run.dir);
    commonAssertions(run, chainId, afterIds, all, verify);

    const lastPre = run.pre[run.pre.length - 1]!;
    if (run.killTorn.length === 0) {
      // The usual case: each batch is one write(), so the SIGKILL left only whole lines.
      expect(all.filter((r) => r['kind'] === 'recovery')).toEqual([]);
      expect(all[run.pre.length]).toMatchObject({ kind: 'start', seq: (lastPre['seq'] as number) + 1, prev: lastPre['hash'] });
    } else {
      // The kill interrupted a multi-page write(): then (and only then) that torn line is recovered.
      expect(all.filter((r) => r['kind'] === 'recovery')).toHaveLength(1);
      expect(all[run.pre.length]).toMatchObject({ kind: 'recovery', detail: { droppedBytes: run.killTorn.length } });
    }
  });
});
