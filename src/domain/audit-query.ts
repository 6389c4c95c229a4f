import type { AuditRecord } from './audit-record.ts';
import { InvalidRequestError } from './errors.ts';

/**
 * The audit trail's read side (docs/adr/0010-audit-queries.md). Items carry top-level index attributes and three
 * GSIs, each sorted by the time-ordered `eventId` (UUIDv7): `byUser` (userKey), `byEntitlement` (entitlementId) and
 * `byDay` (`day`, YYYY-MM-DD UTC of `time`). A query picks the narrowest index its filters allow and walks it newest
 * first; the page token says where it stopped, and is checked against the query it continues.
 */
export type AuditIndex = 'byUser' | 'byEntitlement' | 'byDay';

export const AUDIT_OUTCOMES = ['granted', 'denied', 'minted_not_delivered', 'pending'] as const;
export type AuditQueryOutcome = (typeof AUDIT_OUTCOMES)[number];

/** What an admin asks for. `from` and `to` are inclusive instants; the newest records come first. */
export interface AuditQuery {
  readonly userKey?: string;
  readonly entitlementId?: string;
  readonly outcome?: AuditQueryOutcome;
  readonly from: Date;
  readonly to: Date;
  readonly limit: number;
}

/** Where a query stopped: the index partition (a userKey, an entitlement id or a day) and the last event id returned. */
export interface AuditCursor {
  readonly partition: string;
  readonly after: string;
}

export const DEFAULT_AUDIT_LIMIT = 50;
export const MAX_AUDIT_LIMIT = 200;
/** byDay walks one partition per day: a longer range without a person or entitlement is refused, not slow. */
export const MAX_DAY_RANGE_DAYS = 92;
/** Without `from`: the last 30 days. */
export const DEFAULT_RANGE_MS = 30 * 86_400_000;
const DAY_MS = 86_400_000;
const EVENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export const dayOf = (time: Date | string): string => new Date(time).toISOString().slice(0, 10);

/** The index a query walks: by person when it names one, else by entitlement, else by day. */
export function indexFor(query: Pick<AuditQuery, 'userKey' | 'entitlementId'>): AuditIndex {
  if (query.userKey !== undefined) return 'byUser';
  if (query.entitlementId !== undefined) return 'byEntitlement';
  return 'byDay';
}

/** The partitions a query walks, in order: the one person or entitlement, or each day from `to` back to `from`. */
export function partitionsFor(query: AuditQuery): string[] {
  if (query.userKey !== undefined) return [query.userKey];
  if (query.entitlementId !== undefined) return [query.entitlementId];
  const days: string[] = [];
  for (let t = Date.parse(`${dayOf(query.to)}T00:00:00Z`); t >= Date.parse(`${dayOf(query.from)}T00:00:00Z`); t -= DAY_MS) {
    days.push(dayOf(new Date(t)));
  }
  return days;
}

/**
 * The smallest and largest event ids of a millisecond range: UUIDv7 begins with the 48-bit Unix time in
 * milliseconds, so a key condition `eventId BETWEEN` these is a time range. Items that are not UUIDv7 (the
 * aggregated anonymous refusals, `anon#...`) sort after every bound and never match.
 */
export function eventIdBounds(from: Date, to: Date): { lowest: string; highest: string } {
  const hex = (ms: number) => ms.toString(16).padStart(12, '0');
  const format = (ms: number, tail: string) => `${hex(ms).slice(0, 8)}-${hex(ms).slice(8)}-${tail}`;
  return { lowest: format(from.getTime(), '0000-0000-000000000000'), highest: format(to.getTime(), 'ffff-ffff-ffffffffffff') };
}

export const isEventId = (value: string): boolean => EVENT_ID.test(value);

/** The raw query string an admin sends, each parameter once (API Gateway joins repeats with commas). */
export interface AuditQueryParameters {
  readonly user?: string | undefined;
  readonly issuer?: string | undefined;
  readonly subject?: string | undefined;
  readonly entitlement?: string | undefined;
  readonly outcome?: string | undefined;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly limit?: string | undefined;
  readonly pageToken?: string | undefined;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?Z)?$/;

