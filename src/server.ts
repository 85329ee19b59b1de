import { createHash, randomUUID } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config/types.js';
import { GatewayError, toProblem } from './errors.js';
import { createRequestRecorder, type GatewayMetrics } from './observability/metrics.js';
import { riskOf, type RequestContext, type Stage } from './pipeline/context.js';
import { Context } from './pipeline/request-context.js';
import { sendProblem, toGatewayError } from './pipeline/respond.js';
import { buildRuntime, type Runtime } from './pipeline/runtime.js';
import { openAuditTrail, type AuditTrail } from './audit/service.js';
import type { AuditFields } from './audit/record.js';
import { ConfigError } from './config/errors.js';
import { loadPolicyEngine, type PolicyEngine } from './policy/engine.js';

/**
 * The gateway process: a public fastify instance that runs the pipeline, an admin instance
 * for metrics and health, atomic configuration swaps and graceful shutdown.
 */

export interface GatewayDeps {
  logger: Logger;
  metrics: GatewayMetrics;
  /** The audit trail; by default opened from `config.audit`. The gateway closes it at shutdown either way. */
  audit?: AuditTrail;
  /** Loads and validates the configuration again for a reload; throws on a bad one. */
  loadConfig?: () => GatewayConfig;
  now?: () => number;
}

export interface ReloadResult {
  ok: boolean;
  errors?: string;
  hash?: string;
}

export interface Gateway {
  /** Listens on both ports; resolves with the bound addresses (port 0 in config = any free port). */
  listen(): Promise<{ publicUrl: string; adminUrl: string }>;
  /** Loads the configuration (and its policy) again; on any failure keeps the active one. */
  reload(): Promise<ReloadResult>;
  /** Loads the policy again with the active configuration (what a change in the policy directory triggers). */
  reloadPolicy(): Promise<ReloadResult>;
  /** Stops accepting, lets in-flight requests finish within `server.shutdownGraceMs`, closes. */
  shutdown(): Promise<void>;
  readonly runtime: Runtime;
  readonly publicApp: FastifyInstance;
  readonly adminApp: FastifyInstance;
}

/** Quiet period after the last change in the policy directory before it is reloaded. */
const POLICY_WATCH_QUIET_MS = 250;

// A client-supplied request id is kept only if it is short and boring (no log injection).
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Runs the stages in order from `from`. Synchronous stages run inline; at the first one that
 * returns a promise the rest continue after it settles.
 */
function runStages(stages: readonly Stage[], ctx: RequestContext, from: number): Promise<void> | undefined {
  for (let i = from; i < stages.length; i++) {
    if (ctx.replayed) return undefined;
    ctx.stage = i;
    const r = stages[i]!(ctx);
    if (r !== undefined) return r.then(() => runStages(stages, ctx, i + 1));
  }
  return undefined;
}

