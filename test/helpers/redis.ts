import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real `redis-server` for a test, on a spare loopback port (never 6379: a shared Redis may listen there), with
 * no persistence (`--save '' --appendonly no`) in a temp dir. `stop()` kills it with SIGKILL (an outage, not a
 * shutdown); `restart()` starts a new, empty server on the same port; `close()` kills it and removes the dir.
 * With `{ persist: true }` the server keeps an always-fsynced AOF in its dir, so `restart()` brings the data back.
 */
export interface TestRedis {
  port: number;
  url: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server keeps its connections but answers nothing (a hung Redis). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

function spawnRedis(port: number, dir: string, persist = false): { child: ChildProcess; exited: Promise<void>; output: () => string } {
  // persist: an AOF fsynced on every write, so a SIGKILL outage loses nothing and restart() reloads the data.
  const aof = persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...aof, '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      running.delete(child);
      resolve();
    });
    child.once('error', () => {
      running.delete(child);
      resolve();
    });
  });
  return { child, exited, output: () => out };
}

async function waitReady(port: number, proc: ReturnType<typeof spawnRedis>): Promise<boolean> {
  let dead = false;
  void proc.exited.then(() => (dead = true));
  const end = Date.now() + 10_000;
  while (Date.now() < end && !dead) {
    if (await ping(port)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

export async function startRedis(opts: { persist?: boolean } = {}): Promise<TestRedis> {
  const persist = opts.persist === true;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-redis-'));
  let port = 0;
  let proc: ReturnType<typeof spawnRedis> | undefined;
  // The free port may be taken between probe and bind: try a few.
  for (let i = 0; i < 5 && proc === undefined; i++) {
    port = await freePort();
    const p = spawnRedis(port, dir, persist);
    if (await waitReady(port, p)) proc = p;
    else {
      p.child.kill('SIGKILL');
      await p.exited;
      if (i === 4) throw new Error(`redis-server did not start:\n${p.output()}`);
    }
  }

  const stop = async (): Promise<void> => {
    if (proc === undefined) return;
    const p = proc;
    proc = undefined;
    p.child.kill('SIGKILL');
    await p.exited;
  };
  // A paused server still dies on SIGKILL, so stop() and the exit hook clean it up too.

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    pause() {
      proc?.child.kill('SIGSTOP');
    },
    resume() {
      proc?.child.kill('SIGCONT');
    },
    async restart() {
      await stop();
      const p = spawnRedis(port, dir, persist);
      if (!(await waitReady(port, p))) {
        p.child.kill('SIGKILL');
        await p.exited;
        throw new Error(`redis-server did not restart on ${port}:\n${p.output()}`);
      }
      proc = p;
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A redis-server with extra arguments (sentinel, cluster) on a free port, ready when it answers PING. */
async function startWith(dir: string, args: (port: number) => string[]): Promise<{ port: number; proc: ReturnType<typeof spawnRedis> }> {
  for (let i = 0; i < 5; i++) {
    const port = await freePort();
    const child = spawn('redis-server', args(port), { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    running.add(child);
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => { running.delete(child); resolve(); });
      child.once('error', () => { running.delete(child); resolve(); });
    });
    const proc = { child, exited, output: () => out };
    if (await waitReady(port, proc)) return { port, proc };
    child.kill('SIGKILL');
    await exited;
  }
  throw new Error('redis-server did not start');
}

export interface TestRedisTopology {
  /** Sentinel: the sentinels; cluster: the seed nodes. */
  nodes: { host: string; port: number }[];
  close(): Promise<void>;
}

/** A master plus one Sentinel monitoring it as `name` (redis-server --sentinel). */
export async function startRedisSentinel(name: string): Promise<TestRedisTopology> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-sentinel-'));
  const master = await startWith(dir, (port) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
  const sentinel = await startWith(dir, (port) => {
    const conf = join(dir, `sentinel-${port}.conf`);
    writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`, `sentinel down-after-milliseconds ${name} 60000`, ''].join('\n'));
    return [conf, '--sentinel'];
  });
  return {
    nodes: [{ host: '127.0.0.1', port: sentinel.port }],
    async close() {
      for (const p of [sentinel, master]) { p.proc.child.kill('SIGKILL'); await p.proc.exited; }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A three-master Redis Cluster (no replicas), slots assigned with `redis-cli --cluster create`. */
export async function startRedisCluster(): Promise<TestRedisTopology> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-cluster-'));
  const masters: { port: number; proc: ReturnType<typeof spawnRedis> }[] = [];
  for (let i = 0; i < 3; i++) {
    masters.push(await startWith(dir, (port) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
      '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '5000']));
  }
  execFileSync('redis-cli', ['--cluster', 'create', ...masters.map((m) => `127.0.0.1:${m.port}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore', timeout: 20_000 });
  // wait until every node reports the cluster as ok
  for (const m of masters) {
    const end = Date.now() + 20_000;
    while (!execFileSync('redis-cli', ['-p', String(m.port), 'cluster', 'info'], { encoding: 'utf8' }).includes('cluster_state:ok')) {
      if (Date.now() > end) throw new Error('redis cluster did not become ok');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    nodes: masters.map((m) => ({ host: '127.0.0.1', port: m.port })),
    async close() {
      for (const m of masters) { m.proc.child.kill('SIGKILL'); await m.proc.exited; }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
