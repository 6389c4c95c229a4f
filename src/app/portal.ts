import { type AdminRule, isAdmin } from '../domain/admins.ts';
import type { AuditQueryParameters } from '../domain/audit-query.ts';
import type { makeQueryAuditAs } from './audit-queries.ts';
import type { makeExplainAs } from './explain.ts';
import type { AuditRecord } from '../domain/audit-record.ts';
import {
  asKeyvendError,
  InternalError,
  InvalidRequestError,
  InvalidSamlResponseError,
  InvalidTokenError,
  UpstreamUnavailableError,
} from '../domain/errors.ts';
import { sha256Hex } from '../domain/identifiers.ts';
import type { Principal } from '../domain/principal.ts';
import { Secret } from '../domain/secret.ts';
import {
  LOGIN_TRANSACTION_SECONDS,
  newPortalSession,
  newSamlRequestId,
  openLoginTransaction,
  openSamlRequest,
  openSession,
  type PortalSession,
  SAML_REQUEST_SECONDS,
  sealLoginTransaction,
  sealSamlRequest,
  sealSession,
  tokensMatch,
} from '../domain/portal-session.ts';
import type {
  AuditLog,
  Clock,
  DecisionLog,
  EntitlementStore,
  PortalLogin,
  PortalSecrets,
  PortalSignIn,
  SamlAuthnRequests,
  SamlVerifier,
} from '../ports/index.ts';
import { callerOf, newAuditRecord, recordDenial, writeAudit } from './audit-trail.ts';
import type { ConsoleUrlGrant, makeIssueConsoleUrl } from './issue-console-url.ts';
import { type EntitlementSummary, grantedSummaries } from './list-entitlements.ts';
import type { RequestContext } from '../domain/request-context.ts';

export interface PortalDeps {
  readonly login: PortalLogin;
  readonly secrets: PortalSecrets;
  readonly entitlements: EntitlementStore;
  readonly issueConsoleUrl: ReturnType<typeof makeIssueConsoleUrl>;
  readonly audit: AuditLog;
  readonly log: DecisionLog;
  readonly clock: Clock;
  readonly settings: { readonly sessionSeconds: number };
  /** SP-initiated SAML sign-in with the portal's own ACS; absent when no SAML IdP is configured. */
  readonly saml?: { readonly verifier: SamlVerifier; readonly requests: SamlAuthnRequests; readonly acsUrl: string } | undefined;
  /**
   * "What does this allow?" and the admin page's audit trail (app/explain.ts, app/audit-queries.ts); absent in the
   * SAML sign-in function, which serves neither page.
   */
  readonly see:
    | {
        readonly explainAs: ReturnType<typeof makeExplainAs>;
        readonly queryAuditAs: ReturnType<typeof makeQueryAuditAs>;
        readonly admins: readonly AdminRule[];
      }
    | undefined;
}

export type ConsoleEntitlementView = Omit<EntitlementSummary, 'maxDurationSeconds'>;

/** What a sign-in gives the browser: the signed session cookie, and the session it holds. */
export interface SignedIn {
  readonly sessionCookie: string;
  readonly session: PortalSession;
}

/** The IdP's answer at the OIDC callback, and the transaction cookie this browser kept since `beginLogin`. */
export interface OidcCallback {
  readonly response: Readonly<Record<string, string>>;
  readonly transactionCookie: string | undefined;
  readonly context: RequestContext;
}

/** A SAML response posted to the portal's ACS, with the cookies this browser holds. */
export interface SamlAcsPost {
  readonly samlResponse: string | undefined;
  readonly requestCookie: string | undefined;
  readonly sessionCookie: string | undefined;
  readonly context: RequestContext;
}

/** A state-changing form (console button, sign-out) with the session cookie it came with. */
export interface SessionForm {
  readonly sessionCookie: string | undefined;
  readonly form: Readonly<Record<string, string>>;
  readonly context: RequestContext;
}

