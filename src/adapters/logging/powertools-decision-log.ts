import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { AuditRecord } from '../../domain/audit-record.ts';
import { describeError } from '../../domain/errors.ts';
import type { DecisionLog } from '../../ports/index.ts';

/**
 * The decision log: one JSON line per decision, the same fields as the audit record (which holds no
 * secret by construction). Errors are reduced to name, code and a bounded message: SDK errors can embed
 * request details, and an error object is never serialised whole.
 *
 * With `metrics`, each decision and alarm is also counted (CloudWatch embedded metric format, namespace
 * `Keyvend`, dimension `service`) and published at once, so an invocation leaves nothing unflushed whatever its
 * handler does. The metrics carry names, reasons and dependencies only: never a caller, a key or a request id.
 */
export class PowertoolsDecisionLog implements DecisionLog {
  constructor(
    private readonly logger: Logger,
    private readonly metrics?: Metrics,
  ) {}

  decision(record: AuditRecord): void {
    const level = record.outcome === 'granted' ? 'info' : 'warn';
    this.logger[level]('keyvend.decision', { audit: record });
    if (this.metrics !== undefined) this.#count(this.metrics, metricsOfDecision(record));
  }

  attempt(record: AuditRecord): void {
    this.logger.info('keyvend.attempt', {
      attempt: {
        grantId: record.eventId,
        action: record.action,
        ...(record.caller === undefined ? {} : { userKey: record.caller.userKey, issuerId: record.caller.issuerId }),
        ...(record.entitlement === undefined ? {} : { entitlementId: record.entitlement.id }),
        ...(record.session?.roleArn === undefined ? {} : { roleArn: record.session.roleArn }),
        ...(record.session?.roleSessionName === undefined ? {} : { roleSessionName: record.session.roleSessionName }),
        ...(record.session?.vending === undefined ? {} : { vending: record.session.vending }),
      },
    });
  }

  alarm(event: string, record: AuditRecord, cause: unknown): void {
    this.logger.error(`keyvend.alarm.${event}`, { audit: record, failure: describeError(cause) });
    if (this.metrics !== undefined) this.#count(this.metrics, metricsOfAlarm(event, record));
  }

  #count(metrics: Metrics, counted: readonly CountedMetric[]): void {
    for (const { name, dimension } of counted) {
      if (dimension === undefined) {
        metrics.addMetric(name, MetricUnit.Count, 1);
        continue;
      }
      // A metric of its own dimension is published on its own line (a single metric).
      const single = metrics.singleMetric();
      single.addDimension(dimension.name, dimension.value);
      single.addMetric(name, MetricUnit.Count, 1);
    }
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
}

export interface CountedMetric {
  readonly name: string;
  readonly dimension?: { readonly name: 'reason' | 'dependency'; readonly value: string };
}

/**
 * What one decision counts (docs/operations.md, "Metrics and alarms"): a grant; a denial (and by reason); a
 * refusal without a verified caller; a rate-limit refusal; an upstream failure (and by dependency); an audit write
 * that failed before anything was issued.
 */
export function metricsOfDecision(record: AuditRecord): CountedMetric[] {
  if (record.outcome === 'granted') return record.reason === 'signed_out' ? [] : [{ name: 'Grants' }];
  if (record.outcome !== 'denied') return [];
  const reason = record.reason ?? 'unknown';
  const counted: CountedMetric[] = [{ name: 'Denials' }, { name: 'DenialsByReason', dimension: { name: 'reason', value: reason } }];
  if (record.caller === undefined) counted.push({ name: 'AnonymousRefusals' });
  if (record.errorCode === 'throttled') counted.push({ name: 'RateLimited' });
  if (record.errorCode === 'upstream_unavailable') {
    counted.push(
      { name: 'UpstreamFailures' },
      { name: 'UpstreamFailuresByDependency', dimension: { name: 'dependency', value: dependencyOf(reason) } },
    );
  }
  if (reason === 'audit_unavailable') counted.push({ name: 'AuditWriteFailures' });
  return counted;
}

/** What an alarm line counts: credentials minted and withheld, and every audit write that failed. */
export function metricsOfAlarm(event: string, record: AuditRecord): CountedMetric[] {
  const counted: CountedMetric[] = [];
  if (event === 'minted_not_delivered') counted.push({ name: 'MintedNotDelivered' });
  if (event.startsWith('audit_write_failed') || (event === 'minted_not_delivered' && record.reason === 'audit_write_failed')) {
    counted.push({ name: 'AuditWriteFailures' });
  }
  return counted;
}

/** The dependency an `upstream_unavailable` reason names (docs/errors.md), for the by-dependency metric. */
export function dependencyOf(reason: string): string {
  const prefixes: readonly (readonly [string, string])[] = [
    ['jwks_', 'identity_provider'],
    ['token_', 'identity_provider'],
    ['oidc_', 'identity_provider'],
    ['entitlements_', 'dynamodb_entitlements'],
    ['audit_', 'dynamodb_audit'],
    ['saml_replay_cache_', 'dynamodb_saml_replay'],
    ['sts_', 'sts'],
    ['kms_', 'kms'],
    ['federation_keys_', 'secrets_manager'],
    ['portal_secret', 'secrets_manager'],
    ['signin_', 'federation_endpoint'],
  ];
  return prefixes.find(([prefix]) => reason.startsWith(prefix))?.[1] ?? 'other';
}
