/// <reference lib="dom" />
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/dynamodb.ts';
import { ALICE_SUB } from '../../infra/local/dev-idp/demo-users.ts';
import { type DevSamlIdp, startDevSamlIdp } from '../../infra/local/saml-idp.ts';
import { type LocalStack, ROOT, startLocalStack } from '../../infra/local/stack.ts';
import { deriveUserKey } from '../../src/domain/identifiers.ts';

const SCREENSHOTS = join(ROOT, 'test-output/screenshots');

/**
 * SAML sign-in to the portal in Debian's Chromium: the local stack of `npm start` (dev OIDC IdP, dev SAML IdP
 * with the portal as a second SP), a demo user signs in at the SAML IdP's form, the IdP's page posts the signed
 * SAMLResponse to POST /portal/saml/acs, and the portal lists the person's console roles and opens one.
 */
describe('portal sign-in with SAML, in a real browser', () => {
  let stack: LocalStack;
  let samlIdp: DevSamlIdp;
  let browser: Browser;
  const portalUrl = () => `${stack.apiUrl}/portal`;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
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
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await samlIdp?.close();
  });

  async function auditRecords(): Promise<Record<string, any>[]> {
    const page = await stack.documentClient.send(new ScanCommand({ TableName: stack.brokerEnv['KEYVEND_AUDIT_TABLE'], ConsistentRead: true }));
    return page.Items ?? [];
  }

  const stsCalls = async () => ((await (await fetch(`${stack.sts.url}/_emulator/calls`)).json()) as unknown[]).length;

  it('alice signs in at the SAML IdP, lands in the portal, sees her console roles and opens one; the assertion cannot be replayed', async () => {
    // Prepare
    const context = await browser.newContext({ viewport: { width: 1024, height: 720 } });
    const page = await context.newPage();
    let postedSamlResponse = '';
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/portal/saml/acs')) postedSamlResponse = new URLSearchParams(request.postData() ?? '').get('SAMLResponse') ?? '';
    });

    // Act: the portal's sign-in page, its SAML link, and the IdP's real form
    await page.goto(portalUrl());
    await page.screenshot({ path: join(SCREENSHOTS, 'saml-01-sign-in.png'), fullPage: true });
    await page.getByRole('link', { name: 'Sign in with SAML (dev-saml)' }).click();
    await page.locator('input[name="username"]').fill('alice');
    await page.locator('input[name="password"]').fill('alice-password');
    await page.screenshot({ path: join(SCREENSHOTS, 'saml-02-idp-login.png'), fullPage: true });
    await Promise.all([page.waitForURL(portalUrl()), page.getByRole('button', { name: 'Sign in' }).click()]);

    // Assess: signed in as alice (the NameID), with the console roles of her SAML groups
    await expect.poll(() => page.locator('#subject').textContent()).toBe(ALICE_SUB);
    const roles = page.locator('ul.roles > li');
    expect(await roles.count()).toBe(1);
    expect(await roles.first().locator('h2').textContent()).toBe('console-readonly');
    await page.screenshot({ path: join(SCREENSHOTS, 'saml-03-roles.png'), fullPage: true });
    const cookie = (await context.cookies()).find((c) => c.name === 'keyvend_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(postedSamlResponse).not.toBe('');
    const login = (await auditRecords()).find((r) => r['action'] === 'portal_login' && r['outcome'] === 'granted');
    expect(login).toMatchObject({ caller: { idpType: 'saml', issuerId: 'dev-saml', subject: ALICE_SUB } });
    expect(JSON.stringify(login)).not.toContain(postedSamlResponse.slice(0, 40));

    // Act: open the console as that role
    await Promise.all([page.waitForURL(/\/federation\?/), page.getByRole('button', { name: 'Open the AWS console as console-readonly' }).click()]);

    // Assess: the emulator's console page for that role and alice's SAML session
    expect(await page.locator('h1').textContent()).toBe('Signed in');
    expect(await page.locator('#role-arn').textContent()).toBe('arn:aws:iam::111111111111:role/keyvend/console-readonly');
    expect(await page.locator('#session-name').textContent()).toBe(`${ALICE_SUB.slice(0, 30)}.${deriveUserKey(samlIdp.entityId, ALICE_SUB)}`);

    // Act: the same SAMLResponse posted to the ACS again (as an attacker who captured it would)
    const callsBefore = await stsCalls();
    const replay = await fetch(`${portalUrl()}/saml/acs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ SAMLResponse: postedSamlResponse }).toString(),
      redirect: 'manual',
    });

    // Assess: refused, no session cookie, no STS call, the denial audited for alice
    expect(replay.status).toBe(401);
    expect(replay.headers.get('set-cookie')).toBeNull();
    expect(await replay.text()).toContain('Sign-in failed');
    expect(await stsCalls()).toBe(callsBefore);
    const denial = (await auditRecords()).find((r) => r['action'] === 'portal_login' && r['outcome'] === 'denied' && r['reason'] === 'saml_replayed');
    expect(denial).toMatchObject({ errorCode: 'invalid_token', caller: { subject: ALICE_SUB } });
    await context.close();
  }, 120_000);

  it('refuses a SAMLResponse issued for the API ACS when posted to the portal ACS, audited', async () => {
    // Prepare: a response the dev IdP issues for the CLI (Destination and Recipient = /v1/credentials)
    const forApi = await (await fetch(`${samlIdp.url}/sso`, { method: 'POST', body: new URLSearchParams({ username: 'alice', password: 'alice-password' }) })).text();

    // Act
    const response = await fetch(`${portalUrl()}/saml/acs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ SAMLResponse: forApi }).toString(),
      redirect: 'manual',
    });

    // Assess
    expect(response.status).toBe(401);
    expect(response.headers.get('set-cookie')).toBeNull();
    const denial = (await auditRecords()).find((r) => r['action'] === 'portal_login' && r['reason'] === 'saml_destination_mismatch');
    expect(denial).toMatchObject({ outcome: 'denied', errorCode: 'invalid_token' });
    expect(String(denial?.['credentialRef'])).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