/**
 * The portal's use cases. Sessions live only in a signed cookie (no server state), so every action
 * reads it back through `openSession`; every sign-in, console grant or refusal, and sign-out is audited
 * like an API call, and the console itself goes through issueConsoleUrl (same checks, same record).
 */
export function makePortal(deps: PortalDeps) {
  return {
    beginLogin: () => beginLogin(deps),
    completeLogin: (input: OidcCallback) => signIn(deps, input.context, oidcSignIn(deps, input)),
    beginSamlLogin: (input: { idpId: string | undefined; sessionCookie: string | undefined }) => beginSamlLogin(deps, input),
    completeSamlLogin: (input: SamlAcsPost) => signIn(deps, input.context, samlSignIn(deps, input)),
    session: (cookie: string | undefined) => currentSession(deps, cookie),
    consoleEntitlements: (session: PortalSession) => consoleEntitlements(deps, session),
    openConsole: (input: SessionForm) => openConsole(deps, input),
    logout: (input: SessionForm) => signOut(deps, input),
    /** What the signed-in person would get for one entitlement, and why (not audited: it grants nothing). */
    explain: (session: PortalSession, entitlement: string | undefined, output: string | undefined, context: RequestContext) =>
      seeOf(deps).explainAs(session.principal, { entitlement, output: output ?? 'console', context }),
    /** The admin page's audit trail: refused (403, audited) for anyone not an admin. */
    auditTrail: (session: PortalSession, parameters: AuditQueryParameters, context: RequestContext) =>
      seeOf(deps).queryAuditAs({ caller: session.principal, parameters, context }),
    isAdmin: (session: PortalSession) => deps.see !== undefined && isAdmin(session.principal, deps.see.admins),
    /** The IdP's own sign-out for the signed-out page; its absence or an outage only loses the link. */
    idpLogoutUrl: () => deps.login.endSessionUrl().catch(() => undefined),
  };
}

export type Portal = ReturnType<typeof makePortal>;

function seeOf(deps: PortalDeps): NonNullable<PortalDeps['see']> {
  if (deps.see === undefined) throw new InternalError('portal_pages_not_configured');
  return deps.see;
}

const nowSeconds = (clock: Clock) => Math.floor(clock.now().getTime() / 1000);
const sessionKey = async (deps: Pick<PortalDeps, 'secrets'>) => (await deps.secrets.load()).sessionKey;
const openSessionCookie = async (deps: PortalDeps, cookie: string | undefined) =>
  openSession(cookie, await sessionKey(deps), nowSeconds(deps.clock));
const formExpired = () => new InvalidRequestError('The form has expired; reload the page.', { reason: 'csrf_token_invalid' });

/** Where to send the browser to sign in, and the signed transaction cookie that remembers state, nonce and PKCE. */
async function beginLogin(deps: PortalDeps): Promise<{ redirectUrl: string; transactionCookie: string }> {
  const { redirectUrl, state, nonce, codeVerifier } = await deps.login.begin();
  const transactionCookie = sealLoginTransaction(
    { state, nonce, codeVerifier, expiresAt: nowSeconds(deps.clock) + LOGIN_TRANSACTION_SECONDS },
    await sessionKey(deps),
  );
  return { redirectUrl, transactionCookie };
}

/** One way of signing in: how the person is verified, and whether this browser may become them. */
interface SignInAttempt {
  /** A hash of what the person presented, for the record when it cannot be verified (SAML). */
  readonly credentialRef?: string;
  verify(key: Buffer): Promise<PortalSignIn>;
  admit?(principal: Principal, key: Buffer): void;
}

/**
 * Opens a session for whoever the attempt verifies, auditing the sign-in either way (OIDC and SAML alike):
 * authenticate, admit, record the sign-in, then seal the session. No session leaves unless the sign-in is recorded.
 */
