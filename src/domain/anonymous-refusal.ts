import type { AuditRecord } from './audit-record.ts';

/**
 * A request refused before anyone was verified (a missing or forged token, an unverifiable SAML response, a
 * request problem audited without a caller, a portal form without a session). It is not an audit record of its
 * own: it is counted in one aggregate per source and minute (`anonymousAggregateKey`), so that a flood costs one
 * item a minute per source instead of one per request. Every denial of a verified caller keeps its own record.
 */
export interface AnonymousRefusal {
  /** ISO time of the refusal (the record's `time`). */
  readonly time: string;
  readonly action: AuditRecord['action'];
  /** The source address as API Gateway saw the connection, or `unknown`. */
  readonly source: string;
  /** The audit reason, or `other` when it is not of the reason grammar. */
  readonly reason: string;
  readonly errorCode: string;
}

/** What the aggregate of one source and minute holds. */
export interface AnonymousAggregate {
  readonly eventId: string;
  readonly minute: string;
  readonly source: string;
  readonly requests: number;
  /** How many refusals of each reason. */
  readonly reasons: Readonly<Record<string, number>>;
  readonly actions: readonly string[];
  readonly firstSeen: string;
  readonly lastSeen: string;
}

export const ANONYMOUS_KEY_PREFIX = 'anon#';
const REASON = /^[a-z0-9_]{1,64}$/;
// An IPv4 or IPv6 address as API Gateway reports it; anything else is not put into a key.
const SOURCE = /^[0-9A-Fa-f.:]{2,45}$/;

/** The refusal a denial without a caller becomes. Only bounded, grammar-checked values reach the aggregate's keys. */
export function anonymousRefusalOf(record: AuditRecord): AnonymousRefusal {
  const sourceIp = record.request.sourceIp;
  return {
    time: record.time,
    action: record.action,
    source: sourceIp !== undefined && SOURCE.test(sourceIp) ? sourceIp : 'unknown',
    reason: record.reason !== undefined && REASON.test(record.reason) ? record.reason : 'other',
    errorCode: record.errorCode ?? 'unknown',
  };
}

/** `anon#<yyyy-mm-ddThh:mm>#<source>`: one item per source and UTC minute. */
export function anonymousAggregateKey(refusal: Pick<AnonymousRefusal, 'time' | 'source'>): string {
  return `${ANONYMOUS_KEY_PREFIX}${minuteOf(refusal.time)}#${refusal.source}`;
}

/** `yyyy-mm-ddThh:mm` (UTC) of an ISO time. */
export function minuteOf(time: string): string {
  return new Date(time).toISOString().slice(0, 16);
}
