/// <reference lib="dom" />
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { chromiumForSuite, screenshot, signedInToPortal } from '../support/chromium.ts';
import { describe, expect, it } from 'vitest';
import { ALICE_SUB } from '../../infra/local/dev-idp/demo-users.ts';
import { newEventId } from '../../src/domain/audit-record.ts';
import { auditRecordsSince, dynamo, stack } from '../support/e2e.ts';

/**
 * "What does this allow?" and the admin page's audit trail in Debian's Chromium: alice reads what console-readonly
 * gives her and is refused the admin page; carol (the demo admin) filters the trail and pages through it, and
 * meets a bad range as an error page. Each run writes its screenshots to test-output/screenshots/ (copies in docs/portal/).
 */
describe('the portal explain and admin pages in a real browser', () => {
  const browser = chromiumForSuite();
  const portalUrl = () => `${stack().apiUrl}/portal`;

  const signedIn = (username: 'alice' | 'carol'): Promise<Page> => signedInToPortal(browser(), portalUrl(), username);

  it('shows alice what console-readonly allows, and refuses her the admin page with an audited denial', async () => {
    // Prepare
    const startedAt = new Date().toISOString();
    const page = await signedIn('alice');

    // Act
    const adminLinks = await page.locator('#admin-link').count();
    await page.locator('li', { hasText: 'console-readonly' }).getByRole('link', { name: 'What does this allow?' }).click();
    await page.locator('#explain-heading').waitFor();
    await screenshot(page, '14-explain');
    const heading = await page.locator('#explain-heading').textContent();
    const grantedBy = await page.locator('#granted-by').textContent();
    const policy = await page.locator('#session-policy').textContent();
    const note = await page.locator('#role-note').textContent();
    const refused = await page.goto(`${portalUrl()}/admin`);
    await screenshot(page, '16-admin-forbidden');

    // Assess
    expect(adminLinks).toBe(0);
    expect(heading).toBe('What does console-readonly allow?');
    expect(grantedBy).toContain('console-users');
    expect(JSON.parse(policy ?? '')).toMatchObject({ Version: '2012-10-17' });
    expect(note).toMatch(/outside the broker's view/);
    expect(refused?.status()).toBe(403);
    expect(await page.locator('h1').textContent()).toBe('Request refused');
    const denied = (await auditRecordsSince(startedAt)).filter(
      (r) => r['action'] === 'audit_query' && r['caller']?.['subject'] === ALICE_SUB,
    );
    expect(denied).toMatchObject([{ outcome: 'denied', reason: 'not_admin' }]);
  }, 60_000);

  it('lets carol filter the audit trail and page through it, and shows a bad range as an error page', async () => {
    // Prepare: 30 records of an entitlement of this test's own
    const entitlement = `seeded-${randomBytes(4).toString('hex')}`;
    const now = Date.now();
    const items = Array.from({ length: 30 }, (_, i) => {
      const time = new Date(now - (i + 1) * 60_000);
      return {
        eventId: newEventId(time, randomBytes(10)),
        time: time.toISOString(),
        day: time.toISOString().slice(0, 10),
        action: 'credentials',
        outcome: 'granted',
        userKey: 'seededseededseededseededaa',
        entitlementId: entitlement,
        entitlement: { id: entitlement },
        caller: { issuerId: 'dev', subject: `seeded-${i}` },
        request: { requestId: `seed-${i}` },
      };
    });
    await dynamo().send(
      new BatchWriteCommand({
        RequestItems: {
          [stack().brokerEnv['KEYVEND_AUDIT_TABLE'] as string]: items.slice(0, 25).map((Item) => ({ PutRequest: { Item } })),
        },
      }),
    );
    await dynamo().send(
      new BatchWriteCommand({
        RequestItems: { [stack().brokerEnv['KEYVEND_AUDIT_TABLE'] as string]: items.slice(25).map((Item) => ({ PutRequest: { Item } })) },
      }),
    );
    const page = await signedIn('carol');

    // Act
    await page.locator('#admin-link').click();
    await page.locator('#f-entitlement').fill(entitlement);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('#audit-records').waitFor();
    await screenshot(page, '15-admin-audit');
    const firstPage = await page.locator('#audit-records tbody tr').count();
    await page.locator('#next-page').click();
    await page.locator('#audit-records').waitFor();
    const secondPage = await page.locator('#audit-records tbody tr').allTextContents();
    await page.locator('#f-from').fill('not-a-date');
    const bad = await Promise.all([
      page.waitForResponse((r) => r.url().includes('/portal/admin?')),
      page.getByRole('button', { name: 'Search' }).click(),
    ]);
    await screenshot(page, '17-admin-bad-range');

    // Assess
    expect(firstPage).toBe(25);
    expect(secondPage).toHaveLength(5);
    expect(secondPage.at(-1)).toContain('seeded-29');
    expect(bad[0].status()).toBe(400);
    expect(await page.locator('h1').textContent()).toBe('Request refused');
  }, 60_000);
});
