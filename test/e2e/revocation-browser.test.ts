/// <reference lib="dom" />
import type { Page } from 'playwright-core';
import { chromiumForSuite, screenshot, signedInToPortal } from '../support/chromium.ts';
import { describe, expect, it } from 'vitest';
import { auditRecordsSince, devIdpToken, postCredentials, stack } from '../support/e2e.ts';

const ALICE_SUB = '7f3a9c1e-4b2d-4e6f-8a1b-2c3d4e5f6a7b';

/**
 * The portal's admin revocations page in Debian's Chromium: carol (the dev IdP's demo admin) signs in through the
 * dev IdP's form, revokes alice with the page's form (CSRF token included), sees it listed, and lifts it; bob is
 * refused; a form without the session's CSRF token is refused. Screenshots in test-output/screenshots/.
 */
describe('the admin revocations page in a real browser', () => {
  const browser = chromiumForSuite();
  const portalUrl = () => `${stack().apiUrl}/portal`;
  const pageUrl = () => `${stack().apiUrl}/portal/admin/revocations`;

  const signedIn = (username: 'carol' | 'bob'): Promise<Page> =>
    signedInToPortal(browser(), portalUrl(), username, { width: 1100, height: 760 });

  it('lets carol revoke alice with the form, lists it, and lift it again; each step audited', async () => {
    // Prepare: alice has used Keyvend (a person never seen cannot be revoked: 404)
    const alice = await devIdpToken('alice');
    expect((await postCredentials(alice, { entitlement: 'photo-uploads', durationSeconds: 900 })).status).toBe(200);
    const startedAt = new Date().toISOString();
    const page = await signedIn('carol');
    await page.goto(pageUrl());

    // Act: revoke alice
    await page.locator('select[name="kind"]').selectOption('person');
    await page.locator('input[name="issuer"]').fill('dev');
    await page.locator('input[name="subject"]').fill(ALICE_SUB);
    await page.locator('#revoke input[name="reason"]').fill('laptop stolen');
    await Promise.all([page.waitForURL(`${pageUrl()}?done=revoked`), page.getByRole('button', { name: 'Revoke' }).click()]);
    await screenshot(page, '20-revocations');

    // Assess: listed
    expect(await page.locator('#notice').textContent()).toBe('Revoked.');
    const row = page.locator('#revocations tbody tr', { hasText: ALICE_SUB });
    expect(await row.count()).toBe(1);
    expect(await row.textContent()).toContain('laptop stolen');
    expect(await row.textContent()).toContain('denied');

    // Act: lift it
    await row.locator('input[name="reason"]').fill('laptop found');
    await Promise.all([page.waitForURL(`${pageUrl()}?done=unrevoked`), row.getByRole('button', { name: /Un-revoke/ }).click()]);

    // Assess
    expect(await page.locator('#notice').textContent()).toBe('Revocation lifted.');
    expect(await page.locator('#revocations tbody tr', { hasText: ALICE_SUB }).count()).toBe(0);
    const records = await auditRecordsSince(startedAt);
    expect(records.map((r) => [r['action'], r['outcome']])).toEqual(
      expect.arrayContaining([
        ['revocations_list', 'granted'],
        ['revoke', 'granted'],
        ['unrevoke', 'granted'],
      ]),
    );
  });

  it('refuses bob (not an admin) with the 403 page, audited; and a form without the session CSRF token', async () => {
    // Prepare
    const startedAt = new Date().toISOString();
    const bob = await signedIn('bob');
    const carol = await signedIn('carol');

    // Act
    const bobPage = await bob.goto(pageUrl());
    await screenshot(bob, '21-revocations-forbidden');
    const forged = await carol.request.post(pageUrl(), {
      form: { csrf: 'not-the-session-token-not-the-session-token', kind: 'entitlement', entitlement: 'photo-uploads', reason: 'forged' },
      maxRedirects: 0,
    });

    // Assess
    expect(bobPage?.status()).toBe(403);
    expect(await bob.locator('main').textContent()).toMatch(/administrator/i);
    expect(forged.status()).toBe(400);
    const records = await auditRecordsSince(startedAt);
    expect(records).toContainEqual(expect.objectContaining({ action: 'revocations_list', outcome: 'denied', reason: 'not_admin' }));
    expect(records).toContainEqual(expect.objectContaining({ action: 'revoke', outcome: 'denied', reason: 'csrf_token_invalid' }));
    expect(records.filter((r) => r['action'] === 'revoke' && r['outcome'] === 'granted')).toEqual([]);
  });
});
