import { type Browser, chromium } from 'playwright-core';

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
