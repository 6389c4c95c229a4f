import { resolveDuration } from '../domain/duration.ts';
import { ENTITLEMENT_ID_PATTERN, POLICY_SAFE_PATTERN, sha256Hex } from '../domain/identifiers.ts';
import type { AuditRecord } from '../domain/audit-record.ts';
import type { Entitlement, Output } from '../domain/entitlement.ts';
import {
  asKeyvendError,
  InternalError,
  InvalidRequestError,
  InvalidSamlResponseError,
  KeyvendError,
  NotEntitledError,
  UpstreamUnavailableError,
} from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import type { Secret } from '../domain/secret.ts';
import { assertPackedSizeFits } from '../domain/session-identity.ts';
import { MissingPolicyVariableError, PolicyTemplateError, type RenderedPolicy, renderSessionPolicy } from '../domain/session-policy.ts';
import type {
  AuditLog,
  CachedSession,
  CallerCredential,
  Clock,
  CredentialCache,
  CredentialIssuer,
  DecisionLog,
  EntitlementStore,
  IdentityVerifier,
  IssuedCredentials,
  SamlVerifier,
} from '../ports/index.ts';
import { callerOf, newAuditRecord, recordDenial, writeAudit } from './audit-trail.ts';
import type { RequestContext } from '../domain/request-context.ts';
import { sessionCacheKey } from './session-reuse.ts';
import { type BrokerIssuer, planVending, type VendingPlan } from './vending.ts';

export interface IssueCredentialsDeps {
  readonly verifier: IdentityVerifier;
  /** Absent when no SAML IdP is configured: a SAML response is then refused like an unknown issuer. */
  readonly samlVerifier?: SamlVerifier | undefined;
  /** The API's ACS (`KEYVEND_SAML_ACS_URL`): what Destination and Recipient must name on this path. */
  readonly samlAcsUrl?: string | undefined;
  readonly entitlements: EntitlementStore;
  readonly credentials: CredentialIssuer;
  /** The broker as an OIDC issuer (keyvend-issuer entitlements); absent when not configured. */
  readonly brokerIssuer: BrokerIssuer | undefined;
  readonly audit: AuditLog;
  readonly log: DecisionLog;
  readonly clock: Clock;
  /**
   * Sessions already minted, served again to the same caller for the same request (`credentials` output only;
   * docs/adr/0013-credential-cache.md). Absent: every request mints its own session.
   */
  readonly cache?: CredentialCache | undefined;
  readonly settings: {
    /** The broker calls AssumeRole with a role session's credentials, so STS caps sessions at an hour. */
    readonly roleChaining: boolean;
    /** Defence in depth: a target role outside this list is refused even if an entitlement names it. */
    readonly isAllowedRole: (roleArn: string) => boolean;
  };
}

/**
 * Who is asking. `bearer` and `saml` are credentials the use case verifies itself; `verified` is a caller the
 * broker already authenticated (a portal session), whose principal is taken as it is.
 */
export type Caller = CallerCredential | { readonly kind: 'verified'; readonly principal: Principal };

/**
 * A problem found in the request before the use case ran (a body that did not parse, a form without its CSRF
 * token). It is always a denial; what differs is who the audit record names. `with-verified-caller`: the caller is
 * authenticated first and the denial names them (no pending record, no STS). `without-caller`: there is no one
 * caller to verify, so it is refused before any identity is verified and audited without a caller.
 */
export interface RequestProblem {
  readonly error: KeyvendError;
  readonly audited: 'with-verified-caller' | 'without-caller';
}

export interface IssueCredentialsInput {
  readonly caller: Caller;
  readonly entitlement: unknown;
  readonly durationSeconds: unknown;
  readonly output: Output;
  readonly context: RequestContext;
  readonly requestProblem?: RequestProblem;
  /** How the credentials are delivered when they are not returned as they are (a console sign-in URL). */
  readonly delivery?: Delivery;
}

export interface Delivery {
  /** Refuses the request for this entitlement before STS is called (e.g. a destination of another partition). */
  check(entitlement: Entitlement): void;
  /**
   * Turns the minted credentials into what is delivered, before the grant is recorded. If it throws,
   * nothing is delivered and the record says `minted_not_delivered`.
   */
  deliver(minted: { credentials: IssuedCredentials; entitlement: Entitlement; durationSeconds: number }): Promise<Secret>;
}

export interface CredentialGrant {
  readonly grantId: string;
  readonly entitlement: Entitlement;
  readonly principal: Principal;
  readonly credentials: IssuedCredentials;
  readonly durationSeconds: number;
  /** The session name, or the federated user's name for federation tokens. */
  readonly roleSessionName: string;
  /** Absent for federation tokens (GetFederationToken has none). */
  readonly sourceIdentity: string | undefined;
  /** What `delivery` made of the credentials, when it was given. */
  readonly delivered?: Secret;
}

