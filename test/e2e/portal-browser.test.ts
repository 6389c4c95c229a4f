/// <reference lib="dom" />
import { readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { chromiumForSuite, screenshot } from '../support/chromium.ts';
import { describe, expect, it } from 'vitest';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import { openSession, sealSession } from '../../src/domain/portal-session.ts';
import { auditRecordsSince, loggedDecisionsSince, stack, stsCallCount } from '../support/e2e.ts';

const ALICE_SUB = '7f3a9c1e-4b2d-4e6f-8a1b-2c3d4e5f6a7b';
const BOB_SUB = 'b0b5e2d4-6c8a-4f1e-9d3b-5a7c9e1f3b2d';
const SESSION_COOKIE = 'keyvend_session';

/**
 * The portal in Debian's Chromium, driven by playwright-core: people sign in through the dev IdP's real
 * login form, see the roles that allow the console, and one click lands them on the emulator's console
 * page. Each page under test is saved as a screenshot in test-output/screenshots/.
 */
describe('the portal in a real browser', () => {
  const browser = chromiumForSuite();
  const portalUrl = () => `${stack().apiUrl}/portal`;

  /** A viewer in Paris: the portal's times must show in their zone, not the server's UTC. */
  async function newContext(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser().newContext({ viewport: { width: 1024, height: 720 }, timezoneId: 'Europe/Paris', locale: 'en-GB' });
    return { context, page: await context.newPage() };
  }

  /** Signs in through the dev IdP's login form; returns the callback URL the IdP sent the browser to. */
  async function signIn(page: Page, username: 'alice' | 'bob', screenshots = false): Promise<string> {
    let callbackUrl = '';
    page.on('request', (request) => {
      if (request.url().includes('/portal/callback?')) callbackUrl = request.url();
    });
    await page.goto(portalUrl());
    if (screenshots) await screenshot(page, '01-sign-in');
    await page.getByRole('link', { name: /Sign in with/ }).click();
    await page.locator('input[name="login"]').waitFor();
    await page.locator('input[name="login"]').fill(username);
    await page.locator('input[name="password"]').fill(`${username}-password`);
    if (screenshots) await screenshot(page, '02-idp-login');
    await Promise.all([page.waitForURL(portalUrl()), page.getByRole('button', { name: 'Sign-in' }).click()]);
    return callbackUrl;
  }

  it('signs alice in, lists her console roles, and one click lands on the console as that role and session', async () => {
    // Prepare
    const startedAt = new Date().toISOString();
    const { context, page } = await newContext();

    // Act: sign in
    await signIn(page, 'alice', true);

    // Assess: the home page lists only the entitlement that allows the console, with its CLI command
    await expect.poll(() => page.locator('#subject').textContent()).toBe(ALICE_SUB);
    // The ID token's name, for display only (the audit record below names the subject alone)
    expect(await page.locator('#display-name').textContent()).toBe('Alice Example');
    expect(await page.locator('#time-left').textContent()).toMatch(/^in (29|30) minutes$/);
    expect(await page.locator('main time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // The page's one script, allowed by its hash, rewrote the UTC text into the viewer's zone (Paris: CET or CEST).
    expect(await page.locator('main time').textContent()).toMatch(/C(E|ES)T|GMT\+[12]/);
    expect(await page.locator('main time').textContent()).not.toMatch(/UTC/);
    expect(await page.locator('link[rel="icon"]').getAttribute('href')).toMatch(/^data:image\/svg\+xml,/);
    const roles = page.locator('ul.roles > li');
    expect(await roles.count()).toBe(1);
    expect(await roles.first().locator('h2').textContent()).toBe('console-readonly');
    expect(await page.locator('code', { hasText: 'keyvend credentials console-readonly' }).count()).toBe(1);
    expect(await page.getByText('photo-uploads').count()).toBe(0);
    await screenshot(page, '03-roles');

    // Assess: the page's security headers and session cookie
    const response = await page.request.get(portalUrl());
    const headers = response.headers();
    expect(headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(headers['content-security-policy']).toMatch(/form-action 'self'/);
    expect(headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['referrer-policy']).toBe('no-referrer');
    expect(headers['cache-control']).toBe('no-store');
    const cookie = (await context.cookies()).find((c) => c.name === SESSION_COOKIE);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false, path: '/' });
    expect(cookie?.expires).toBeGreaterThan(Date.now() / 1000);
    expect(cookie?.expires).toBeLessThanOrEqual(Date.now() / 1000 + 1800 + 5);
    expect(Buffer.from(cookie?.value.split('.')[0] ?? '', 'base64url').toString()).not.toMatch(/ASIA|eyJ/);

    // Assess: readable on a phone, without sideways scrolling
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, '04-roles-phone');
    await page.setViewportSize({ width: 1024, height: 720 });

    // Act: open the console with the keyboard only
    const button = page.getByRole('button', { name: 'Open the AWS console as console-readonly' });
    for (let i = 0; i < 10 && !(await button.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('Tab');
    expect(await button.evaluate((el) => el === document.activeElement)).toBe(true);
    let signinUrl = '';
    page.on('request', (request) => {
      if (request.url().includes('/federation?Action=login')) signinUrl = request.url();
    });
    await Promise.all([page.waitForURL(/\/federation\?/), page.keyboard.press('Enter')]);

    // Assess: the emulator's console page, for that role and alice's session
    const sessionName = `${ALICE_SUB.slice(0, 30)}.${deriveUserKey(stack().idpIssuer, ALICE_SUB)}`;
    expect(await page.locator('h1').textContent()).toBe('Signed in');
    expect(await page.locator('#role-arn').textContent()).toBe('arn:aws:iam::111111111111:role/keyvend/console-readonly');
    expect(await page.locator('#session-name').textContent()).toBe(sessionName);
    expect(await page.locator('#destination').textContent()).toBe('https://console.aws.amazon.com/');
    expect(await page.locator('#issuer').textContent()).toBe(`${portalUrl()}`);
    expect(await page.locator('#back').getAttribute('href')).toBe(portalUrl());
    await screenshot(page, '05-console');

    // Assess: the sign-in and the grant were audited
    const records = await auditRecordsSince(startedAt);
    expect(records.find((r) => r['action'] === 'portal_login')).toMatchObject({ outcome: 'granted', caller: { subject: ALICE_SUB } });
    expect(JSON.stringify(records)).not.toContain('Alice Example');
    expect(records.find((r) => r['action'] === 'console')).toMatchObject({
      outcome: 'granted',
      caller: { subject: ALICE_SUB },
      entitlement: { id: 'console-readonly' },
      delivery: { type: 'console_url', delivered: true },
    });

    // Assess: the sign-in URL and its token reached neither the broker's log nor the audit table
    const signinToken = new URL(signinUrl).searchParams.get('SigninToken') ?? '';
    expect(signinToken.length).toBeGreaterThan(20);
    const log = readFileSync(stack().brokerLogFile, 'utf8');
    expect(log).not.toContain(signinToken);
    expect(JSON.stringify(records)).not.toContain(signinToken);
    await context.close();
  });

  it('shows bob, who has no console entitlement, no roles', async () => {
    // Prepare
    const { context, page } = await newContext();

    // Act
    await signIn(page, 'bob');

    // Assess
    expect(await page.locator('#subject').textContent()).toBe(BOB_SUB);
    expect(await page.locator('ul.roles > li').count()).toBe(0);
    expect(await page.locator('#no-roles').isVisible()).toBe(true);
    await screenshot(page, '06-no-roles');
    await context.close();
  });

  it('refuses a forged state, audits it, and calls no STS', async () => {
    // Prepare: a real login transaction, then a callback that does not carry its state
    const startedAt = new Date().toISOString();
    const { context, page } = await newContext();
    await page.goto(`${portalUrl()}/login`);
    await page.locator('input[name="login"]').waitFor();
    const callsBefore = await stsCallCount();

    // Act
    const response = await page.goto(`${portalUrl()}/callback?code=forged-code&state=forged-state`);

    // Assess
    expect(response?.status()).toBe(401);
    expect(await page.locator('h1').textContent()).toBe('Sign-in failed');
    expect((await context.cookies()).some((c) => c.name === SESSION_COOKIE)).toBe(false);
    expect(await stsCallCount()).toBe(callsBefore);
    // No caller: counted in the aggregate of its source and minute; the decision line is its record.
    const record = (await loggedDecisionsSince(startedAt)).find((r) => r['action'] === 'portal_login');
    expect(record).toMatchObject({ outcome: 'denied', reason: 'state_mismatch', errorCode: 'invalid_token' });
    await screenshot(page, '07-sign-in-failed');
    await context.close();
  });

  it('refuses a replayed callback (its state was used once already)', async () => {
    // Prepare
    const { context, page } = await newContext();
    const callbackUrl = await signIn(page, 'alice');
    expect(callbackUrl).toContain('state=');
    const startedAt = new Date().toISOString();

    // Act
    const response = await page.goto(callbackUrl);

    // Assess
    expect(response?.status()).toBe(401);
    const record = (await loggedDecisionsSince(startedAt)).find((r) => r['action'] === 'portal_login');
    expect(record).toMatchObject({ outcome: 'denied', reason: 'login_transaction_missing' });
    await context.close();
  });

  it('refuses a console request without the CSRF token, audits it, and calls no STS', async () => {
    // Prepare
    const { context, page } = await newContext();
    await signIn(page, 'alice');
    await page.locator('form[action="/portal/console"] input[name="csrf"]').evaluate((input) => input.remove());
    const callsBefore = await stsCallCount();
    const startedAt = new Date().toISOString();

    // Act
    await page.getByRole('button', { name: 'Open the AWS console as console-readonly' }).click();
    await page.locator('h1').waitFor();

    // Assess
    expect(await page.locator('h1').textContent()).toBe('Request refused');
    expect(page.url()).toBe(`${portalUrl()}/console`);
    expect(await stsCallCount()).toBe(callsBefore);
    const record = (await auditRecordsSince(startedAt)).find((r) => r['action'] === 'console');
    expect(record).toMatchObject({ outcome: 'denied', reason: 'csrf_token_invalid', caller: { subject: ALICE_SUB } });
    await screenshot(page, '08-csrf-refused');
    await context.close();
  });

  it('refuses an expired session, audits it, and calls no STS', async () => {
    // Prepare: alice's page, then her session cookie replaced by the same session, genuinely signed but expired
    const { context, page } = await newContext();
    await signIn(page, 'alice');
    const key = Buffer.from(stack().brokerEnv['KEYVEND_PORTAL_SESSION_KEY'] ?? '', 'base64url');
    const current = (await context.cookies()).find((c) => c.name === SESSION_COOKIE);
    const opened = openSession(current?.value, key, Math.floor(Date.now() / 1000));
    if (!opened.ok) throw new Error(`the session cookie did not open: ${opened.reason}`);
    const now = Math.floor(Date.now() / 1000);
    const expired = sealSession({ ...opened.session, issuedAt: now - 3600, expiresAt: now - 10 }, key);
    await context.addCookies([{ name: SESSION_COOKIE, value: expired, url: stack().apiUrl, httpOnly: true, sameSite: 'Lax' }]);
    const callsBefore = await stsCallCount();
    const startedAt = new Date().toISOString();

    // Act
    await page.getByRole('button', { name: 'Open the AWS console as console-readonly' }).click();
    await page.locator('h1').waitFor();

    // Assess
    expect(await page.locator('h1').textContent()).toBe('Please sign in again');
    expect(await stsCallCount()).toBe(callsBefore);
    const record = (await loggedDecisionsSince(startedAt)).find((r) => r['action'] === 'console');
    expect(record).toMatchObject({ outcome: 'denied', reason: 'session_expired', errorCode: 'invalid_token' });
    await screenshot(page, '09-session-expired');

    // Assess: the portal itself treats the expired session as signed out
    await page.goto(portalUrl());
    expect(await page.getByRole('link', { name: /Sign in with/ }).isVisible()).toBe(true);
    await context.close();
  });

  it('signs out with the CSRF-protected form, audited', async () => {
    // Prepare
    const { context, page } = await newContext();
    await signIn(page, 'alice');
    const startedAt = new Date().toISOString();

    // Act
    await Promise.all([page.waitForURL(`${portalUrl()}/signed-out`), page.getByRole('button', { name: 'Sign out' }).click()]);

    // Assess: a confirmation, the way back in, and a word about the IdP's own session
    expect(await page.locator('h1').textContent()).toBe('You are signed out');
    const idpLogout = new URL((await page.locator('#idp-logout').getAttribute('href')) ?? '');
    expect(idpLogout.origin).toBe(new URL(stack().idpIssuer).origin);
    expect(idpLogout.searchParams.get('client_id')).toBe('keyvend-portal');
    expect(await page.locator('#idp-logout').textContent()).toBe('Also sign out of the dev IdP');
    expect((await context.cookies()).some((c) => c.name === SESSION_COOKIE)).toBe(false);
    const record = (await auditRecordsSince(startedAt)).find((r) => r['action'] === 'portal_logout');
    expect(record).toMatchObject({ outcome: 'granted', caller: { subject: ALICE_SUB } });
    await screenshot(page, '12-signed-out');
    await Promise.all([page.waitForURL(portalUrl()), page.getByRole('link', { name: 'Sign in again' }).click()]);
    expect(await page.getByRole('link', { name: 'Sign in with the dev IdP' }).isVisible()).toBe(true);
    await context.close();
  });

  it('answers an unknown portal path with its own 404 page, not the API gateway JSON', async () => {
    // Prepare
    const { context, page } = await newContext();

    // Act
    const response = await page.goto(`${portalUrl()}/no/such/page`);

    // Assess
    expect(response?.status()).toBe(404);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);
    expect(await page.locator('h1').textContent()).toBe('Not found');
    expect(await page.getByRole('link', { name: 'Back to the portal' }).getAttribute('href')).toBe('/portal');
    await screenshot(page, '13-not-found');
    await context.close();
  });
});
