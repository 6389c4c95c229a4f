import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/dynamodb.ts';
import { ROOT } from '../../infra/local/stack.ts';

/**
 * `npm start` as a newcomer runs it: the test starts the same entry point (on free ports instead of the
 * defaults), then runs the commands it printed, word for word, in bash.
 */
const STATE_FILE = join(ROOT, 'test-output/npm-start-stack.json');
const BROKER_LOG = join(ROOT, 'test-output/npm-start-broker.log');

describe('npm start', () => {
  let child: ChildProcess;
  let printed = '';
  let env: Record<string, string>;

  beforeAll(async () => {
    const [http, idp, sts, samlIdp] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    env = {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/tmp',
      KEYVEND_HTTP_PORT: String(http),
      KEYVEND_DEV_IDP_PORT: String(idp),
      KEYVEND_STS_PORT: String(sts),
      KEYVEND_DEV_IDP_URL: `http://127.0.0.1:${idp}`,
      KEYVEND_DEV_SAML_IDP_PORT: String(samlIdp),
      // Not .local/: a developer's own npm start may be running.
      KEYVEND_LOCAL_STATE: STATE_FILE,
      KEYVEND_LOCAL_BROKER_LOG: BROKER_LOG,
    };
    child = spawn(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'infra/local/start.ts')], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
    const deadline = Date.now() + 100_000;
    while (!printed.includes('Press Ctrl+C to stop.')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not come up:\n${printed}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 120_000);

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
    }
  });

  const commandAfter = (heading: string): string => {
    const lines = printed.split('\n');
    const start = lines.findIndex((line) => line.startsWith(heading));
    const command: string[] = [];
    for (const line of lines.slice(start + 1)) {
      if (line.trim() === '') break;
      command.push(line);
    }
    return command.join('\n');
  };

  it('prints commands that work as printed: a token, the entitlements, and credentials', () => {
    // Prepare
    const tokenCommand = commandAfter('Get a token for alice');
    const listCommand = commandAfter('What may I ask for?');
    const credentialsCommand = commandAfter('Credentials for your own folder');
    expect(tokenCommand.trim()).toBe('TOKEN=$(npm run -s token -- alice)');

    // Act
    const run = (script: string) =>
      spawnSync('bash', ['-c', `set -e\n${tokenCommand}\n${script}`], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
    const listed = run(listCommand);
    const credentials = run(credentialsCommand);

    // Assess
    expect(listed.status, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).entitlements.map((e: { id: string }) => e.id)).toEqual([
      'console-readonly',
      'hourly-readonly',
      'photo-uploads',
    ]);
    expect(credentials.status, credentials.stderr).toBe(0);
    const body = JSON.parse(credentials.stdout) as Record<string, unknown>;
    expect(body['Version']).toBe(1);
    expect(String(body['AccessKeyId'])).toMatch(/^ASIA/);
    expect(body['durationSeconds']).toBe(900);
  });

  it('gives alice 12-hour credentials through a Keyvend-minted token, as printed', async () => {
    // Prepare
    const tokenCommand = commandAfter('Get a token for alice');
    const longCommand = commandAfter('The same for 12 hours');
    const stsUrl = /STS emulator: +(\S+)/.exec(printed)?.[1] ?? '';

    // Act
    const result = spawnSync('bash', ['-c', `set -e\n${tokenCommand}\n${longCommand}`], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });

    // Assess
    expect(result.status, result.stderr).toBe(0);
    const body = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(body['durationSeconds']).toBe(43_200);
    const sessions = (await (await fetch(`${stsUrl}/_emulator/sessions`)).json()) as {
      accessKeyId: string;
      issuedBy: string;
      provider?: string;
      durationSeconds: number;
    }[];
    expect(sessions.find((s) => s.accessKeyId === body['AccessKeyId'])).toMatchObject({
      issuedBy: 'AssumeRoleWithWebIdentity',
      provider: 'arn:aws:iam::111111111111:oidc-provider/keyvend.local',
      durationSeconds: 43_200,
    });
  });

  it('prints a 12-hour console command that works and a portal URL that serves the sign-in page', async () => {
    // Prepare
    const tokenCommand = commandAfter('Get a token for alice');
    const consoleCommand = commandAfter('A 12-hour console sign-in URL');
    const portalUrl = /Portal: +(\S+)/.exec(printed)?.[1] ?? '';

    // Act
    const consoleUrl = spawnSync('bash', ['-c', `set -e\n${tokenCommand}\n${consoleCommand}`], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const portal = await fetch(portalUrl);

    // Assess
    expect(consoleUrl.status, consoleUrl.stderr).toBe(0);
    const landing = await fetch(String((JSON.parse(consoleUrl.stdout) as { url: string }).url));
    expect(await landing.text()).toContain('arn:aws:iam::111111111111:role/keyvend/console-readonly');
    const stsUrl = /STS emulator: +(\S+)/.exec(printed)?.[1] ?? '';
    const signins = (await (await fetch(`${stsUrl}/_emulator/signin-events`)).json()) as {
      action: string;
      sessionDuration?: number;
      accessKeyId?: string;
    }[];
    const tokenEvent = signins.filter((e) => e.action === 'getSigninToken').at(-1);
    expect(tokenEvent?.sessionDuration).toBe(43_200);
    const sessions = (await (await fetch(`${stsUrl}/_emulator/sessions`)).json()) as {
      accessKeyId: string;
      issuedBy: string;
      durationSeconds: number;
    }[];
    expect(sessions.find((s) => s.accessKeyId === tokenEvent?.accessKeyId)).toMatchObject({
      issuedBy: 'AssumeRoleWithWebIdentity',
      durationSeconds: 43_200,
    });
    expect(portalUrl).toBe(`http://127.0.0.1:${env['KEYVEND_HTTP_PORT']}/portal`);
    expect(portal.status).toBe(200);
    expect(await portal.text()).toContain('href="/portal/login"');
  });

  it('prints SAML commands that work as printed: a signed response from the dev SAML IdP, then credentials', () => {
    // Prepare
    const samlCommands = commandAfter('Or sign in with SAML');
    expect(samlCommands).toContain('SAMLResponse=$SAML');

    // Act
    const result = spawnSync('bash', ['-c', `set -e\n${samlCommands}`], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });

    // Assess
    expect(result.status, result.stderr).toBe(0);
    const body = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(body['Version']).toBe(1);
    expect(String(body['AccessKeyId'])).toMatch(/^ASIA/);
    expect(body['entitlement']).toBe('photo-uploads');
  });

  it('applies your own entitlements to the running stack as printed, and the broker log shows the requests', async () => {
    // Prepare
    const tokenCommand = commandAfter('Get a token for alice');
    const applyCommand = commandAfter('Apply your own entitlements');
    const logPath = /Broker log: +(\S+)/.exec(printed)?.[1] ?? '';
    expect(applyCommand.trim()).toBe('npm run entitlements -- apply --local examples/my-entitlements.yaml');

    // Act
    const applied = spawnSync('bash', ['-c', `set -e\n${applyCommand}`], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
    const requested = spawnSync(
      'bash',
      ['-c', `set -e\n${tokenCommand}\n${commandAfter('Credentials for your own folder').replace('photo-uploads', 'my-uploads')}`],
      { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 },
    );

    // Assess
    expect(applied.status, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/1 written, 0 unchanged, 1 grant\(s\) added/);
    expect(requested.status, requested.stderr).toBe(0);
    expect(JSON.parse(requested.stdout)).toMatchObject({ Version: 1, entitlement: 'my-uploads' });
    expect(join(ROOT, logPath)).toBe(BROKER_LOG);
    // The stack copies the broker's output to the file as it comes: the line may land a moment after the response.
    const decisionLine = /^\{.*"message":"keyvend.decision".*"entitlement":\{"id":"my-uploads"/m;
    let logged = readFileSync(BROKER_LOG, 'utf8');
    for (let waited = 0; !decisionLine.test(logged) && waited < 5_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      logged = readFileSync(BROKER_LOG, 'utf8');
    }
    expect(logged).toMatch(decisionLine);
    expect(logged).not.toMatch(/eyJ[\w-]+\.eyJ/);
  });

  it('stops cleanly on Ctrl+C', async () => {
    // Act
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');

    // Assess
    expect(await exited).toBe(0);
    expect(printed).toContain('[keyvend] stopping');
    expect(existsSync(STATE_FILE)).toBe(false);
  });
});
