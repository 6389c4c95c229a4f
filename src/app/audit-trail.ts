import { anonymousRefusalOf } from '../domain/anonymous-refusal.ts';
import { AUDIT_GROUP_LIMIT, type AuditRecord, AuditConflictError, isSameDecision, newEventId } from '../domain/audit-record.ts';
import type { KeyvendError } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import type { AuditLog, Clock, DecisionLog } from '../ports/index.ts';
import type { RequestContext } from '../domain/request-context.ts';
import { randomBytes } from 'node:crypto';

const USER_AGENT_LIMIT = 256;

export function newAuditRecord(action: AuditRecord['action'], context: RequestContext, clock: Clock): AuditRecord {
  const now = clock.now();
  return {
    eventId: newEventId(now, randomBytes(10)),
    time: now.toISOString(),
    action,
    outcome: 'pending',
    request: {
      requestId: context.requestId,
      ...(context.apiRequestId === undefined ? {} : { apiRequestId: context.apiRequestId }),
      ...(context.sourceIp === undefined ? {} : { sourceIp: context.sourceIp }),
      ...(context.userAgent === undefined ? {} : { userAgent: context.userAgent.slice(0, USER_AGENT_LIMIT) }),
    },
  };
}

export function callerOf(principal: Principal): NonNullable<AuditRecord['caller']> {
  return {
    idpType: principal.idpType,
    issuerId: principal.issuerId,
    issuer: principal.issuer,
    subject: principal.subject,
    userKey: principal.userKey,
    groups: principal.groups.slice(0, AUDIT_GROUP_LIMIT),
    groupCount: principal.groups.length,
    ...(principal.auth.keyId === undefined ? {} : { keyId: principal.auth.keyId }),
    ...(principal.auth.tokenId === undefined ? {} : { tokenId: principal.auth.tokenId }),
    ...(principal.auth.clientId === undefined ? {} : { clientId: principal.auth.clientId }),
    tokenIssuedAt: principal.auth.issuedAt,
    tokenExpiresAt: principal.auth.expiresAt,
    tokenRef: principal.auth.tokenRef,
  };
}

/**
 * The one insert of a decision's record. When the response of a write that committed is lost, the SDK
 * retries it and the retry fails the write's own condition (the event id exists); if the stored record is then
 * exactly the one we were writing, the write happened, and reporting a failure would withhold (or deny)
 * what the table says was delivered, and send the caller back for a second session.
 */
export async function writeAudit(write: (record: AuditRecord) => Promise<void>, record: AuditRecord): Promise<void> {
  try {
    await write(record);
  } catch (error) {
    if (error instanceof AuditConflictError && isSameDecision(error.stored, record)) return;
    throw error;
  }
}

/**
 * Records a denial (one insert) and returns the error to throw. A denial without a verified caller is not written
 * as an item of its own: it is counted in its source's aggregate for the minute (`countAnonymousRefusal`). If the
 * audit store itself fails here, the denial still stands (nothing was issued) and the decision log keeps the record,
 * with an alarm.
 */
export async function recordDenial(
  deps: { audit: AuditLog; log: DecisionLog },
  record: AuditRecord,
  error: KeyvendError,
): Promise<KeyvendError> {
  record.outcome = 'denied';
  record.reason = error.reason;
  record.errorCode = error.code;
  if (record.caller === undefined) return countAnonymousRefusal(deps, record, error);
  try {
    await writeAudit((r) => deps.audit.record(r), record);
  } catch (auditError) {
    deps.log.alarm('audit_write_failed_on_denial', record, auditError);
  }
  deps.log.decision(record);
  return error;
}

/**
 * A refusal before anyone was verified: one `ADD requests :1` on the aggregate of its source and minute instead of
 * an item per request, so a flood of forged tokens costs one item a minute per source. The decision log still has
 * the line (and the metric); a failed count raises the same alarm as a failed denial.
 */
async function countAnonymousRefusal(deps: { audit: AuditLog; log: DecisionLog }, record: AuditRecord, error: KeyvendError) {
  try {
    await deps.audit.countAnonymous(anonymousRefusalOf(record));
  } catch (auditError) {
    deps.log.alarm('audit_write_failed_on_denial', record, auditError);
  }
  deps.log.decision(record);
  return error;
}