/**
 * How a problem in a POST /v1/credentials request is audited. With a bearer token the caller can be verified
 * first, so the denial names who sent it. Without one (the SAML response travels in the body that did not parse)
 * there is no identity to verify, and with a bearer token and a SAML response at once there is no one caller to
 * believe: both are refused before any identity is verified, and audited without a caller.
 */
export function credentialsRequestProblem(error: KeyvendError, authorization: string | undefined): RequestProblem {
  const oneBearer = authorization !== undefined && authorization !== '' && error.reason !== 'ambiguous_credentials';
  return { error, audited: oneBearer ? 'with-verified-caller' : 'without-caller' };
}

/**
 * Issues credentials for one entitlement to one verified caller, and audits the decision either way.
 *
 * Order matters: the pending audit record is written (in parallel with the entitlement read) before STS is
 * called, so a grant can never exist without a record; the record is closed as granted before the
 * credentials are returned, and if that fails they are withheld. With a credential cache, a request for a
 * session already minted for the same caller and request is served it instead of calling STS, after the same
 * authentication, entitlement and revocation read, and with its own record naming the reused grant. Every failure before STS issues nothing, and
 * every failure after the pending write closes it as denied (unless credentials were minted: `minted_not_delivered`).
 */
export function makeIssueCredentials(deps: IssueCredentialsDeps) {
  return async function issueCredentials(input: IssueCredentialsInput): Promise<CredentialGrant> {
    const trail = startTrail(input, deps.clock);
    const principal = await authenticate(deps, input, trail);
    try {
      const entitlementId = checkRequest(input);
      const entitlement = await authorise(deps, trail, principal, entitlementId, input.output);
      const plan = planSession(deps, trail, principal, entitlement, input);
      const cacheKey = reusableKey(deps, input, principal, entitlement, plan);
      const reused = cacheKey === undefined ? undefined : reuse(deps, trail, principal, cacheKey);
      const credentials = reused ?? (await mint(plan, trail));
      const delivered = await deliver(deps, trail, input, { credentials, entitlement, durationSeconds: plan.durationSeconds });
      await recordGrant(deps, trail, input.output);
      if (cacheKey !== undefined && reused === undefined) keep(deps, trail, principal, cacheKey, credentials);
      return {
        grantId: trail.record.eventId,
        entitlement,
        principal,
        credentials,
        durationSeconds: plan.durationSeconds,
        roleSessionName: plan.vending.roleSessionName,
        sourceIdentity: plan.vending.sourceIdentity,
        ...(delivered === undefined ? {} : { delivered }),
      };
    } catch (error) {
      if (trail.record.outcome === 'minted_not_delivered') throw error;
      throw await recordDenial(deps, trail.record, asKeyvendError(error), trail.opened);
    }
  };
}

/** The audit record of one request, and whether its pending version is stored (a denial then closes it). */
interface Trail {
  readonly record: AuditRecord;
  opened: boolean;
}

/** A session fully decided before any call: the path's plan, its duration and its policy. */
interface SessionPlan {
  readonly vending: VendingPlan;
  readonly durationSeconds: number;
  readonly policy: RenderedPolicy | undefined;
  readonly policyArns: readonly string[];
}

function startTrail(input: IssueCredentialsInput, clock: Clock): Trail {
  const record = newAuditRecord(input.output === 'console' ? 'console' : 'credentials', input.context, clock);
  const requested = typeof input.entitlement === 'string' ? input.entitlement.slice(0, 64) : undefined;
  if (requested !== undefined) record.entitlement = { id: requested };
  return { record, opened: false };
}

/**
 * Who the caller is. A failure here is a finished denial (`record`): without a caller there is no pending record,
 * and a replayed SAML assertion that verified names who it belonged to.
 */
async function authenticate(deps: IssueCredentialsDeps, input: IssueCredentialsInput, trail: Trail): Promise<Principal> {
  const { caller } = input;
  let principal: Principal;
  try {
    if (input.requestProblem?.audited === 'without-caller') throw input.requestProblem.error;
    principal = caller.kind === 'verified' ? caller.principal : await identify(deps, caller);
  } catch (error) {
    const denial = asKeyvendError(error);
    if (denial instanceof InvalidSamlResponseError && denial.principal !== undefined) trail.record.caller = callerOf(denial.principal);
    else if (caller.kind === 'saml') trail.record.credentialRef = `sha256:${sha256Hex(caller.samlResponse.reveal())}`;
    throw await recordDenial(deps, trail.record, denial, false);
  }
  trail.record.caller = callerOf(principal);
  return principal;
}

