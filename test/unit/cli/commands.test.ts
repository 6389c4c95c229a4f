import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readLogin } from '../../../src/cli/login-store.ts';
import { ROOT } from '../../../infra/local/stack.ts';
import {
  contextFor,
  fakeAccessToken,
  isolatedEnv,
  runInProcess,
  startFakeBroker,
  storeLogin,
  type FakeBroker,
} from '../../support/cli-harness.ts';

const ISSUER = 'https://idp.example.com';

describe('keyvend commands: output, errors and exit codes', () => {
  let broker: FakeBroker;
  let env: Record<string, string>;
  const token = fakeAccessToken('user-1', 4_000_000_000);

  beforeAll(async () => {
    broker = await startFakeBroker({ acceptedToken: token });
  });
  afterAll(async () => {
    await broker.close();
  });
  beforeEach(() => {
    broker.calls.length = 0;
    broker.answers.clear();
    env = isolatedEnv({ KEYVEND_URL: '', KEYVEND_ISSUER: ISSUER });
    env['KEYVEND_URL'] = broker.url;
    storeLogin(env, { issuer: ISSUER, tokenEndpoint: `${broker.url}/token`, accessToken: token, refreshToken: 'refresh-1' });
  });

  it('exits 2 with one usage line for bad invocations, and 0 for --help of every command', async () => {
    // Act
    const runs = await Promise.all([
      runInProcess([], env),
      runInProcess(['frobnicate'], env),
      runInProcess(['credentials'], env),
      runInProcess(['credentials', 'photo-uploads', '--bogus'], env),
      runInProcess(['credentials', 'Photo Uploads'], env),
      runInProcess(['configure', 'photo-uploads'], env),
      runInProcess(['exec', 'photo-uploads'], env),
      runInProcess(['credentials', 'photo-uploads', '--min-remaining', 'soon'], env),
    ]);
    const helps = await Promise.all(
      [
        'login',
        'logout',
        'whoami',
        'ls',
        'credentials',
        'env',
        'exec',
        'configure',
        'serve',
        'console',
        'config',
        'revoke',
        'unrevoke',
        'revocations',
      ].map((name) => runInProcess([name, '--help'], env)),
    );

    const version = await runInProcess(['--version'], env);

    // Assess
    expect(version).toMatchObject({ code: 0, stdout: expect.stringMatching(/^keyvend \d+\.\d+\.\d+\n$/u) });
    expect(runs.map((run) => run.code)).toEqual([2, 2, 2, 2, 2, 2, 2, 2]);
    expect(runs[3]?.stderr).toMatch(/^keyvend: usage: Unknown option '--bogus'/u);
    expect(broker.calls).toEqual([]);
    for (const run of helps) {
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: keyvend /u);
    }
  });

  it('exits 2 when no broker is configured, the config file is invalid, or a broker URL is plain http to another host', async () => {
    // Prepare
    const noBroker = { ...env, KEYVEND_URL: '' };
    const badConfig = isolatedEnv();
    mkdirSync(join(badConfig['XDG_CONFIG_HOME'] ?? '', 'keyvend'), { recursive: true });
    writeFileSync(join(badConfig['XDG_CONFIG_HOME'] ?? '', 'keyvend', 'config.json'), '{"brokerUrl":"https://b","issuerr":"typo"}');

    // Act
    const missing = await runInProcess(['credentials', 'photo-uploads'], noBroker);
    const invalid = await runInProcess(['credentials', 'photo-uploads'], badConfig);
    const plainHttp = await runInProcess(['ls', '--broker-url', 'http://keyvend.example.com'], env);

    // Assess
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringMatching(/^keyvend: usage: no broker URL/u) });
    expect(invalid).toMatchObject({ code: 2, stderr: expect.stringMatching(/^keyvend: invalid_config: .*config\.json: issuerr/u) });
    expect(plainHttp).toMatchObject({ code: 2, stderr: expect.stringMatching(/must use https/u) });
  });

  it('exits 3 telling the user to run keyvend login when not logged in or the login has expired', async () => {
    // Prepare
    const stranger = { ...isolatedEnv(), KEYVEND_URL: broker.url, KEYVEND_ISSUER: ISSUER };
    const expired = { ...isolatedEnv(), KEYVEND_URL: broker.url, KEYVEND_ISSUER: ISSUER };
    storeLogin(expired, {
      issuer: ISSUER,
      tokenEndpoint: `${broker.url}/token`,
      accessToken: token,
      refreshToken: 'revoked',
      accessTokenExpiresAt: Date.now() - 1000,
    });

    // Act
    const notLoggedIn = await runInProcess(['credentials', 'photo-uploads'], stranger);
    const loginExpired = await runInProcess(['ls'], expired);

    // Assess
    expect(notLoggedIn).toMatchObject({
      code: 3,
      stdout: '',
      stderr: `keyvend: not_logged_in: not logged in to ${ISSUER}; run \`keyvend login\`\n`,
    });
    expect(loginExpired.code).toBe(3);
    expect(loginExpired.stderr).toMatch(
      /^keyvend: login_expired: your login to https:\/\/idp\.example\.com has expired \(.*\); run `keyvend login`\n$/u,
    );
    expect(broker.calls.map((call) => call.path)).toEqual(['/token']);
  });

  it('whoami: shows the saved login without asking anyone, and exits 3 when there is none or it cannot be renewed', async () => {
    // Prepare
    const named = fakeAccessToken('user-1', 4_000_000_000).replace(
      /\.[^.]+\./u,
      `.${Buffer.from(JSON.stringify({ sub: 'user-1', name: 'Alice\u001b[31m Example' })).toString('base64url')}.`,
    );
    const now = Date.parse('2030-01-01T00:00:00Z');
    storeLogin(env, {
      issuer: ISSUER,
      tokenEndpoint: `${broker.url}/token`,
      accessToken: named,
      refreshToken: 'refresh-1',
      accessTokenExpiresAt: now + 90 * 60_000,
      loggedInAt: '2029-12-31T23:00:00.000Z',
    });
    const stale = { ...isolatedEnv(), KEYVEND_ISSUER: ISSUER };
    storeLogin(stale, { issuer: ISSUER, tokenEndpoint: `${broker.url}/token`, accessToken: token, accessTokenExpiresAt: now - 1000 });
    const stranger = { ...isolatedEnv(), KEYVEND_ISSUER: ISSUER };

    // Act
    const shown = await runInProcess(['whoami'], env, () => now);
    const json = await runInProcess(['whoami', '--json'], env, () => now);
    const expired = await runInProcess(['whoami'], stale, () => now);
    const nobody = await runInProcess(['whoami'], stranger, () => now);

    // Assess
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toBe(
      [
        `issuer     ${ISSUER}`,
        'subject    user-1',
        'name       Alice?[31m Example',
        'kind       person (client keyvend-cli)',
        'logged in  2029-12-31T23:00:00.000Z',
        'token      expires 2030-01-01T01:30:00.000Z (90 min left); renewed with the refresh token',
        '',
      ].join('\n'),
    );
    expect(JSON.parse(json.stdout)).toEqual({
      issuer: ISSUER,
      subject: 'user-1',
      displayName: 'Alice\u001b[31m Example',
      kind: 'user',
      clientId: 'keyvend-cli',
      accessTokenExpiresAt: '2030-01-01T01:30:00.000Z',
      renewable: true,
      loggedInAt: '2029-12-31T23:00:00.000Z',
    });
    expect(expired).toMatchObject({
      code: 3,
      stdout: '',
      stderr: expect.stringMatching(/^keyvend: login_expired: .*no refresh token\); run `keyvend login`\n$/u),
    });
    expect(nobody).toMatchObject({
      code: 3,
      stdout: '',
      stderr: `keyvend: not_logged_in: not logged in to ${ISSUER}; run \`keyvend login\`\n`,
    });
    expect(broker.calls).toEqual([]);
  });

  it('refreshes an expired access token with the refresh token and keeps the rotated one', async () => {
    // Prepare
    const fresh = fakeAccessToken('user-1', 4_000_000_001);
    broker.answers.set('POST /token', [
      { status: 200, body: { access_token: fresh, token_type: 'Bearer', expires_in: 900, refresh_token: 'refresh-2' } },
    ]);
    storeLogin(env, {
      issuer: ISSUER,
      tokenEndpoint: `${broker.url}/token`,
      accessToken: token,
      refreshToken: 'refresh-1',
      accessTokenExpiresAt: Date.now() - 1000,
    });
    broker.answers.set('GET /v1/entitlements', [{ status: 200, body: { entitlements: [] } }]);

    // Act
    const run = await runInProcess(['ls', '--json'], env);

    // Assess
    expect(run).toMatchObject({ code: 0, stdout: '{"entitlements":[]}\n' });
    expect(new URLSearchParams(broker.calls[0]?.body)).toEqual(
      new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'refresh-1', client_id: 'keyvend-cli' }),
    );
    expect(broker.calls[1]?.authorization).toBe(`Bearer ${fresh}`);
    expect(readLogin(contextFor(env), ISSUER)).toMatchObject({ accessToken: fresh, refreshToken: 'refresh-2' });
  });

  it('carries the broker error code and request id in one line, with exit 3, 4 or 5 by status', async () => {
    // Prepare
    const refusal = (status: number, error: string) => [
      { status, body: { error, message: `${error} message`, requestId: `req-${status}` } },
    ];
    broker.answers.set('POST /v1/credentials', [
      ...refusal(403, 'not_entitled'),
      ...refusal(401, 'invalid_token'),
      ...refusal(503, 'upstream_unavailable'),
      ...refusal(429, 'throttled'),
      { status: 200, body: { odd: true } },
    ]);
    const unreachable = { ...env, KEYVEND_URL: 'http://127.0.0.1:9' };

    // Act
    const runs = [];
    for (let index = 0; index < 5; index += 1) runs.push(await runInProcess(['credentials', 'photo-uploads'], env));
    const down = await runInProcess(['credentials', 'photo-uploads'], unreachable);

    // Assess
    expect(runs.map((run) => run.code)).toEqual([4, 3, 5, 5, 1]);
    expect(runs[0]?.stderr).toBe('keyvend: not_entitled: not_entitled message (request req-403)\n');
    expect(runs[1]?.stderr).toBe('keyvend: invalid_token: invalid_token message; run `keyvend login` (request req-401)\n');
    expect(runs[2]?.stderr).toBe('keyvend: upstream_unavailable: upstream_unavailable message (request req-503)\n');
    expect(runs[4]?.stderr).toBe('keyvend: unexpected_answer: the broker answered in an unexpected shape\n');
    expect(down).toMatchObject({ code: 5, stderr: 'keyvend: broker_unavailable: broker at http://127.0.0.1:9 is unreachable\n' });
    expect(runs.every((run) => run.stdout === '')).toBe(true);
  });

  it('names a refusal that is not the broker own (a gateway page) by its HTTP status only', async () => {
    // Prepare
    broker.answers.set('POST /v1/console', [
      { status: 404, body: { statusCode: 404, error: 'Serverless-offline: route not found.', message: 'Route not found' } },
    ]);
    broker.answers.set('GET /v1/entitlements', [{ status: 502, body: { message: 'Bad Gateway\u001b[2J' } }]);

    // Act
    const console = await runInProcess(['console', 'console-readonly'], env);
    const list = await runInProcess(['ls'], env);

    // Assess
    expect(console).toMatchObject({ code: 4, stderr: 'keyvend: http_404: the broker answered HTTP 404\n' });
    expect(list).toMatchObject({ code: 5, stderr: 'keyvend: http_502: the broker answered HTTP 502\n' });
  });

  it('prints credentials on stdout only, as JSON or shell exports, and nothing on stderr', async () => {
    // Act
    const json = await runInProcess(['credentials', 'photo-uploads'], env);
    const exports = await runInProcess(['env', 'photo-uploads', '--region', 'eu-west-1'], env);

    // Assess
    const body = JSON.parse(json.stdout) as Record<string, string>;
    expect(Object.keys(body)).toEqual(['Version', 'AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration']);
    expect(json.stderr).toBe('');
    expect(exports.stderr).toBe('');
    expect(exports.stdout).toBe(
      `export AWS_ACCESS_KEY_ID='${body['AccessKeyId']}'\nexport AWS_SECRET_ACCESS_KEY='${body['SecretAccessKey']}'\nexport AWS_SESSION_TOKEN='${body['SessionToken']}'\nexport AWS_CREDENTIAL_EXPIRATION='${body['Expiration']}'\nexport AWS_REGION='eu-west-1'\nexport AWS_DEFAULT_REGION='eu-west-1'\n`,
    );
    expect(broker.calls.filter((call) => call.path === '/v1/credentials')).toHaveLength(1);
    expect(JSON.parse(broker.calls[0]?.body ?? '')).toEqual({ entitlement: 'photo-uploads' });
  });

  it('env exports a region from --region, else the environment, else the config file, and says so when there is none', async () => {
    // Prepare
    const regionOf = (stdout: string) => [/AWS_REGION='([^']*)'/u.exec(stdout)?.[1], /AWS_DEFAULT_REGION='([^']*)'/u.exec(stdout)?.[1]];
    const none = await runInProcess(['env', 'photo-uploads'], env);
    expect(await runInProcess(['config', 'set', 'region', 'ap-southeast-2'], env)).toMatchObject({ code: 0 });

    // Act
    const fromFile = await runInProcess(['env', 'photo-uploads'], env);
    const fromEnv = await runInProcess(['env', 'photo-uploads'], { ...env, AWS_DEFAULT_REGION: 'eu-central-1' });
    const fromFlag = await runInProcess(['env', 'photo-uploads', '--region', 'us-west-2'], { ...env, AWS_REGION: 'eu-central-1' });
    const bad = await runInProcess(['env', 'photo-uploads', '--region', 'Mars 1'], env);
    const badConfig = await runInProcess(['config', 'set', 'region', 'Mars 1'], env);

    // Assess
    expect(regionOf(none.stdout)).toEqual([undefined, undefined]);
    expect(none.stderr).toBe(
      'keyvend: note: no region exported; pass --region REGION or run `keyvend config set region REGION`, or the AWS tools will ask for one\n',
    );
    expect(regionOf(fromFile.stdout)).toEqual(['ap-southeast-2', 'ap-southeast-2']);
    expect(fromFile.stderr).toBe('');
    expect(regionOf(fromEnv.stdout)).toEqual(['eu-central-1', 'eu-central-1']);
    expect(regionOf(fromFlag.stdout)).toEqual(['us-west-2', 'us-west-2']);
    expect(bad).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(/^keyvend: usage: "Mars 1" is not an AWS region name/u),
    });
    expect(badConfig.code).toBe(2);
  });

  it('configure ends with a command to try, sent to the configured STS endpoint, and says how for a local broker without one', async () => {
    // Prepare
    const local = { ...env, KEYVEND_URL: broker.url };
    const remote = { ...env, KEYVEND_URL: 'https://keyvend.example.com' };

    // Act
    const withoutEndpoint = await runInProcess(['configure', 'photo-uploads', '--profile', 'demo'], local);
    const againstAws = await runInProcess(['configure', 'photo-uploads', '--profile', 'demo'], remote);
    await runInProcess(['config', 'set', 'region', 'us-east-1'], local);
    await runInProcess(['config', 'set', 'stsEndpointUrl', 'http://127.0.0.1:4020/'], local);
    const withEndpoint = await runInProcess(['configure', 'photo-uploads', '--profile', 'demo'], local);
    const notHttps = await runInProcess(['config', 'set', 'stsEndpointUrl', 'http://sts.example.com'], local);

    // Assess
    expect(withoutEndpoint.stderr).toMatch(
      /\nTry: aws sts get-caller-identity --profile demo\nAgainst a local stack, .*--endpoint-url.*keyvend config set stsEndpointUrl URL/u,
    );
    expect(againstAws.stderr).toMatch(/\nTry: aws sts get-caller-identity --profile demo\n$/u);
    expect(withEndpoint.stderr).toMatch(/\nTry: aws sts get-caller-identity --profile demo --endpoint-url http:\/\/127\.0\.0\.1:4020\n$/u);
    // the config file's region goes into the profile when --region is not given
    expect(readFileSync(env['AWS_CONFIG_FILE'] ?? '', 'utf8')).toMatch(/\[profile demo\]\ncredential_process = .*\nregion = us-east-1\n/u);
    expect(notHttps.code).toBe(2);
  });

  it('warns, without any secret, when the broker gives credentials too short for the cache to serve', async () => {
    // Act
    const run = await runInProcess(['credentials', 'photo-uploads', '--min-remaining', '20'], env);

    // Assess
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      'keyvend: warning: these credentials last less than 20 minutes, so the cache cannot serve them; lower --min-remaining or ask for a longer --duration\n',
    );
  });

  it('logs out: forgets the tokens and the credentials cached for that login', async () => {
    // Prepare
    await runInProcess(['credentials', 'photo-uploads'], env);
    const cacheDir = join(env['XDG_CACHE_HOME'] ?? '', 'keyvend', 'credentials');
    const cachedBefore = readdirSync(cacheDir).length;

    // Act
    const run = await runInProcess(['logout'], env);
    const after = await runInProcess(['credentials', 'photo-uploads'], env);

    // Assess
    expect(cachedBefore).toBe(1);
    expect(run).toMatchObject({ code: 0, stderr: `Logged out of ${ISSUER}.\n` });
    expect(readLogin(contextFor(env), ISSUER)).toBeUndefined();
    expect(readdirSync(cacheDir)).toEqual([]);
    expect(after.code).toBe(3);
  });

  it('lists entitlements as a table without control characters, or as JSON', async () => {
    // Act
    const table = await runInProcess(['ls'], env);
    const json = await runInProcess(['ls', '--json'], env);

    // Assess
    expect(table.stdout).toBe('ENTITLEMENT    OUTPUTS      MAX  DESCRIPTION\nphoto-uploads  credentials  60m  Photos?[31m\n');
    expect(JSON.parse(json.stdout)).toMatchObject({ entitlements: [{ id: 'photo-uploads', maxDurationSeconds: 3600 }] });
  });

  it('asks POST /v1/console for a sign-in URL and prints it, as JSON, or opens it without printing it', async () => {
    // Prepare
    const opened = join(env['HOME'] ?? '', 'opened-args');
    const opener = join(env['HOME'] ?? '', 'fake-browser.sh');
    writeFileSync(opener, `#!/bin/sh\nprintf '%s\\n' "$@" > '${opened}'\n`);
    chmodSync(opener, 0o755);

    // Act
    const printed = await runInProcess(
      ['console', 'console-readonly', '--destination', 'https://console.aws.amazon.com/s3/', '--duration', '1800'],
      env,
    );
    const json = await runInProcess(['console', 'console-readonly', '--json'], env);
    const opening = runInProcess(['console', 'console-readonly', '--open'], { ...env, KEYVEND_BROWSER: opener });
    await expect
      .poll(
        () => {
          try {
            return readFileSync(opened, 'utf8');
          } catch {
            return '';
          }
        },
        { timeout: 10_000 },
      )
      .toMatch(/^http:/u);
    const browserArgs = readFileSync(opened, 'utf8');
    const link = browserArgs.trim();
    const guessed = await fetch(new URL('/favicon.ico', link));
    const first = await fetch(link, { redirect: 'manual' });
    const again = await fetch(link, { redirect: 'manual' }).then(
      (response) => response.status,
      () => 'closed',
    );
    const open = await opening;

    // Assess
    const url = 'https://signin.aws.amazon.com/federation?Action=login&SigninToken=secret-signin-token';
    expect(printed).toMatchObject({ code: 0, stdout: `${url}\n`, stderr: '' });
    expect(JSON.parse(json.stdout)).toEqual({ url, expiresAt: '2030-01-01T00:15:00Z' });
    expect(browserArgs).not.toContain('secret-signin-token');
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{43}$/u);
    expect(guessed.status).toBe(404);
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toBe(url);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(again).toBe('closed');
    expect(open.code).toBe(0);
    expect(open.stdout).toBe('');
    expect(open.stderr).not.toContain('SigninToken');
    const bodies = broker.calls.filter((call) => call.path === '/v1/console').map((call) => JSON.parse(call.body) as unknown);
    expect(bodies).toEqual([
      { entitlement: 'console-readonly', destination: 'https://console.aws.amazon.com/s3/', durationSeconds: 1800 },
      { entitlement: 'console-readonly' },
      { entitlement: 'console-readonly' },
    ]);
    expect(broker.calls.every((call) => call.authorization === `Bearer ${token}`)).toBe(true);
  });

  it('reports a console refusal with the broker code and exit 4', async () => {
    // Prepare
    broker.answers.set('POST /v1/console', [
      { status: 403, body: { error: 'not_entitled', message: 'no console for you', requestId: 'req-c' } },
    ]);

    // Act
    const run = await runInProcess(['console', 'photo-uploads'], env);

    // Assess
    expect(run).toMatchObject({ code: 4, stdout: '', stderr: 'keyvend: not_entitled: no console for you (request req-c)\n' });
  });

  it('keeps defaults in the config file, validated, and lets flags and the environment override them', async () => {
    // Prepare
    const plain = isolatedEnv();

    // Act
    const set = await runInProcess(['config', 'set', 'brokerUrl', `${broker.url}/`], plain);
    const minutes = await runInProcess(['config', 'set', 'minRemainingMinutes', 'ten'], plain);
    const get = await runInProcess(['config', 'get', 'brokerUrl'], plain);
    const path = await runInProcess(['config', 'path'], plain);

    // Assess
    expect(set.code).toBe(0);
    expect(minutes.code).toBe(2);
    expect(get.stdout).toBe(`${broker.url}\n`);
    expect(path.stdout).toBe(`${plain['XDG_CONFIG_HOME']}/keyvend/config.json\n`);
  });
});

