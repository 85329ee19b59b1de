#!/usr/bin/env node
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runAuditVerify } from './audit/cli.js';
import { checkConfigFile } from './config/check.js';
import { loadConfigFile } from './config/load.js';
import { startDevAuthServer } from './dev/auth-server.js';
import { startDemoUpstream } from './dev/demo-upstream.js';
import { createBufferedStdout, createLogger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { policyCommand } from './policy/cli.js';
import { createGateway } from './server.js';
import { requestHash } from './stages/policy.js';

const USAGE = `usage:
  tollgate start [--config FILE] [--dev]   run the gateway (--dev also runs the demo upstream and dev token issuer)
  tollgate config check FILE               validate a configuration without starting
  tollgate token [--scope S] [--client ID] [--secret S] [--url URL] [--approve "METHOD /path" [--body TEXT]]
                                           get a development access token, or with --approve (approver clients)
                                           an approval token for that request (needs 'start --dev')
  tollgate policy build <dir|files…> -e <entrypoint>… -o bundle.tar.gz [--v0-compatible] [--data file.json]
  tollgate policy eval <bundle> -e <entrypoint> --input file.json [--data file.json]
  tollgate policy test [dir] [-v] [-r regex]
                                           run the policy's Rego unit tests (test_* rules; default dir: policy)
  tollgate audit verify <files…|redis://…> [--public-key jwks.json] [--checkpoint file] [--prefix P]
                                           verify audit chains (files, or a Redis stream under key prefix P);
                                           names the first bad sequence number`;

export const DEV = {
  upstream: { host: '127.0.0.1', port: 3001 },
  auth: { host: '127.0.0.1', port: 3002 },
  audience: 'https://api.example.com',
} as const;

async function start(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, dev: { type: 'boolean' } } });
  const configPath = resolve(values.config ?? 'config/gateway.yaml');
  const closers: Array<() => Promise<void>> = [];
  if (values.dev === true) {
    const upstream = await startDemoUpstream(DEV.upstream);
    const auth = await startDevAuthServer({ ...DEV.auth, audience: DEV.audience });
    closers.push(upstream.close, auth.close);
  }
  let config;
  try {
    config = loadConfigFile(configPath, { env: process.env });
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    await Promise.all(closers.map((c) => c()));
    return 2;
  }
  const stdout = createBufferedStdout();
  const logger = createLogger({ level: config.logging.level, destination: stdout.stream });
  const metrics = createMetrics();
  let gateway;
  try {
    gateway = await createGateway(config, {
      logger,
      metrics,
      loadConfig: () => loadConfigFile(configPath, { env: process.env }),
    });
  } catch (err) {
    // e.g. the audit sink cannot be opened (a read-only directory, Redis unreachable, another process's lock):
    // a gateway that cannot audit does not start.
    logger.fatal({ event: 'start', err: { message: err instanceof Error ? err.message : String(err) } }, 'tollgate cannot start');
    stdout.flush();
    process.stderr.write(`tollgate cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    await Promise.all(closers.map((c) => c()));
    return 2;
  }
  const { publicUrl, adminUrl } = await gateway.listen();
  logger.info({ event: 'start', publicUrl, adminUrl, config: configPath, routes: config.routes.length }, 'tollgate listening');
  if (values.dev === true) {
    logger.info(
      { event: 'dev', demoUpstream: `http://${DEV.upstream.host}:${DEV.upstream.port}`, devIssuer: `http://${DEV.auth.host}:${DEV.auth.port}` },
      'dev mode: demo upstream and dev token issuer running; get a token with `npm run token`',
    );
  }

  process.on('SIGHUP', () => void gateway.reload());
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      void gateway
        .shutdown()
        .then(() => Promise.all(closers.map((c) => c())))
        .then(() => {
          stdout.flush();
          done();
        });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return 0;
}

async function token(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scope: { type: 'string' },
      client: { type: 'string', default: 'demo-client' },
      secret: { type: 'string', default: 'demo-secret' },
      url: { type: 'string', default: `http://${DEV.auth.host}:${DEV.auth.port}` },
      approve: { type: 'string' },
      body: { type: 'string' },
    },
  });
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (values.scope !== undefined) form.set('scope', values.scope);
  if (values.approve !== undefined) {
    // "METHOD /path?query": the approval is bound to that request and body (README, "Approvals").
    const [method, target] = values.approve.split(' ', 2);
    if (method === undefined || target === undefined) {
      process.stderr.write('--approve wants "METHOD /path", e.g. --approve "POST /v1/tenants/acme/payments"\n');
      return 2;
    }
    const q = target.indexOf('?');
    const body = values.body !== undefined ? Buffer.from(values.body) : undefined;
    form.set('req_hash', requestHash(method.toUpperCase(), q < 0 ? target : target.slice(0, q), q < 0 ? '' : target.slice(q + 1), body));
  }
  const basic = Buffer.from(`${encodeURIComponent(values.client)}:${encodeURIComponent(values.secret)}`).toString('base64');
  let res: Response;
  try {
    res = await fetch(`${values.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
  } catch {
    process.stderr.write(`no dev token issuer at ${values.url}; start the gateway with 'npm start' first\n`);
    return 1;
  }
  const body = (await res.json()) as { access_token?: string; error?: string };
  if (!res.ok || body.access_token === undefined) {
    process.stderr.write(`token request failed: ${res.status} ${body.error ?? ''}\n`);
    return 1;
  }
  process.stdout.write(`${body.access_token}\n`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start':
      return start(rest);
    case 'config': {
      if (rest[0] !== 'check' || rest[1] === undefined) break;
      const result = checkConfigFile(resolve(rest[1]), { env: process.env });
      (result.ok ? process.stdout : process.stderr).write(`${result.output}\n`);
      return result.ok ? 0 : 1;
    }
    case 'token':
      return token(rest);
    case 'policy':
      return policyCommand(rest);
    case 'audit':
      if (rest[0] !== 'verify') break;
      return runAuditVerify(rest);
    default:
      break;
  }
  process.stderr.write(`${USAGE}\n`);
  return 64;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tollgate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
