/**
 * The policy stage: builds the input document (policy/input.schema.json), asks the Rego policy for a decision and
 * enforces it — default deny: only a result whose `allow` is the boolean true lets the request through; undefined,
 * a non-object, an evaluation error or a slow evaluation deny it. The decision id goes to the response header and
 * the audit record, the policy may raise the request's risk tier (never lower it), and its obligation headers are
 * added upstream.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { GatewayConfig, RiskTier } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { CounterSeries, HistogramSeries } from '../observability/hot-metrics.js';
import { riskOf, type RequestContext, type Stage } from '../pipeline/context.js';
import { readDecision, type PolicyEngine } from '../policy/engine.js';
import { isJsonContentType, parseJsonBody, readBody } from '../proxy/body.js';
import type { IssuerVerifier, VerifiedToken } from '../tokens/types.js';

export const DECISION_ID_HEADER = 'x-tollgate-decision-id';

const encoder = new TextEncoder();

const TIER_RANK: Readonly<Record<RiskTier, number>> = { low: 0, medium: 1, high: 2 };

export interface PolicyStageDeps {
  engine: PolicyEngine;
  metrics: GatewayMetrics;
  /** Verifier of approval tokens (policy.approvals.issuer). */
  approvals: IssuerVerifier | undefined;
  /** The client's partner, as rate limits resolve it (one definition of "partner" for limits, policy and audit). */
  partnerOf: (clientId: string, claims: Record<string, unknown>) => string | undefined;
  /** This instance (the audit chain id), for input.environment. */
  instance: string;
  now?: () => number;
}

/**
 * The binding of an approval token to one request (its `req_hash` claim): base64url of SHA-256 over
 * `METHOD SP target LF body`, where target is the normalised path plus `?query` when there is one and body is the
 * exact bytes received (empty for none). An approval for one request says nothing about another.
 */
export function requestHash(method: string, path: string, query: string, body: Buffer | undefined): string {
  const h = createHash('sha256').update(`${method} ${query.length > 0 ? `${path}?${query}` : path}\n`, 'utf8');
  if (body !== undefined) h.update(body);
  return h.digest('base64url');
}

/** input.request.query: name → every decoded value, in order. */
function queryOf(query: string): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  if (query.length === 0) return out;
  for (const [name, value] of new URLSearchParams(query)) (out[name] ??= []).push(value);
  return out;
}

