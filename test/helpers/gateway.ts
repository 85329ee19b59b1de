import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { listSegments } from '../../src/audit/file-sink.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics, type GatewayMetrics } from '../../src/observability/metrics.js';
import { createGateway, type Gateway } from '../../src/server.js';
import { auditDirPath, logFilePath } from './run-artifacts.js';

export interface TestGateway {
  gateway: Gateway;
  url: string;
  port: number;
  adminUrl: string;
  metrics: GatewayMetrics;
  /** Where this gateway's audit records go (under the run folder, unless the YAML names its own). */
  auditDir: string;
  /** Audit records written so far (file sink in auditDir). */
  auditRecords(): Array<Record<string, unknown>>;
  /** Parsed log lines written so far. */
  logs(): Array<Record<string, unknown>>;
  /** Raw log text written so far. */
  logText(): string;
  close(): Promise<void>;
}

let counter = 0;

/** Starts a real gateway on loopback ports from YAML text; its logs go to the run's log folder. */
export async function startGateway(
  yaml: string | (() => string),
  opts: { env?: NodeJS.ProcessEnv; baseDir?: string; now?: () => number } = {},
): Promise<TestGateway> {
  const id = ++counter;
  // Every test gateway audits into the run folder (scripts/scan-test-logs.mjs scans those records for secrets),
  // each in its own directory: the file sink allows one writer per directory.
  const defaultAuditDir = auditDirPath(`gw${id}`);
  const text = () => {
    const t = typeof yaml === 'function' ? yaml() : yaml;
    return /^audit:/m.test(t) ? t : `${t.endsWith('\n') ? t : `${t}\n`}audit:\n  file: { dir: ${JSON.stringify(defaultAuditDir)} }\n`;
  };
  const load = () => loadConfig(text(), { env: opts.env ?? process.env, baseDir: opts.baseDir ?? process.cwd() });
  const config = load();
  const lines: string[] = [];
  const file: WriteStream = createWriteStream(logFilePath(`gw${id}`));
  const destination = {
    write(s: string) {
      lines.push(s);
      file.write(s);
    },
  };
  const logger = createLogger({ level: 'info', destination });
  const metrics = createMetrics({ defaultMetrics: false });
  const gateway = await createGateway(config, {
    logger,
    metrics,
    loadConfig: load,
    ...(opts.now !== undefined ? { now: opts.now } : {}),
  });
  const { publicUrl, adminUrl } = await gateway.listen();
  return {
    gateway,
    url: publicUrl,
    port: Number(new URL(publicUrl).port),
    adminUrl,
    metrics,
    auditDir: config.audit.file.dir,
    auditRecords: () => readAuditRecords(config.audit.file.dir, config.audit.file.prefix),
    logs: () => lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
    logText: () => lines.join(''),
    async close() {
      await gateway.shutdown();
      await new Promise<void>((resolve) => file.end(resolve));
    },
  };
}

/** A minimal valid config around the given issuers/upstreams/routes YAML blocks. */
export function yamlConfig(parts: { issuers?: string; upstreams: string; routes: string; server?: string; rateLimits?: string }): string {
  return [
    'version: 1',
    'server:',
    '  public: { host: 127.0.0.1, port: 0 }',
    '  admin: { host: 127.0.0.1, port: 0 }',
    '  shutdownGraceMs: 2000',
    ...(parts.server !== undefined ? [parts.server] : []),
    'logging: { level: info, accessLog: true }',
    parts.issuers !== undefined ? `issuers:\n${parts.issuers}` : 'issuers: {}',
    `upstreams:\n${parts.upstreams}`,
    `routes:\n${parts.routes}`,
    ...(parts.rateLimits !== undefined ? [`rateLimits:\n${parts.rateLimits}`] : []),
    '',
  ].join('\n');
}

/** Parsed records of every segment of a file-sink audit directory, in order. */
export function readAuditRecords(dir: string, prefix = 'audit'): Array<Record<string, unknown>> {
  return listSegments(dir, prefix).flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );
}

/** The audit record of one request: records are written after the response, so poll briefly. */
export async function auditRecordOf(gw: TestGateway, requestId: string, timeoutMs = 3000): Promise<Record<string, unknown>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const rec = gw.auditRecords().find((r) => r['requestId'] === requestId);
    if (rec !== undefined) return rec;
    if (Date.now() > end) throw new Error(`no audit record for request ${requestId}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