/** What is wrong with the request itself, now that the denial can name the caller. */
function checkRequest(input: IssueCredentialsInput): string {
  if (input.requestProblem !== undefined) throw input.requestProblem.error;
  return validateEntitlementId(input.entitlement);
}

/**
 * The pending record is written in parallel with the entitlement read, and both must succeed before anything
 * else: without the pending record nothing is issued. Then the caller must hold the entitlement for this output.
 */
async function authorise(
  deps: IssueCredentialsDeps,
  trail: Trail,
  principal: Principal,
  entitlementId: string,
  output: Output,
): Promise<Entitlement> {
  const [openResult, lookupResult] = await Promise.allSettled([
    writeAudit((r) => deps.audit.open(r), trail.record),
    deps.entitlements.findGranted(principal, entitlementId),
  ]);
  if (openResult.status === 'rejected') {
    throw new UpstreamUnavailableError('audit_unavailable', { cause: openResult.reason });
  }
  trail.opened = true;
  if (lookupResult.status === 'rejected') {
    if (lookupResult.reason instanceof NotEntitledError) deps.cache?.forgetCaller(principal.userKey);
    throw asUpstream(lookupResult.reason, 'entitlements_unavailable');
  }
  const entitlement = lookupResult.value;
  deps.cache?.forgetGrants(entitlement?.revokedGrantIds ?? []);
  if (entitlement === undefined) {
    deps.cache?.forgetCaller(principal.userKey);
    throw new NotEntitledError('no_matching_entitlement');
  }
  trail.record.entitlement = { id: entitlement.id, version: entitlement.version };
  if (!entitlement.outputs.includes(output)) throw new NotEntitledError('output_not_allowed');
  return entitlement;
}

/**
 * Everything about the session, decided before STS: the vending path's plan (allow-listed role, session identity),
 * the delivery's own check, the duration, the rendered policy and the packed-size estimate. The record gains it all.
 */
function planSession(
  deps: IssueCredentialsDeps,
  trail: Trail,
  principal: Principal,
  entitlement: Entitlement,
  input: IssueCredentialsInput,
): SessionPlan {
  const vending = planVending(entitlement, principal, trail.record.eventId, deps);
  input.delivery?.check(entitlement);
  const durationSeconds = resolveDuration(input.durationSeconds, {
    maxDurationSeconds: entitlement.maxDurationSeconds,
    defaultDurationSeconds: entitlement.defaultDurationSeconds,
    roleChaining: deps.settings.roleChaining,
    vending: vending.vending,
  });
  const policy = renderPolicyFor(entitlement, principal);
  if (policy === undefined && entitlement.managedPolicyArns.length === 0) throw new InternalError('no_session_policy');
  const packedEstimate = assertPackedSizeFits(policy?.json.length ?? 0, vending.tags);
  trail.record.session = {
    vending: vending.vending,
    roleArn: entitlement.roleArn,
    roleSessionName: vending.roleSessionName,
    ...(vending.sourceIdentity === undefined ? {} : { sourceIdentity: vending.sourceIdentity }),
    ...(vending.tokenSubject === undefined ? {} : { tokenSubject: vending.tokenSubject }),
    tags: vending.tags,
    transitiveTagKeys: vending.transitiveTagKeys,
    ...(policy === undefined ? {} : { policySha256: policy.sha256 }),
    policyArns: entitlement.managedPolicyArns,
    externalIdSet: vending.externalIdSet,
    durationSeconds,
    packedPolicyEstimatePercent: packedEstimate,
  };
  return { vending, durationSeconds, policy, policyArns: entitlement.managedPolicyArns };
}

/**
 * The cache's key when this request may be served a kept session: a cache is configured, and the credentials are
 * returned as they are. A console sign-in never reuses (docs/adr/0013-credential-cache.md): its URL is made from the
 * session by the federation endpoint on every request anyway, and the console session it opens would outlive the
 * duration this request resolved.
 */
function reusableKey(
  deps: IssueCredentialsDeps,
  input: IssueCredentialsInput,
  principal: Principal,
  entitlement: Entitlement,
  plan: SessionPlan,
): string | undefined {
  if (deps.cache === undefined || input.output !== 'credentials' || input.delivery !== undefined) return undefined;
  return sessionCacheKey({
    principal,
    entitlement,
    vending: plan.vending,
    durationSeconds: plan.durationSeconds,
    policySha256: plan.policy?.sha256,
    policyArns: plan.policyArns,
  });
}

/**
 * A kept session for this caller and request, still with enough life left: no KMS or STS call. The record becomes
 * that session's (its name, `keyvend:grant` tag, AccessKeyId and expiry) and names the grant that minted it.
 */