export function createPolicyStage(config: GatewayConfig, deps: PolicyStageDeps): Stage {
  const policy = config.policy!;
  const { engine, metrics } = deps;
  const now = deps.now ?? Date.now;
  const obligationHeaders: ReadonlySet<string> = new Set(policy.obligationHeaders);
  const inputHeaders = policy.headers;
  const approvalsConfig = policy.approvals;

  // The token and route parts of the input depend only on the (cached, immutable) verified token and the route:
  // their JSON text is built once per token / route, and each request's input is assembled as text around them
  // (the SDK takes the input as JSON bytes), instead of serializing the claims again on every request.
  const tokenJson = new WeakMap<VerifiedToken, string>();
  const tokenInput = (token: VerifiedToken): string => {
    let t = tokenJson.get(token);
    if (t === undefined) {
      const o: Record<string, unknown> = { client_id: token.clientId, issuer: token.issuer, scopes: [...token.scopes], claims: token.claims };
      if (token.subject !== undefined) o['subject'] = token.subject;
      const partner = deps.partnerOf(token.clientId, token.claims as Record<string, unknown>);
      if (partner !== undefined) o['partner'] = partner;
      t = JSON.stringify(o);
      tokenJson.set(token, t);
    }
    return t;
  };
  const routeJson = new WeakMap<object, string>();
  const routeInput = (route: NonNullable<RequestContext['route']>): string => {
    let r = routeJson.get(route);
    if (r === undefined) {
      r = JSON.stringify({ id: route.id, risk: route.risk, upstream: route.upstream });
      routeJson.set(route, r);
    }
    return r;
  };
  const instanceJson = JSON.stringify(deps.instance);

  const series = new Map<string, { duration: HistogramSeries; outcomes: Map<string, CounterSeries> }>();
  const count = (route: string, tier: RiskTier, outcome: string, seconds: number | undefined): void => {
    let s = series.get(route);
    if (s === undefined) {
      s = { duration: metrics.policyDuration.series({ route }), outcomes: new Map() };
      series.set(route, s);
    }
    if (seconds !== undefined) s.duration.observe(seconds);
    const key = `${tier}\u0000${outcome}`;
    let c = s.outcomes.get(key);
    if (c === undefined) {
      c = metrics.policyDecisions.series({ route, tier, outcome });
      s.outcomes.set(key, c);
    }
    c.inc();
  };

  /** Verified approval tokens bound to this request; the others are counted and left out. */
  const verifyApprovals = async (ctx: RequestContext): Promise<unknown[]> => {
    if (approvalsConfig === undefined || deps.approvals === undefined) return [];
    const raw = ctx.req.headers[approvalsConfig.header];
    if (raw === undefined) return [];
    const tokens = (Array.isArray(raw) ? raw.join(',') : raw)
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t.length > 0)
      .slice(0, approvalsConfig.maxTokens);
    const verifier = deps.approvals;
    const expected = requestHash(ctx.method, ctx.path, ctx.query, ctx.body);
    const out: unknown[] = [];
    for (const token of tokens) {
      let verified: VerifiedToken;
      try {
        verified = await verifier.verify(token, verifier.defaultAudiences);
      } catch {
        metrics.policyApprovals.inc({ result: 'invalid' });
        continue;
      }
      if (verified.claims['req_hash'] !== expected) {
        metrics.policyApprovals.inc({ result: 'unbound' });
        continue;
      }
      metrics.policyApprovals.inc({ result: 'verified' });
      out.push({ approver: verified.subject ?? verified.clientId, issuer: verified.issuer, claims: verified.claims });
    }
    return out;
  };

  const decide = (ctx: RequestContext, approvals: unknown[], body: unknown): void => {
    const route = ctx.route!;
    const request: Record<string, unknown> = {
      id: ctx.requestId,
      method: ctx.method,
      path: ctx.path,
      params: ctx.params,
      query: queryOf(ctx.query),
      headers: headersOf(ctx),
    };
    if (ctx.body !== undefined) {
      request['body_sha256'] = createHash('sha256').update(ctx.body).digest('hex');
      if (body !== undefined) request['body'] = body;
    }
    const token = ctx.token !== undefined ? `,"token":${tokenInput(ctx.token)}` : '';
    const input = encoder.encode(
      `{"request":${JSON.stringify(request)}${token},"approvals":${approvals.length === 0 ? '[]' : JSON.stringify(approvals)},` +
        `"route":${routeInput(route)},"environment":{"time_ns":${now() * 1e6},"instance":${instanceJson}}}`,
    ).buffer;

    const id = randomUUID();
    ctx.res.setHeader(DECISION_ID_HEADER, id);
    const started = performance.now();
    let result: unknown;
    let failure: string | undefined;
    try {
      result = engine.evaluate(input);
    } catch {
      failure = 'error';
    }
    const seconds = (performance.now() - started) / 1000;
    if (failure === undefined && seconds * 1000 > policy.timeoutMs) failure = 'timeout';
    const decision = failure === undefined ? readDecision(result, obligationHeaders) : undefined;
    if (decision === undefined || typeof decision === 'string') {
      const outcome = failure ?? (decision === 'undefined' ? 'undefined' : 'invalid');
      const reasons = failure !== undefined ? [`policy_${failure}`] : [`policy_${decision}`];
      ctx.policy = { id, allow: false, reasons };
      count(route.id, riskOf(ctx), outcome, seconds);
      throw new GatewayError('policy_denied', { reason: reasons[0], headers: { [DECISION_ID_HEADER]: id } });
    }
    // The policy may raise the tier, never lower it.
    if (decision.risk !== undefined && TIER_RANK[decision.risk] > TIER_RANK[route.risk]) ctx.risk = decision.risk;
    ctx.policy = { id, allow: decision.allow, reasons: decision.reasons };
    count(route.id, riskOf(ctx), decision.allow ? 'allow' : 'deny', seconds);
    if (!decision.allow) {
      throw new GatewayError('policy_denied', {
        reason: decision.reasons[0] ?? 'denied',
        reasons: decision.publicReasons,
        headers: { [DECISION_ID_HEADER]: id },
      });
    }
    if (decision.headers.length > 0) ctx.upstreamHeaders = decision.headers;
  };

  const headersOf = (ctx: RequestContext): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const name of inputHeaders) {
      const v = ctx.req.headers[name];
      if (v !== undefined) out[name] = Array.isArray(v) ? v.join(', ') : v;
    }
    return out;
  };

  /** Reads and parses the body on routes that give it to the policy. */
  const readJson = async (ctx: RequestContext, maxBytes: number): Promise<unknown> => {
    const bytes = await readBody(ctx.req, maxBytes);
    ctx.body = bytes;
    if (bytes.length === 0) return undefined;
    if (!isJsonContentType(ctx.req.headers['content-type'])) {
      throw new GatewayError('invalid_body', { reason: 'content_type', detail: 'This route accepts a JSON body (application/json).' });
    }
    return parseJsonBody(bytes);
  };

  return (ctx) => {
    const route = ctx.route;
    if (route === undefined) throw new GatewayError('internal_error', { reason: 'no_route' });
    const bodyLimit = route.policy.body?.maxBytes;
    const wantsApprovals = approvalsConfig !== undefined && ctx.req.headers[approvalsConfig.header] !== undefined;
    if (bodyLimit === undefined && !wantsApprovals) {
      decide(ctx, [], undefined);
      return undefined;
    }
    return (async () => {
      const body = bodyLimit !== undefined ? await readJson(ctx, bodyLimit) : undefined;
      const approvals = await verifyApprovals(ctx);
      decide(ctx, approvals, body);
    })();
  };
}

/**
 * What each tier adds after the policy: a maximum token age (riskTiers.<tier>.maxTokenAgeSec), checked against the
 * effective tier, so a request the policy raised to `high` needs a token fresh enough for `high`. A token without
 * `iat` cannot show its age and is refused where an age limit applies.
 */
export function createTierStage(config: GatewayConfig, now: () => number = Date.now): Stage {
  const limits = config.riskTiers;
  return (ctx) => {
    const token = ctx.token;
    if (token === undefined) return;
    const maxAge = limits[riskOf(ctx)].maxTokenAgeSec;
    if (maxAge === undefined) return;
    const iat = token.issuedAt;
    const tooOld = iat === undefined || now() / 1000 - iat > maxAge;
    if (!tooOld) return;
    throw new GatewayError('token_invalid', {
      reason: iat === undefined ? 'no_iat_for_tier' : 'too_old_for_tier',
      detail: `This route needs a token issued within the last ${maxAge} s.`,
      headers: { 'WWW-Authenticate': 'Bearer realm="tollgate", error="invalid_token", error_description="token too old for this route"' },
    });
  };
}
