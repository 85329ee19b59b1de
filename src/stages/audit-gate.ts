import type { AuditTrail } from '../audit/service.js';
import type { AuditOutageMode, RiskTier } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { riskOf, type Stage } from '../pipeline/context.js';

/**
 * The last check before the upstream: while the audit sink cannot store records, routes whose tier fails closed
 * (always `high`) answer 503 instead of running an action nobody could audit later. Other tiers follow
 * `audit.onUnavailable`; their records wait in the sink's buffer and are stored when it recovers.
 */
export function createAuditGateStage(
  audit: AuditTrail,
  modes: Readonly<Record<RiskTier, AuditOutageMode>>,
  metrics: GatewayMetrics,
): Stage {
  const rejections = {
    low: metrics.auditRejections.labels('low'),
    medium: metrics.auditRejections.labels('medium'),
    high: metrics.auditRejections.labels('high'),
  };
  return (ctx) => {
    if (audit.healthy()) return;
    const tier = riskOf(ctx);
    if (modes[tier] === 'fail_open') return;
    rejections[tier].inc();
    throw new GatewayError('audit_unavailable', { reason: 'audit_sink_down', headers: { 'retry-after': '5' } });
  };
}
