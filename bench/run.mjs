// npm run bench: direct upstream vs a bare http-proxy-3 proxy vs tollgate (JWT route), and tollgate on the same
// route with rate limits (memory store; Redis store with a redis-server the bench starts) and with the audit trail
// (file sink, fsync every 100 ms) and with the shipped default policy, one run, same load
// generator (autocannon), same upstream. The proxy under test is pinned to CPU 0;
// the upstream and the load generator share CPU 1 in every scenario (taskset, when present).
// Environment: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 50), BENCH_WARMUP (s, default 3),
// BENCH_ROUNDS (default 1; with more, the ratios printed are medians over rounds), BENCH_ONLY (comma-separated
// scenario name prefixes, e.g. "tollgate (JWT,tollgate + audit" to give two scenarios more rounds).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const SETTLE_MS = 1000;
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

// Pinning must cover every thread (V8's GC and compiler threads start with the process), so each
// process is started under `taskset -c N` rather than re-pinned by pid afterwards; the runner,
// which hosts the load generator, re-executes itself that way once.
if (hasTaskset && process.env.TOLLGATE_BENCH_PINNED !== '1') {
  const child = spawn('taskset', ['-c', '1', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, TOLLGATE_BENCH_PINNED: '1' },
  });
  child.on('exit', (code) => process.exit(code ?? 1));
} else {
  await main();
}

function pinned(cpu, cmd, args, opts) {
  return hasTaskset ? spawn('taskset', ['-c', String(cpu), cmd, ...args], opts) : spawn(cmd, args, opts);
}

function startPinned(cpu, script, env) {
  const child = pinned(cpu, process.execPath, [join(here, script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
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

/** autocannon options: a plain GET, or (`post`) a POST whose every request gets its own headers (fresh keys). */
function cannon(url, headers, duration, post) {
  const opts = { url, connections: CONNECTIONS, duration, headers };
  if (post !== undefined) {
    opts.method = 'POST';
    opts.body = post.body;
    opts.requests = [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, ...post.fresh() } }) }];
  }
  return opts;
}

