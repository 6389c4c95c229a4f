import { type AdminRule, isAdmin } from '../domain/admins.ts';
import type { Entitlement, Output } from '../domain/entitlement.ts';
import { asKeyvendError, ForbiddenError, InvalidRequestError, KeyvendError, UpstreamUnavailableError } from '../domain/errors.ts';
import { deriveUserKey, ENTITLEMENT_ID_PATTERN, ISSUER_ID_PATTERN } from '../domain/identifiers.ts';
import type { Principal } from '../domain/principal.ts';
import type { RequestContext } from '../domain/request-context.ts';
import { decideSession, type SessionSettings } from '../domain/session-plan.ts';
import type { AuditLog, Clock, DecisionLog, EntitlementStore, GrantLookup, GrantMatch, IdentityVerifier } from '../ports/index.ts';
import { callerOf, newAuditRecord, recordDenial, writeAudit } from './audit-trail.ts';

/**
 * What stands in for the grant id in an explanation: each grant's id is its audit record's event id, made when
 * the grant is asked for. Same length as a real one, so the packed-size estimate is the grant's.
 */
export const GRANT_ID_PLACEHOLDER = 'xxxxxxxx-xxxx-7xxx-xxxx-xxxxxxxxxxxx';

/** Said in every explanation that has a session: what the broker can and cannot see. */
export const ROLE_POLICY_NOTE =
  "The session gets at most the intersection of this session policy (and managed policies) with the role's own permission policy; the role's policy, permission boundary, SCPs and resource policies are outside the broker's view.";

/** An identity provider as configured: what an admin names by id to explain for someone else. */
export interface KnownIdentityProvider {
  readonly id: string;
  /** The `iss` (OIDC) or entity id (SAML) a userKey is derived from. */
  readonly issuer: string;
  readonly idpType: 'oidc' | 'saml';
}

export interface ExplainDeps {
  readonly verifier: IdentityVerifier;
  readonly entitlements: EntitlementStore;
  readonly settings: SessionSettings & { readonly brokerIssuerConfigured: boolean };
  readonly admins: readonly AdminRule[];
  readonly identityProviders: readonly KnownIdentityProvider[];
  /** Explaining for someone else is an admin action, audited either way; absent: only callers' own explanations. */
  readonly audit?: { readonly log: AuditLog; readonly decisions: DecisionLog; readonly clock: Clock };
}

/** Whom an admin explains for: an identity provider's id, a subject, and the groups and claims to assume. */
export interface ExplainSubject {
  readonly issuer: unknown;
  readonly subject: unknown;
  readonly groups?: unknown;
  readonly attributes?: unknown;
}

export interface ExplainInput {
  readonly authorization: string | undefined;
  readonly entitlement: unknown;
  readonly output?: unknown;
  /** Present only when an admin explains for someone else. */
  readonly for?: ExplainSubject;
  readonly context: RequestContext;
}

interface ExplainedPrincipal {
  readonly issuerId: string;
  readonly subject: string;
  readonly userKey: string;
  readonly groups: readonly string[];
}

export interface ExplainedSession {
  readonly vending: string;
  readonly roleArn: string;
  readonly roleSessionName: string;
  readonly sourceIdentity?: string;
  /** keyvend-issuer: the `sub` of the token the broker mints (what the role's trust policy pins, what CloudTrail records). */
  readonly tokenSubject?: string;
  readonly tags: readonly { readonly Key: string; readonly Value: string }[];
  readonly transitiveTagKeys: readonly string[];
  /** For a request without durationSeconds; asking for more gives at most maxDurationSeconds. */
  readonly durationSeconds: number;
  readonly maxDurationSeconds: number;
  readonly maxDurationLimitedBy: string;
  readonly entitlementMaxDurationSeconds: number;
  readonly vendingPathMaxDurationSeconds: number;
  /** The session policy exactly as sent to STS (its JSON text), or absent when only managed policies apply. */
  readonly sessionPolicy?: string;
  readonly sessionPolicySha256?: string;
  readonly managedPolicyArns: readonly string[];
  readonly externalIdSet: boolean;
  readonly packedPolicyEstimatePercent: number;
}

export type Explanation =
  | {
      readonly entitlement: string;
      readonly output: Output;
      readonly principal: ExplainedPrincipal;
      readonly entitled: true;
      readonly description: string;
      readonly grantedBy: readonly GrantMatch[];
      readonly outputs: readonly Output[];
      readonly session: ExplainedSession;
      readonly grantIdPlaceholder: string;
      readonly note: string;
    }
  | {
      readonly entitlement: string;
      readonly output: Output;
      readonly principal: ExplainedPrincipal;
      readonly entitled: false;
      /** The denial's reason, as a grant's audit record would give it. */
      readonly reason: string;
      readonly why: string;
      readonly grantedBy: readonly GrantMatch[];
    };

