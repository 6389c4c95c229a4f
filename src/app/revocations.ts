import { randomBytes } from 'node:crypto';
import { type AdminRule, isAdmin } from '../domain/admins.ts';
import { type AuditRecord, newEventId } from '../domain/audit-record.ts';
import {
  asKeyvendError,
  ForbiddenError,
  InvalidRequestError,
  isKeyvendError,
  type KeyvendError,
  NotFoundError,
  UpstreamUnavailableError,
} from '../domain/errors.ts';
import { deriveUserKey } from '../domain/identifiers.ts';
import type { Principal } from '../domain/principal.ts';
import type { RequestContext } from '../domain/request-context.ts';
import {
  liveSessionsUntil,
  parseRevocationRequest,
  parseUnrevokeRequest,
  type Revocation,
  type RevocationRequest,
  type RevocationTarget,
} from '../domain/revocation.ts';
import type {
  AuditLog,
  AuditRecordLookup,
  Clock,
  DecisionLog,
  IdentityVerifier,
  LiveSessionEnforcement,
  LiveSessionRevoker,
  RevocationStore,
} from '../ports/index.ts';
import { callerOf, newAuditRecord, recordDenial, writeAudit } from './audit-trail.ts';

export interface RevocationsDeps {
  readonly verifier: IdentityVerifier;
  readonly admins: readonly AdminRule[];
  /** Each configured identity provider's id and the name userKeys derive from (OIDC `iss`, SAML entity id). */
  readonly issuerNames: ReadonlyMap<string, string>;
  readonly revocations: RevocationStore;
  readonly auditReader: AuditRecordLookup;
  readonly liveSessions: LiveSessionRevoker;
  readonly audit: AuditLog;
  readonly log: DecisionLog;
  readonly clock: Clock;
  /** One function timeout: how long after a revocation a request that read the grant before it may still mint. */
  readonly inFlightSeconds: number;
}

/** Who calls an admin route: a bearer token to verify (the API), or the portal's verified session. */
export type AdminCaller =
  | { readonly kind: 'bearer'; readonly authorization: string | undefined }
  | { readonly kind: 'verified'; readonly principal: Principal }
  /** A portal request whose session did not open: refused with this error, audited without a caller. */
  | { readonly kind: 'refused'; readonly error: KeyvendError };

/** Every admin call: who calls, the request's context, and a problem the HTTP layer already found in it. */
export interface AdminInput {
  readonly caller: AdminCaller;
  readonly context: RequestContext;
  readonly requestProblem?: KeyvendError;
}

export interface LiveSessions {
  readonly mode: LiveSessionEnforcement['mode'];
  readonly accounts: readonly string[];
  readonly cutoff?: string;
}

export interface RevokeResult {
  readonly revocation: Revocation;
  /** False when the target was already revoked: that revocation is answered and nothing new was written. */
  readonly created: boolean;
  readonly liveSessions: LiveSessions;
}

export interface UnrevokeResult {
  readonly revocation: Revocation;
  readonly liveSessions: LiveSessions;
}

export interface RevocationList {
  readonly revocations: readonly (Revocation & { readonly liveSessionDeny: boolean })[];
  /** False while a change has not yet reached the member accounts' policies (a failed or running rewrite). */
  readonly policyInSync: boolean;
}

/** How many times a rewrite re-reads the state when another change landed meanwhile, before answering 503. */
const ENFORCE_ATTEMPTS = 5;

/**
 * Admin use cases on revocations (issue 12 item 3, docs/revocation.md): revoke a person, one grant or an entitlement;
 * un-revoke; list. Each reads as its steps (authenticate → authorise → check → write → enforce → record), and every
 * call, allowed or refused, is one audit record (`revoke`, `unrevoke`, `revocations_list`).
 */
