/// <reference lib="dom" />
import { scanAll } from '../support/dynamodb.ts';
import { loggedDecisionsSince } from '../support/e2e.ts';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { chromiumForSuite, screenshot } from '../support/chromium.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/dynamodb.ts';
import { ALICE_SUB, findDemoUserByUsername } from '../../infra/local/dev-idp/demo-users.ts';
import { type DevSamlIdp, startDevSamlIdp } from '../../infra/local/saml-idp.ts';
import { type LocalStack, ROOT, startLocalStack } from '../../infra/local/stack.ts';
import { deriveUserKey } from '../../src/domain/identifiers.ts';

const BOB_SUB = findDemoUserByUsername('bob')?.sub ?? '';
/** The login-CSRF attacker's site: Chromium resolves it to loopback, and it is another site than 127.0.0.1. */
const ATTACKER_HOST = 'attacker.example';

/**
 * SAML sign-in to the portal in Debian's Chromium: the local stack of `npm start` (dev OIDC IdP, dev SAML IdP
 * with the portal as a second SP). Sign-in is SP-initiated: the portal's "Sign in with SAML" sends an AuthnRequest
 * to the IdP, a demo user signs in at its form, the IdP's page posts the SAMLResponse answering it to
 * POST /portal/saml/acs, and the portal lists the person's console roles and opens one. An attacker's page that
 * posts the attacker's own response into a victim's browser (login CSRF) gets nowhere.
 */