describe('keyvend exec', () => {
  let broker: FakeBroker;
  let env: Record<string, string>;
  // Asynchronous: the fake broker answers from this very process.
  const run = (command: string[], onStdout?: (text: string, keyvendPid: number) => void) =>
    new Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'dist/keyvend.mjs'), 'exec', 'photo-uploads', '--', ...command], { env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        onStdout?.(stdout, child.pid ?? 0);
      });
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
    });

  beforeAll(async () => {
    broker = await startFakeBroker();
    env = { ...isolatedEnv(), KEYVEND_URL: broker.url, KEYVEND_ISSUER: ISSUER, AWS_PROFILE: 'should-be-unset' };
    storeLogin(env, { issuer: ISSUER, tokenEndpoint: `${broker.url}/token`, accessToken: fakeAccessToken('user-1', 4_000_000_000) });
  });
  afterAll(async () => {
    await broker.close();
  });

  it('runs the command with the credentials in its environment and AWS_PROFILE unset', async () => {
    // Act
    const result = await run([
      '/bin/sh',
      '-c',
      'echo "$AWS_ACCESS_KEY_ID|$AWS_CREDENTIAL_EXPIRATION|${AWS_PROFILE-unset}|${#AWS_SESSION_TOKEN}"',
    ]);

    // Assess
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^ASIAFAKE\d{12}\|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\|unset\|\d+\n$/u);
  });

  it('passes on the exit code, dies of the signal the command died of, and reports a missing command as 127', async () => {
    // Act
    const exited = await run(['/bin/sh', '-c', 'exit 7']);
    const killed = await run(['/bin/sh', '-c', 'kill -TERM $$']);
    const missing = await run(['/nonexistent/program']);

    // Assess
    expect(exited.status).toBe(7);
    expect(killed.signal).toBe('SIGTERM');
    expect(missing.status).toBe(127);
    expect(missing.stderr).toBe('keyvend: command_not_found: /nonexistent/program: command not found\n');
  });

  it('passes a SIGTERM sent to keyvend on to the command, and exits as the command does', async () => {
    // Act
    let signalled = false;
    const result = await run(['/bin/sh', '-c', "trap 'kill $!; exit 42' TERM; echo ready; sleep 8 & wait"], (stdout, keyvendPid) => {
      if (stdout.includes('ready') && !signalled) {
        signalled = true;
        process.kill(keyvendPid, 'SIGTERM');
      }
    });

    // Assess
    expect(signalled).toBe(true);
    expect(result, JSON.stringify(result)).toMatchObject({ status: 42 });
  });
});