function reuse(deps: IssueCredentialsDeps, trail: Trail, principal: Principal, key: string): IssuedCredentials | undefined {
  const kept = deps.cache?.find(key, principal.userKey, deps.clock.now());
  if (kept === undefined) return undefined;
  trail.record.session = { ...kept.session, reusedGrantId: kept.grantId };
  return kept.credentials;
}

/** Kept only once its grant is recorded, so every reuse record names a grant record that exists. */
function keep(deps: IssueCredentialsDeps, trail: Trail, principal: Principal, key: string, credentials: IssuedCredentials): void {
  const { session } = trail.record;
  if (session === undefined) return;
  const kept: CachedSession = { grantId: trail.record.eventId, userKey: principal.userKey, credentials, session };
  deps.cache?.keep(key, kept);
}

/** The one STS call (after KMS signs the broker's token on its path). The record gains what identifies the session, never a secret. */
async function mint(plan: SessionPlan, trail: Trail): Promise<IssuedCredentials> {
  const { credentials, tokenKeyId } = await plan.vending.issue({
    durationSeconds: plan.durationSeconds,
    policy: plan.policy?.json,
    policyArns: plan.policyArns,
  });
  trail.record.session = {
    ...trail.record.session,
    ...(tokenKeyId === undefined ? {} : { tokenKeyId }),
    accessKeyId: credentials.accessKeyId,
    assumedRoleArn: credentials.assumedRoleArn,
    expiration: credentials.expiration.toISOString(),
    ...(credentials.packedPolicySize === undefined ? {} : { packedPolicySize: credentials.packedPolicySize }),
    ...(credentials.stsRequestId === undefined ? {} : { stsRequestId: credentials.stsRequestId }),
  };
  return credentials;
}

/**
 * What the delivery makes of the credentials (a console sign-in URL), before the grant is recorded. If it fails,
 * nothing leaves and the record is closed as `minted_not_delivered`, with an alarm.
 */
async function deliver(
  deps: IssueCredentialsDeps,
  trail: Trail,
  input: IssueCredentialsInput,
  minted: { credentials: IssuedCredentials; entitlement: Entitlement; durationSeconds: number },
): Promise<Secret | undefined> {
  const { record } = trail;
  if (input.delivery === undefined) return undefined;
  try {
    return await input.delivery.deliver(minted);
  } catch (deliveryError) {
    const failure = asKeyvendError(deliveryError);
    record.outcome = 'minted_not_delivered';
    record.reason = failure.reason;
    record.errorCode = failure.code;
    record.delivery = { type: deliveryTypeOf(input.output), delivered: false };
    deps.log.alarm('minted_not_delivered', record, deliveryError);
    await writeAudit((r) => deps.audit.close(r), record).catch((auditError: unknown) =>
      deps.log.alarm('audit_write_failed_on_denial', record, auditError),
    );
    throw failure;
  }
}

/**
 * Closes the record as granted; only then may the credentials leave. If the write fails they are withheld, the
 * outcome becomes `minted_not_delivered` with an alarm, and the caller gets 503.
 */
async function recordGrant(deps: IssueCredentialsDeps, trail: Trail, output: Output): Promise<void> {
  const { record } = trail;
  record.outcome = 'granted';
  record.delivery = { type: deliveryTypeOf(output), delivered: true };
  try {
    await writeAudit((r) => deps.audit.close(r), record);
  } catch (auditError) {
    record.outcome = 'minted_not_delivered';
    record.reason = 'audit_write_failed';
    record.delivery = { type: record.delivery.type, delivered: false };
    deps.log.alarm('minted_not_delivered', record, auditError);
    throw new UpstreamUnavailableError('audit_unavailable', { cause: auditError });
  }
  deps.log.decision(record);
}

const deliveryTypeOf = (output: Output) => (output === 'console' ? 'console_url' : 'credentials');

async function identify(
  deps: Pick<IssueCredentialsDeps, 'verifier' | 'samlVerifier' | 'samlAcsUrl'>,
  credential: CallerCredential,
): Promise<Principal> {
  if (credential.kind === 'bearer') return deps.verifier.verifyBearer(credential.authorization);
  if (deps.samlVerifier === undefined || deps.samlAcsUrl === undefined) throw new InvalidSamlResponseError('saml_not_configured');
  // Keyvend never sends an AuthnRequest on the API's path, so a response answering one was made for someone else.
  return (
    await deps.samlVerifier.verifySamlResponse(credential.samlResponse, {
      acsUrl: deps.samlAcsUrl,
      solicitation: { kind: 'never-requested' },
    })
  ).principal;
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