export async function createGateway(initial: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
  const { logger, metrics } = deps;
  const recordRequest = createRequestRecorder(metrics);
  const audit = deps.audit ?? (await openAuditTrail(initial.audit, { logger, metrics, startDetail: { config: initial.sourceHash } }));
  const runtimeDeps = { ...deps, audit };
  let current: Runtime;
  try {
    const engine = initial.policy !== undefined ? await loadPolicyEngine(initial.policy) : undefined;
    current = buildRuntime(initial, { ...runtimeDeps, ...(engine !== undefined ? { policy: engine } : {}) });
    if (engine !== undefined) {
      metrics.policyInfo.set({ revision: engine.revision.slice(0, 12) }, 1);
      audit.record('policy_reload', { decision: 'allow', detail: { result: 'loaded', revision: engine.revision, source: engine.source, tests: engine.tests?.passed ?? null } });
      logger.info({ event: 'policy', source: engine.source, revision: engine.revision.slice(0, 12), tests: engine.tests }, 'policy loaded');
    }
  } catch (err) {
    await audit.close();
    throw err;
  }
  await current.start();
  metrics.configInfo.set({ hash: initial.sourceHash.slice(0, 12) }, 1);
  let draining = false;

  const server = initial.server;
  const publicApp = Fastify({
    // The gateway logs for itself (one access line per request, see `finish`); a fastify logger
    // would build a pino child per request that nothing uses.
    logger: false,
    genReqId: requestIdOf,
    requestIdHeader: false,
    return503OnClosing: false,
    keepAliveTimeout: server.keepAliveTimeoutMs,
    requestTimeout: server.requestTimeoutMs,
    http: { maxHeaderSize: server.maxHeaderBytes },
    // find-my-way can refuse a URL before our handler sees it; keep the answer a problem body.
    frameworkErrors: (error, request, reply) => {
      reply.hijack();
      const code = error.code === 'FST_ERR_BAD_URL' ? 'invalid_path' : 'bad_request';
      sendProblem(reply.raw, new GatewayError(code, { reason: 'framework' }), String(request.id));
    },
  });

  // Bodies are streamed to the upstream untouched: no parser may consume them.
  publicApp.removeAllContentTypeParsers();
  publicApp.addContentTypeParser('*', (_req, _payload, done) => done(null));

  // Not `async`: stages that finish synchronously (route match, a cached token) cost no promise,
  // and fastify has nothing to await once the reply is hijacked.
  const handle = (request: FastifyRequest, reply: FastifyReply): void => {
    reply.hijack();
    const rt = current;
    rt.inFlight++;
    metrics.inFlight.inc();
    const ctx = new Context(logger, String(request.id), request.raw, reply.raw);
    const done = (err: GatewayError | undefined): void => {
      rt.inFlight--;
      metrics.inFlight.dec();
      finish(rt, ctx, err);
      if (rt !== current && rt.inFlight === 0) rt.close();
    };
    const fail = (err: unknown): void => {
      const gwErr = toGatewayError(err);
      if (gwErr.code === 'internal_error') ctx.log.error({ err }, 'request failed');
      // Finalizers settle state a retry depends on (an idempotency key freed or marked unknown) before the client
      // sees the error and can retry; on success the proxy has already answered, so they run at `finish`.
      const settled = ctx.finalizers !== undefined ? runFinalizers(ctx, gwErr) : undefined;
      if (settled === undefined) {
        sendProblem(ctx.res, gwErr, ctx.requestId, draining);
        done(gwErr);
        return;
      }
      void settled.then(() => {
        sendProblem(ctx.res, gwErr, ctx.requestId, draining);
        done(gwErr);
      });
    };
    let pending: Promise<void> | undefined;
    try {
      if (draining) throw new GatewayError('shutting_down', { reason: 'draining' });
      pending = runStages(rt.stages, ctx, 0);
    } catch (err) {
      fail(err);
      return;
    }
    if (pending === undefined) done(undefined);
    else pending.then(() => done(undefined), fail);
  };

  const finish = (rt: Runtime, ctx: RequestContext, err: GatewayError | undefined): void => {
    const status = ctx.res.headersSent ? ctx.res.statusCode : 499;
    const seconds = Number(process.hrtime.bigint() - ctx.startedAt) / 1e9;
    const routeId = ctx.route?.id ?? 'none';
    const reason = err === undefined ? undefined : (err.reason ?? err.code);
    recordRequest(routeId, ctx.route?.upstream, ctx.method, status, seconds, ctx.upstreamMs !== undefined ? ctx.upstreamMs / 1000 : undefined);
    if (ctx.finalizers !== undefined) void runFinalizers(ctx, err);
    if (audit.enabled) audit.record('decision', decisionRecord(rt, ctx, err, status, seconds));
    if (rt.config.logging.accessLog) {
      // The root logger with an explicit reqId, not ctx.log: building a pino child per request
      // (redaction included) cost ~10 µs per request in the benchmark profile.
      // The path is logged without its query string: query values may carry secrets.
      logger.info(
        {
          reqId: ctx.requestId,
          route: routeId,
          method: ctx.method,
          path: ctx.path !== '' ? ctx.path : undefined,
          status,
          ms: Math.round(seconds * 1e6) / 1e3,
          upstream_ms: ctx.upstreamMs !== undefined ? Math.round(ctx.upstreamMs * 1e3) / 1e3 : undefined,
          client_id: ctx.token?.clientId,
          reason,
        },
        'request',
      );
    }
  };

  publicApp.route({ method: publicApp.supportedMethods, url: '*', handler: handle });
  publicApp.setNotFoundHandler(handle);

  // CONNECT never reaches fastify (Node emits 'connect'); answer it instead of dropping the socket.
  publicApp.server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    const body = JSON.stringify(toProblem(new GatewayError('method_not_allowed', { reason: 'connect' }), requestIdOf(req)));
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });

  const adminApp = Fastify({ logger: false });
  adminApp.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  adminApp.get('/healthz', async () => ({ status: 'ok' }));
  adminApp.get('/readyz', async (_req, reply) => {
    const ready = !draining && current.ready();
    reply.code(ready ? 200 : 503);
    // The audit sink's state is reported, not made a readiness condition: with a shared Redis sink down, taking
    // every instance out of rotation would also stop the tiers that are allowed to run unaudited.
    return {
      status: ready ? 'ready' : 'not_ready',
      config: current.config.sourceHash.slice(0, 12),
      draining,
      audit: !audit.enabled ? 'disabled' : audit.healthy() ? 'ok' : 'failing',
    };
  });

  // Reloads (SIGHUP, a policy file change) run one at a time: each builds on the runtime the previous one left.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(job: () => Promise<T>): Promise<T> => {
    const run = queue.then(job, job);
    queue = run.catch(() => undefined);
    return run;
  };

  /** Swaps in a runtime built from a validated config and a loaded policy; the old one closes when idle. */
  const swap = (rt: Runtime): void => {
    const old = current;
    current = rt;
    if (old.inFlight === 0) old.close();
    if (rt.policy !== undefined && rt.policy !== old.policy) {
      metrics.policyInfo.reset();
      metrics.policyInfo.set({ revision: rt.policy.revision.slice(0, 12) }, 1);
    }
    watchPolicy(rt.config);
  };

  /** Loads the policy of `config` for a reload; a failure is logged, counted and audited, and returns undefined. */
  const loadPolicyFor = async (config: GatewayConfig, trigger: string): Promise<{ engine: PolicyEngine | undefined } | { error: string }> => {
    if (config.policy === undefined) return { engine: undefined };
    try {
      const engine = await loadPolicyEngine(config.policy);
      if (engine.revision !== current.policy?.revision) {
        metrics.policyReloads.inc({ result: 'accepted' });
        audit.record('policy_reload', {
          decision: 'allow',
          detail: { result: 'accepted', trigger, revision: engine.revision, previous: current.policy?.revision ?? null, source: engine.source, tests: engine.tests?.passed ?? null },
        });
        logger.info({ event: 'policy_reload', result: 'accepted', trigger, revision: engine.revision.slice(0, 12), tests: engine.tests }, 'policy reloaded');
      }
      return { engine };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      metrics.policyReloads.inc({ result: 'rejected' });
      // Compile errors and failing test names are about the policy's code, not request data: safe to log; the
      // audit record keeps only the fact and the active revision.
      logger.error({ event: 'policy_reload', result: 'rejected', trigger, errors: error }, 'policy rejected; keeping the active policy');
      audit.record('policy_reload', {
        decision: 'deny',
        reasons: ['rejected'],
        detail: { result: 'rejected', trigger, active: current.policy?.revision ?? null },
      });
      return { error };
    }
  };

  const reloadConfig = async (): Promise<ReloadResult> => {
    if (deps.loadConfig === undefined) return { ok: false, errors: 'no configuration source to reload from' };
    let next: GatewayConfig;
    try {
      next = deps.loadConfig();
      assertSameListeners(current.config, next);
      const auditProblem = audit.reloadProblem(next.audit);
      if (auditProblem !== undefined) throw new Error(auditProblem);
    } catch (err) {
      return rejectConfig(err);
    }
    const policy = await loadPolicyFor(next, 'config_reload');
    if ('error' in policy) return rejectConfig(new Error(`policy: ${policy.error}`));
    const rt = buildRuntime(next, { ...runtimeDeps, ...(policy.engine !== undefined ? { policy: policy.engine } : {}) }, current);
    await rt.start();
    audit.record('config_reload', { decision: 'allow', detail: { result: 'accepted', hash: next.sourceHash, previous: current.config.sourceHash } });
    audit.applyReload(next.audit);
    swap(rt);
    logger.level = next.logging.level;
    metrics.configReloads.inc({ result: 'accepted' });
    metrics.configInfo.reset();
    metrics.configInfo.set({ hash: next.sourceHash.slice(0, 12) }, 1);
    logger.info({ event: 'config_reload', result: 'accepted', hash: next.sourceHash }, 'configuration reloaded');
    return { ok: true, hash: next.sourceHash };
  };

  const rejectConfig = (err: unknown): ReloadResult => {
    metrics.configReloads.inc({ result: 'rejected' });
    const errors = err instanceof Error ? err.message : String(err);
    logger.error({ event: 'config_reload', result: 'rejected', errors }, 'configuration reload rejected; keeping the active configuration');
    // The audit record names what was rejected by its hash, never by its text (which could quote a value).
    const hash = err instanceof ConfigError ? err.sourceHash : undefined;
    audit.record('config_reload', {
      decision: 'deny',
      reasons: ['rejected'],
      detail: { result: 'rejected', hash: hash ?? null, errors: err instanceof ConfigError ? err.errors.length : 1, active: current.config.sourceHash },
    });
    return { ok: false, errors };
  };

  /** A change in the policy directory: same configuration, new policy (if it compiles and its tests pass). */
  const reloadPolicyOnly = async (): Promise<ReloadResult> => {
    const config = current.config;
    if (config.policy === undefined) return { ok: false, errors: 'no policy configured' };
    const policy = await loadPolicyFor(config, 'policy_change');
    if ('error' in policy) return { ok: false, errors: policy.error };
    if (policy.engine === undefined || policy.engine.revision === current.policy?.revision) return { ok: true, hash: config.sourceHash };
    const rt = buildRuntime(config, { ...runtimeDeps, policy: policy.engine }, current);
    await rt.start();
    swap(rt);
    return { ok: true, hash: config.sourceHash };
  };

  // Watching the policy directory (policy.watch): a burst of file events (an editor's save, a git checkout) becomes
  // one reload after a quiet period.
  let watcher: FSWatcher | undefined;
  let watchedDir: string | undefined;
  let debounce: NodeJS.Timeout | undefined;
  const watchPolicy = (config: GatewayConfig): void => {
    const dir = config.policy?.watch === true ? config.policy.dir : undefined;
    if (dir === watchedDir) return;
    watcher?.close();
    watcher = undefined;
    watchedDir = dir;
    if (dir === undefined || draining) return;
    try {
      watcher = watch(dir, { recursive: true }, () => {
        if (debounce !== undefined) clearTimeout(debounce);
        debounce = setTimeout(() => {
          debounce = undefined;
          if (!draining) void gateway.reloadPolicy();
        }, POLICY_WATCH_QUIET_MS);
        debounce.unref();
      });
      watcher.on('error', (err) => logger.warn({ event: 'policy_watch', err: { message: err.message } }, 'policy directory watch failed; reload with SIGHUP'));
    } catch (err) {
      logger.warn({ event: 'policy_watch', err: { message: (err as Error).message } }, 'cannot watch the policy directory; reload with SIGHUP');
    }
  };
  watchPolicy(initial);

  const gateway: Gateway = {
    get runtime() {
      return current;
    },
    publicApp,
    adminApp,
    async listen() {
      const publicUrl = await publicApp.listen({ host: server.public.host, port: server.public.port });
      const adminUrl = await adminApp.listen({ host: server.admin.host, port: server.admin.port });
      return { publicUrl, adminUrl };
    },
    reload() {
      return serial(reloadConfig);
    },
    reloadPolicy() {
      return serial(reloadPolicyOnly);
    },
    async shutdown() {
      if (draining) return;
      draining = true;
      logger.info({ event: 'shutdown', graceMs: current.config.server.shutdownGraceMs }, 'draining');
      const deadline = setTimeout(() => {
        logger.warn({ event: 'shutdown', inFlight: current.inFlight }, 'grace period over; closing remaining connections');
        publicApp.server.closeAllConnections();
      }, current.config.server.shutdownGraceMs);
      deadline.unref();
      await publicApp.close();
      clearTimeout(deadline);
      await adminApp.close();
      watcher?.close();
      if (debounce !== undefined) clearTimeout(debounce);
      await queue;
      current.close();
      await audit.close();
      logger.info({ event: 'shutdown' }, 'stopped');
    },
  };
  return gateway;
}

