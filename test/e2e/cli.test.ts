import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE_SUB, BOB_SUB, DEV_WORKLOAD_CLIENT_SECRET } from '../../infra/local/dev-idp/index.ts';
import { ROOT } from '../../infra/local/stack.ts';
import { loginPath } from '../../src/cli/login-store.ts';
import { signInAsBrowser } from '../support/browser-sign-in.ts';
import { contextFor, isolatedEnv } from '../support/cli-harness.ts';
import { auditRecords, emulatorCalls, stack } from '../support/e2e.ts';

const AWS_CLI = '/usr/bin/aws';
const PYTHON = '/usr/bin/python3';
const KEYVEND = join(ROOT, 'dist/keyvend.mjs');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Every stderr a keyvend process printed in this file, scanned for secrets at the end. */
const allStderr: string[] = [];
const secretsSeen: string[] = [];

function run(command: string, args: string[], env: Record<string, string>, onStderr?: (text: string) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onStderr?.(stderr);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (command === process.execPath) allStderr.push(stderr);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const keyvend = (args: string[], env: Record<string, string>, onStderr?: (text: string) => void) =>
  run(process.execPath, [KEYVEND, ...args], env, onStderr);

/** `keyvend login` as a person would do it: the CLI prints a URL, the person signs in there in a browser. */
async function login(env: Record<string, string>, username: 'alice' | 'bob', flow: 'device' | 'default'): Promise<Run> {
  let started = false;
  let signIn: Promise<unknown> = Promise.resolve();
  // Bob's login names the API's resource indicator (RFC 8707) explicitly, as IdPs other than the dev one need;
  // alice's relies on the dev IdP's default resource.
  const flags =
    flow === 'device' ? ['--device'] : ['--no-open', '--resource', 'urn:keyvend:api', '--scope', 'openid offline_access keyvend'];
  const result = await keyvend(['login', ...flags, '--json'], env, (stderr) => {
    const url = flow === 'device' ? /\(or open (\S+)\)/u.exec(stderr)?.[1] : /visit:\n\s+(\S+)/u.exec(stderr)?.[1];
    if (url !== undefined && !started) {
      started = true;
      signIn = signInAsBrowser(url, username, `${username}-password`);
    }
  });
  await signIn;
  return result;
}

/** Sessions the broker asked STS for (keyvend-issuer: AssumeRoleWithWebIdentity with its own token). */
const assumeRoleCount = async () => (await emulatorCalls()).filter((call) => call.action === 'AssumeRoleWithWebIdentity').length;

function userEnv(): Record<string, string> {
  return isolatedEnv({ KEYVEND_URL: stack().apiUrl, KEYVEND_ISSUER: stack().idpIssuer, AWS_EC2_METADATA_DISABLED: 'true' });
}

describe('keyvend CLI against the local stack, the AWS CLI v2 and boto3', () => {
  const alice = userEnv();
  const bob = userEnv();

  beforeAll(async () => {
    // The dev IdP advertises a device_authorization_endpoint, but only `--device` uses it: a plain `keyvend login`
    // takes the browser flow, which a phisher cannot start on the victim's behalf.
    const [aliceLogin, bobLogin] = await Promise.all([login(alice, 'alice', 'device'), login(bob, 'bob', 'default')]);
    expect(aliceLogin.code, aliceLogin.stderr).toBe(0);
    expect(aliceLogin.stderr).toMatch(/^To sign in, open http:\/\/127\.0\.0\.1:\d+\/device and enter the code [A-Z]{4}-[A-Z]{4}\n/u);
    expect(JSON.parse(aliceLogin.stdout)).toMatchObject({ issuer: stack().idpIssuer, subject: ALICE_SUB, kind: 'user' });
    expect(bobLogin.code, bobLogin.stderr).toBe(0);
    expect(bobLogin.stderr).toMatch(/code_challenge_method=S256/u);
    expect(bobLogin.stderr).not.toContain('enter the code');
  });

  afterAll(() => {
    // Assess (for the whole file): no keyvend process ever printed a secret on stderr.
    const stderr = allStderr.join('\n');
    for (const secret of secretsSeen) expect(stderr).not.toContain(secret);
  });

  it('logs a person in with the device flow and keeps the tokens in a file only they can read', () => {
    // Act
    const path = loginPath(contextFor(alice), stack().idpIssuer);
    const record = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

    // Assess
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(path, '..')).mode & 0o777).toBe(0o700);
    expect(record).toMatchObject({ kind: 'user', subject: ALICE_SUB, clientId: 'keyvend-cli', displayName: 'alice' });
    expect(record['refreshToken']).toEqual(expect.any(String));
    secretsSeen.push(String(record['accessToken']), String(record['refreshToken']));
  });

  it('logs a person in with the browser flow (PKCE, loopback redirect), the default, and lists their entitlements', async () => {
    // Act
    const table = await keyvend(['ls'], bob);
    const json = await keyvend(['ls', '--json'], bob);
    const aliceList = await keyvend(['ls', '--json'], alice);

    // Assess
    expect(JSON.parse(readFileSync(loginPath(contextFor(bob), stack().idpIssuer), 'utf8'))).toMatchObject({
      subject: BOB_SUB,
      resource: 'urn:keyvend:api',
    });
    expect(table.stdout).toMatch(/^ENTITLEMENT\s+OUTPUTS\s+MAX\s+DESCRIPTION\nphoto-uploads\s+credentials\s+60m\s+Upload photos/u);
    expect((JSON.parse(json.stdout) as { entitlements: { id: string }[] }).entitlements.map((e) => e.id)).toEqual(['photo-uploads']);
    expect((JSON.parse(aliceList.stdout) as { entitlements: { id: string }[] }).entitlements.map((e) => e.id)).toEqual([
      'console-readonly',
      'photo-uploads',
    ]);
  });

  it('writes a profile that the AWS CLI v2 and boto3 use, and the emulator sees requests signed with the vended keys', async () => {
    // Prepare
    const configFile = alice['AWS_CONFIG_FILE'] ?? '';
    mkdirSync(join(configFile, '..'), { recursive: true });
    const existing = '# my settings\n[default]\nregion = eu-west-1\n\n[profile other]\noutput = text\n';
    writeFileSync(configFile, existing);

    // Act
    const configured = await keyvend(['configure', 'photo-uploads', '--profile', 'kv-photos', '--region', 'us-east-1'], alice);
    const cli = await run(
      AWS_CLI,
      ['sts', 'get-caller-identity', '--profile', 'kv-photos', '--endpoint-url', stack().stsUrl, '--output', 'json'],
      alice,
    );
    const cliCall = (await emulatorCalls()).at(-1);
    const python = await run(
      PYTHON,
      [
        '-c',
        `import boto3\nprint(boto3.Session(profile_name='kv-photos').client('sts', endpoint_url='${stack().stsUrl}').get_caller_identity()['Arn'])`,
      ],
      alice,
    );
    const boto3Call = (await emulatorCalls()).at(-1);
    const cached = JSON.parse((await keyvend(['credentials', 'photo-uploads'], alice)).stdout) as Record<string, string>;
    secretsSeen.push(cached['SecretAccessKey'] ?? '', cached['SessionToken'] ?? '');

    // Assess
    expect(configured.code, configured.stderr).toBe(0);
    const config = readFileSync(configFile, 'utf8');
    expect(config.startsWith(existing)).toBe(true);
    expect(config.slice(existing.length)).toBe(
      `\n[profile kv-photos]\nregion = us-east-1\ncredential_process = ${process.execPath} ${KEYVEND} credentials photo-uploads --broker-url ${stack().apiUrl} --issuer ${stack().idpIssuer}\n`,
    );
    expect(cli.code, cli.stderr).toBe(0);
    const arn = (JSON.parse(cli.stdout) as { Arn: string }).Arn;
    expect(arn).toMatch(new RegExp(`^arn:aws:sts::111111111111:assumed-role/photo-uploads/${ALICE_SUB.slice(0, 30)}\\.[a-z2-7]{26}$`, 'u'));
    expect(python.code, python.stderr).toBe(0);
    expect(python.stdout.trim()).toBe(arn);
    for (const call of [cliCall, boto3Call]) {
      expect(call).toMatchObject({ action: 'GetCallerIdentity', outcome: 'ok', callerAccessKeyId: cached['AccessKeyId'] });
    }
  });

  it('serves a second credentials call from the cache without the broker, and refreshes near expiry', async () => {
    // Prepare
    const first = JSON.parse((await keyvend(['credentials', 'photo-uploads'], alice)).stdout) as Record<string, string>;
    const before = await assumeRoleCount();
    // Every request the broker answers is audited, granted or denied: an unchanged count means it was not asked.
    const aliceDecisions = async () => (await auditRecords()).filter((record) => record['caller']?.['subject'] === ALICE_SUB).length;
    const decisionsBefore = await aliceDecisions();

    // Act
    const cachedRun = await keyvend(['credentials', 'photo-uploads'], alice);
    const afterCached = await assumeRoleCount();
    const decisionsAfterCached = await aliceDecisions();
    // Fifteen-minute credentials have less than 16 minutes left: they count as near expiry.
    const refreshedRun = await keyvend(['credentials', 'photo-uploads', '--min-remaining', '16'], alice);
    const afterRefresh = await assumeRoleCount();
    const again = await keyvend(['credentials', 'photo-uploads'], alice);

    // Assess
    expect(JSON.parse(cachedRun.stdout)).toEqual(first);
    expect(afterCached).toBe(before);
    expect(decisionsAfterCached).toBe(decisionsBefore);
    expect(await aliceDecisions()).toBe(decisionsBefore + 1);
    const refreshed = JSON.parse(refreshedRun.stdout) as Record<string, string>;
    secretsSeen.push(refreshed['SecretAccessKey'] ?? '', refreshed['SessionToken'] ?? '');
    expect(refreshed['AccessKeyId']).not.toBe(first['AccessKeyId']);
    expect(afterRefresh).toBe(before + 1);
    expect(JSON.parse(again.stdout)).toEqual(refreshed);
    expect(await assumeRoleCount()).toBe(before + 1);
  });

  it('asks the broker once when several credential_process calls start together', async () => {
    // Prepare
    const before = await assumeRoleCount();

    // Act
    const runs = await Promise.all([1, 2, 3].map(() => keyvend(['credentials', 'console-readonly'], alice)));

    // Assess
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0]);
    expect(new Set(runs.map((r) => r.stdout)).size).toBe(1);
    expect(await assumeRoleCount()).toBe(before + 1);
  });

  it('serves boto3 and the AWS CLI through the container endpoint, and refuses a wrong token with 401', async () => {
    // Prepare
    let server: ChildProcess | undefined;
    const announced = await new Promise<{ token: string; uris: Record<string, string> }>((resolve, reject) => {
      server = spawn(process.execPath, [KEYVEND, 'serve', 'photo-uploads', '--json'], { env: alice });
      let stdout = '';
      server.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('\n')) resolve(JSON.parse(stdout) as { token: string; uris: Record<string, string> });
      });
      server.on('exit', (code) => reject(new Error(`keyvend serve exited with ${code}`)));
    });
    const uri = announced.uris['photo-uploads'] ?? '';
    const containerEnv = {
      ...isolatedEnv(),
      AWS_CONTAINER_CREDENTIALS_FULL_URI: uri,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: announced.token,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    secretsSeen.push(announced.token);

    try {
      // Act
      const python = await run(
        PYTHON,
        ['-c', `import boto3\nprint(boto3.client('sts', endpoint_url='${stack().stsUrl}').get_caller_identity()['Arn'])`],
        containerEnv,
      );
      const boto3Call = (await emulatorCalls()).at(-1);
      const cli = await run(
        AWS_CLI,
        ['sts', 'get-caller-identity', '--endpoint-url', stack().stsUrl, '--query', 'Arn', '--output', 'text'],
        containerEnv,
      );
      const wrong = await fetch(uri, { headers: { authorization: `${announced.token.slice(0, -2)}xx` } });
      const missing = await fetch(uri);
      const served = (await (await fetch(uri, { headers: { authorization: announced.token } })).json()) as Record<string, string>;

      // Assess
      expect(uri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/creds\/photo-uploads$/u);
      expect(python.code, python.stderr).toBe(0);
      expect(python.stdout).toMatch(/^arn:aws:sts::111111111111:assumed-role\/photo-uploads\//u);
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout.trim()).toBe(python.stdout.trim());
      expect(boto3Call).toMatchObject({ action: 'GetCallerIdentity', outcome: 'ok', callerAccessKeyId: served['AccessKeyId'] });
      expect(Object.keys(served).sort()).toEqual(['AccessKeyId', 'Expiration', 'SecretAccessKey', 'Token']);
      expect(wrong.status).toBe(401);
      expect(await wrong.json()).toEqual({ Code: 'AccessDenied', Message: 'Missing or wrong authorization token.' });
      expect(missing.status).toBe(401);
    } finally {
      const stopped = new Promise((resolve) => server?.once('close', resolve));
      server?.kill('SIGTERM');
      await stopped;
    }
  });

  it('serves the AWS CLI and boto3 as an IMDSv2 endpoint, with nothing else to find credentials in', async () => {
    // Prepare
    let server: ChildProcess | undefined;
    const announced = await new Promise<{ port: number; endpoint: string; role: string }>((resolve, reject) => {
      server = spawn(process.execPath, [KEYVEND, 'serve', 'photo-uploads', '--imds', '--json'], { env: alice });
      let stdout = '';
      server.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('\n')) resolve(JSON.parse(stdout) as { port: number; endpoint: string; role: string });
      });
      server.on('exit', (code) => reject(new Error(`keyvend serve --imds exited with ${code}`)));
    });
    // A fresh HOME with no AWS config or credentials files, and no credential variables: only IMDS is left.
    const imdsEnv = { ...isolatedEnv(), AWS_EC2_METADATA_SERVICE_ENDPOINT: announced.endpoint, AWS_DEFAULT_REGION: 'us-east-1' };
    const base = announced.endpoint.replace(/\/$/u, '');
    const rolesPath = `${base}/latest/meta-data/iam/security-credentials/`;

    try {
      // Act
      const cli = await run(AWS_CLI, ['sts', 'get-caller-identity', '--endpoint-url', stack().stsUrl, '--output', 'json'], imdsEnv);
      const cliCall = (await emulatorCalls()).at(-1);
      const python = await run(
        PYTHON,
        ['-c', `import boto3\nprint(boto3.client('sts', endpoint_url='${stack().stsUrl}').get_caller_identity()['Arn'])`],
        imdsEnv,
      );
      const boto3Call = (await emulatorCalls()).at(-1);
      const token = await (
        await fetch(`${base}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' } })
      ).text();
      const served = (await (
        await fetch(`${rolesPath}photo-uploads`, { headers: { 'x-aws-ec2-metadata-token': token } })
      ).json()) as Record<string, string>;
      secretsSeen.push(token, served['SecretAccessKey'] ?? '', served['Token'] ?? '');
      const noToken = await fetch(`${rolesPath}photo-uploads`);
      const forwarded = await fetch(`${base}/latest/api/token`, {
        method: 'PUT',
        headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60', 'x-forwarded-for': '203.0.113.7' },
      });
      const wrongPath = await fetch(`${rolesPath}admin`, { headers: { 'x-aws-ec2-metadata-token': token } });

      // Assess
      expect(announced).toMatchObject({ role: 'photo-uploads', endpoint: `http://127.0.0.1:${announced.port}/` });
      expect(cli.code, cli.stderr).toBe(0);
      const arn = (JSON.parse(cli.stdout) as { Arn: string }).Arn;
      expect(arn).toMatch(
        new RegExp(`^arn:aws:sts::111111111111:assumed-role/photo-uploads/${ALICE_SUB.slice(0, 30)}\\.[a-z2-7]{26}$`, 'u'),
      );
      expect(python.code, python.stderr).toBe(0);
      expect(python.stdout.trim()).toBe(arn);
      for (const call of [cliCall, boto3Call]) {
        expect(call).toMatchObject({ action: 'GetCallerIdentity', outcome: 'ok', callerAccessKeyId: served['AccessKeyId'] });
      }
      expect(served).toMatchObject({ Code: 'Success', Type: 'AWS-HMAC', LastUpdated: expect.stringMatching(/Z$/u) });
      expect(Object.keys(served).sort()).toEqual(['AccessKeyId', 'Code', 'Expiration', 'LastUpdated', 'SecretAccessKey', 'Token', 'Type']);
      expect(noToken.status).toBe(401);
      expect(forwarded.status).toBe(403);
      expect(wrongPath.status).toBe(404);
    } finally {
      const stopped = new Promise((resolve) => server?.once('close', resolve));
      server?.kill('SIGTERM');
      await stopped;
    }
  });

  it('runs a command with the credentials in its environment', async () => {
    // Act
    const result = await keyvend(
      [
        'exec',
        'photo-uploads',
        '--',
        AWS_CLI,
        'sts',
        'get-caller-identity',
        '--endpoint-url',
        stack().stsUrl,
        '--region',
        'us-east-1',
        '--query',
        'Arn',
        '--output',
        'text',
      ],
      alice,
    );

    // Assess
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^arn:aws:sts::111111111111:assumed-role\/photo-uploads\//u);
  });

  it('carries the broker refusal in one line with exit code 4, and STS is not called', async () => {
    // Prepare
    const before = await assumeRoleCount();

    // Act
    const result = await keyvend(['credentials', 'console-readonly'], bob);

    // Assess
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^keyvend: not_entitled: You are not entitled to this entitlement, or it does not allow this output\. \(request [\w-]+\)\n$/u,
    );
    expect(await assumeRoleCount()).toBe(before);
  });

  it('refreshes an expired access token with the rotated refresh token', async () => {
    // Prepare
    const path = loginPath(contextFor(bob), stack().idpIssuer);
    const record = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    writeFileSync(path, JSON.stringify({ ...record, accessTokenExpiresAt: 0 }));

    // Act
    const result = await keyvend(['ls', '--json'], bob);

    // Assess
    expect(result.code, result.stderr).toBe(0);
    const renewed = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    expect(renewed['accessToken']).not.toBe(record['accessToken']);
    expect(renewed['refreshToken']).not.toBe(record['refreshToken']);
    expect(Number(renewed['accessTokenExpiresAt'])).toBeGreaterThan(Date.now());
    expect(statSync(path).mode & 0o777).toBe(0o600);
    secretsSeen.push(String(renewed['refreshToken']), String(renewed['accessToken']));
  });

  it('tells the user to run keyvend login, with exit code 3, when the login has expired or the broker refuses the token', async () => {
    // Prepare
    const path = loginPath(contextFor(bob), stack().idpIssuer);
    const record = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const before = await assumeRoleCount();

    // Act
    writeFileSync(path, JSON.stringify({ ...record, accessTokenExpiresAt: 0, refreshToken: 'no-longer-valid' }));
    const expired = await keyvend(['credentials', 'photo-uploads', '--min-remaining', '60'], bob);
    writeFileSync(path, JSON.stringify({ ...record, accessToken: 'not-a-token' }));
    const refused = await keyvend(['ls'], bob);

    // Assess
    expect(expired.code).toBe(3);
    expect(expired.stderr).toBe(
      `keyvend: login_expired: your login to ${stack().idpIssuer} has expired (the identity provider no longer accepts the refresh token); run \`keyvend login\`\n`,
    );
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(
      /^keyvend: invalid_token: The bearer token is missing, malformed, expired or not trusted\.; run `keyvend login` \(request [\w-]+\)\n$/u,
    );
    expect(await assumeRoleCount()).toBe(before);
  });

  it('logs a workload in with client credentials from the environment or a file, never storing the secret', async () => {
    // Prepare
    const fromEnv = { ...userEnv(), KEYVEND_CLIENT_ID: 'keyvend-workload', KEYVEND_CLIENT_SECRET: DEV_WORKLOAD_CLIENT_SECRET };
    const fromFile = userEnv();
    const secretFile = join(fromFile['HOME'] ?? '', 'client-secret');
    writeFileSync(secretFile, `${DEV_WORKLOAD_CLIENT_SECRET}\n`, { mode: 0o600 });

    // Act
    const envLogin = await keyvend(['login', '--client-credentials'], fromEnv);
    const envCredentials = await keyvend(['credentials', 'workload-uploads'], fromEnv);
    const fileLogin = await keyvend(
      ['login', '--client-credentials', '--client-id', 'keyvend-workload', '--client-secret-file', secretFile],
      fromFile,
    );
    const path = loginPath(contextFor(fromFile), stack().idpIssuer);
    const record = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    writeFileSync(path, JSON.stringify({ ...record, accessTokenExpiresAt: 0 }));
    const renewedList = await keyvend(['ls', '--json'], fromFile);
    const wrongSecret = await keyvend(['login', '--client-credentials'], { ...fromEnv, KEYVEND_CLIENT_SECRET: 'wrong' });

    // Assess
    expect(envLogin.code, envLogin.stderr).toBe(0);
    expect(envLogin.stderr).toBe(`Logged in to ${stack().idpIssuer} as keyvend-workload.\n`);
    expect(envCredentials.code, envCredentials.stderr).toBe(0);
    expect(JSON.parse(envCredentials.stdout)).toMatchObject({ Version: 1, AccessKeyId: expect.stringMatching(/^ASIA/u) });
    expect(fileLogin.code, fileLogin.stderr).toBe(0);
    expect(record).toMatchObject({ kind: 'workload', subject: 'keyvend-workload', clientSecretFile: secretFile });
    expect(renewedList.code, renewedList.stderr).toBe(0);
    expect((JSON.parse(renewedList.stdout) as { entitlements: { id: string }[] }).entitlements.map((e) => e.id)).toEqual([
      'workload-uploads',
    ]);
    for (const env of [fromEnv, fromFile])
      expect(readFileSync(loginPath(contextFor(env), stack().idpIssuer), 'utf8')).not.toContain(DEV_WORKLOAD_CLIENT_SECRET);
    expect(wrongSecret.code).toBe(3);
    expect(wrongSecret.stderr).toBe('keyvend: login_failed: the identity provider refused the client credentials of "keyvend-workload"\n');
  });
  it('prints a console sign-in URL that lands on the console as the entitled role, and refuses a person without console access', async () => {
    // Prepare: bob's login of the other tests is expired on purpose by then, so he signs in afresh
    const freshBob = userEnv();
    const bobLogin = await login(freshBob, 'bob', 'default');
    expect(bobLogin.code, bobLogin.stderr).toBe(0);
    const signinsBefore = await assumeRoleCount();

    // Act
    const printed = await keyvend(['console', 'console-readonly'], alice);
    const json = await keyvend(['console', 'console-readonly', '--json', '--destination', 'https://console.aws.amazon.com/s3/home'], alice);
    const refused = await keyvend(['console', 'console-readonly'], freshBob);
    const landing = await fetch(printed.stdout.trim());
    const page = await landing.text();
    const browserArgs = join(alice['HOME'] ?? '', 'browser-args');
    const browser = join(alice['HOME'] ?? '', 'browser.sh');
    writeFileSync(browser, `#!/bin/sh\nprintf '%s\\n' "$@" > '${browserArgs}'\n`, { mode: 0o755 });
    const opening = keyvend(['console', 'console-readonly', '--open'], { ...alice, KEYVEND_BROWSER: browser });
    await expect.poll(() => (existsSync(browserArgs) ? readFileSync(browserArgs, 'utf8') : ''), { timeout: 20_000 }).toMatch(/^http:/u);
    const link = readFileSync(browserArgs, 'utf8').trim();
    const redirect = await fetch(link, { redirect: 'manual' });
    const signInUrl = redirect.headers.get('location') ?? '';
    const openedPage = await (await fetch(signInUrl)).text();
    const followedAgain = await fetch(link, { redirect: 'manual' }).then(
      (response) => response.status,
      () => 'closed',
    );
    const opened = await opening;

    // Assess
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/federation\?Action=login&/u);
    expect(landing.status).toBe(200);
    expect(page).toContain('arn:aws:iam::111111111111:role/keyvend/console-readonly');
    expect(json.code, json.stderr).toBe(0);
    const answer = JSON.parse(json.stdout) as { url: string; expiresAt: string };
    expect(new URL(answer.url).searchParams.get('Destination')).toBe('https://console.aws.amazon.com/s3/home');
    expect(Date.parse(answer.expiresAt)).toBeGreaterThan(Date.now());
    expect(refused.code).toBe(4);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^keyvend: not_entitled: /u);
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{43}$/u);
    expect(redirect.status).toBe(302);
    expect(signInUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/federation\?Action=login&/u);
    expect(openedPage).toContain('arn:aws:iam::111111111111:role/keyvend/console-readonly');
    expect(followedAgain).toBe('closed');
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout).toBe('');
    expect(await assumeRoleCount()).toBe(signinsBefore + 3);
    const signinToken = new URL(printed.stdout.trim()).searchParams.get('SigninToken') ?? '';
    expect(signinToken.length).toBeGreaterThan(16);
    const openedToken = new URL(signInUrl).searchParams.get('SigninToken') ?? '';
    expect(openedToken.length).toBeGreaterThan(16);
    expect(readFileSync(browserArgs, 'utf8')).not.toContain(openedToken);
    secretsSeen.push(signinToken, new URL(answer.url).searchParams.get('SigninToken') ?? '', openedToken);
  });
});