const WHY: Readonly<Record<string, string>> = {
  no_grant: 'No grant of this entitlement names this subject or any of these groups under this identity provider.',
  no_such_entitlement: 'No entitlement has this id.',
  output_not_allowed: 'The entitlement is granted, but not for this output.',
  tag_claim_missing: 'A session tag of this entitlement comes from a claim the caller does not have.',
  subject_not_policy_safe: 'The session policy uses {{subject}}, and this subject does not fit the policy-safe grammar.',
  role_not_in_broker_allow_list: "The entitlement's role is outside the broker's allow-list (KEYVEND_ALLOWED_ROLE_ARNS).",
  broker_issuer_not_configured: 'The entitlement vends through keyvend-issuer, which this deployment has not configured.',
  revoked: 'An admin revoked this person or this entitlement (GET /v1/admin/revocations); un-revoking restores it.',
};

/**
 * Exactly what a caller would get for one entitlement, computed with the grant's own steps (the store's grant read,
 * the output check, decideSession) and without calling STS or KMS. A caller explains for themselves (unaudited: it
 * grants nothing, like listing entitlements); an admin may explain for anyone, audited whether allowed or refused.
 */
export function makeExplain(deps: ExplainDeps) {
  const explainAs = makeExplainAs(deps);
  return async function explain(input: ExplainInput): Promise<Explanation> {
    const caller = await deps.verifier.verifyBearer(input.authorization);
    return explainAs(caller, input);
  };
}

/** The same, for a caller the broker already verified (a portal session). */
export function makeExplainAs(deps: Omit<ExplainDeps, 'verifier'>) {
  return async function explainAs(caller: Principal, input: Omit<ExplainInput, 'authorization'>): Promise<Explanation> {
    if (input.for === undefined) return explainFor(deps, caller, input, false);
    const audit = deps.audit;
    if (audit === undefined)
      throw new InvalidRequestError('Explaining for someone else is POST /v1/explain.', { reason: 'unknown_fields' });
    const record = newAuditRecord('explain', input.context, audit.clock);
    record.caller = callerOf(caller);
    if (typeof input.entitlement === 'string') record.entitlement = { id: input.entitlement.slice(0, 64) };
    const auditDeps = { audit: audit.log, log: audit.decisions };
    try {
      if (!isAdmin(caller, deps.admins)) throw new ForbiddenError('not_admin');
      const principal = principalToExplain(deps, input.for);
      record.query = { issuer: principal.issuerId, subject: principal.subject };
      const explanation = await explainFor(deps, principal, input, true);
      record.outcome = 'granted';
      await writeAudit((r) => audit.log.record(r), record).catch((error: unknown) => {
        throw new UpstreamUnavailableError('audit_unavailable', { cause: error });
      });
      audit.decisions.decision(record);
      return explanation;
    } catch (error) {
      const failure = asKeyvendError(error);
      if (record.outcome === 'granted' || failure.reason === 'audit_unavailable') throw failure;
      throw await recordDenial(auditDeps, record, failure);
    }
  };
}

async function explainFor(
  deps: Omit<ExplainDeps, 'verifier'>,
  principal: Principal,
  input: Omit<ExplainInput, 'authorization'>,
  asAdmin: boolean,
): Promise<Explanation> {
  const entitlementId = input.entitlement;
  if (typeof entitlementId !== 'string' || !ENTITLEMENT_ID_PATTERN.test(entitlementId)) {
    throw new InvalidRequestError('entitlement must be an entitlement id (1-63 of [a-z0-9-]).');
  }
  const output = input.output ?? 'credentials';
  if (output !== 'credentials' && output !== 'console') throw new InvalidRequestError('output is credentials or console.');
  const who: ExplainedPrincipal = {
    issuerId: principal.issuerId,
    subject: principal.subject,
    userKey: principal.userKey,
    groups: principal.groups,
  };
  let lookup: GrantLookup;
  try {
    lookup = await deps.entitlements.lookupGrant(principal, entitlementId);
  } catch (error) {
    if (error instanceof KeyvendError) throw error;
    throw new UpstreamUnavailableError('entitlements_unavailable', { cause: error });
  }
  const refuse = (reason: string): Explanation => ({
    entitlement: entitlementId,
    output,
    principal: who,
    entitled: false,
    reason,
    why: WHY[reason] ?? 'A grant would be refused before STS is called.',
    grantedBy: lookup.grantedBy,
  });
  const entitlement = lookup.definition;
  // A caller cannot tell an entitlement that does not exist from one they lack (as for a grant); an admin can.
  if (entitlement === undefined) return refuse(asAdmin ? 'no_such_entitlement' : 'no_grant');
  if (lookup.grantedBy.length === 0) return refuse('no_grant');
  if (lookup.revoked !== undefined) return refuse('revoked');
  if (!entitlement.outputs.includes(output)) return refuse('output_not_allowed');
  try {
    if (entitlement.vending === 'keyvend-issuer' && !deps.settings.brokerIssuerConfigured) return refuse('broker_issuer_not_configured');
    return {
      entitlement: entitlementId,
      output,
      principal: who,
      entitled: true,
      description: entitlement.description,
      grantedBy: lookup.grantedBy,
      outputs: entitlement.outputs,
      session: explainSession(entitlement, principal, deps.settings),
      grantIdPlaceholder: GRANT_ID_PLACEHOLDER,
      note: ROLE_POLICY_NOTE,
    };
  } catch (error) {
    if (error instanceof KeyvendError && error.httpStatus < 500) return refuse(error.reason);
    if (error instanceof KeyvendError && asAdmin) return refuse(error.reason);
    throw error;
  }
}