/** Listener addresses are bound once; changing them needs a restart, so such a reload is refused. */
function assertSameListeners(a: GatewayConfig, b: GatewayConfig): void {
  const same = (x: { host: string; port: number }, y: { host: string; port: number }) => x.host === y.host && x.port === y.port;
  if (!same(a.server.public, b.server.public) || !same(a.server.admin, b.server.admin)) {
    throw new Error('server.public / server.admin changed: listener addresses need a restart');
  }
}

/** Runs each finalizer once (the list is emptied); failures are logged, never thrown. */
function runFinalizers(ctx: RequestContext, err: GatewayError | undefined): Promise<void> {
  const list = ctx.finalizers ?? [];
  ctx.finalizers = undefined;
  return Promise.all(
    list.map(async (finalize) => {
      try {
        await finalize(err);
      } catch (e) {
        ctx.log.error({ err: e }, 'request finalizer failed');
      }
    }),
  ).then(() => undefined);
}

/** Request paths longer than this are cut in the audit record (a rejected path can be arbitrarily long). */
const AUDIT_PATH_MAX = 1024;

/**
 * The audit record of one gateway decision: who (verified client and partner, never a credential), what (route,
 * method, path without query values), the verdict and the stage and reasons behind it, and what came of it. The
 * Idempotency-Key is recorded as its SHA-256 so retries can be correlated without storing the key.
 */
