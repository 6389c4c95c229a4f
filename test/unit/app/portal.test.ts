import { describe, expect, it } from 'vitest';
import { makeQueryAuditAs } from '../../../src/app/audit-queries.ts';
import { makeExplainAs } from '../../../src/app/explain.ts';
import type { ConsoleUrlGrant, IssueConsoleUrlInput } from '../../../src/app/issue-console-url.ts';
import { makePortal } from '../../../src/app/portal.ts';
import { InvalidSamlResponseError, InvalidTokenError, KeyvendError } from '../../../src/domain/errors.ts';
import { sha256Hex } from '../../../src/domain/identifiers.ts';
import { newPortalSession, sealSession } from '../../../src/domain/portal-session.ts';
import type { Principal } from '../../../src/domain/principal.ts';
import { Secret } from '../../../src/domain/secret.ts';
import type { PortalLogin, PortalSignIn, SamlConsumer, SamlVerifier } from '../../../src/ports/index.ts';
import { failure } from '../../support/use-cases.ts';
import { entitlementFor, FakeAuditLog, FakeDecisionLog, FakeEntitlementStore, principalFor } from '../fakes.ts';

const SESSION_KEY = Buffer.alloc(32, 7);
const ACS_URL = 'https://keyvend.example.com/portal/saml/acs';
const START = Date.parse('2026-11-23T09:30:00.000Z');
const context = { requestId: 'req-1', sourceIp: '203.0.113.9', userAgent: 'browser/1.0' };

/** The IdP's answer as the portal login adapter sees it: it checks state against what begin kept. */
class FakePortalLogin implements PortalLogin {
  readonly completed: { response: Readonly<Record<string, string>>; kept: { state: string; nonce: string; codeVerifier: string } }[] = [];
  outcome: Principal | Error = principalFor();
  displayName: string | undefined = undefined;

  async begin() {
    return { redirectUrl: 'https://idp.example.com/authorize?state=s-1', state: 's-1', nonce: 'n-1', codeVerifier: 'v-1' };
  }

  async complete(
    response: Readonly<Record<string, string>>,
    kept: { state: string; nonce: string; codeVerifier: string },
  ): Promise<PortalSignIn> {
    this.completed.push({ response, kept: { state: kept.state, nonce: kept.nonce, codeVerifier: kept.codeVerifier } });
    if (this.outcome instanceof Error) throw this.outcome;
    return { principal: this.outcome, ...(this.displayName === undefined ? {} : { displayName: this.displayName }) };
  }

  async endSessionUrl(): Promise<string | undefined> {
    return 'https://idp.example.com/logout?client_id=keyvend-portal';
  }
}

class FakeSamlVerifier implements SamlVerifier {
  readonly calls: { samlResponse: string; consumer: SamlConsumer }[] = [];
  outcome: Principal | Error = principalFor({ idpType: 'saml', issuerId: 'corp-saml', subject: 'bob-0002' });

  async verifySamlResponse(samlResponse: Secret, consumer: SamlConsumer) {
    this.calls.push({ samlResponse: samlResponse.reveal(), consumer });
    if (this.outcome instanceof Error) throw this.outcome;
    // Like the real verifier: the portal signs in only with answers to its own requests.
    if (consumer.solicitation.kind === 'requested' && consumer.solicitation.request === undefined) {
      throw new InvalidSamlResponseError('unsolicited_response');
    }
    return { principal: this.outcome };
  }
}

