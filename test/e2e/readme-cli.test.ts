import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../infra/local/stack.ts';
import { signInAsBrowser } from '../support/browser-sign-in.ts';
import { isolatedEnv } from '../support/cli-harness.ts';
import { stack } from '../support/e2e.ts';
import { bash } from '../support/readme.ts';

/** The ```sh blocks of the README's "Using the CLI" section, as a reader copies them. */
function readmeCliBlocks(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Using the CLI');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/gu)].map((match) => match[1] ?? '');
}

const PHOTO_UPLOADS_ARN = /arn:aws:sts::111111111111:assumed-role\/photo-uploads\/[\w.@=,-]+/gu;

/**
 * The README's CLI commands, word for word, in bash from the repository root. Only the addresses change: `npm start`'s
 * default ports become the shared e2e stack's, and the workload's /tmp folder a fresh one.
 */
describe('the README CLI section, run as written', () => {
  it('logs alice in, configures a profile, and every command in its code blocks works', async () => {
    // Prepare
    const blocks = readmeCliBlocks();
    const workloadState = mkdtempSync(join(tmpdir(), 'keyvend-workload-'));
    const addresses: [string, string][] = [
      ['http://127.0.0.1:3000', stack().apiUrl],
      ['http://127.0.0.1:4010', stack().idpIssuer],
      ['http://127.0.0.1:4020', stack().stsUrl],
      ['/tmp/keyvend-workload', workloadState],
    ];
    for (const [written] of addresses) expect(blocks.join('\n')).toContain(written);
    const scripts = blocks.map((block) => addresses.reduce((text, [written, actual]) => text.replaceAll(written, actual), block));
    const env = isolatedEnv({ AWS_EC2_METADATA_DISABLED: 'true' });
    // "opens your browser": a stand-in browser that writes down the URL, where the test signs in as alice would.
    const opened = join(env['HOME'] ?? '', 'opened-url');
    const browser = join(env['HOME'] ?? '', 'browser.sh');
    writeFileSync(browser, `#!/bin/sh\nprintf '%s\\n' "$1" > '${opened}'\n`, { mode: 0o755 });
    env['KEYVEND_BROWSER'] = browser;

    // Act
    const [main, others, workload] = [scripts[0] ?? '', scripts[1] ?? '', scripts[2] ?? ''];
    const running = bash(main, env);
    await expect.poll(() => (existsSync(opened) ? readFileSync(opened, 'utf8') : ''), { timeout: 60_000 }).toMatch(/^http/u);
    const signedIn = await signInAsBrowser(readFileSync(opened, 'utf8').trim(), 'alice', 'alice-password');
    const first = await running;
    const second = await bash(others, env);
    const third = await bash(workload, env);

    // Assess
    expect(blocks).toHaveLength(3);
    expect(signedIn.status).toBeLessThan(400);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^name\s+alice$/mu);
    expect(first.stdout).toMatch(/^photo-uploads\s/mu);
    expect(first.stderr).toContain(`Try: aws sts get-caller-identity --profile keyvend-demo --endpoint-url ${stack().stsUrl}\n`);
    expect(first.stdout.match(PHOTO_UPLOADS_ARN)).toHaveLength(1);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout.match(PHOTO_UPLOADS_ARN)).toHaveLength(2);
    expect(third.code, third.stderr).toBe(0);
    expect(JSON.parse(third.stdout)).toMatchObject({ Version: 1, AccessKeyId: expect.stringMatching(/^ASIA/u) });
  });
});