async function signIn(deps: PortalDeps, context: RequestContext, attempt: SignInAttempt): Promise<SignedIn> {
  const record = newAuditRecord('portal_login', context, deps.clock);
  if (attempt.credentialRef !== undefined) record.credentialRef = attempt.credentialRef;
  try {
    const key = await sessionKey(deps);
    const { principal, displayName } = await authenticate(attempt, key, record);
    attempt.admit?.(principal, key);
    const session = newPortalSession(principal, nowSeconds(deps.clock), deps.settings.sessionSeconds, displayName);
    await recordSignIn(deps, record);
    return { sessionCookie: sealSession(session, key), session };
  } catch (error) {
    if (record.outcome === 'granted') throw error;
    throw await recordDenial(deps, record, asKeyvendError(error));
  }
}

async function authenticate(attempt: SignInAttempt, key: Buffer, record: AuditRecord): Promise<PortalSignIn> {
  let signedIn: PortalSignIn;
  try {
    signedIn = await attempt.verify(key);
  } catch (error) {
    // A replayed assertion was verified: the denial names who it belonged to.
    if (error instanceof InvalidSamlResponseError && error.principal !== undefined) record.caller = callerOf(error.principal);
    throw error;
  }
  // The caller is the principal alone: the display name never enters the record.
  record.caller = callerOf(signedIn.principal);
  return signedIn;
}

/** The granted record must be written before the session cookie exists; if it cannot be, 503 and no session. */
async function recordSignIn(deps: PortalDeps, record: AuditRecord): Promise<void> {
  record.outcome = 'granted';
  try {
    await writeAudit((r) => deps.audit.record(r), record);
  } catch (auditError) {
    throw new UpstreamUnavailableError('audit_unavailable', { cause: auditError });
  }
  deps.log.decision(record);
}

/** The IdP's answer, checked against the transaction this browser kept (state, nonce, PKCE). */
function oidcSignIn(deps: PortalDeps, input: OidcCallback): SignInAttempt {
  return {
    async verify(key) {
      const kept = openLoginTransaction(input.transactionCookie, key, nowSeconds(deps.clock));
      // No transaction: never started here, expired, or already used (the cookie is cleared on return).
      if (kept === undefined) throw new InvalidTokenError('login_transaction_missing');
      return deps.login.complete(input.response, kept);
    },
  };
}

/**
 * Starts an SP-initiated SAML sign-in: an AuthnRequest with a fresh id for the IdP, and the signed cookie that
 * binds that id to this browser. A browser that is already signed in is sent home instead, so a link another
 * site makes it follow can never lead to a second session.
 */
async function beginSamlLogin(
  deps: PortalDeps,
  input: { idpId: string | undefined; sessionCookie: string | undefined },
): Promise<{ kind: 'signed-in' } | { kind: 'redirect'; redirectUrl: string; requestCookie: string }> {
  const key = await sessionKey(deps);
  if (openSession(input.sessionCookie, key, nowSeconds(deps.clock)).ok) return { kind: 'signed-in' };
  const id = newSamlRequestId();
  const redirectUrl = input.idpId === undefined ? undefined : deps.saml?.requests.redirectUrl(input.idpId, id, deps.clock.now());
  if (redirectUrl === undefined || input.idpId === undefined) {
    throw new InvalidRequestError('There is no SAML sign-in for this identity provider.', { reason: 'saml_idp_unknown' });
  }
  const requestCookie = sealSamlRequest({ id, idpId: input.idpId, expiresAt: nowSeconds(deps.clock) + SAML_REQUEST_SECONDS }, key);
  return { kind: 'redirect', redirectUrl, requestCookie };
}

/**
 * A SAML response posted to the portal's ACS (cross-site from the IdP, so no CSRF token can exist). It must
 * answer the AuthnRequest whose id this browser's request cookie holds: an unsolicited (IdP-initiated) response,
 * or one answering a request another browser started, is what a login-CSRF attacker posts, and is refused. Then
 * the IdP's signature over an assertion naming this ACS and our audience, its short validity and the replay
 * cache apply as on the API. A browser signed in as someone else is never switched to the new person.
 */