function harness(options: { saml?: boolean; entitlements?: ReturnType<typeof entitlementFor>[] } = {}) {
  let now = START;
  const clock = { now: () => new Date(now) };
  const login = new FakePortalLogin();
  const samlVerifier = new FakeSamlVerifier();
  const entitlements = new FakeEntitlementStore(options.entitlements ?? [entitlementFor()]);
  const audit = new FakeAuditLog();
  const log = new FakeDecisionLog();
  const consoleCalls: IssueConsoleUrlInput[] = [];
  let consoleOutcome: ConsoleUrlGrant | Error = {
    grantId: 'grant-1',
    entitlementId: 'console-readonly',
    url: new Secret('https://signin.aws.amazon.com/federation?Action=login&SigninToken=t'),
    expiresAt: new Date(START + 15 * 60_000),
  };
  const portal = makePortal({
    see: {
      explainAs: makeExplainAs({
        entitlements,
        settings: { roleChaining: true, isAllowedRole: () => true, brokerIssuerConfigured: true },
        admins: [],
        identityProviders: [],
      }),
      queryAuditAs: makeQueryAuditAs({
        reader: { query: async () => ({ items: [], next: undefined }) },
        audit,
        decisions: log,
        clock,
        admins: [],
        identityProviders: [],
      }),
      admins: [],
    },
    login,
    secrets: { load: async () => ({ clientSecret: new Secret('client-secret'), sessionKey: SESSION_KEY }) },
    entitlements,
    issueConsoleUrl: async (input) => {
      consoleCalls.push(input);
      if (consoleOutcome instanceof Error) throw consoleOutcome;
      return consoleOutcome;
    },
    audit,
    log,
    clock,
    settings: { sessionSeconds: 3600 },
    ...(options.saml === false
      ? {}
      : {
          saml: {
            verifier: samlVerifier,
            acsUrl: ACS_URL,
            requests: {
              redirectUrl: (idpId: string, id: string) => (idpId === 'corp-saml' ? `https://saml.example.com/sso?id=${id}` : undefined),
            },
          },
        }),
  });
  const signedInAs = (principal: Principal, nowSeconds = Math.floor(now / 1000)) => {
    const session = newPortalSession(principal, nowSeconds, 3600);
    return { cookie: sealSession(session, SESSION_KEY), csrf: session.csrfToken };
  };
  return {
    portal,
    login,
    samlVerifier,
    entitlements,
    audit,
    log,
    consoleCalls,
    signedInAs,
    advance: (seconds: number) => void (now += seconds * 1000),
    failConsoleWith: (error: Error) => void (consoleOutcome = error),
  };
}

/** Each audit write, then each refusal counted without a caller (in its source's aggregate, not an item of its own). */
const outcomes = (audit: FakeAuditLog) => [
  ...audit.writes.map((w) => `${w.operation}:${w.record.action}:${w.record.outcome}`),
  ...audit.anonymous.map((a) => `countAnonymous:${a.action}:${a.reason}`),
];