describe('keyvend serve', () => {
  it('prints the two variables to export, serves each named entitlement, and stops cleanly on SIGTERM', async () => {
    // Prepare
    const broker = await startFakeBroker();
    const env = { ...isolatedEnv(), KEYVEND_URL: broker.url, KEYVEND_ISSUER: ISSUER };
    storeLogin(env, { issuer: ISSUER, tokenEndpoint: `${broker.url}/token`, accessToken: fakeAccessToken('user-1', 4_000_000_000) });
    const child = spawn(process.execPath, [join(ROOT, 'dist/keyvend.mjs'), 'serve', 'photo-uploads', 'other-one'], { env });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));

    try {
      // Act
      const printed = await new Promise<string>((resolve) => {
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.split('\n').length > 3) resolve(stdout);
        });
      });
      const uri = /^export AWS_CONTAINER_CREDENTIALS_FULL_URI='([^']+)'$/mu.exec(printed)?.[1] ?? '';
      const token = /^export AWS_CONTAINER_AUTHORIZATION_TOKEN='([^']+)'$/mu.exec(printed)?.[1] ?? '';
      const first = await fetch(uri, { headers: { authorization: token } });
      const other = await fetch(uri.replace('photo-uploads', 'other-one'), { headers: { authorization: token } });

      // Assess
      expect(printed).toMatch(
        /^export AWS_CONTAINER_CREDENTIALS_FULL_URI='http:\/\/127\.0\.0\.1:\d+\/creds\/photo-uploads'\nexport AWS_CONTAINER_AUTHORIZATION_TOKEN='[A-Za-z0-9_-]{43}'\n# for other-one: AWS_CONTAINER_CREDENTIALS_FULL_URI=http:\/\/127\.0\.0\.1:\d+\/creds\/other-one\n$/u,
      );
      expect(first.status).toBe(200);
      expect(await first.json()).toMatchObject({ AccessKeyId: expect.stringMatching(/^ASIAFAKE/u), Token: expect.any(String) });
      expect(other.status).toBe(200);
      // Both were fetched at start-up, together, so in either order; the requests found them held.
      const bodies = broker.calls
        .filter((call) => call.path === '/v1/credentials')
        .map((call) => JSON.parse(call.body) as { entitlement: string });
      expect(bodies.map((body) => body.entitlement).sort()).toEqual(['other-one', 'photo-uploads']);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await broker.close();
    }
  });

  it('refreshes in the background before expiry, and answers an error rather than expired credentials when refreshing fails', async () => {
    // Prepare: credentials that live 2 to 3 seconds (the fake broker drops the milliseconds), refreshed at expiry less a jitter
    const broker = await startFakeBroker({ lifetimeSeconds: 3 });
    const env = { ...isolatedEnv(), KEYVEND_URL: broker.url, KEYVEND_ISSUER: ISSUER };
    storeLogin(env, { issuer: ISSUER, tokenEndpoint: `${broker.url}/token`, accessToken: fakeAccessToken('user-1', 4_000_000_000) });
    const child = spawn(
      process.execPath,
      [join(ROOT, 'dist/keyvend.mjs'), 'serve', 'photo-uploads', '--imds', '--json', '--min-remaining', '0'],
      { env },
    );
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const issued = () => broker.calls.filter((call) => call.path === '/v1/credentials').length;

    try {
      const announced = await new Promise<{ endpoint: string }>((resolve) => {
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.includes('\n')) resolve(JSON.parse(stdout) as { endpoint: string });
        });
      });
      const imds = async () => {
        const token = await (
          await fetch(`${announced.endpoint}latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' } })
        ).text();
        return fetch(`${announced.endpoint}latest/meta-data/iam/security-credentials/photo-uploads`, {
          headers: { 'x-aws-ec2-metadata-token': token },
        });
      };

      // Act: nobody asks for 5 seconds, then somebody does
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      const refreshedUnasked = issued();
      const served = (await (await imds()).json()) as { AccessKeyId: string; Expiration: string };
      const servedAt = Date.now();
      // Then the broker fails from now on; once the held credentials expire, a request gets the failure.
      broker.answers.set(
        'POST /v1/credentials',
        Array.from({ length: 50 }, () => ({
          status: 503,
          body: { error: 'upstream_unavailable', message: 'STS is down', requestId: 'req-503' },
        })),
      );
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(served.Expiration) - Date.now()) + 100));
      const afterExpiry = await imds();

      // Assess
      expect(refreshedUnasked).toBeGreaterThanOrEqual(3);
      expect(Date.parse(served.Expiration)).toBeGreaterThan(servedAt);
      // served from a background refresh, not the start-up fetch
      expect(served.AccessKeyId).not.toBe('ASIAFAKE000000000001');
      expect(afterExpiry.status).toBe(503);
      expect(await afterExpiry.json()).toEqual({ Code: 'upstream_unavailable', Message: 'STS is down' });
      expect(stderr).toMatch(/keyvend serve: photo-uploads: refresh failed, retrying in 1 s: STS is down/u);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await broker.close();
    }
  });
});
