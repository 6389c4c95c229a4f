import { brokerTokenSubject } from './broker-token.ts';
import { type DurationCeiling, durationCeiling, resolveDuration } from './duration.ts';
import type { Entitlement } from './entitlement.ts';
import { InternalError, KeyvendError, NotEntitledError } from './errors.ts';
import { POLICY_SAFE_PATTERN } from './identifiers.ts';
import type { Principal } from './principal.ts';
import { assertPackedSizeFits, federationNameFor, type SessionTag, sessionIdentityFor } from './session-identity.ts';
import { MissingPolicyVariableError, PolicyTemplateError, type RenderedPolicy, renderSessionPolicy } from './session-policy.ts';
import type { VendingPath } from './vending-path.ts';

/** What decides a session besides the entitlement and the caller: the broker's own settings. */
export interface SessionSettings {
  /** The broker calls AssumeRole with a role session's credentials, so STS caps sessions at an hour. */
  readonly roleChaining: boolean;
  /** Defence in depth: a target role outside this list is refused even if an entitlement names it. */
  readonly isAllowedRole: (roleArn: string) => boolean;
}

/**
 * Everything STS will be asked for one grant, decided before any call and without I/O: the one step that both a
 * grant (issue-credentials.ts) and an explanation (explain.ts) take, so what Keyvend says a caller would get is,
 * field by field, what it then asks STS for. Throws the grant's own denial when the caller does not fit.
 */
export interface SessionDecision {
  readonly vending: VendingPath;
  /** The target role, or for federation tokens the IAM user whose permissions the session narrows. */
  readonly roleArn: string;
  /** The session name, or the federated user's name for federation tokens. */
  readonly roleSessionName: string;
  /** Undefined for federation tokens (GetFederationToken has none). */
  readonly sourceIdentity: string | undefined;
  readonly tags: readonly SessionTag[];
  readonly transitiveTagKeys: readonly string[];
  /** keyvend-issuer: the broker token's `sub`, which the target role's trust policy pins and CloudTrail records. */
  readonly tokenSubject: string | undefined;
  readonly externalIdSet: boolean;
  readonly durationSeconds: number;
  readonly durationCeiling: DurationCeiling;
  /** Undefined when the entitlement has only managed policy ARNs. */
  readonly policy: RenderedPolicy | undefined;
  readonly policyArns: readonly string[];
  readonly packedPolicyEstimatePercent: number;
}

/**
 * The checks and their order are the grant's: the role allow-list, the caller's tags (a missing claim refuses), the
 * federation user, the duration, the rendered policy, and STS's packed-size estimate.
 */
export function decideSession(
  entitlement: Entitlement,
  principal: Principal,
  grantId: string,
  requestedDurationSeconds: unknown,
  settings: SessionSettings,
): SessionDecision {
  const vending = entitlement.vending;
  if (vending !== 'federation-token' && !settings.isAllowedRole(entitlement.roleArn)) {
    throw new InternalError('role_not_in_broker_allow_list');
  }
  const identity = sessionIdentityFor(principal, entitlement, grantId);
  if (vending === 'federation-token' && entitlement.federationUser === undefined) throw new InternalError('federation_user_missing');
  const limits = {
    maxDurationSeconds: entitlement.maxDurationSeconds,
    defaultDurationSeconds: entitlement.defaultDurationSeconds,
    roleChaining: settings.roleChaining,
    vending,
  };
  const durationSeconds = resolveDuration(requestedDurationSeconds, limits);
  const policy = renderPolicyFor(entitlement, principal);
  if (policy === undefined && entitlement.managedPolicyArns.length === 0) throw new InternalError('no_session_policy');
  const packedPolicyEstimatePercent = assertPackedSizeFits(policy?.json.length ?? 0, identity.tags);
  const federation = vending === 'federation-token';
  return {
    vending,
    roleArn: entitlement.roleArn,
    // GetFederationToken has no SourceIdentity and no transitive keys: the session is named by its Name and tags.
    roleSessionName: federation ? federationNameFor(principal) : identity.roleSessionName,
    sourceIdentity: federation ? undefined : identity.sourceIdentity,
    tags: identity.tags,
    transitiveTagKeys: federation ? [] : identity.transitiveTagKeys,
    tokenSubject: vending === 'keyvend-issuer' ? brokerTokenSubject(entitlement.id, principal.userKey) : undefined,
    externalIdSet: vending === 'assume-role' && entitlement.externalId !== undefined,
    durationSeconds,
    durationCeiling: durationCeiling(limits),
    policy,
    policyArns: entitlement.managedPolicyArns,
    packedPolicyEstimatePercent,
  };
}

/** The entitlement's session policy filled in for this caller, exactly as sent to STS; undefined without a template. */
export function renderPolicyFor(entitlement: Entitlement, principal: Principal): RenderedPolicy | undefined {
  if (entitlement.sessionPolicy === undefined) return undefined;
  try {
    return renderSessionPolicy(entitlement.sessionPolicy, {
      userKey: principal.userKey,
      issuerId: principal.issuerId,
      // The subject enters a policy only when it fits the policy-safe grammar; a template that uses it
      // then fails for everyone else rather than producing a wider policy.
      subject: POLICY_SAFE_PATTERN.test(principal.subject) ? principal.subject : undefined,
    });
  } catch (error) {
    if (error instanceof KeyvendError) throw error;
    if (error instanceof MissingPolicyVariableError && error.variable === 'subject') {
      throw new NotEntitledError('subject_not_policy_safe', { cause: error });
    }
    if (error instanceof PolicyTemplateError) throw new InternalError('policy_render_failed', { cause: error });
    throw error;
  }
}