export function makeRevocations(deps: RevocationsDeps) {
  return {
    async revoke(input: AdminInput & { body: unknown }): Promise<RevokeResult> {
      const record = newAuditRecord('revoke', input.context, deps.clock);
      try {
        await authenticateAdmin(deps, input, record);
        const request = checkRevocation(input.body);
        record.revocation = { kind: request.kind, reason: request.reason };
        const revocation = await resolve(deps, request, record);
        const { revocation: stored, created } = await deps.revocations.add(revocation);
        record.revocation = { ...record.revocation, id: stored.id, created };
        const liveSessions = await enforceOrRecord(deps, record);
        await recordAllowed(deps, record);
        return { revocation: stored, created, liveSessions };
      } catch (error) {
        throw await refused(deps, record, error);
      }
    },

    async unrevoke(input: AdminInput & { id: unknown; reason: unknown }): Promise<UnrevokeResult> {
      const record = newAuditRecord('unrevoke', input.context, deps.clock);
      try {
        await authenticateAdmin(deps, input, record);
        const checked = parseUnrevokeRequest(input.id, input.reason);
        if (!checked.ok) throw new InvalidRequestError(checked.problems.join('; '), { reason: 'invalid_unrevoke' });
        record.revocation = { id: checked.id, reason: checked.reason };
        const removed = await deps.revocations.remove(checked.id);
        if (removed === undefined) throw new NotFoundError('No revocation in force has this id.', 'unknown_revocation');
        record.revocation = { ...record.revocation, kind: removed.target.kind, target: targetFields(removed.target) };
        const liveSessions = await enforceOrRecord(deps, record);
        await recordAllowed(deps, record);
        return { revocation: removed, liveSessions };
      } catch (error) {
        throw await refused(deps, record, error);
      }
    },

    async list(input: AdminInput): Promise<RevocationList> {
      const record = newAuditRecord('revocations_list', input.context, deps.clock);
      try {
        await authenticateAdmin(deps, input, record);
        const state = await deps.revocations.state();
        const now = deps.clock.now().getTime();
        record.revocation = { count: state.revocations.length };
        await recordAllowed(deps, record);
        return {
          revocations: [...state.revocations]
            .sort((a, b) => Date.parse(b.revokedAt) - Date.parse(a.revokedAt))
            .map((r) => ({ ...r, liveSessionDeny: Date.parse(r.liveSessionsUntil) > now })),
          policyInSync: state.enforcedGeneration >= state.generation,
        };
      } catch (error) {
        throw await refused(deps, record, error);
      }
    },

    /**
     * Rewrites the member accounts' policies from the current state (a schedule calls it): prunes entries whose
     * sessions have all expired, and finishes a rewrite that an earlier call could not. Not an admin action: it
     * changes no revocation, so it writes no audit record; the log keeps its outcome.
     */
    async reconcile(): Promise<LiveSessions> {
      return enforceLiveSessions(deps);
    },
  };
}

export type Revocations = ReturnType<typeof makeRevocations>;

/**
 * The caller must be verified and an admin (KEYVEND_ADMINS); the record names them either way. A problem the HTTP
 * layer found in the request (malformed JSON, a token in the query) is refused after that, so it is audited with the
 * caller, and a non-admin learns nothing about what a well-formed request would be.
 */
async function authenticateAdmin(deps: RevocationsDeps, input: AdminInput, record: AuditRecord): Promise<Principal> {
  const caller = input.caller;
  if (caller.kind === 'refused') throw caller.error;
  const principal = caller.kind === 'verified' ? caller.principal : await deps.verifier.verifyBearer(caller.authorization);
  record.caller = callerOf(principal);
  if (!isAdmin(principal, deps.admins)) throw new ForbiddenError('not_admin');
  if (input.requestProblem !== undefined) throw input.requestProblem;
  return principal;
}

function checkRevocation(body: unknown): RevocationRequest {
  const parsed = parseRevocationRequest(body);
  if (!parsed.ok) throw new InvalidRequestError(parsed.problems.join('; '), { reason: 'invalid_revocation' });
  return parsed.request;
}

/**
 * The target as it is known: a person who was granted something of their own or appears in the audit trail, a grant
 * the audit trail recorded as issued, a defined entitlement. Anything else is 404 and nothing is written.
 */
