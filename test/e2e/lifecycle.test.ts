import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { yamlConfig } from '../helpers/gateway.js';
import { runCli, spawnGateway, waitFor } from '../helpers/process.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/** The real process: SIGHUP reloads, SIGTERM drains, the CLI validates configuration. */

let upstream: TestUpstream;
let dir: string;

const route = (id: string, prefix: string) => `  - id: ${id}\n    match: { prefix: ${prefix} }\n    upstream: app\n    auth: false\n    risk: low`;
const cfg = (routes: string[]) => yamlConfig({ upstreams: `  app:\n    url: ${upstream.url}`, routes: routes.join('\n') });

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    const delay = req.url.startsWith('/slow') ? 1000 : 0;
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`ok ${req.url}`);
    }, delay);
  });
  dir = mkdtempSync(join(tmpdir(), 'tollgate-lifecycle-'));
});

afterAll(async () => {
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SIGHUP reload', () => {
  it('swaps a good config and keeps the old one on a bad config, with zero failed requests under traffic', async () => {
    const file = join(dir, 'reload.yaml');
    writeFileSync(file, cfg([route('a', '/a')]));
    const gw = await spawnGateway(['start', '--config', file]);
    try {
      let ok = 0;
      const failures: string[] = [];
      let running = true;
      const loop = async () => {
        while (running) {
          try {
            const res = await fetch(`${gw.publicUrl}/a/x`);
            await res.text();
            if (res.status === 200) ok++;
            else failures.push(`status ${res.status}`);
          } catch (err) {
            failures.push(String(err));
          }
        }
      };
      const loops = Array.from({ length: 8 }, loop);

      await new Promise((r) => setTimeout(r, 200));
      writeFileSync(file, cfg([route('a', '/a'), route('b', '/b')]));
      gw.child.kill('SIGHUP');
      await waitFor(async () => (await fetch(`${gw.publicUrl}/b/x`)).status === 200);

      // A bad file: unknown key and a route naming a missing upstream.
      writeFileSync(file, `${cfg([route('a', '/a')])}bogus: true\n`.replace('upstream: app', 'upstream: nowhere'));
      gw.child.kill('SIGHUP');
      await waitFor(async () => gw.output().includes('configuration reload rejected'));
      await new Promise((r) => setTimeout(r, 200));
      running = false;
      await Promise.all(loops);

      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(50);
      expect((await fetch(`${gw.publicUrl}/b/x`)).status).toBe(200);
      const rejectedLine = gw.output().split('\n').find((l) => l.includes('configuration reload rejected'))!;
      expect(rejectedLine).toContain('bogus');
      expect(rejectedLine).toContain('nowhere');
      const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      expect(metrics).toMatch(/tollgate_config_reloads_total\{result="accepted"\} 1/);
      expect(metrics).toMatch(/tollgate_config_reloads_total\{result="rejected"\} 1/);
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });
});

describe('SIGTERM', () => {
  it('finishes in-flight requests, refuses new connections, and exits 0', async () => {
    const file = join(dir, 'term.yaml');
    writeFileSync(file, cfg([route('slow', '/slow')]));
    const gw = await spawnGateway(['start', '--config', file]);
    const inFlight = fetch(`${gw.publicUrl}/slow/x`).then(async (r) => ({ status: r.status, body: await r.text() }));
    await new Promise((r) => setTimeout(r, 300));
    gw.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    await expect(fetch(`${gw.publicUrl}/slow/y`)).rejects.toThrow();
    expect(await inFlight).toEqual({ status: 200, body: 'ok /slow/x' });
    expect(await gw.exited).toBe(0);
    expect(gw.output()).toContain('"event":"shutdown"');
  });
});

describe('config check', () => {
  it('lists every error with file, line and YAML path, and exits non-zero', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'version: 1', //                                    1
        'server:', //                                       2
        '  public: { host: 127.0.0.1, port: 8080 }', //     3
        '  admin: { host: 127.0.0.1, port: 9090 }', //      4
        '  colour: blue', //                                5 unknown key
        'issuers: {}', //                                   6
        'upstreams:', //                                    7
        '  app: { url: "ftp://x" }', //                     8 bad scheme
        'routes:', //                                       9
        '  - id: r', //                                     10
        '    match: { prefix: /x }', //                     11
        '    upstream: missing', //                         12 unknown upstream
        '    auth: false', //                               13
        '    risk: extreme', //                             14 bad enum
        '',
      ].join('\n'),
    );
    const r = await runCli(['config', 'check', file]);
    expect(r.code).toBe(1);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(new RegExp(`bad\\.yaml:5:\\d+ .*colour`));
    expect(out).toMatch(/bad\.yaml:8:\d+ .*upstreams/);
    expect(out).toMatch(/bad\.yaml:12:\d+ .*missing/);
    expect(out).toMatch(/bad\.yaml:14:\d+ .*risk/);
    const start = await runCli(['start', '--config', file]);
    expect(start.code).toBe(2);
    expect(start.stderr).toMatch(/bad\.yaml:12:\d+/);
  });

  it('accepts the shipped example', async () => {
    const r = await runCli(['config', 'check', 'config/gateway.yaml']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^OK /);
  });
});