describe('portal: OIDC sign-in', () => {
  it('sends the browser to the IdP and opens a session for the principal it returns, audited as a sign-in', async () => {
    // Prepare
    const { portal, login, audit, log } = harness();

    // Act
    const begun = await portal.beginLogin();
    const { sessionCookie, session } = await portal.completeLogin({
      response: { code: 'c-1', state: 's-1' },
      transactionCookie: begun.transactionCookie,
      context,
    });

    // Assess
    expect(begun.redirectUrl).toBe('https://idp.example.com/authorize?state=s-1');
    expect(login.completed).toEqual([
      { response: { code: 'c-1', state: 's-1' }, kept: { state: 's-1', nonce: 'n-1', codeVerifier: 'v-1' } },
    ]);
    expect(session.principal.subject).toBe('alice-0001');
    expect((await portal.session(sessionCookie))?.principal.userKey).toBe(principalFor().userKey);
    expect(outcomes(audit)).toEqual(['record:portal_login:granted']);
    expect(audit.last).toMatchObject({
      request: { requestId: 'req-1', sourceIp: '203.0.113.9' },
      caller: { subject: 'alice-0001', tokenRef: 'sha256:abc' },
    });
    expect(log.decisions.map((d) => d.outcome)).toEqual(['granted']);
  });

  it('keeps the display name in the session for the page, and out of the principal, the audit record and the decision log', async () => {
    // Prepare
    const { portal, login, audit, log } = harness();
    login.displayName = 'Alice Example';

    // Act
    const begun = await portal.beginLogin();
    const { sessionCookie } = await portal.completeLogin({
      response: { code: 'c-1', state: 's-1' },
      transactionCookie: begun.transactionCookie,
      context,
    });
    const reread = await portal.session(sessionCookie);

    // Assess
    expect(reread?.displayName).toBe('Alice Example');
    expect(JSON.stringify(reread?.principal)).not.toContain('Alice Example');
    expect(JSON.stringify(audit.writes)).not.toContain('Alice Example');
    expect(JSON.stringify(log.decisions)).not.toContain('Alice Example');
  });

  it.each([
    ['no transaction cookie', async () => undefined],
    [
      'a transaction cookie past its ten minutes',
      async (h: ReturnType<typeof harness>) => {
        const { transactionCookie } = await h.portal.beginLogin();
        h.advance(601);
        return transactionCookie;
      },
    ],
    ['a forged transaction cookie', async () => 'eyJzIjoicy0xIn0.forged'],
  ])('refuses a callback with %s before asking the IdP, and audits the refusal', async (_name, cookieFor) => {
    // Prepare
    const h = harness();
    const transactionCookie = await cookieFor(h);

    // Act
    const error = await failure(h.portal.completeLogin({ response: { code: 'c-1', state: 's-1' }, transactionCookie, context }));

    // Assess
    expect(error).toMatchObject({ code: 'invalid_token', reason: 'login_transaction_missing' });
    expect(h.login.completed).toEqual([]);
    expect(outcomes(h.audit)).toEqual(['countAnonymous:portal_login:login_transaction_missing']);
  });

  it('audits a refusal by the IdP answer check with its reason, and opens no session', async () => {
    // Prepare
    const { portal, login, audit, log } = harness();
    login.outcome = new InvalidTokenError('state_mismatch');
    const { transactionCookie } = await portal.beginLogin();

    // Act
    const error = await failure(portal.completeLogin({ response: { code: 'c-1', state: 'other' }, transactionCookie, context }));

    // Assess
    expect(error.reason).toBe('state_mismatch');
    expect(audit.writes).toEqual([]);
    expect(audit.anonymous).toEqual([
      expect.objectContaining({ action: 'portal_login', reason: 'state_mismatch', errorCode: 'invalid_token' }),
    ]);
    expect(log.decisions.map((d) => d.outcome)).toEqual(['denied']);
  });

  it('opens no session when the sign-in cannot be recorded', async () => {
    // Prepare
    const { portal, audit, log } = harness();
    audit.failOn.add('record');
    const { transactionCookie } = await portal.beginLogin();

    // Act
    const error = await failure(portal.completeLogin({ response: { code: 'c-1' }, transactionCookie, context }));

    // Assess
    expect(error).toMatchObject({ code: 'upstream_unavailable', httpStatus: 503, reason: 'audit_unavailable' });
    expect(log.decisions).toEqual([]);
  });

  it('opens the session when the sign-in was recorded but the response of that write was lost and its retry failed the condition', async () => {
    // Prepare
    const { portal, audit, log } = harness();
    audit.responseLostOn.add('record');
    const { transactionCookie } = await portal.beginLogin();

    // Act
    const { session } = await portal.completeLogin({ response: { code: 'c-1' }, transactionCookie, context });

    // Assess
    expect(session.principal.subject).toBe('alice-0001');
    expect(outcomes(audit)).toEqual(['record:portal_login:granted']);
    expect(log.decisions.map((d) => d.outcome)).toEqual(['granted']);
  });

  it('opens no session when the conflicting stored record is not this sign-in', async () => {
    // Prepare
    const { portal, audit } = harness();
    audit.responseLostOn.add('record');
    audit.storedInstead = (written) => ({ ...written, outcome: 'denied', reason: 'someone_else' });
    const { transactionCookie } = await portal.beginLogin();

    // Act
    const error = await failure(portal.completeLogin({ response: { code: 'c-1' }, transactionCookie, context }));

    // Assess
    expect(error).toMatchObject({ httpStatus: 503, reason: 'audit_unavailable' });
  });
});