describe('portal sign-in with SAML, in a real browser', () => {
  let stack: LocalStack;
  let samlIdp: DevSamlIdp;
  const browser = chromiumForSuite([`--host-resolver-rules=MAP ${ATTACKER_HOST} 127.0.0.1`]);
  const portalUrl = () => `${stack.apiUrl}/portal`;

  beforeAll(async () => {
    const httpPort = await freePort();
    samlIdp = await startDevSamlIdp({
      port: await freePort(),
      acsUrl: `http://127.0.0.1:${httpPort}/v1/credentials`,
      audience: 'urn:keyvend:local',
      portalAcsUrl: `http://127.0.0.1:${httpPort}/portal/saml/acs`,
    });
    stack = await startLocalStack({
      httpPort,
      samlIdps: [samlIdp.settings],
      entitlementsFile: join(ROOT, 'infra/local/entitlements.yaml'),
      brokerLogFile: join(ROOT, 'test-output/e2e-portal-saml-broker.log'),
    });
  }, 180_000);

  afterAll(async () => {
    await stack?.close();
    await samlIdp?.close();
  });

  async function auditRecords(): Promise<Record<string, any>[]> {
    return scanAll(stack.documentClient, stack.brokerEnv['KEYVEND_AUDIT_TABLE']);
  }

  const stsCalls = async () => ((await (await fetch(`${stack.sts.url}/_emulator/calls`)).json()) as unknown[]).length;

  /** The SAMLResponse in the dev IdP's auto-posting page. */
  const samlResponseIn = (html: string) => /name="SAMLResponse" value="([^"]+)"/.exec(html)?.[1] ?? '';

  /** A response the dev IdP issues for the portal without any AuthnRequest (IdP-initiated). */
  async function unsolicitedResponse(username: string): Promise<string> {
    const page = await fetch(`${samlIdp.url}/portal-sso`, {
      method: 'POST',
      body: new URLSearchParams({ username, password: `${username}-password` }),
    });
    return samlResponseIn(await page.text());
  }

  /** An SP-initiated sign-in done outside any browser: the request cookie the portal set, and the answering response. */
  async function solicitedResponse(username: string): Promise<{ requestCookie: string; samlResponse: string }> {
    const begin = await fetch(`${portalUrl()}/saml/login?idp=dev-saml`, { redirect: 'manual' });
    expect(begin.status).toBe(302);
    const requestCookie = (begin.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const samlRequest = new URL(begin.headers.get('location') ?? '').searchParams.get('SAMLRequest') ?? '';
    const page = await fetch(`${samlIdp.url}/portal-sso`, {
      method: 'POST',
      body: new URLSearchParams({ username, password: `${username}-password`, SAMLRequest: samlRequest }),
    });
    return { requestCookie, samlResponse: samlResponseIn(await page.text()) };
  }

  /** Signs alice in through the portal in a fresh browser context; returns the context, page and posted request. */
  async function aliceSignedIn() {
    const context = await browser().newContext({ viewport: { width: 1024, height: 720 } });
    const page = await context.newPage();
    await page.goto(portalUrl());
    await page.getByRole('link', { name: 'Sign in with SAML (dev-saml)' }).click();
    await page.locator('input[name="username"]').fill('alice');
    await page.locator('input[name="password"]').fill('alice-password');
    await Promise.all([page.waitForURL(portalUrl()), page.getByRole('button', { name: 'Sign in' }).click()]);
    await expect.poll(() => page.locator('#subject').textContent()).toBe(ALICE_SUB);
    return { context, page };
  }

  it('alice signs in at the SAML IdP, lands in the portal, sees her console roles and opens one; the assertion cannot be replayed', async () => {
    // Prepare
    const context = await browser().newContext({ viewport: { width: 1024, height: 720 } });
    const page = await context.newPage();
    let postedSamlResponse = '';
    let postedCookies = '';
    let samlRequestSent = '';
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/portal/saml/acs')) {
        postedSamlResponse = new URLSearchParams(request.postData() ?? '').get('SAMLResponse') ?? '';
        void request.allHeaders().then((headers) => {
          postedCookies = headers['cookie'] ?? '';
        });
      }
      if (request.url().startsWith(`${samlIdp.url}/portal-sso?`))
        samlRequestSent = new URL(request.url()).searchParams.get('SAMLRequest') ?? '';
    });

    // Act: the portal's sign-in page, its SAML link (SP-initiated: an AuthnRequest to the IdP), and the IdP's real form
    await page.goto(portalUrl());
    await screenshot(page, 'saml-01-sign-in');
    expect(await page.getByRole('link', { name: 'Sign in with SAML (dev-saml)' }).getAttribute('href')).toBe(
      '/portal/saml/login?idp=dev-saml',
    );
    await page.getByRole('link', { name: 'Sign in with SAML (dev-saml)' }).click();
    await page.locator('input[name="username"]').fill('alice');
    await page.locator('input[name="password"]').fill('alice-password');
    await screenshot(page, 'saml-02-idp-login');
    await Promise.all([page.waitForURL(portalUrl()), page.getByRole('button', { name: 'Sign in' }).click()]);

    // Assess: signed in as alice (the NameID), with the console roles of her SAML groups
    await expect.poll(() => page.locator('#subject').textContent()).toBe(ALICE_SUB);
    const roles = page.locator('ul.roles > li');
    expect(await roles.count()).toBe(1);
    expect(await roles.first().locator('h2').textContent()).toBe('console-readonly');
    await screenshot(page, 'saml-03-roles');
    const cookie = (await context.cookies()).find((c) => c.name === 'keyvend_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(postedSamlResponse).not.toBe('');
    // The response answered the portal's AuthnRequest, whose id the request cookie carried; that cookie is now gone.
    const requestXml = (await import('node:zlib')).inflateRawSync(Buffer.from(samlRequestSent, 'base64')).toString('utf8');
    const requestId = /\bID="(_[0-9a-f]{40})"/.exec(requestXml)?.[1];
    expect(requestId).toBeDefined();
    expect(requestXml).toContain(`AssertionConsumerServiceURL="${portalUrl()}/saml/acs"`);
    expect(Buffer.from(postedSamlResponse, 'base64').toString('utf8')).toContain(`InResponseTo="${requestId}"`);
    expect(postedCookies).toMatch(/keyvend_saml_request=/);
    expect((await context.cookies()).find((c) => c.name === 'keyvend_saml_request')).toBeUndefined();
    const login = (await auditRecords()).find((r) => r['action'] === 'portal_login' && r['outcome'] === 'granted');
    expect(login).toMatchObject({ caller: { idpType: 'saml', issuerId: 'dev-saml', subject: ALICE_SUB } });
    expect(JSON.stringify(login)).not.toContain(postedSamlResponse.slice(0, 40));

    // Act: open the console as that role
    await Promise.all([
      page.waitForURL(/\/federation\?/),
      page.getByRole('button', { name: 'Open the AWS console as console-readonly' }).click(),
    ]);

    // Assess: the emulator's console page for that role and alice's SAML session
    expect(await page.locator('h1').textContent()).toBe('Signed in');
    expect(await page.locator('#role-arn').textContent()).toBe('arn:aws:iam::111111111111:role/keyvend/console-readonly');
    expect(await page.locator('#session-name').textContent()).toBe(
      `${ALICE_SUB.slice(0, 30)}.${deriveUserKey(samlIdp.entityId, ALICE_SUB)}`,
    );

    // Act: the same SAMLResponse posted to the ACS again, with the request cookie it answered (as an attacker who
    // captured both would)
    const callsBefore = await stsCalls();
    const replay = await fetch(`${portalUrl()}/saml/acs`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: postedCookies
          .split('; ')
          .filter((c) => c.startsWith('keyvend_saml_request='))
          .join('; '),
      },
      body: new URLSearchParams({ SAMLResponse: postedSamlResponse }).toString(),
      redirect: 'manual',
    });

    // Assess: refused, no session cookie, no STS call, the denial audited for alice
    expect(replay.status).toBe(401);
    expect(replay.headers.get('set-cookie') ?? '').not.toContain('keyvend_session=');
    expect(await replay.text()).toContain('Sign-in failed');
    expect(await stsCalls()).toBe(callsBefore);
    const denial = (await auditRecords()).find(
      (r) => r['action'] === 'portal_login' && r['outcome'] === 'denied' && r['reason'] === 'saml_replayed',
    );
    expect(denial).toMatchObject({ errorCode: 'invalid_token', caller: { subject: ALICE_SUB } });
    await context.close();
  }, 120_000);

  it('refuses a SAMLResponse issued for the API ACS when posted to the portal ACS, audited', async () => {
    // Prepare: a response the dev IdP issues for the CLI (Destination and Recipient = /v1/credentials)
    const startedAt = new Date().toISOString();
    const forApi = await (
      await fetch(`${samlIdp.url}/sso`, { method: 'POST', body: new URLSearchParams({ username: 'alice', password: 'alice-password' }) })
    ).text();

    // Act
    const response = await fetch(`${portalUrl()}/saml/acs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ SAMLResponse: forApi }).toString(),
      redirect: 'manual',
    });

    // Assess
    expect(response.status).toBe(401);
    expect(response.headers.get('set-cookie') ?? '').not.toContain('keyvend_session=');
    // No caller: counted in the aggregate of its source and minute; the decision line is its record.
    const denial = (await loggedDecisionsSince(startedAt, join(ROOT, 'test-output/e2e-portal-saml-broker.log'))).find(
      (r) => r['action'] === 'portal_login' && r['reason'] === 'saml_destination_mismatch',
    );
    expect(denial).toMatchObject({ outcome: 'denied', errorCode: 'invalid_token' });
    expect(String(denial?.['credentialRef'])).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  describe("login CSRF: an attacker posts their own SAMLResponse into a signed-in victim's browser", () => {
    let attackerSite: Server;
    let attackerUrl: string;
    /** What the attacker's page auto-posts to the portal's ACS, set per test. */
    let attackerResponse = '';

    beforeAll(async () => {
      attackerSite = createServer((_request, response) => {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        response.end(
          `<!DOCTYPE html><title>Cute cats</title><form id="f" method="post" action="${portalUrl()}/saml/acs"><input type="hidden" name="SAMLResponse" value="${attackerResponse}"></form><script>document.getElementById('f').submit()</script>`,
        );
      });
      const port = await freePort();
      await new Promise<void>((resolve) => attackerSite.listen(port, '127.0.0.1', () => resolve()));
      attackerUrl = `http://${ATTACKER_HOST}:${port}/`;
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => attackerSite?.close(() => resolve()));
    });

    it.each([
      ['an IdP-initiated (unsolicited) response for bob', () => unsolicitedResponse('bob'), 'saml_unsolicited'],
      [
        "bob's answer to his own SP-initiated request",
        async () => (await solicitedResponse('bob')).samlResponse,
        'saml_no_pending_request',
      ],
    ])(
      "%s, auto-posted from the attacker's page, is refused: alice stays signed in as alice",
      async (_name, make, reason) => {
        // Prepare: alice signed in; bob's fresh, genuine response on bob's page
        const { context, page } = await aliceSignedIn();
        attackerResponse = await make();
        expect(attackerResponse).not.toBe('');
        const callsBefore = await stsCalls();

        // Act: alice visits the attacker's page, which posts bob's response cross-site to the portal's ACS
        const acs = page.waitForResponse((response) => response.url() === `${portalUrl()}/saml/acs`);
        await page.goto(attackerUrl);
        const refused = await acs;

        // Assess: the request came from the attacker's origin, and was refused with a clear page
        expect((await refused.request().allHeaders())['origin']).toBe(new URL(attackerUrl).origin);
        expect(refused.status()).toBe(401);
        await expect.poll(() => page.locator('h1').textContent()).toBe('Sign-in failed');
        expect(await page.locator('main').textContent()).toContain('must start here');
        await screenshot(page, `saml-04-login-csrf-${reason}`);
        // alice's session was not replaced: the portal still shows alice
        await page.goto(portalUrl());
        expect(await page.locator('#subject').textContent()).toBe(ALICE_SUB);
        expect(await stsCalls()).toBe(callsBefore);
        // The denial is audited, naming bob, whose response it was
        const denial = (await auditRecords()).find(
          (r) =>
            r['action'] === 'portal_login' && r['outcome'] === 'denied' && r['reason'] === reason && r['caller']?.['subject'] === BOB_SUB,
        );
        expect(denial).toMatchObject({ errorCode: 'invalid_token', caller: { idpType: 'saml', issuerId: 'dev-saml' } });
        await context.close();
      },
      120_000,
    );

    it("an answer to another browser's request is refused even with a pending request in this one (mismatch)", async () => {
      // Prepare: alice's browser has started a sign-in (its request cookie), bob answers his own request
      const alice = await solicitedResponse('alice');
      const bob = await solicitedResponse('bob');

      // Act: bob's response arrives with alice's request cookie (what SameSite=None lets a cross-site POST carry)
      const response = await fetch(`${portalUrl()}/saml/acs`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: alice.requestCookie, origin: 'http://attacker.example' },
        body: new URLSearchParams({ SAMLResponse: bob.samlResponse }).toString(),
        redirect: 'manual',
      });

      // Assess
      expect(response.status).toBe(401);
      expect(response.headers.get('set-cookie') ?? '').not.toContain('keyvend_session=');
      const denial = (await auditRecords()).find((r) => r['action'] === 'portal_login' && r['reason'] === 'saml_in_response_to_mismatch');
      expect(denial).toMatchObject({ outcome: 'denied', caller: { subject: BOB_SUB } });
    });

    it('a browser signed in as alice is never switched to bob, even by a genuine answer to its own request', async () => {
      // Prepare: alice's session cookie, and a request started in the same browser that bob then answered
      const { context } = await aliceSignedIn();
      const session = (await context.cookies()).find((c) => c.name === 'keyvend_session');
      const bob = await solicitedResponse('bob');

      // Act
      const response = await fetch(`${portalUrl()}/saml/acs`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `keyvend_session=${session?.value}; ${bob.requestCookie}` },
        body: new URLSearchParams({ SAMLResponse: bob.samlResponse }).toString(),
        redirect: 'manual',
      });

      // Assess: refused with a page that says why, no new session, audited naming bob
      expect(response.status).toBe(400);
      expect(await response.text()).toContain('already signed in to the portal as someone else');
      expect(response.headers.get('set-cookie') ?? '').not.toContain('keyvend_session=');
      const denial = (await auditRecords()).find((r) => r['action'] === 'portal_login' && r['reason'] === 'portal_signed_in_as_another');
      expect(denial).toMatchObject({ outcome: 'denied', caller: { subject: BOB_SUB } });
      await context.close();
    }, 120_000);

    it('a signed-in browser that follows a "Sign in with SAML" link goes home, with no new request', async () => {
      // Prepare
      const { context, page } = await aliceSignedIn();

      // Act
      const response = await page.request.get(`${portalUrl()}/saml/login?idp=dev-saml`, { maxRedirects: 0 });

      // Assess
      expect(response.status()).toBe(302);
      expect(response.headers()['location']).toBe('/portal');
      expect(response.headers()['set-cookie']).toBeUndefined();
      await context.close();
    }, 120_000);
  });
});
