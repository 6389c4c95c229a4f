import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { ROOT } from '../../infra/local/stack.ts';

/** Where the browser tests save the pages they check. */
const SCREENSHOTS = join(ROOT, 'test-output/screenshots');

/** Saves the whole page as test-output/screenshots/<name>.png. */
export const screenshot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

/**
 * Debian's Chromium for the tests of the enclosing `describe`: launched before them (the screenshots' folder made),
 * closed after them. The returned function gives the browser once it is launched.
 */
export function chromiumForSuite(extraArgs: readonly string[] = []): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    browser = await launchChromium(extraArgs);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (browser === undefined) throw new Error('Chromium has not been launched yet');
    return browser;
  };
}

/**
 * Debian's Chromium (`.ci/run` installs it), headless and quiet: no sandbox (CI runs as root), no GPU, and none of
 * the background traffic that would reach for the network. `extraArgs` adds a test's own flags (host mapping).
 */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}

/**
 * A new browser context signed in to the portal at `portalUrl` as one of the dev IdP's demo users (password
 * `<name>-password`), on the portal's home page; Paris time and British English, so screenshots read the same.
 */
export async function signedInToPortal(
  browser: Browser,
  portalUrl: string,
  username: string,
  viewport: { width: number; height: number } = { width: 1024, height: 720 },
): Promise<Page> {
  const context = await browser.newContext({ viewport, timezoneId: 'Europe/Paris', locale: 'en-GB' });
  const page = await context.newPage();
  await page.goto(portalUrl);
  await page.getByRole('link', { name: /Sign in with/ }).click();
  await page.locator('input[name="login"]').waitFor();
  await page.locator('input[name="login"]').fill(username);
  await page.locator('input[name="password"]').fill(`${username}-password`);
  await Promise.all([page.waitForURL(portalUrl), page.getByRole('button', { name: 'Sign-in' }).click()]);
  return page;
}