describe('portal: SAML sign-in', () => {
  it('sends a browser that is not signed in to the IdP with a fresh request id bound to its cookie', async () => {
    // Prepare
    const { portal } = harness();

    // Act
    const begun = await portal.beginSamlLogin({ idpId: 'corp-saml', sessionCookie: undefined });

    // Assess
    expect(begun.kind).toBe('redirect');
    if (begun.kind !== 'redirect') return;
    expect(begun.redirectUrl).toMatch(/^https:\/\/saml\.example\.com\/sso\?id=_[0-9a-f]{40}$/);
    const again = await portal.beginSamlLogin({ idpId: 'corp-saml', sessionCookie: undefined });
    expect(again.kind === 'redirect' && again.redirectUrl).not.toBe(begun.redirectUrl);
  });

  it('sends a browser that is already signed in home instead of starting a second sign-in', async () => {
    // Prepare
    const { portal, signedInAs } = harness();

    // Act
    const begun = await portal.beginSamlLogin({ idpId: 'corp-saml', sessionCookie: signedInAs(principalFor()).cookie });

    // Assess
    expect(begun).toEqual({ kind: 'signed-in' });
  });

  it.each([
    ['an IdP without an SSO URL', { idpId: 'elsewhere' }, {}],
    ['no IdP', { idpId: undefined }, {}],
    ['a portal without SAML', { idpId: 'corp-saml' }, { saml: false }],
  ])('refuses to start a sign-in with %s', async (_name, input, options) => {
    // Prepare
    const { portal } = harness(options);

    // Act
    const error = await failure(portal.beginSamlLogin({ ...input, sessionCookie: undefined }));

    // Assess
    expect(error).toMatchObject({ code: 'invalid_request', reason: 'saml_idp_unknown' });
  });

  it('signs in with an answer to its own request: the ACS and the request id go to the verifier, the sign-in is audited', async () => {
    // Prepare
    const { portal, samlVerifier, audit } = harness();
    const begun = await portal.beginSamlLogin({ idpId: 'corp-saml', sessionCookie: undefined });
    if (begun.kind !== 'redirect') throw new Error('expected a redirect');
    const requestId = new URL(begun.redirectUrl).searchParams.get('id');

    // Act
    const { session } = await portal.completeSamlLogin({
      samlResponse: 'PHNhbWw+',
      requestCookie: begun.requestCookie,
      sessionCookie: undefined,
      context,
    });

    // Assess
    expect(session.principal.subject).toBe('bob-0002');
    expect(samlVerifier.calls).toEqual([
      {
        samlResponse: 'PHNhbWw+',
        consumer: { acsUrl: ACS_URL, solicitation: { kind: 'requested', request: { id: requestId, idpId: 'corp-saml' } } },
      },
    ]);
    expect(outcomes(audit)).toEqual(['record:portal_login:granted']);
    expect(audit.last).toMatchObject({
      caller: { subject: 'bob-0002', idpType: 'saml' },
      credentialRef: `sha256:${sha256Hex('PHNhbWw+')}`,
    });
  });

  it('refuses a response without a request of this browser (login CSRF), audited with a hash of the response only', async () => {
    // Prepare
    const { portal, samlVerifier, audit, log } = harness();

    // Act
    const error = await failure(
      portal.completeSamlLogin({ samlResponse: 'UNSOLICITED', requestCookie: undefined, sessionCookie: undefined, context }),
    );

    // Assess
    expect(error).toMatchObject({ code: 'invalid_token', reason: 'unsolicited_response' });
    expect(samlVerifier.calls[0]?.consumer.solicitation).toEqual({ kind: 'requested', request: undefined });
    expect(outcomes(audit)).toEqual(['countAnonymous:portal_login:unsolicited_response']);
    // The hash of the response is in the decision log line; the aggregate counts the refusal only.
    expect(log.decisions.at(-1)).toMatchObject({ reason: 'unsolicited_response', credentialRef: `sha256:${sha256Hex('UNSOLICITED')}` });
    expect(log.decisions.at(-1)?.caller).toBeUndefined();
    expect(JSON.stringify([audit.writes, audit.anonymous, log.decisions])).not.toContain('UNSOLICITED');
  });

  it('names whose assertion a verified replay was in the denial', async () => {
    // Prepare
    const { portal, samlVerifier, audit } = harness();
    samlVerifier.outcome = new InvalidSamlResponseError('assertion_replayed', { principal: principalFor({ subject: 'mallory-0003' }) });

    // Act
    const error = await failure(
      portal.completeSamlLogin({ samlResponse: 'R', requestCookie: undefined, sessionCookie: undefined, context }),
    );

    // Assess
    expect(error.reason).toBe('assertion_replayed');
    expect(audit.last).toMatchObject({ outcome: 'denied', reason: 'assertion_replayed', caller: { subject: 'mallory-0003' } });
  });

  it('refuses, audited, every response when SAML is not configured', async () => {
    // Prepare
    const { portal, samlVerifier, audit } = harness({ saml: false });

    // Act
    const error = await failure(
      portal.completeSamlLogin({ samlResponse: 'R', requestCookie: undefined, sessionCookie: undefined, context }),
    );

    // Assess
    expect(error).toMatchObject({ code: 'invalid_token', reason: 'saml_not_configured' });
    expect(samlVerifier.calls).toEqual([]);
    expect(outcomes(audit)).toEqual(['countAnonymous:portal_login:saml_not_configured']);
  });

  it('never switches a browser signed in as someone else to the new person, and audits who tried', async () => {
    // Prepare
    const { portal, audit, signedInAs } = harness();
    const begun = await portal.beginSamlLogin({ idpId: 'corp-saml', sessionCookie: undefined });
    if (begun.kind !== 'redirect') throw new Error('expected a redirect');
    const alice = signedInAs(principalFor()).cookie;

    // Act
    const error = await failure(
      portal.completeSamlLogin({ samlResponse: 'R', requestCookie: begun.requestCookie, sessionCookie: alice, context }),
    );

    // Assess
    expect(error).toMatchObject({ code: 'invalid_request', reason: 'portal_signed_in_as_another' });
    expect(audit.writes).toEqual([
      {
        operation: 'record',
        record: expect.objectContaining({
          outcome: 'denied',
          reason: 'portal_signed_in_as_another',
          caller: expect.objectContaining({ subject: 'bob-0002' }),
        }),
      },
    ]);
  });

  it('lets the same person sign in again over their own session', async () => {
    // Prepare
    const { portal, samlVerifier, signedInAs } = harness();
    const bob = principalFor({ idpType: 'saml', issuerId: 'corp-saml', subject: 'bob-0002' });
    samlVerifier.outcome = bob;
    const begun = await portal.beginSamlLogin({ idpId: 'corp-saml', sessionCookie: undefined });
    if (begun.kind !== 'redirect') throw new Error('expected a redirect');

    // Act
    const { session } = await portal.completeSamlLogin({
      samlResponse: 'R',
      requestCookie: begun.requestCookie,
      sessionCookie: signedInAs(bob).cookie,
      context,
    });

    // Assess
    expect(session.principal.userKey).toBe(bob.userKey);
  });
});

