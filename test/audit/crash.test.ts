/**
 * kill -9 of a process that is appending audit records under load, then restart and a clean verify.
 * The child process runs the built audit module from dist/.
 */
import { spawn } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointFileName, listSegments, openAuditLog } from '../../src/audit/file-sink.js';
import { verifyAuditFiles } from '../../src/audit/verify.js';
import { jwksFor, newSigner, readJsonl, tempDir } from './helpers.js';

let root: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir: root, cleanup } = tempDir());
});
afterAll(() => cleanup());

// The child runs the built module (`npm test` builds first), as the gateway process would.
const BUILD = pathToFileURL(join(process.cwd(), 'dist', 'audit')).href;

const CHILD = `
import { openAuditLog } from '${BUILD}/file-sink.js';
import { loadSigner } from '${BUILD}/keys.js';
const [dir, keyFile] = process.argv.slice(2);
const log = openAuditLog({ dir, chainId: 'inst-k', signer: loadSigner({ file: keyFile }), checkpointEvery: 50,
  fsync: { intervalMs: 100 }, maxBytes: 100000 });
let i = 0;
function burst() {
  for (let j = 0; j < 100; j++) log.chain.append('decision', { requestId: 'k' + i++, method: 'GET', path: '/x', status: 200 });
  setImmediate(burst);
}
burst();
`;

describe('audit crash recovery', () => {
  it('kill -9 mid-load, restart, verify clean (only a torn tail, recovered and recorded)', async () => {
    const signer = newSigner();
    const dir = join(root, 'log');
    const keyFile = join(root, 'key.pem');
    writeFileSync(keyFile, signer.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    writeFileSync(join(root, 'child.mjs'), CHILD);
    const child = spawn(process.execPath, [join(root, 'child.mjs'), dir, keyFile], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const deadline = Date.now() + 15_000;
    const total = () => listSegments(dir).reduce((n, f) => n + statSync(f).size, 0);
    while (total() < 400_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await exited;
    expect(total()).toBeGreaterThan(0);

    const log = openAuditLog({ dir, chainId: 'ignored', signer, fsync: 'always', maxBytes: 100_000 });
    const recovered = log.sink.recovered;
    log.close();
    const all = listSegments(dir).flatMap(readJsonl);
    expect(all[0]?.kind).toBe('genesis');
    expect(all.every((r) => r.chain === 'inst-k')).toBe(true);
    const recoveries = all.filter((r) => r.kind === 'recovery');
    expect(recoveries).toHaveLength(recovered ? 1 : 0);
    if (recovered) expect(recoveries[0]?.reasons).toEqual(['torn_tail']);
    const res = verifyAuditFiles(listSegments(dir), {
      publicKeys: jwksFor(root, signer),
      checkpoint: join(dir, checkpointFileName('audit')),
    });
    expect(res.error).toBeUndefined();
    expect(res.ok).toBe(true);
    expect(res.ranges.length).toBeGreaterThan(1);
  });
});
