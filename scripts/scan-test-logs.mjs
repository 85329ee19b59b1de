// Runs after the test suite (npm test): no log line and no audit record written by any gateway in any test may
// contain any token, client secret or Authorization value a test registered, and no audit record may carry an
// Authorization or Cookie value at all. Exits 1 on a leak, and also when there was nothing to scan, since then the
// scan would prove nothing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const RUN_DIR = join(process.cwd(), '.tollgate', 'test-run');
const SECRETS_FILE = join(RUN_DIR, 'secrets.txt');

if (!existsSync(SECRETS_FILE)) {
  console.error('secret scan: no registered secrets found; did the test suite run?');
  process.exit(1);
}
const secrets = readFileSync(SECRETS_FILE, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const logs = readdirSync(RUN_DIR).filter((f) => f.startsWith('log-')).map((f) => join(RUN_DIR, f));
// Audit records: every segment under the run's audit folders (test/helpers/run-artifacts.ts auditDirPath) and the
// dev gateway's (config/gateway.yaml writes to .tollgate/audit).
const AUDIT_DIRS = [join(RUN_DIR, 'audit'), join(process.cwd(), '.tollgate', 'audit')];
const audits = AUDIT_DIRS.filter((d) => existsSync(d))
  .flatMap((d) => readdirSync(d, { recursive: true }).map((f) => join(d, String(f))))
  .filter((f) => /\.\d{6,}\.jsonl$/.test(f));
let lines = 0;
let records = 0;
const leaks = [];
for (const file of audits) {
  const text = readFileSync(file, 'utf8');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    records++;
    // A record has no member that could hold a credential; a bearer/basic credential or a cookie header in any
    // value means one got in.
    if (/\b(?:Bearer|Basic|DPoP)\s+[A-Za-z0-9._~+/-]{8,}/i.test(line) || /"(?:authorization|cookie|set-cookie|token|access_token|client_secret|password)"\s*:/i.test(line)) {
      leaks.push(`${file}: an audit record carries a credential field or value`);
    }
  }
}
for (const file of [...logs, ...audits]) {
  const text = readFileSync(file, 'utf8');
  if (!audits.includes(file)) lines += text.split('\n').length - 1;
  for (const secret of secrets) {
    // A JWT's signature part alone is as good as the token for spotting a leak.
    const parts = secret.split('.');
    const probes = parts.length === 3 && parts[2].length > 0 ? [secret, parts[2]] : [secret];
    for (const p of probes) {
      if (p.length >= 8 && text.includes(p)) leaks.push(`${file}: contains a registered secret (${p.slice(0, 6)}…)`);
    }
  }
}
console.log(`secret scan: ${logs.length} log files (${lines} lines), ${audits.length} audit files (${records} records), ${secrets.length} registered secrets, ${leaks.length} leaks`);
if (leaks.length > 0) {
  console.error(leaks.join('\n'));
  process.exit(1);
}
if (lines === 0 || records === 0) {
  console.error('secret scan: no log lines or no audit records were written; the scan would prove nothing');
  process.exit(1);
}