function decisionRecord(rt: Runtime, ctx: RequestContext, err: GatewayError | undefined, status: number, seconds: number): AuditFields {
  const route = ctx.route;
  const token = ctx.token;
  const fields: AuditFields = {
    requestId: ctx.requestId,
    method: ctx.method,
    // A replayed idempotent response is an allowed request answered from the store, not from the upstream.
    decision: ctx.forwarded || ctx.replayed ? 'allow' : 'deny',
    status,
    durations: ctx.upstreamMs !== undefined
      ? { total: Math.round(seconds * 1e6) / 1e3, upstream: Math.round(ctx.upstreamMs * 1e3) / 1e3 }
      : { total: Math.round(seconds * 1e6) / 1e3 },
  };
  if (ctx.path !== '') fields.path = ctx.path;
  else if (ctx.req.url !== undefined) fields.path = ctx.req.url.slice(0, AUDIT_PATH_MAX);
  if (route !== undefined) {
    fields.routeId = route.id;
    fields.riskTier = riskOf(ctx);
    if (route.auth !== false && route.auth.scopes.length > 0) fields.scopes = route.auth.scopes;
  }
  if (token !== undefined) {
    fields.clientId = token.clientId;
    const partner = rt.rateLimits.value.partnerOf(token.clientId, token.claims as Record<string, unknown>);
    if (partner !== undefined) fields.partner = partner;
  }
  const policy = ctx.policy;
  if (policy !== undefined) fields.policyDecisionId = policy.id;
  if (err !== undefined) {
    fields.stage = rt.stageNames[ctx.stage] ?? 'gateway';
    // A policy denial is audited with every reason the policy gave, public or not.
    if (err.code === 'policy_denied' && policy !== undefined) fields.reasons = [err.code, ...policy.reasons];
    else fields.reasons = err.reason !== undefined && err.reason !== err.code ? [err.code, err.reason] : [err.code];
  } else if (ctx.replayed) {
    fields.reasons = ['idempotent_replay'];
  } else if (status === 499) {
    fields.reasons = ['client_closed'];
  }
  if (ctx.upstreamStatus !== undefined) fields.upstreamStatus = ctx.upstreamStatus;
  const key = ctx.req.headers['idempotency-key'];
  if (typeof key === 'string') fields.idempotencyKeyHash = createHash('sha256').update(key).digest('hex');
  return fields;
}