function explainSession(entitlement: Entitlement, principal: Principal, settings: SessionSettings): ExplainedSession {
  const d = decideSession(entitlement, principal, GRANT_ID_PLACEHOLDER, undefined, settings);
  return {
    vending: d.vending,
    roleArn: d.roleArn,
    roleSessionName: d.roleSessionName,
    ...(d.sourceIdentity === undefined ? {} : { sourceIdentity: d.sourceIdentity }),
    ...(d.tokenSubject === undefined ? {} : { tokenSubject: d.tokenSubject }),
    tags: d.tags,
    transitiveTagKeys: d.transitiveTagKeys,
    durationSeconds: d.durationSeconds,
    maxDurationSeconds: d.durationCeiling.seconds,
    maxDurationLimitedBy: d.durationCeiling.limitedBy,
    entitlementMaxDurationSeconds: d.durationCeiling.entitlementMaxSeconds,
    vendingPathMaxDurationSeconds: d.durationCeiling.vendingPathMaxSeconds,
    ...(d.policy === undefined ? {} : { sessionPolicy: d.policy.json, sessionPolicySha256: d.policy.sha256 }),
    managedPolicyArns: d.policyArns,
    externalIdSet: d.externalIdSet,
    packedPolicyEstimatePercent: d.packedPolicyEstimatePercent,
  };
}

const GROUP_PATTERN = /^[\x21-\x7e][\x20-\x7e]{0,255}$/;
const CLAIM_VALUE_PATTERN = /^[A-Za-z0-9 _.:/=+@-]{0,256}$/;

/**
 * The principal an admin names: a configured identity provider's id and a subject (the userKey is derived from them
 * exactly as at sign-in), with the groups and tag claims to assume. Each is checked; nothing else is accepted.
 */
function principalToExplain(deps: Pick<ExplainDeps, 'identityProviders'>, subjectOf: ExplainSubject): Principal {
  const { issuer, subject, groups = [], attributes = {} } = subjectOf;
  if (typeof issuer !== 'string' || !ISSUER_ID_PATTERN.test(issuer))
    throw new InvalidRequestError('issuer must be an identity provider id.');
  const idp = deps.identityProviders.find((known) => known.id === issuer);
  if (idp === undefined) throw new InvalidRequestError('issuer names no configured identity provider.', { reason: 'unknown_issuer' });
  if (typeof subject !== 'string' || subject.length === 0 || subject.length > 256) {
    throw new InvalidRequestError('subject must be 1-256 characters.');
  }
  if (!Array.isArray(groups) || groups.length > 100 || !groups.every((g) => typeof g === 'string' && GROUP_PATTERN.test(g))) {
    throw new InvalidRequestError('groups must be a list of at most 100 group names.');
  }
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    throw new InvalidRequestError('attributes must be an object of claim names to values.');
  }
  const claims = Object.entries(attributes);
  if (
    claims.length > 40 ||
    !claims.every(([name, value]) => /^[A-Za-z0-9_:./-]{1,128}$/.test(name) && typeof value === 'string' && CLAIM_VALUE_PATTERN.test(value))
  ) {
    throw new InvalidRequestError('attributes must map at most 40 claim names to tag-safe values.');
  }
  return {
    idpType: idp.idpType,
    issuerId: idp.id,
    issuer: idp.issuer,
    subject,
    userKey: deriveUserKey(idp.issuer, subject),
    groups: groups as string[],
    attributes: Object.fromEntries(claims) as Record<string, string>,
    auth: { issuedAt: 0, expiresAt: 0, tokenRef: 'explain' },
  };
}
