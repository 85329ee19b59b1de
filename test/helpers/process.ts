import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { logFilePath } from './run-artifacts.js';

export const CLI = join(process.cwd(), 'dist', 'cli.js');

export interface GatewayProcess {
  child: ChildProcess;
  publicUrl: string;
  adminUrl: string;
  output(): string;
  exited: Promise<number | null>;
}

let n = 0;

/** Runs the built CLI (`npm test` builds first) and waits for its "listening" log line. */
export function spawnGateway(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? process.cwd(), env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const file = createWriteStream(logFilePath(`proc${++n}`));
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${out}`)), 15_000);
    const onData = (chunk: Buffer) => {
      const s = chunk.toString('utf8');
      out += s;
      file.write(s);
      const m = /"publicUrl":"([^"]+)","adminUrl":"([^"]+)"/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.on('data', (c: Buffer) => {
          out += c.toString('utf8');
          file.write(c);
        });
        resolve({ child, publicUrl: m[1]!, adminUrl: m[2]!, output: () => out, exited });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      file.write(c);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before listening:\n${out}`));
    });
  });
}

export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? process.cwd(), env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}
