import { type AdminRule, isAdmin } from '../domain/admins.ts';
import {
  AUDIT_OUTCOMES,
  type AuditQuery,
  type AuditQueryOutcome,
  type AuditQueryParameters,
  auditView,
  decodePageToken,
  encodePageToken,
  parseRangeAndLimit,
} from '../domain/audit-query.ts';
import type { AuditRecord } from '../domain/audit-record.ts';
import { FEDERATION_TOKEN_MAX_DURATION_SECONDS } from '../domain/duration.ts';
import { asKeyvendError, ForbiddenError, InvalidRequestError, KeyvendError, UpstreamUnavailableError } from '../domain/errors.ts';
import { deriveUserKey, ENTITLEMENT_ID_PATTERN, ISSUER_ID_PATTERN, USER_KEY_PATTERN } from '../domain/identifiers.ts';
import type { Principal } from '../domain/principal.ts';
import type { RequestContext } from '../domain/request-context.ts';
import type { AuditLog, AuditReader, Clock, DecisionLog, IdentityVerifier } from '../ports/index.ts';
import { callerOf, newAuditRecord, recordDenial, writeAudit } from './audit-trail.ts';
import type { KnownIdentityProvider } from './explain.ts';

export interface AuditQueriesDeps {
  readonly verifier: IdentityVerifier;
  readonly reader: AuditReader;
  readonly audit: AuditLog;
  readonly decisions: DecisionLog;
  readonly clock: Clock;
  readonly admins: readonly AdminRule[];
  readonly identityProviders: readonly KnownIdentityProvider[];
}

export interface AuditQueryResult {
  readonly records: readonly Partial<AuditRecord>[];
  /** Absent on the last page. */
  readonly nextPageToken?: string;
}

/**
 * An admin's audit query: by person (their userKey, or issuer id and subject), entitlement, outcome and time range,
 * newest first, paged. The query itself is audited (action `audit_query`), allowed or refused; a non-admin gets 403.
 * The answer is released only once its own audit record is written.
 */
export function makeQueryAudit(deps: AuditQueriesDeps) {
  const queryAs = makeQueryAuditAs(deps);
  return async function queryAudit(input: {
    authorization: string | undefined;
    parameters: AuditQueryParameters;
    context: RequestContext;
  }): Promise<AuditQueryResult> {
    const caller = await deps.verifier.verifyBearer(input.authorization);
    return queryAs({ caller, parameters: input.parameters, context: input.context });
  };
}

/** The same, for a caller the broker already verified (a portal session). */
export function makeQueryAuditAs(deps: Omit<AuditQueriesDeps, 'verifier'>) {
  return async function queryAuditAs(input: {
    caller: Principal;
    parameters: AuditQueryParameters;
    context: RequestContext;
  }): Promise<AuditQueryResult> {
    const { caller } = input;
    const record = newAuditRecord('audit_query', input.context, deps.clock);
    record.caller = callerOf(caller);
    try {
      if (!isAdmin(caller, deps.admins)) throw new ForbiddenError('not_admin');
      const query = parseQuery(deps, input.parameters, deps.clock.now());
      record.query = queryRecord(query, input.parameters);
      const cursor = input.parameters.pageToken === undefined ? undefined : decodePageToken(input.parameters.pageToken, query);
      const page = await deps.reader.query(query, cursor).catch((error: unknown) => {
        throw error instanceof KeyvendError ? error : new UpstreamUnavailableError('audit_unavailable', { cause: error });
      });
      record.outcome = 'granted';
      await writeAudit((r) => deps.audit.record(r), record).catch((error: unknown) => {
        throw new UpstreamUnavailableError('audit_unavailable', { cause: error });
      });
      deps.decisions.decision(record);
      return {
        records: page.items.map(auditView),
        ...(page.next === undefined ? {} : { nextPageToken: encodePageToken(page.next) }),
      };
    } catch (error) {
      const failure = asKeyvendError(error);
      if (record.outcome === 'granted') throw failure;
      throw await recordDenial({ audit: deps.audit, log: deps.decisions }, record, failure);
    }
  };
}