async function resolve(deps: RevocationsDeps, request: RevocationRequest, record: AuditRecord): Promise<Revocation> {
  const now = deps.clock.now();
  const caller = record.caller;
  if (caller === undefined) throw new ForbiddenError('not_admin');
  let target: RevocationTarget;
  let sessionExpiresAt: Date | undefined;
  switch (request.kind) {
    case 'person': {
      const issuerName = deps.issuerNames.get(request.issuerId);
      if (issuerName === undefined) throw new NotFoundError('No identity provider has this id.', 'unknown_issuer');
      const userKey = deriveUserKey(issuerName, request.subject);
      target = { kind: 'person', issuerId: request.issuerId, subject: request.subject, userKey };
      record.revocation = { ...record.revocation, target: targetFields(target) };
      const known =
        (await deps.revocations.hasSubjectGrants(request.issuerId, request.subject)) || (await deps.auditReader.hasRecordsFor(userKey));
      if (!known) throw new NotFoundError('Keyvend has never granted anything to or seen this person.', 'unknown_person');
      break;
    }
    case 'grant': {
      record.revocation = { ...record.revocation, target: { grantId: request.grantId } };
      const grant = await deps.auditReader.get(request.grantId);
      const issued = grant?.outcome === 'granted' || grant?.outcome === 'minted_not_delivered';
      const mints = grant?.action === 'credentials' || grant?.action === 'console';
      if (grant === undefined || !issued || !mints || grant.caller === undefined || grant.entitlement === undefined) {
        throw new NotFoundError('No session was issued under this grant id.', 'unknown_grant');
      }
      target = {
        kind: 'grant',
        grantId: request.grantId,
        issuerId: grant.caller.issuerId,
        subject: grant.caller.subject,
        userKey: grant.caller.userKey,
        entitlementId: grant.entitlement.id,
      };
      const expiration = grant.session?.expiration === undefined ? Number.NaN : Date.parse(grant.session.expiration);
      if (Number.isFinite(expiration)) sessionExpiresAt = new Date(expiration);
      record.revocation = { ...record.revocation, target: targetFields(target) };
      break;
    }
    case 'entitlement': {
      target = { kind: 'entitlement', entitlementId: request.entitlementId };
      record.revocation = { ...record.revocation, target: targetFields(target) };
      if (!(await deps.revocations.entitlementExists(request.entitlementId))) {
        throw new NotFoundError('No entitlement has this id.', 'unknown_entitlement');
      }
      break;
    }
  }
  return {
    id: newEventId(now, randomBytes(10)),
    target,
    reason: request.reason,
    revokedAt: now.toISOString(),
    revokedBy: { issuerId: caller.issuerId, subject: caller.subject },
    liveSessionsUntil: liveSessionsUntil(now, {
      inFlightSeconds: deps.inFlightSeconds,
      ...(sessionExpiresAt === undefined ? {} : { sessionExpiresAt }),
    }),
  };
}

function targetFields(target: RevocationTarget): Record<string, string> {
  const { kind: _kind, ...fields } = target;
  return fields;
}

/**
 * Rewrites the live-session policies from the full state, then checks that no change landed meanwhile (the
 * generation every change increments); if one did, renders again. Two admins revoking at once therefore cannot
 * lose one another's entry: whichever rewrite lands last was rendered from a state that a later check found
 * current, and a rewrite rendered from an older state is always followed by its own writer's re-render
 * (docs/adr/0007-revocation-state-and-live-session-policy.md).
 */
async function enforceLiveSessions(deps: RevocationsDeps): Promise<LiveSessions> {
  for (let attempt = 0; attempt < ENFORCE_ATTEMPTS; attempt++) {
    const state = await deps.revocations.state();
    const enforcement = await deps.liveSessions.enforce(state.revocations, deps.clock.now());
    if ((await deps.revocations.generation()) !== state.generation) continue;
    await deps.revocations.markEnforced(state.generation);
    return {
      mode: enforcement.mode,
      accounts: enforcement.accounts,
      ...(enforcement.cutoff === undefined ? {} : { cutoff: enforcement.cutoff }),
    };
  }
  throw new UpstreamUnavailableError('revocation_state_changing');
}

/**
 * The change is stored (re-issue already refused); the policy rewrite may still fail. Then the record says so and
 * the admin gets 503: repeating the call is safe (the same revocation is answered, and the rewrite runs again).
 */
async function enforceOrRecord(deps: RevocationsDeps, record: AuditRecord): Promise<LiveSessions> {
  try {
    const liveSessions = await enforceLiveSessions(deps);
    record.revocation = { ...record.revocation, liveSessions: { ...liveSessions } };
    return liveSessions;
  } catch (error) {
    record.revocation = { ...record.revocation, liveSessions: 'failed' };
    const reason = isKeyvendError(error) && error.reason === 'revocation_state_changing' ? error.reason : 'revocation_policy_unavailable';
    // The change itself happened: it is recorded as allowed, with the policy rewrite marked failed.
    await recordAllowed(deps, record);
    throw new UpstreamUnavailableError(reason, { cause: error });
  }
}

async function recordAllowed(deps: RevocationsDeps, record: AuditRecord): Promise<void> {
  record.outcome = 'granted';
  try {
    await writeAudit((r) => deps.audit.record(r), record);
  } catch (auditError) {
    throw new UpstreamUnavailableError('audit_unavailable', { cause: auditError });
  }
  deps.log.decision(record);
}

/** Every refusal is one finished record (with the caller once verified); an audit failure after the change is logged as an alarm. */
async function refused(deps: RevocationsDeps, record: AuditRecord, error: unknown): Promise<unknown> {
  if (record.outcome === 'granted') {
    // Either recorded already (a failed policy rewrite) or the record itself failed after the change: alarm then.
    if (isKeyvendError(error) && error.reason === 'audit_unavailable') deps.log.alarm('admin_action_not_audited', record, error);
    return error;
  }
  return recordDenial(deps, record, asKeyvendError(error));
}
