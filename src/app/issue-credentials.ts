import { ENTITLEMENT_ID_PATTERN, sha256Hex } from '../domain/identifiers.ts';
import { AUDIT_GROUP_LIMIT, type AuditRecord } from '../domain/audit-record.ts';
import type { Entitlement, Output } from '../domain/entitlement.ts';
import {
  asKeyvendError,
  InvalidRequestError,
  InvalidSamlResponseError,
  KeyvendError,
  NotEntitledError,
  ThrottledError,
  UpstreamUnavailableError,
} from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import type { Secret } from '../domain/secret.ts';
import { decideSession, type SessionDecision } from '../domain/session-plan.ts';
import type {
  AuditLog,
  CachedSession,
  CallerCredential,
  Clock,
  CredentialCache,
  CredentialIssuer,
  DecisionLog,
  EntitlementStore,
  GrantLookup,
  IdentityVerifier,
  IssuedCredentials,
  RateLimiter,
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
  /** Each authenticated caller's request budget (ADR 0015); absent: no per-caller limit (tests, tools). */
  readonly rateLimiter?: RateLimiter | undefined;
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
 * authenticated first and the denial names them (no STS). `without-caller`: there is no one
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
 * Issues credentials for one entitlement to one verified caller, and audits the decision either way, as one
 * audit item written once (ADR 0011).
 *
 * Order matters: before STS the attempt is logged (grant id, caller, entitlement, role); the grant's record is
 * written after STS and before anything is delivered, and if that write fails nothing leaves
 * (`minted_not_delivered`, an alarm, 503). Every failure before STS issues nothing and is recorded as a denial.
 * With a credential cache, a request for a session already minted for the same caller and request is served it
 * instead of calling STS, after the same authentication, entitlement and revocation read, and with its own record
 * naming the reused grant (ADR 0013).
 */
export function makeIssueCredentials(deps: IssueCredentialsDeps) {
  return async function issueCredentials(input: IssueCredentialsInput): Promise<CredentialGrant> {
    const trail = startTrail(input, deps.clock);
    const principal = await authenticate(deps, input, trail);
    try {
      await withinBudget(deps, principal);
      const entitlementId = checkRequest(input);
      const entitlement = await authorise(deps, trail, principal, entitlementId, input.output);
      const plan = planSession(deps, trail, principal, entitlement, input);
      const cacheKey = reusableKey(deps, input, principal, entitlement, plan);
      const reused = cacheKey === undefined ? undefined : reuse(deps, trail, principal, cacheKey);
      if (reused === undefined) deps.log.attempt(trail.record);
      const credentials = reused ?? (await mint(plan, trail));
      const delivered = await deliver(deps, trail, input, { credentials, entitlement, durationSeconds: plan.decision.durationSeconds });
      await recordGrant(deps, trail, input.output);
      if (cacheKey !== undefined && reused === undefined) keep(deps, trail, principal, cacheKey, credentials);
      return {
        grantId: trail.record.eventId,
        entitlement,
        principal,
        credentials,
        durationSeconds: plan.decision.durationSeconds,
        roleSessionName: plan.decision.roleSessionName,
        sourceIdentity: plan.decision.sourceIdentity,
        ...(delivered === undefined ? {} : { delivered }),
      };
    } catch (error) {
      if (trail.record.outcome === 'minted_not_delivered') throw error;
      throw await recordDenial(deps, trail.record, asKeyvendError(error));
    }
  };
}

/** The audit record of one request, built in memory as the request goes and written once, when decided. */
interface Trail {
  readonly record: AuditRecord;
}

/** A session fully decided before any call: the path's plan, its duration and its policy. */
interface SessionPlan {
  readonly vending: VendingPlan;
  readonly decision: SessionDecision;
}

function startTrail(input: IssueCredentialsInput, clock: Clock): Trail {
  const record = newAuditRecord(input.output === 'console' ? 'console' : 'credentials', input.context, clock);
  const requested = typeof input.entitlement === 'string' ? input.entitlement.slice(0, 64) : undefined;
  if (requested !== undefined) record.entitlement = { id: requested };
  return { record };
}

/**
 * Who the caller is. A failure here is a denial without a caller, except that a replayed SAML assertion that
 * verified names who it belonged to.
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
    throw await recordDenial(deps, trail.record, denial);
  }
  trail.record.caller = callerOf(principal);
  return principal;
}

/**
 * The caller's request budget, spent before anything else is read or written: a refusal costs one audit write
 * (its own denial, naming the caller) and no STS or KMS call.
 */
async function withinBudget(deps: IssueCredentialsDeps, principal: Principal): Promise<void> {
  if (deps.rateLimiter === undefined) return;
  const decision = await deps.rateLimiter.take(principal.userKey);
  if (!decision.allowed) throw new ThrottledError('rate_limited', decision.retryAfterSeconds);
}

/** What is wrong with the request itself, now that the denial can name the caller. */
function checkRequest(input: IssueCredentialsInput): string {
  if (input.requestProblem !== undefined) throw input.requestProblem.error;
  return validateEntitlementId(input.entitlement);
}

/** The caller must hold the entitlement (one consistent read of the definition and the caller's grants) for this output. */
async function authorise(
  deps: IssueCredentialsDeps,
  trail: Trail,
  principal: Principal,
  entitlementId: string,
  output: Output,
): Promise<Entitlement> {
  let lookup: GrantLookup;
  try {
    lookup = await deps.entitlements.lookupGrant(principal, entitlementId);
  } catch (error) {
    throw asUpstream(error, 'entitlements_unavailable');
  }
  const { entitlement, revoked, revokedGrantIds } = lookup;
  // A revoked grant's session is never served again; a caller refused this entitlement keeps no session at all.
  deps.cache?.forgetGrants(revokedGrantIds);
  if (entitlement === undefined || revoked !== undefined) deps.cache?.forgetCaller(principal.userKey);
  if (entitlement === undefined) throw new NotEntitledError('no_matching_entitlement');
  // The grant that matched, not the caller's group list: the record says why, whatever the token's group order.
  const grantedBy = lookup.grantedBy.slice(0, AUDIT_GROUP_LIMIT);
  trail.record.entitlement = { id: entitlement.id, version: entitlement.version, grantedBy };
  // Read with the grant, so no extra round trip: a revoked person or entitlement is refused from the next request on.
  if (revoked !== undefined) throw new NotEntitledError('revoked');
  if (!entitlement.outputs.includes(output)) throw new NotEntitledError('output_not_allowed');
  return entitlement;
}

/**
 * Everything about the session, decided before STS by the one pure step explain also takes (decideSession), the
 * delivery's own check, and the vending path's call. The record gains it all.
 */
function planSession(
  deps: IssueCredentialsDeps,
  trail: Trail,
  principal: Principal,
  entitlement: Entitlement,
  input: IssueCredentialsInput,
): SessionPlan {
  const decision = decideSession(entitlement, principal, trail.record.eventId, input.durationSeconds, deps.settings);
  const vending = planVending(entitlement, decision, principal, trail.record.eventId, deps);
  input.delivery?.check(entitlement);
  trail.record.session = {
    vending: decision.vending,
    roleArn: decision.roleArn,
    roleSessionName: decision.roleSessionName,
    ...(decision.sourceIdentity === undefined ? {} : { sourceIdentity: decision.sourceIdentity }),
    ...(decision.tokenSubject === undefined ? {} : { tokenSubject: decision.tokenSubject }),
    tags: decision.tags,
    transitiveTagKeys: decision.transitiveTagKeys,
    ...(decision.policy === undefined ? {} : { policySha256: decision.policy.sha256 }),
    policyArns: decision.policyArns,
    externalIdSet: decision.externalIdSet,
    durationSeconds: decision.durationSeconds,
    packedPolicyEstimatePercent: decision.packedPolicyEstimatePercent,
  };
  return { vending, decision };
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
  return sessionCacheKey({ principal, entitlement, decision: plan.decision });
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
    durationSeconds: plan.decision.durationSeconds,
    policy: plan.decision.policy?.json,
    policyArns: plan.decision.policyArns,
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
 * nothing leaves and the record is written as `minted_not_delivered`, with an alarm.
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
    await writeAudit((r) => deps.audit.record(r), record).catch((auditError: unknown) =>
      deps.log.alarm('audit_write_failed_on_denial', record, auditError),
    );
    throw failure;
  }
}

/**
 * Writes the grant's one record; only then may the credentials leave. If the write fails they are withheld, the
 * outcome becomes `minted_not_delivered` with an alarm, and the caller gets 503.
 */
async function recordGrant(deps: IssueCredentialsDeps, trail: Trail, output: Output): Promise<void> {
  const { record } = trail;
  record.outcome = 'granted';
  record.delivery = { type: deliveryTypeOf(output), delivered: true };
  try {
    await writeAudit((r) => deps.audit.record(r), record);
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

function asUpstream(error: unknown, reason: string): KeyvendError {
  return error instanceof KeyvendError ? error : new UpstreamUnavailableError(reason, { cause: error });
}
