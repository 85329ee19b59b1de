import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_DIR, SECRETS_FILE } from './helpers/run-artifacts.js';

export function setup(): void {
  rmSync(RUN_DIR, { recursive: true, force: true });
}

/**
 * After the whole run: no log line written by any gateway in any test may contain any token,
 * client secret or Authorization value that a test registered. A hit fails the run.
 */
export function teardown(): void {
  if (!existsSync(RUN_DIR)) return;
  const secrets = existsSync(SECRETS_FILE)
    ? readFileSync(SECRETS_FILE, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string)
    : [];
  const logs = readdirSync(RUN_DIR).filter((f) => f.startsWith('log-'));
  let lines = 0;
  const leaks: string[] = [];
  for (const file of logs) {
    const text = readFileSync(join(RUN_DIR, file), 'utf8');
    lines += text.split('\n').length - 1;
    for (const secret of secrets) {
      // Also catch a JWT's signature part alone and the secret inside an Authorization value.
      const probes = [secret, ...(secret.split('.').length === 3 ? [secret.split('.')[2]!] : [])];
      for (const p of probes) if (p.length >= 8 && text.includes(p)) leaks.push(`${file}: contains a registered secret (${p.slice(0, 6)}…)`);
    }
  }
  process.stdout.write(`secret scan: ${logs.length} log files, ${lines} lines, ${secrets.length} registered secrets, ${leaks.length} leaks\n`);
  if (leaks.length > 0) throw new Error(`secrets leaked into logs:\n${leaks.join('\n')}`);
  if (secrets.length > 0 && lines === 0) throw new Error('secret scan read no log lines: the scan would prove nothing');
}
