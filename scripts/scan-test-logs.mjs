// Runs after the test suite (npm test): no log line written by any gateway in any test may
// contain any token, client secret or Authorization value a test registered. Exits 1 on a leak,
// and also when there was nothing to scan, since then the scan would prove nothing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const RUN_DIR = join(process.cwd(), '.tollgate', 'test-run');
const SECRETS_FILE = join(RUN_DIR, 'secrets.txt');

if (!existsSync(SECRETS_FILE)) {
  console.error('secret scan: no registered secrets found; did the test suite run?');
  process.exit(1);
}
const secrets = readFileSync(SECRETS_FILE, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const logs = readdirSync(RUN_DIR).filter((f) => f.startsWith('log-'));
let lines = 0;
const leaks = [];
for (const file of logs) {
  const text = readFileSync(join(RUN_DIR, file), 'utf8');
  lines += text.split('\n').length - 1;
  for (const secret of secrets) {
    // A JWT's signature part alone is as good as the token for spotting a leak.
    const parts = secret.split('.');
    const probes = parts.length === 3 && parts[2].length > 0 ? [secret, parts[2]] : [secret];
    for (const p of probes) {
      if (p.length >= 8 && text.includes(p)) leaks.push(`${file}: contains a registered secret (${p.slice(0, 6)}…)`);
    }
  }
}
console.log(`secret scan: ${logs.length} log files, ${lines} lines, ${secrets.length} registered secrets, ${leaks.length} leaks`);
if (leaks.length > 0) {
  console.error(leaks.join('\n'));
  process.exit(1);
}
if (lines === 0) {
  console.error('secret scan: no log lines were written; the scan would prove nothing');
  process.exit(1);
}