function instant(name: string, value: string | undefined, fallback: Date): Date {
  if (value === undefined) return fallback;
  const parsed = ISO_INSTANT.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(parsed.getTime())) {
    throw new InvalidRequestError(`${name} must be an ISO 8601 UTC date or time (2026-11-29 or 2026-11-29T16:00:00Z).`, {
      reason: 'bad_range',
    });
  }
  return parsed;
}

/**
 * Checks the range and limit of a query (a bad one is 400 `invalid_request`, reason `bad_range`): `from` at most
 * `to`, a date alone meaning its whole day (from its start, to its end), and for a query by day at most
 * MAX_DAY_RANGE_DAYS days.
 */
export function parseRangeAndLimit(
  parameters: Pick<AuditQueryParameters, 'from' | 'to' | 'limit'>,
  now: Date,
  byDay: boolean,
): Pick<AuditQuery, 'from' | 'to' | 'limit'> {
  const toValue =
    parameters.to !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(parameters.to) ? `${parameters.to}T23:59:59.999Z` : parameters.to;
  const to = instant('to', toValue, now);
  const from = instant('from', parameters.from, new Date(to.getTime() - DEFAULT_RANGE_MS));
  if (from.getTime() > to.getTime()) throw new InvalidRequestError('from must not be after to.', { reason: 'bad_range' });
  if (byDay && to.getTime() - from.getTime() > MAX_DAY_RANGE_DAYS * DAY_MS) {
    throw new InvalidRequestError(`Without user or entitlement, a range is at most ${MAX_DAY_RANGE_DAYS} days.`, { reason: 'bad_range' });
  }
  let limit = DEFAULT_AUDIT_LIMIT;
  if (parameters.limit !== undefined) {
    limit = /^\d{1,4}$/.test(parameters.limit) ? Number(parameters.limit) : 0;
    if (limit < 1 || limit > MAX_AUDIT_LIMIT) {
      throw new InvalidRequestError(`limit must be a whole number from 1 to ${MAX_AUDIT_LIMIT}.`, { reason: 'bad_range' });
    }
  }
  return { from, to, limit };
}

/**
 * The page token: where the last page stopped, base64url JSON. It grants nothing the admin could not ask for, so it
 * is not signed; instead it is checked strictly against the query it continues (the same partition list, an event
 * id inside the range), so a token edited or carried over to another query is refused (400, `bad_page_token`)
 * rather than read from somewhere else.
 */
export function encodePageToken(cursor: AuditCursor): string {
  return Buffer.from(JSON.stringify({ p: cursor.partition, a: cursor.after }), 'utf8').toString('base64url');
}

export function decodePageToken(token: string, query: AuditQuery): AuditCursor {
  const refuse = () => new InvalidRequestError('pageToken is not a page token of this query.', { reason: 'bad_page_token' });
  if (token.length > 512 || !/^[A-Za-z0-9_-]+$/.test(token)) throw refuse();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) throw refuse();
  const { p, a, ...rest } = decoded as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || typeof p !== 'string' || typeof a !== 'string') throw refuse();
  if (!partitionsFor(query).includes(p) || !isEventId(a)) throw refuse();
  const { lowest, highest } = eventIdBounds(query.from, query.to);
  if (a < lowest || a > highest) throw refuse();
  if (indexFor(query) === 'byDay' && dayOf(timeOfEventId(a)) !== p) throw refuse();
  return { partition: p, after: a };
}

/** The instant a UUIDv7 event id was made at. */
export function timeOfEventId(eventId: string): Date {
  return new Date(Number.parseInt(eventId.replace('-', '').slice(0, 12), 16));
}

/**
 * What an admin sees of a record: the record's own sections, never the table's index or expiry attributes. Records
 * hold identifiers and hashes only (audit-record.ts); this keeps to the sections named here, so an attribute the
 * write side may add later is not shown until someone decides it may be.
 */
export function auditView(item: Readonly<Record<string, unknown>>): Partial<AuditRecord> {
  const shown = [
    'eventId',
    'time',
    'action',
    'outcome',
    'reason',
    'errorCode',
    'request',
    'caller',
    'credentialRef',
    'entitlement',
    'session',
    'delivery',
    'query',
  ];
  return Object.fromEntries(shown.filter((key) => item[key] !== undefined).map((key) => [key, item[key]])) as Partial<AuditRecord>;
}