function samlSignIn(deps: PortalDeps, input: SamlAcsPost): SignInAttempt {
  return {
    credentialRef: `sha256:${sha256Hex(input.samlResponse ?? '')}`,
    async verify(key) {
      if (deps.saml === undefined) throw new InvalidSamlResponseError('saml_not_configured');
      const request = openSamlRequest(input.requestCookie, key, nowSeconds(deps.clock));
      const verified = await deps.saml.verifier.verifySamlResponse(new Secret(input.samlResponse ?? ''), {
        acsUrl: deps.saml.acsUrl,
        solicitation: { kind: 'requested', request: request === undefined ? undefined : { id: request.id, idpId: request.idpId } },
      });
      return { principal: verified.principal };
    },
    admit(principal, key) {
      const current = openSession(input.sessionCookie, key, nowSeconds(deps.clock));
      if (current.ok && current.session.principal.userKey !== principal.userKey) {
        throw new InvalidRequestError('You are already signed in to the portal as someone else. Sign out first, then sign in again.', {
          reason: 'portal_signed_in_as_another',
        });
      }
    },
  };
}

/** The session behind a cookie, if it is genuine and current. Reading grants nothing, so it is not audited. */
async function currentSession(deps: PortalDeps, cookie: string | undefined): Promise<PortalSession | undefined> {
  const check = await openSessionCookie(deps, cookie);
  return check.ok ? check.session : undefined;
}

/** The entitlements this person may open the console with. */
async function consoleEntitlements(deps: PortalDeps, session: PortalSession): Promise<ConsoleEntitlementView[]> {
  const granted = await grantedSummaries(deps.entitlements, session.principal);
  return granted
    .filter((e) => e.outputs.includes('console'))
    .map(({ id, description, roleArn, outputs }) => ({ id, description, roleArn, outputs }));
}

/**
 * One click: a fresh console sign-in URL. Without a genuine session the refusal is audited here (no caller);
 * with one, a form without the session's CSRF token is a request problem issueConsoleUrl audits with the caller.
 */
async function openConsole(deps: PortalDeps, input: SessionForm): Promise<ConsoleUrlGrant> {
  const check = await openSessionCookie(deps, input.sessionCookie);
  if (!check.ok) {
    const record = newAuditRecord('console', input.context, deps.clock);
    const requested = input.form['entitlement'];
    if (requested !== undefined) record.entitlement = { id: requested.slice(0, 64) };
    throw await recordDenial(deps, record, new InvalidTokenError(check.reason));
  }
  const csrfOk = tokensMatch(check.session.csrfToken, input.form['csrf']);
  return deps.issueConsoleUrl({
    caller: { kind: 'verified', principal: check.session.principal },
    entitlement: input.form['entitlement'],
    destination: undefined,
    durationSeconds: undefined,
    context: input.context,
    ...(csrfOk ? {} : { requestProblem: formExpired() }),
  });
}

/** Ends the session. The CSRF token is required so another site cannot sign a person out. */
async function signOut(deps: PortalDeps, input: SessionForm): Promise<void> {
  const record = newAuditRecord('portal_logout', input.context, deps.clock);
  const check = await openSessionCookie(deps, input.sessionCookie);
  if (!check.ok) throw await recordDenial(deps, record, new InvalidTokenError(check.reason));
  record.caller = callerOf(check.session.principal);
  if (!tokensMatch(check.session.csrfToken, input.form['csrf'])) throw await recordDenial(deps, record, formExpired());
  await recordSignOut(deps, record);
}

/** The person is signed out either way (the function clears the cookie): a sign-out that cannot be recorded raises an alarm, not an error. */
async function recordSignOut(deps: PortalDeps, record: AuditRecord): Promise<void> {
  record.outcome = 'granted';
  record.reason = 'signed_out';
  try {
    await writeAudit((r) => deps.audit.record(r), record);
  } catch (auditError) {
    deps.log.alarm('audit_write_failed_on_logout', record, auditError);
  }
  deps.log.decision(record);
}