describe('portal: the session', () => {
  it('reads back a genuine, current session and nothing else, without auditing', async () => {
    // Prepare
    const { portal, audit, signedInAs, advance } = harness();
    const { cookie } = signedInAs(principalFor());
    const [body, mac] = cookie.split('.');
    const tampered = `${body}x.${mac}`;

    // Act
    const genuine = await portal.session(cookie);
    const forged = await portal.session(tampered);
    const none = await portal.session(undefined);
    advance(3600);
    const expired = await portal.session(cookie);

    // Assess
    expect(genuine?.principal.subject).toBe('alice-0001');
    expect([forged, none, expired]).toEqual([undefined, undefined, undefined]);
    expect(audit.writes).toEqual([]);
  });

  it('lists only the console entitlements, sorted, with what the page shows', async () => {
    // Prepare
    const { portal, signedInAs } = harness({
      entitlements: [
        entitlementFor({ id: 'zeta-console', outputs: ['console'] }),
        entitlementFor({ id: 'cli-only', outputs: ['credentials'] }),
        entitlementFor({ id: 'alpha-both', outputs: ['credentials', 'console'] }),
      ],
    });
    const session = await portal.session(signedInAs(principalFor()).cookie);
    if (session === undefined) throw new Error('expected a session');

    // Act
    const listed = await portal.consoleEntitlements(session);

    // Assess
    expect(listed.map((e) => e.id)).toEqual(['alpha-both', 'zeta-console']);
    expect(listed[0]).toEqual({
      id: 'alpha-both',
      description: 'Uploads to your own folder',
      roleArn: 'arn:aws:iam::111111111111:role/keyvend/photo-uploads',
      outputs: ['credentials', 'console'],
    });
  });

  it('answers 503 when the entitlements cannot be read, and keeps a KeyvendError as it is', async () => {
    // Prepare
    const { portal, entitlements, signedInAs } = harness();
    const session = await portal.session(signedInAs(principalFor()).cookie);
    if (session === undefined) throw new Error('expected a session');

    // Act
    entitlements.failure = new Error('connect ECONNREFUSED');
    const outage = await failure(portal.consoleEntitlements(session));
    entitlements.failure = new KeyvendError('internal_error', 500, 'Internal error.', { reason: 'entitlement_corrupt' });
    const corrupt = await failure(portal.consoleEntitlements(session));

    // Assess
    expect(outage).toMatchObject({ httpStatus: 503, reason: 'entitlements_unavailable' });
    expect(corrupt).toMatchObject({ httpStatus: 500, reason: 'entitlement_corrupt' });
  });
});

