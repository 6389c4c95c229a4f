import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '../../infra/local/stack.ts';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import { auditedDecision, auditRecords, devIdpToken, emulatorSessions, stack, stsCallCount, testToken } from '../support/e2e.ts';

const ALICE_SUB = '7f3a9c1e-4b2d-4e6f-8a1b-2c3d4e5f6a7b';
const BOB_SUB = 'b0b5e2d4-6c8a-4f1e-9d3b-5a7c9e1f3b2d';

async function postConsole(token: string, body: unknown, apiUrl = stack().apiUrl) {
  const response = await fetch(`${apiUrl}/v1/console`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: JSON.parse(text) as Record<string, unknown>, text };
}

interface SigninEvent {
  action: string;
  outcome: string;
  error?: string;
  accessKeyId?: string;
  sessionDuration?: number;
  roleSessionName?: string;
  destination?: string;
}

async function signinEvents(): Promise<SigninEvent[]> {
  return (await (await fetch(`${stack().stsUrl}/_emulator/signin-events`)).json()) as SigninEvent[];
}

describe('POST /v1/console: a console sign-in URL end to end', () => {
  let aliceToken: string;
  let bobToken: string;
  const urlsIssued: string[] = [];

  beforeAll(async () => {
    aliceToken = await devIdpToken('alice');
    bobToken = await devIdpToken('bob');
  });

  it('returns a sign-in URL whose login lands on the console as the role and session, and audits the grant', async () => {
    // Prepare
    const destination = 'https://us-east-1.console.aws.amazon.com/s3/home?region=us-east-1';

    // Act
    const response = await postConsole(aliceToken, { entitlement: 'console-readonly', destination, durationSeconds: 900 });

    // Assess: the response
    expect(response.status, response.text).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const url = new URL(String(response.json['url']));
    urlsIssued.push(url.toString());
    expect(`${url.origin}${url.pathname}`).toBe(`${stack().stsUrl}/federation`);
    expect(url.searchParams.get('Action')).toBe('login');
    expect(url.searchParams.get('Destination')).toBe(destination);
    expect(url.searchParams.get('Issuer')).toBe(stack().brokerEnv['KEYVEND_CONSOLE_ISSUER_URL']);
    const expiresIn = Date.parse(String(response.json['expiresAt'])) - Date.now();
    expect(expiresIn).toBeGreaterThan(14 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(15 * 60_000);

    // Assess: getSigninToken was a POST with SessionDuration: the session came from the broker's token, not chained
    const events = await signinEvents();
    const tokenEvent = events.filter((e) => e.action === 'getSigninToken').at(-1);
    expect(tokenEvent).toMatchObject({ outcome: 'ok' });
    expect(tokenEvent?.sessionDuration).toBe(900);

    // Act: a browser follows the URL
    const page = await fetch(url);
    const html = await page.text();

    // Assess: the console page names the role, the session and the destination
    const userKey = deriveUserKey(stack().idpIssuer, ALICE_SUB);
    const sessionName = `${ALICE_SUB.slice(0, 30)}.${userKey}`;
    expect(page.status).toBe(200);
    expect(html).toContain('arn:aws:iam::111111111111:role/keyvend/console-readonly');
    expect(html).toContain(sessionName);
    expect(html).toContain(destination.replace(/&/g, '&amp;'));
    const session = (await emulatorSessions()).find((s) => s.accessKeyId === tokenEvent?.accessKeyId);
    expect(session?.roleSessionName).toBe(sessionName);

    // Assess: the token works once only
    const replay = await fetch(url);
    expect(replay.status).toBe(400);

    // Assess: the audit record, which holds neither the URL nor the token
    const record = (await auditRecords()).find((r) => r['eventId'] === response.json['grantId']);
    expect(record).toMatchObject({
      action: 'console',
      outcome: 'granted',
      caller: { subject: ALICE_SUB },
      entitlement: { id: 'console-readonly' },
      session: { accessKeyId: tokenEvent?.accessKeyId, roleSessionName: sessionName, durationSeconds: 900 },
      delivery: { type: 'console_url', delivered: true },
    });
  });

  it("opens a 12-hour console session through the broker's token, and the one-hour assume-role path omits SessionDuration", async () => {
    // Act
    const long = await postConsole(aliceToken, { entitlement: 'console-readonly', durationSeconds: 43_200 });
    const longEvent = (await signinEvents()).filter((e) => e.action === 'getSigninToken').at(-1);
    const hourly = await postConsole(await testToken(), { entitlement: 'hourly-readonly', durationSeconds: 43_200 });
    const hourlyEvent = (await signinEvents()).filter((e) => e.action === 'getSigninToken').at(-1);

    // Assess: the federation endpoint accepted a 12 h SessionDuration for the unchained session, and the browser lands
    expect(long.status, long.text).toBe(200);
    expect(longEvent).toMatchObject({ outcome: 'ok', sessionDuration: 43_200 });
    const session = (await emulatorSessions()).find((s) => s.accessKeyId === longEvent?.accessKeyId);
    expect(session).toMatchObject({ durationSeconds: 43_200, roleArn: 'arn:aws:iam::111111111111:role/keyvend/console-readonly' });
    expect((await fetch(String(long.json['url']))).status).toBe(200);
    // Assess: AssumeRole from the broker's role session is chained: one hour, and no SessionDuration
    expect(hourly.status, hourly.text).toBe(200);
    expect(hourlyEvent?.sessionDuration).toBeUndefined();
    expect((await emulatorSessions()).find((s) => s.accessKeyId === hourlyEvent?.accessKeyId)?.durationSeconds).toBe(3600);
  });

  it('refuses a caller who is not entitled: 403, audited, no STS call', async () => {
    // Prepare
    const callsBefore = await stsCallCount();

    // Act
    const response = await postConsole(bobToken, { entitlement: 'console-readonly' });

    // Assess
    expect(response.status).toBe(403);
    expect(response.json).toMatchObject({ error: 'not_entitled' });
    expect(response.json['url']).toBeUndefined();
    expect(await stsCallCount()).toBe(callsBefore);
    const record = await auditedDecision(response.json['requestId']);
    expect(record).toMatchObject({ action: 'console', outcome: 'denied', errorCode: 'not_entitled', caller: { subject: BOB_SUB } });
  });

  it('refuses an entitlement that does not allow the console: 403, audited, no STS call', async () => {
    // Prepare
    const callsBefore = await stsCallCount();

    // Act
    const response = await postConsole(aliceToken, { entitlement: 'photo-uploads' });

    // Assess
    expect(response.status).toBe(403);
    expect(await stsCallCount()).toBe(callsBefore);
    const record = await auditedDecision(response.json['requestId']);
    expect(record).toMatchObject({ action: 'console', outcome: 'denied', reason: 'output_not_allowed' });
  });

  it.each([
    'https://evil.example/?x=.console.aws.amazon.com',
    'https://console.aws.amazon.com.evil.example/',
    'https://console.aws.amazon.com@evil.example/',
    'https://console.amazonaws.cn/',
  ])('refuses the destination %s: 400, audited, no STS call', async (destination) => {
    // Prepare
    const callsBefore = await stsCallCount();

    // Act
    const response = await postConsole(aliceToken, { entitlement: 'console-readonly', destination });

    // Assess
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({ error: 'invalid_request' });
    expect(await stsCallCount()).toBe(callsBefore);
    const record = await auditedDecision(response.json['requestId']);
    expect(record).toMatchObject({
      action: 'console',
      outcome: 'denied',
      reason: 'destination_not_allowed',
      caller: { subject: ALICE_SUB },
    });
  });

  describe('when getSigninToken fails after the credentials were minted', () => {
    let brokerUrl: string;
    const closers: Array<() => Promise<void>> = [];

    beforeAll(async () => {
      // A broker whose federation endpoint refuses every request (the STS root answers 4xx to it).
      brokerUrl = await startBroker(
        { ...stack().brokerEnv, KEYVEND_FEDERATION_ENDPOINT: `${stack().stsUrl}/no-federation-here` },
        { closers, logFile: stack().brokerLogFile },
      );
    }, 120_000);

    afterAll(async () => {
      for (const close of closers) await close();
    });

    it('delivers no URL and no credentials, and audits minted_not_delivered', async () => {
      // Act
      const response = await postConsole(aliceToken, { entitlement: 'console-readonly' }, brokerUrl);

      // Assess
      expect(response.status).toBe(503);
      expect(response.json).toMatchObject({ error: 'upstream_unavailable' });
      expect(response.text).not.toMatch(/ASIA[A-Z0-9]{16}/);
      expect(response.json['url']).toBeUndefined();
      const record = await auditedDecision(response.json['requestId']);
      expect(record).toMatchObject({
        action: 'console',
        outcome: 'minted_not_delivered',
        delivery: { type: 'console_url', delivered: false },
      });
      expect(String(record?.['session']?.['accessKeyId'])).toMatch(/^ASIA/);
    });
  });

  it('never writes a sign-in URL or token to the broker log or the audit table', async () => {
    // Prepare
    expect(urlsIssued.length).toBeGreaterThan(0);
    const secrets = urlsIssued.flatMap((u) => [u, new URL(u).searchParams.get('SigninToken') ?? 'missing']);

    // Act
    const log = readFileSync(stack().brokerLogFile, 'utf8');
    const audit = JSON.stringify(await auditRecords());

    // Assess
    expect(log.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(log).not.toContain(secret);
      expect(audit).not.toContain(secret);
    }
    expect(log).not.toContain(encodeURIComponent(secrets[1] ?? 'missing'));
  });
});