function parseQuery(deps: Pick<AuditQueriesDeps, 'identityProviders'>, parameters: AuditQueryParameters, now: Date): AuditQuery {
  const { user, issuer, subject, entitlement, outcome } = parameters;
  if (user !== undefined && (issuer !== undefined || subject !== undefined)) {
    throw new InvalidRequestError('Name a person by user or by issuer and subject, not both.');
  }
  if ((issuer === undefined) !== (subject === undefined)) throw new InvalidRequestError('issuer and subject go together.');
  let userKey: string | undefined;
  if (user !== undefined) {
    if (!USER_KEY_PATTERN.test(user)) throw new InvalidRequestError('user must be a user key (26 of [a-z2-7]).');
    userKey = user;
  } else if (issuer !== undefined && subject !== undefined) {
    const idp = ISSUER_ID_PATTERN.test(issuer) ? deps.identityProviders.find((known) => known.id === issuer) : undefined;
    if (idp === undefined) throw new InvalidRequestError('issuer names no configured identity provider.', { reason: 'unknown_issuer' });
    if (subject.length === 0 || subject.length > 256) throw new InvalidRequestError('subject must be 1-256 characters.');
    userKey = deriveUserKey(idp.issuer, subject);
  }
  if (entitlement !== undefined && !ENTITLEMENT_ID_PATTERN.test(entitlement)) {
    throw new InvalidRequestError('entitlement must be an entitlement id (1-63 of [a-z0-9-]).');
  }
  if (outcome !== undefined && !(AUDIT_OUTCOMES as readonly string[]).includes(outcome)) {
    throw new InvalidRequestError(`outcome is one of ${AUDIT_OUTCOMES.join(', ')}.`);
  }
  const range = parseRangeAndLimit(parameters, now, userKey === undefined && entitlement === undefined);
  return {
    ...(userKey === undefined ? {} : { userKey }),
    ...(entitlement === undefined ? {} : { entitlementId: entitlement }),
    ...(outcome === undefined ? {} : { outcome: outcome as AuditQueryOutcome }),
    ...range,
  };
}

function queryRecord(query: AuditQuery, parameters: AuditQueryParameters): Record<string, string | number> {
  return {
    ...(query.userKey === undefined ? {} : { userKey: query.userKey }),
    ...(parameters.issuer === undefined ? {} : { issuer: parameters.issuer }),
    ...(parameters.subject === undefined ? {} : { subject: parameters.subject }),
    ...(query.entitlementId === undefined ? {} : { entitlement: query.entitlementId }),
    ...(query.outcome === undefined ? {} : { outcome: query.outcome }),
    from: query.from.toISOString(),
    to: query.to.toISOString(),
    limit: query.limit,
    ...(parameters.pageToken === undefined ? {} : { paged: 1 }),
  };
}

/** One of the caller's own grants whose session has not expired yet. */
export interface LiveGrant {
  readonly grantId: string;
  readonly time: string;
  readonly action: string;
  readonly entitlement: string | undefined;
  readonly vending: string | undefined;
  readonly roleArn: string | undefined;
  readonly assumedRoleArn: string | undefined;
  readonly roleSessionName: string | undefined;
  readonly accessKeyId: string | undefined;
  readonly expiration: string;
}

/** No session Keyvend issues outlives this, so older grants need not be read. */
const LONGEST_SESSION_MS = FEDERATION_TOKEN_MAX_DURATION_SECONDS * 1000;
const MAX_GRANTS_READ = 1000;

/**
 * The caller's own grants with sessions still alive (expiration in the future), newest first: their byUser
 * partition over the longest session Keyvend issues. Reading one's own trail is not an admin action and grants
 * nothing, so, like listing entitlements, it is not audited.
 */
export function makeMyGrants(deps: Pick<AuditQueriesDeps, 'verifier' | 'reader' | 'clock'>) {
  return async function myGrants(authorization: string | undefined): Promise<LiveGrant[]> {
    const caller = await deps.verifier.verifyBearer(authorization);
    const now = deps.clock.now();
    const query: AuditQuery = {
      userKey: caller.userKey,
      outcome: 'granted',
      from: new Date(now.getTime() - LONGEST_SESSION_MS),
      to: now,
      limit: 200,
    };
    const live: LiveGrant[] = [];
    let cursor: Parameters<AuditReader['query']>[1];
    let read = 0;
    try {
      do {
        const page = await deps.reader.query(query, cursor);
        read += page.items.length;
        for (const item of page.items) {
          const grant = liveGrantOf(item, now);
          if (grant !== undefined) live.push(grant);
        }
        cursor = page.next;
      } while (cursor !== undefined && read < MAX_GRANTS_READ);
    } catch (error) {
      if (error instanceof KeyvendError) throw error;
      throw new UpstreamUnavailableError('audit_unavailable', { cause: error });
    }
    return live;
  };
}

function liveGrantOf(item: Readonly<Record<string, unknown>>, now: Date): LiveGrant | undefined {
  const record = auditView(item);
  const expiration = record.session?.expiration;
  if (record.outcome !== 'granted' || expiration === undefined || Date.parse(expiration) <= now.getTime()) return undefined;
  if (record.eventId === undefined || record.time === undefined || record.action === undefined) return undefined;
  return {
    grantId: record.eventId,
    time: record.time,
    action: record.action,
    entitlement: record.entitlement?.id,
    vending: record.session?.vending,
    roleArn: record.session?.roleArn,
    assumedRoleArn: record.session?.assumedRoleArn,
    roleSessionName: record.session?.roleSessionName,
    accessKeyId: record.session?.accessKeyId,
    expiration,
  };
}
