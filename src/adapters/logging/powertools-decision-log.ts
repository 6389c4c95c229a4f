import type { Logger } from '@aws-lambda-powertools/logger';
import type { AuditRecord } from '../../domain/audit-record.ts';
import { describeError } from '../../domain/errors.ts';
import type { DecisionLog } from '../../ports/index.ts';

/**
 * The decision log: one JSON line per decision, the same fields as the audit record (which holds no
 * secret by construction). Errors are reduced to name, code and a bounded message: SDK errors can embed
 * request details, and an error object is never serialised whole.
 */
export class PowertoolsDecisionLog implements DecisionLog {
  constructor(private readonly logger: Logger) {}

  decision(record: AuditRecord): void {
    const level = record.outcome === 'granted' ? 'info' : 'warn';
    this.logger[level]('keyvend.decision', { audit: record });
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
  }
}