function load(url, headers, post) {
  return new Promise((resolve, reject) => {
    autocannon(cannon(url, headers, DURATION, post), (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** User + system CPU time of a process, in ms (Linux /proc; undefined elsewhere). */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return undefined;
  }
}

async function measure(name, url, pid, headers = {}, post) {
  await new Promise((resolve, reject) =>
    autocannon(cannon(url, headers, WARMUP, post), (err) => (err ? reject(err) : resolve())),
  );
  const before = cpuMs(pid);
  const r = await load(url, headers, post);
  const after = cpuMs(pid);
  const bad = r.non2xx + r.errors + r.timeouts;
  const cpuUs = before === undefined || after === undefined ? undefined : ((after - before) * 1000) / r.requests.total;
  return { name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, total: r.requests.total, bad, cpuUs };
}

/** Waits until a redis-server answers PING. */
async function waitRedis(port) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('error', () => resolve(false));
      sock.once('connect', () => sock.write('PING\r\n'));
      sock.once('data', (d) => { sock.destroy(); resolve(d.toString().startsWith('+PONG')); });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on ${port} did not start`);
}

/** Stops a child and waits for it to exit. */
function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}


async function main() {
  const tmp = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  const children = [];
  try {
    const up = await startPinned(1, 'upstream.mjs', {});
    children.push(up.child);
    const upstreamUrl = `http://127.0.0.1:${up.port}`;

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
    const redisPort = await freePort();
    // Auditing is off in every scenario but the audit row, so each row adds one thing to the JWT route.
    const gatewayYaml = (rateLimits, audit = 'audit: { enabled: false }') => `version: 1
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
${rateLimits}
${audit}
`;
    // Limits high enough never to refuse: the bench measures what counting costs per request (a per-client and a
    // per-route policy and a per-client daily quota: three counters per request).
    const limits = (store) => `rateLimits:
  store: ${store}
${store === 'redis' ? `  redis: { url: "redis://127.0.0.1:${redisPort}" }\n` : ''}  policies:
    per-client: { points: 1000000000, windowSeconds: 60, key: client }
    per-route: { points: 1000000000, windowSeconds: 60, key: route }
  quotas:
    daily: { points: 1000000000000, period: day, key: client }
  defaults: { policies: [per-client, per-route], quotas: [daily] }
`;
    writeFileSync(join(tmp, 'gateway.yaml'), gatewayYaml(''));
    writeFileSync(join(tmp, 'gateway-memory.yaml'), gatewayYaml(limits('memory')));
    writeFileSync(join(tmp, 'gateway-redis.yaml'), gatewayYaml(limits('redis')));
    // The shipped default policy (policy/tollgate/decision.rego) on the same route, classified in its data.
    mkdirSync(join(tmp, 'policy', 'tollgate'), { recursive: true });
    copyFileSync(join(root, 'policy', 'tollgate', 'decision.rego'), join(tmp, 'policy', 'tollgate', 'decision.rego'));
    writeFileSync(join(tmp, 'policy', 'tollgate', 'data.json'), JSON.stringify({
      actions: { 'jwt-route': { name: 'items.read', risk: 'low', scopes: ['bench:read'] } },
      partners: {},
    }));
    writeFileSync(join(tmp, 'gateway-policy.yaml'), `${gatewayYaml('')}policy:
  dir: ./policy
  runTests: false
  watch: false
`);
    // A high-risk route (idempotency key + nonce + timestamp, state in Redis) next to a low-risk route with the
    // same POST: every request carries a fresh key and nonce.
    writeFileSync(join(tmp, 'gateway-highrisk.yaml'), gatewayYaml('').replace('routes:\n', `routes:
  - id: pay-low
    match: { methods: [POST], path: "/v1/pay-low/{id}" }
    upstream: app
    auth: { issuer: bench, scopes: [bench:read] }
    risk: low
  - id: pay-high
    match: { methods: [POST], path: "/v1/pay-high/{id}" }
    upstream: app
    auth: { issuer: bench, scopes: [bench:read] }
    risk: high
`) + `highRisk:
  store: redis
  redis: { url: "redis://127.0.0.1:${redisPort}" }
# the bench's one token is minted at the start; the high tier's default 300 s age limit would expire it mid-run
riskTiers:
  high: { maxTokenAgeSec: 86400 }
`);
    const payment = {
      body: '{"amount": 120, "currency": "EUR"}',
      fresh: () => ({
        'idempotency-key': `"${randomUUID()}"`,
        'x-tollgate-nonce': randomBytes(16).toString('base64url'),
        'x-tollgate-timestamp': String(Math.floor(Date.now() / 1000)),
      }),
    };
    // One hash-chained record per request, fsync every 100 ms, a signed checkpoint every 100 records.
    writeFileSync(join(tmp, 'gateway-audit.yaml'), gatewayYaml('', `audit:
  file: { dir: ./audit, fsyncIntervalMs: 100 }
  checkpoint: { every: 100 }`));
    const redis = pinned(1, 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    children.push(redis);
    await waitRedis(redisPort);

    // Each proxy is started right before its own scenario and stopped after it, so both get the
    // same timeline (start, settle, warm up, measure). A proxy left idle for tens of seconds
    // before its load behaves differently (see the README), and that must not favour either.
    const tollgate = (name, file, path = '/v1/items/42', post = undefined) => ({
      name,
      run: async () => {
        // Logs go to /dev/null: the access log is still produced and serialised, as in production.
        const gw = pinned(0, process.execPath, [join(root, 'dist/cli.js'), 'start', '--config', join(tmp, file)], {
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        children.push(gw);
        await waitReady(`http://127.0.0.1:${admin}/readyz`);
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        const check = await fetch(`http://127.0.0.1:${pub}${path}`, post === undefined
          ? { headers: { authorization: `Bearer ${token}` } }
          : { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...post.fresh() }, body: post.body });
        if (check.status !== 200) throw new Error(`${name}: smoke request failed: ${check.status}`);
        try {
          return await measure(name, `http://127.0.0.1:${pub}${path}`, gw.pid, { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, post);
        } finally {
          await stop(gw);
        }
      },
    });
    const scenarios = [
      { name: 'direct upstream', run: () => measure('direct upstream', `${upstreamUrl}/v1/items/42`, up.child.pid) },
      {
        name: 'bare http-proxy-3',
        run: async () => {
          const bare = await startPinned(0, 'bare-proxy.mjs', { TARGET: upstreamUrl });
          children.push(bare.child);
          await new Promise((r) => setTimeout(r, SETTLE_MS));
          try {
            return await measure('bare http-proxy-3', `http://127.0.0.1:${bare.port}/v1/items/42`, bare.child.pid);
          } finally {
            await stop(bare.child);
          }
        },
      },
      tollgate('tollgate (JWT route)', 'gateway.yaml'),
      tollgate('tollgate + limits (mem)', 'gateway-memory.yaml'),
      tollgate('tollgate + limits (redis)', 'gateway-redis.yaml'),
      tollgate('tollgate + audit (file)', 'gateway-audit.yaml'),
      tollgate('tollgate + policy', 'gateway-policy.yaml'),
      tollgate('low-risk POST', 'gateway-highrisk.yaml', '/v1/pay-low/1', payment),
      tollgate('high-risk POST (redis)', 'gateway-highrisk.yaml', '/v1/pay-high/1', payment),
    ];

    console.log(`tollgate bench: ${ROUNDS} round(s), ${DURATION}s per scenario after ${WARMUP}s warm-up, ${CONNECTIONS} connections, autocannon; ` +
      (hasTaskset ? 'proxy on CPU 0, upstream + load generator on CPU 1' : 'no CPU pinning (taskset unavailable)') + `; node ${process.version}`);
    // BENCH_ONLY=name,name: run only these scenarios (matched by name prefix), e.g. to give two of them more rounds.
    const only = (process.env.BENCH_ONLY ?? '').split(',').map((x) => x.trim()).filter(Boolean);
    const selected = only.length === 0 ? scenarios : scenarios.filter((sc) => only.some((o) => sc.name.startsWith(o)));
    const rounds = [];
    for (let round = 0; round < ROUNDS; round++) {
      const results = [];
      for (const sc of selected) results.push(await sc.run());
      rounds.push(results);
      console.log('');
      if (ROUNDS > 1) console.log(`round ${round + 1}`);
      console.log('scenario                 req/s      p50 ms  p99 ms  requests  non-2xx/errors  server CPU µs/req');
      for (const r of results) {
        const cpu = r.cpuUs === undefined ? 'n/a' : r.cpuUs.toFixed(0);
        console.log(`${r.name.padEnd(24)} ${r.rps.toFixed(0).padStart(8)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${String(r.total).padStart(8)}  ${String(r.bad).padStart(14)}  ${cpu.padStart(17)}`);
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    // Ratios by scenario name; a ratio whose scenarios were not run (BENCH_ONLY) is left out.
    const index = (name) => selected.findIndex((sc) => sc.name === name);
    const ratio = (a, b) => median(rounds.map((r) => r[index(a)].rps / r[index(b)].rps));
    const line = (label, a, b, goal = '') => {
      if (index(a) >= 0 && index(b) >= 0) console.log(`${label.padEnd(37)}${ratio(a, b).toFixed(3)}   ${goal}`);
    };
    const base = 'tollgate (JWT route)';
    console.log('');
    if (ROUNDS > 1) console.log('ratios: medians of rounds');
    line('ratio tollgate / bare proxy (req/s):', base, 'bare http-proxy-3', '(goal >= 0.60)');
    line('ratio bare proxy / direct (req/s):', 'bare http-proxy-3', 'direct upstream');
    line('ratio tollgate / direct (req/s):', base, 'direct upstream');
    line('ratio limits (memory) / no limits:', 'tollgate + limits (mem)', base, '(goal >= 0.95: under 5% cost)');
    line('ratio limits (redis) / no limits:', 'tollgate + limits (redis)', base, '(goal >= 0.75 at 64 connections: under 25% cost)');
    line('ratio audit (file) / audit off:', 'tollgate + audit (file)', base, '(goal >= 0.90: under 10% cost)');
    line('ratio policy / no policy:', 'tollgate + policy', base, '(goal >= 0.85: at most 15% cost)');
    line('ratio high-risk / low-risk POST:', 'high-risk POST (redis)', 'low-risk POST', '(idempotency + nonce on Redis; reported, no goal)');
    if (rounds.some((results) => results.some((r) => r.bad > 0))) {
      console.log('some scenario had non-2xx responses or errors: figures are not comparable');
      process.exitCode = 1;
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
  }
}
