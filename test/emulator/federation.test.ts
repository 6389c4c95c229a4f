import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BROKER, ROLE, USER, startFixture, type Fixture } from './helpers.ts';

describe('STS emulator: federation endpoint', () => {
  let fx: Fixture;

  beforeAll(async () => {
    fx = await startFixture();
  });
  afterAll(async () => {
    await fx.close();
  });
  beforeEach(() => {
    fx.emulator.reset();
    fx.clock.reset();
  });

  async function credentialsFrom(principal: typeof USER | typeof BROKER) {
    const out = await fx
      .client(principal)
      .send(new AssumeRoleCommand({ RoleArn: ROLE.target, RoleSessionName: 'console-test', DurationSeconds: 3600 }));
    const c = out.Credentials;
    return { sessionId: c?.AccessKeyId ?? '', sessionKey: c?.SecretAccessKey ?? '', sessionToken: c?.SessionToken ?? '' };
  }

  async function getSigninToken(session: object, sessionDuration?: number) {
    const form = new URLSearchParams({ Action: 'getSigninToken', Session: JSON.stringify(session) });
    if (sessionDuration !== undefined) form.set('SessionDuration', String(sessionDuration));
    const response = await fetch(`${fx.emulator.url}/federation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    return { status: response.status, text: await response.text() };
  }

  it('gives a one-time token for issued credentials and its login shows the role, session and destination', async () => {
    // Prepare
    const session = await credentialsFrom(USER);

    // Act
    const token = await getSigninToken(session, 7200);
    const login = `${fx.emulator.url}/federation?${new URLSearchParams({
      Action: 'login',
      Issuer: 'https://keyvend.example/portal',
      Destination: 'https://console.aws.amazon.com/s3/',
      SigninToken: (JSON.parse(token.text) as { SigninToken: string }).SigninToken,
    })}`;
    const first = await fetch(login);
    const page = await first.text();
    const second = await fetch(login);

    // Assess
    expect(token.status).toBe(200);
    expect(first.status).toBe(200);
    expect(page).toContain(ROLE.target);
    expect(page).toContain('console-test');
    expect(page).toContain('https://console.aws.amazon.com/s3/');
    expect(second.status).toBe(400);
    const events = await (await fetch(`${fx.emulator.url}/_emulator/signin-events`)).json();
    expect(events).toMatchObject([
      { action: 'getSigninToken', outcome: 'ok', sessionDuration: 7200, roleSessionName: 'console-test' },
      { action: 'login', outcome: 'ok', consoleSessionSeconds: 7200 },
      { action: 'login', outcome: 'error' },
    ]);
    expect(JSON.stringify(events)).not.toContain(session.sessionToken);
  });

  it('refuses SessionDuration for chained credentials with a 400, and accepts them without it', async () => {
    // Prepare
    const chained = await credentialsFrom(BROKER);

    // Act
    const withDuration = await getSigninToken(chained, 3600);
    const without = await getSigninToken(chained);

    // Assess
    expect(withDuration).toEqual({ status: 400, text: 'Invalid credentials parameter' });
    expect(without.status).toBe(200);
  });

  it('refuses unknown, mismatched and expired credentials', async () => {
    // Prepare
    const session = await credentialsFrom(USER);

    // Act
    const unknown = await getSigninToken({ ...session, sessionId: 'ASIAUNKNOWN000000000' });
    const wrongKey = await getSigninToken({ ...session, sessionKey: 'not-the-key' });
    const wrongToken = await getSigninToken({ ...session, sessionToken: 'not-the-token' });
    fx.clock.advance(3601_000);
    const expired = await getSigninToken(session);

    // Assess
    for (const refused of [unknown, wrongKey, wrongToken, expired]) expect(refused.status).toBe(400);
  });

  it('refuses a login token after 15 minutes', async () => {
    // Prepare
    const session = await credentialsFrom(USER);
    const { SigninToken } = JSON.parse((await getSigninToken(session)).text) as { SigninToken: string };
    fx.clock.advance(15 * 60_000 + 1000);

    // Act
    const response = await fetch(`${fx.emulator.url}/federation?Action=login&SigninToken=${encodeURIComponent(SigninToken)}`);

    // Assess
    expect(response.status).toBe(400);
  });
});