describe('portal: the console button', () => {
  it('asks issueConsoleUrl for the session principal, as a verified caller, with the form entitlement', async () => {
    // Prepare
    const { portal, consoleCalls, signedInAs, audit } = harness();
    const { cookie, csrf } = signedInAs(principalFor());

    // Act
    const grant = await portal.openConsole({ sessionCookie: cookie, form: { csrf, entitlement: 'console-readonly' }, context });

    // Assess
    expect(grant.grantId).toBe('grant-1');
    expect(consoleCalls).toHaveLength(1);
    expect(consoleCalls[0]).toMatchObject({
      caller: { kind: 'verified', principal: { subject: 'alice-0001' } },
      entitlement: 'console-readonly',
      context,
    });
    expect(consoleCalls[0]?.requestProblem).toBeUndefined();
    expect(audit.writes).toEqual([]);
  });

  it('hands a form without the session CSRF token to issueConsoleUrl as a problem, so it is audited with the caller', async () => {
    // Prepare
    const { portal, consoleCalls, signedInAs, failConsoleWith } = harness();
    const { cookie } = signedInAs(principalFor());
    const other = signedInAs(principalFor()).csrf;
    failConsoleWith(new KeyvendError('invalid_request', 400, 'The form has expired; reload the page.', { reason: 'csrf_token_invalid' }));

    // Act
    const error = await failure(
      portal.openConsole({ sessionCookie: cookie, form: { csrf: other, entitlement: 'console-readonly' }, context }),
    );

    // Assess
    expect(error.reason).toBe('csrf_token_invalid');
    expect(consoleCalls[0]).toMatchObject({
      caller: { kind: 'verified' },
      requestProblem: { code: 'invalid_request', reason: 'csrf_token_invalid' },
    });
  });

  it('refuses without a session, auditing a console denial that names the requested entitlement (cut to 64)', async () => {
    // Prepare
    const { portal, consoleCalls, audit, log } = harness();

    // Act
    const error = await failure(
      portal.openConsole({ sessionCookie: undefined, form: { csrf: 'x', entitlement: 'e'.repeat(500) }, context }),
    );

    // Assess
    expect(error).toMatchObject({ code: 'invalid_token', reason: 'no_session' });
    expect(consoleCalls).toEqual([]);
    expect(outcomes(audit)).toEqual(['countAnonymous:console:no_session']);
    expect(log.decisions.at(-1)?.entitlement?.id).toBe('e'.repeat(64));
    expect(log.decisions.at(-1)?.caller).toBeUndefined();
  });
});

describe('portal: sign-out', () => {
  it('audits the sign-out with the caller when the form carries the session CSRF token', async () => {
    // Prepare
    const { portal, audit, log, signedInAs } = harness();
    const { cookie, csrf } = signedInAs(principalFor());

    // Act
    await portal.logout({ sessionCookie: cookie, form: { csrf }, context });

    // Assess
    expect(audit.writes).toEqual([
      {
        operation: 'record',
        record: expect.objectContaining({
          action: 'portal_logout',
          outcome: 'granted',
          reason: 'signed_out',
          caller: expect.objectContaining({ subject: 'alice-0001' }),
        }),
      },
    ]);
    expect(log.decisions.map((d) => d.outcome)).toEqual(['granted']);
  });

  it.each([
    ['no session', undefined, 'invalid_token', 'no_session', 'countAnonymous:portal_logout:no_session'],
    ['another site (no CSRF token)', 'session', 'invalid_request', 'csrf_token_invalid', 'record:portal_logout:denied'],
  ])('refuses a sign-out with %s, audited', async (_name, withSession, code, reason, audited) => {
    // Prepare
    const { portal, audit, signedInAs } = harness();
    const sessionCookie = withSession === undefined ? undefined : signedInAs(principalFor()).cookie;

    // Act
    const error = await failure(portal.logout({ sessionCookie, form: {}, context }));

    // Assess
    expect(error).toMatchObject({ code, reason });
    expect(outcomes(audit)).toEqual([audited]);
    if (audited.startsWith('record:')) expect(audit.last?.caller).toBeDefined();
  });

  it('still signs out, with an alarm, when the sign-out cannot be recorded', async () => {
    // Prepare
    const { portal, audit, log, signedInAs } = harness();
    const { cookie, csrf } = signedInAs(principalFor());
    audit.failOn.add('record');

    // Act
    await portal.logout({ sessionCookie: cookie, form: { csrf }, context });

    // Assess
    expect(log.alarms.map((a) => a.event)).toEqual(['audit_write_failed_on_logout']);
    expect(log.decisions.map((d) => d.outcome)).toEqual(['granted']);
  });

  it('raises no alarm when the sign-out was recorded but the response of that write was lost and its retry failed the condition', async () => {
    // Prepare
    const { portal, audit, log, signedInAs } = harness();
    const { cookie, csrf } = signedInAs(principalFor());
    audit.responseLostOn.add('record');

    // Act
    await portal.logout({ sessionCookie: cookie, form: { csrf }, context });

    // Assess
    expect(outcomes(audit)).toEqual(['record:portal_logout:granted']);
    expect(log.alarms).toEqual([]);
  });
});
