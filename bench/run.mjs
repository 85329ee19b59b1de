// npm run bench: direct upstream vs a bare http-proxy-3 proxy vs tollgate (JWT route), one run,
// same load generator (autocannon), same upstream. The proxy under test is pinned to CPU 0;
// the upstream and the load generator share CPU 1 in every scenario (taskset, when present).
// Environment: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 50), BENCH_WARMUP (s, default 3).
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const here = new URL('.', import.meta.url).pathname;
const root = join(here, '..');

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return cpus().length >= 2;
  } catch {
    return false;
  }
})();
if (hasTaskset) execFileSync('taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' });

function pinned(cpu, cmd, args, opts) {
  return hasTaskset ? spawn('taskset', ['-c', String(cpu), cmd, ...args], opts) : spawn(cmd, args, opts);
}

function forkPinned(cpu, script, env) {
  const child = fork(join(here, script), [], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  if (hasTaskset) execFileSync('taskset', ['-pc', String(cpu), String(child.pid)], { stdio: 'ignore' });
  return new Promise((resolve) => child.once('message', (m) => resolve({ child, port: m.port })));
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitReady(url) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not ready: ${url}`);
}

function load(url, headers) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration: DURATION, headers }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

async function measure(name, url, headers = {}) {
  await new Promise((resolve, reject) =>
    autocannon({ url, connections: CONNECTIONS, duration: WARMUP, headers }, (err) => (err ? reject(err) : resolve())),
  );
  const r = await load(url, headers);
  const bad = r.non2xx + r.errors + r.timeouts;
  return { name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, total: r.requests.total, bad };
}

const tmp = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
const children = [];
try {
  const up = await forkPinned(1, 'upstream.mjs', {});
  children.push(up.child);
  const upstreamUrl = `http://127.0.0.1:${up.port}`;

  const bare = await forkPinned(0, 'bare-proxy.mjs', { TARGET: upstreamUrl });
  children.push(bare.child);

  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
  writeFileSync(join(tmp, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
  const token = await new SignJWT({ client_id: 'bench-client', scope: 'bench:read' })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench', typ: 'at+jwt' })
    .setIssuer('https://issuer.bench')
    .setAudience('https://api.bench')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey);
  const [pub, admin] = [await freePort(), await freePort()];
  writeFileSync(
    join(tmp, 'gateway.yaml'),
    `version: 1
server:
  public: { host: 127.0.0.1, port: ${pub} }
  admin: { host: 127.0.0.1, port: ${admin} }
logging: { level: info, accessLog: true }
issuers:
  bench:
    issuer: https://issuer.bench
    audiences: [https://api.bench]
    algorithms: [ES256]
    keysFile: ./jwks.json
    typ: at+jwt
upstreams:
  app: { url: ${upstreamUrl} }
routes:
  - id: jwt-route
    match: { methods: [GET], path: "/v1/items/{id}" }
    upstream: app
    auth: { issuer: bench, scopes: [bench:read] }
    risk: low
`,
  );
  // Logs go to /dev/null: the access log is still produced and serialised, as in production.
  const gw = pinned(0, process.execPath, [join(root, 'dist/cli.js'), 'start', '--config', join(tmp, 'gateway.yaml')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(gw);
  await waitReady(`http://127.0.0.1:${admin}/readyz`);
  const check = await fetch(`http://127.0.0.1:${pub}/v1/items/42`, { headers: { authorization: `Bearer ${token}` } });
  if (check.status !== 200) throw new Error(`tollgate smoke request failed: ${check.status}`);

  console.log(`tollgate bench: ${DURATION}s per scenario after ${WARMUP}s warm-up, ${CONNECTIONS} connections, autocannon; ` +
    (hasTaskset ? 'proxy on CPU 0, upstream + load generator on CPU 1' : 'no CPU pinning (taskset unavailable)') + `; node ${process.version}`);
  const results = [];
  results.push(await measure('direct upstream', `${upstreamUrl}/v1/items/42`));
  results.push(await measure('bare http-proxy-3', `http://127.0.0.1:${bare.port}/v1/items/42`));
  results.push(await measure('tollgate (JWT route)', `http://127.0.0.1:${pub}/v1/items/42`, { authorization: `Bearer ${token}` }));

  console.log('');
  console.log('scenario                 req/s      p50 ms  p99 ms  requests  non-2xx/errors');
  for (const r of results) {
    console.log(`${r.name.padEnd(24)} ${r.rps.toFixed(0).padStart(8)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${String(r.total).padStart(8)}  ${r.bad}`);
  }
  const [direct, bareR, tg] = results;
  console.log('');
  console.log(`ratio tollgate / bare proxy (req/s): ${(tg.rps / bareR.rps).toFixed(3)}   (goal >= 0.60)`);
  console.log(`ratio bare proxy / direct (req/s):   ${(bareR.rps / direct.rps).toFixed(3)}`);
  console.log(`ratio tollgate / direct (req/s):     ${(tg.rps / direct.rps).toFixed(3)}`);
  if (results.some((r) => r.bad > 0)) {
    console.log('some scenario had non-2xx responses or errors: figures are not comparable');
    process.exitCode = 1;
  }
} finally {
  for (const c of children) c.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}
