import { resolveDuration } from '../domain/duration.ts';
import { ENTITLEMENT_ID_PATTERN, POLICY_SAFE_PATTERN, sha256Hex } from '../domain/identifiers.ts';
import type { Entitlement, Output } from '../domain/entitlement.ts';
import { InternalError, InvalidRequestError, InvalidSamlResponseError, KeyvendError, NotEntitledError, UpstreamUnavailableError } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import { AWS_SAML_AUDIENCE } from '../domain/saml.ts';
import { assertPackedSizeFits, sessionIdentityFor } from '../domain/session-identity.ts';
import { MissingPolicyVariableError, PolicyTemplateError, type RenderedPolicy, renderSessionPolicy } from '../domain/session-policy.ts';
import type {
  AuditLog,
  CallerCredential,
  Clock,
  CredentialIssuer,
  DecisionLog,
  EntitlementStore,
  IdentityVerifier,
  IssuedCredentials,
  SamlVerification,
  SamlVerifier,
} from '../ports/index.ts';
import { asKeyvendError, callerOf, newAuditRecord, recordDenial } from './audit-trail.ts';
import type { RequestContext } from './request-context.ts';

export interface IssueCredentialsDeps {
  readonly verifier: IdentityVerifier;
  /** Absent when no SAML IdP is configured: a SAML response is then refused like an unknown issuer. */
  readonly samlVerifier?: SamlVerifier | undefined;
  readonly entitlements: EntitlementStore;
  readonly credentials: CredentialIssuer;
  readonly audit: AuditLog;
  readonly log: DecisionLog;
  readonly clock: Clock;
  readonly settings: {
    /** The broker calls AssumeRole with a role session's credentials, so STS caps sessions at an hour. */
    readonly roleChaining: boolean;
    /** Defence in depth: a target role outside this list is refused even if an entitlement names it. */
    readonly isAllowedRole: (roleArn: string) => boolean;
  };
}

export interface IssueCredentialsInput {
  readonly authorization?: string | undefined;
  /** How the caller authenticates; without it, the `authorization` header as a bearer token. */
  readonly credential?: CallerCredential;
  /** A request refused before any identity is verified (e.g. two credentials at once): audited, no caller. */
  readonly refusal?: KeyvendError;
  readonly entitlement: unknown;
  readonly durationSeconds: unknown;
  readonly output: Output;
  readonly context: RequestContext;
  /** A problem the HTTP layer found in the request; it is audited once the caller is known. */
  readonly rejection?: KeyvendError;
}

export interface CredentialGrant {
  readonly grantId: string;
  readonly entitlement: Entitlement;
  readonly principal: Principal;
  readonly credentials: IssuedCredentials;
  readonly durationSeconds: number;
  readonly roleSessionName: string;
  readonly sourceIdentity: string;
}

/**
 * Issues credentials for one entitlement to one verified caller, and audits the decision either way.
 *
 * Order matters: the pending audit record is written (in parallel with the entitlement read) before STS is
 * called, so a grant can never exist without a record; the record is closed as granted before the
 * credentials are returned, and if that fails they are withheld. Every failure before STS issues nothing.
 */
