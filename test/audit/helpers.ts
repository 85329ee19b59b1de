import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditChain } from '../../src/audit/chain.js';
import { loadSigner, writeJwksFile, type AuditSigner } from '../../src/audit/keys.js';
import type { AuditRecord } from '../../src/audit/record.js';

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-audit-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function newSigner(): AuditSigner {
  return loadSigner(generateKeyPairSync('ed25519').privateKey);
}

/** Builds an in-memory chain of `n` decision records (plus genesis and checkpoints). */
export function buildChain(n: number, signer: AuditSigner, checkpointEvery = 5): AuditRecord[] {
  const out: AuditRecord[] = [];
  const chain = new AuditChain({ chainId: 'chain-a', signer, checkpointEvery, write: (r) => out.push(r) });
  for (let i = 0; i < n; i++) {
    chain.append('decision', { requestId: `req-${i}`, clientId: 'c1', method: 'GET', path: `/r/${i}`, decision: 'allow', status: 200 });
  }
  chain.close();
  return out;
}

export function writeJsonl(file: string, records: AuditRecord[]): void {
  writeFileSync(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

export function readJsonl(file: string): AuditRecord[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as AuditRecord);
}

export function jwksFor(dir: string, ...signers: AuditSigner[]): string {
  const file = join(dir, 'audit-jwks.json');
  writeJwksFile(file, signers.map((s) => s.publicKey));
  return file;
}