export function makeIssueCredentials(deps: IssueCredentialsDeps) {
  return async function issueCredentials(input: IssueCredentialsInput): Promise<CredentialGrant> {
    const record = newAuditRecord(input.output === 'console' ? 'console' : 'credentials', input.context, deps.clock);
    const requested = typeof input.entitlement === 'string' ? input.entitlement.slice(0, 64) : undefined;
    if (requested !== undefined) record.entitlement = { id: requested };

    let principal: Principal;
    let saml: SamlVerification | undefined;
    try {
      if (input.refusal !== undefined) throw input.refusal;
      ({ principal, saml } = await identify(deps, input.credential ?? { kind: 'bearer', authorization: input.authorization }));
    } catch (error) {
      const denial = asKeyvendError(error);
      if (denial instanceof InvalidSamlResponseError && denial.principal !== undefined) record.caller = callerOf(denial.principal);
      else if (input.credential?.kind === 'saml') record.credentialRef = `sha256:${sha256Hex(input.credential.samlResponse.reveal())}`;
      throw await recordDenial(deps, record, denial, false);
    }
    record.caller = callerOf(principal);

    let opened = false;
    try {
      if (input.rejection !== undefined) throw input.rejection;
      if (saml?.audience === AWS_SAML_AUDIENCE) throw new NotEntitledError('saml_assertion_for_aws');
      const entitlementId = validateEntitlementId(input.entitlement);
      const [openResult, lookupResult] = await Promise.allSettled([
        deps.audit.open(record),
        deps.entitlements.findGranted(principal, entitlementId),
      ]);
      if (openResult.status === 'rejected') {
        throw new UpstreamUnavailableError('audit_unavailable', { cause: openResult.reason });
      }
      opened = true;
      if (lookupResult.status === 'rejected') throw asUpstream(lookupResult.reason, 'entitlements_unavailable');
      const entitlement = lookupResult.value;
      if (entitlement === undefined) throw new NotEntitledError('no_matching_entitlement');
      record.entitlement = { id: entitlement.id, version: entitlement.version };
      if (!entitlement.outputs.includes(input.output)) throw new NotEntitledError('output_not_allowed');
      if (!deps.settings.isAllowedRole(entitlement.roleArn)) throw new InternalError('role_not_in_broker_allow_list');

      const durationSeconds = resolveDuration(input.durationSeconds, {
        maxDurationSeconds: entitlement.maxDurationSeconds,
        defaultDurationSeconds: entitlement.defaultDurationSeconds,
        roleChaining: deps.settings.roleChaining,
      });
      const identity = sessionIdentityFor(principal, entitlement);
      const policy = renderPolicyFor(entitlement, principal);
      const packedEstimate = assertPackedSizeFits(policy?.json.length ?? 0, identity.tags);
      record.session = {
        roleArn: entitlement.roleArn,
        roleSessionName: identity.roleSessionName,
        sourceIdentity: identity.sourceIdentity,
        tags: identity.tags,
        transitiveTagKeys: identity.transitiveTagKeys,
        ...(policy === undefined ? {} : { policySha256: policy.sha256 }),
        policyArns: entitlement.managedPolicyArns,
        externalIdSet: entitlement.externalId !== undefined,
        durationSeconds,
        packedPolicyEstimatePercent: packedEstimate,
      };

      const credentials = await deps.credentials.assumeRole({
        roleArn: entitlement.roleArn,
        roleSessionName: identity.roleSessionName,
        sourceIdentity: identity.sourceIdentity,
        durationSeconds,
        policy: policy?.json,
        policyArns: entitlement.managedPolicyArns,
        tags: identity.tags,
        transitiveTagKeys: identity.transitiveTagKeys,
        externalId: entitlement.externalId,
      });
      Object.assign(record.session, {
        accessKeyId: credentials.accessKeyId,
        assumedRoleArn: credentials.assumedRoleArn,
        expiration: credentials.expiration.toISOString(),
        ...(credentials.packedPolicySize === undefined ? {} : { packedPolicySize: credentials.packedPolicySize }),
        ...(credentials.stsRequestId === undefined ? {} : { stsRequestId: credentials.stsRequestId }),
      });
      record.outcome = 'granted';
      record.delivery = { type: input.output === 'console' ? 'console_url' : 'credentials', delivered: true };

      try {
        await deps.audit.close(record);
      } catch (auditError) {
        record.outcome = 'minted_not_delivered';
        record.reason = 'audit_write_failed';
        record.delivery = { type: record.delivery.type, delivered: false };
        deps.log.alarm('minted_not_delivered', record, auditError);
        throw new UpstreamUnavailableError('audit_unavailable', { cause: auditError });
      }
      deps.log.decision(record);
      return {
        grantId: record.eventId,
        entitlement,
        principal,
        credentials,
        durationSeconds,
        roleSessionName: identity.roleSessionName,
        sourceIdentity: identity.sourceIdentity,
      };
    } catch (error) {
      if (record.outcome === 'minted_not_delivered') throw error;
      throw await recordDenial(deps, record, asKeyvendError(error), opened);
    }
  };
}

async function identify(
  deps: Pick<IssueCredentialsDeps, 'verifier' | 'samlVerifier'>,
  credential: CallerCredential,
): Promise<{ principal: Principal; saml?: SamlVerification }> {
  if (credential.kind === 'bearer') return { principal: await deps.verifier.verifyBearer(credential.authorization) };
  if (deps.samlVerifier === undefined) throw new InvalidSamlResponseError('saml_not_configured');
  const saml = await deps.samlVerifier.verifySamlResponse(credential.samlResponse);
  return { principal: saml.principal, saml };
}

function validateEntitlementId(value: unknown): string {
  if (typeof value !== 'string' || !ENTITLEMENT_ID_PATTERN.test(value)) {
    throw new InvalidRequestError('entitlement must be an entitlement id (1-63 of [a-z0-9-]).');
  }
  return value;
}

function renderPolicyFor(entitlement: Entitlement, principal: Principal): RenderedPolicy | undefined {
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

function asUpstream(error: unknown, reason: string): KeyvendError {
  return error instanceof KeyvendError ? error : new UpstreamUnavailableError(reason, { cause: error });
}
