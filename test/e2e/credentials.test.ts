import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import { auditedDecision, auditRecords, devIdpToken, emulatorSessions, postCredentials, stack, stsCallCount } from '../support/e2e.ts';

const ALICE_SUB = '7f3a9c1e-4b2d-4e6f-8a1b-2c3d4e5f6a7b';
const BOB_SUB = 'b0b5e2d4-6c8a-4f1e-9d3b-5a7c9e1f3b2d';

describe('an OIDC caller gets scoped credentials end to end', () => {
  let aliceToken: string;
  let bobToken: string;

  beforeAll(async () => {
    aliceToken = await devIdpToken('alice');
    bobToken = await devIdpToken('bob');
  });

  it('lists what each demo user may ask for', async () => {
    // Act
    const [alice, bob] = await Promise.all(
      [aliceToken, bobToken].map(async (token) => {
        const response = await fetch(`${stack().apiUrl}/v1/entitlements`, { headers: { authorization: `Bearer ${token}` } });
        return {
          status: response.status,
          body: (await response.json()) as {
            entitlements: { id: string; outputs: string[]; maxDurationSeconds: number; roleArn: string }[];
          },
        };
      }),
    );

    // Assess
    expect(alice?.status).toBe(200);
    expect(alice?.body.entitlements.map((e) => e.id)).toEqual(['console-readonly', 'photo-uploads']);
    expect(alice?.body.entitlements[1]).toMatchObject({
      id: 'photo-uploads',
      outputs: ['credentials'],
      maxDurationSeconds: 3600,
      roleArn: 'arn:aws:iam::111111111111:role/keyvend/photo-uploads',
    });
    expect(bob?.body.entitlements.map((e) => e.id)).toEqual(['photo-uploads']);
  });

  it('issues credential_process credentials that work, scoped to the caller folder, and audits the grant', async () => {
    // Act
    const response = await postCredentials(aliceToken, { entitlement: 'photo-uploads', durationSeconds: 900 });

    // Assess: the response
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('pragma')).toBe('no-cache');
    const body = response.json;
    expect(body).toMatchObject({ Version: 1, entitlement: 'photo-uploads', durationSeconds: 900 });
    expect(String(body['AccessKeyId'])).toMatch(/^ASIA[A-Z0-9]{16}$/);
    expect(String(body['Expiration'])).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const expiresIn = Date.parse(String(body['Expiration'])) - Date.now();
    expect(expiresIn).toBeGreaterThan(850_000);
    expect(expiresIn).toBeLessThanOrEqual(900_000);

    // Assess: the credentials work against the emulator, as the assumed role, with a traceable session name
    const userKey = deriveUserKey(stack().idpIssuer, ALICE_SUB);
    const sts = new STSClient({
      endpoint: stack().stsUrl,
      region: 'us-east-1',
      credentials: {
        accessKeyId: String(body['AccessKeyId']),
        secretAccessKey: String(body['SecretAccessKey']),
        sessionToken: String(body['SessionToken']),
      },
    });
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).toBe(`arn:aws:sts::111111111111:assumed-role/photo-uploads/${body['roleSessionName']}`);
    expect(body['roleSessionName']).toBe(`${ALICE_SUB.slice(0, 30)}.${userKey}`);

    // Assess: what STS was asked for
    const session = (await emulatorSessions()).find((s) => s.accessKeyId === body['AccessKeyId']);
    expect(session).toBeDefined();
    expect(session?.sourceIdentity).toBe(body['sourceIdentity']);
    expect(session?.durationSeconds).toBe(900);
    expect(session?.tags).toEqual(
      expect.arrayContaining([
        { Key: 'keyvend:user', Value: userKey },
        { Key: 'keyvend:issuer', Value: 'dev' },
        { Key: 'keyvend:entitlement', Value: 'photo-uploads' },
      ]),
    );
    const policy = JSON.parse(session?.policy ?? '{}') as { Statement: { Resource: string }[] };
    expect(policy.Statement[0]?.Resource).toBe(`arn:aws:s3:::keyvend-demo-uploads/${userKey}/*`);

    // Assess: the audit record, written before the credentials left
    const record = (await auditRecords()).find((r) => r['eventId'] === body['grantId']);
    expect(record).toMatchObject({
      outcome: 'granted',
      action: 'credentials',
      caller: { issuerId: 'dev', subject: ALICE_SUB, userKey },
      entitlement: { id: 'photo-uploads' },
      session: {
        accessKeyId: body['AccessKeyId'],
        roleSessionName: body['roleSessionName'],
        policySha256: createHash('sha256')
          .update(session?.policy ?? '')
          .digest('hex'),
        durationSeconds: 900,
      },
      delivery: { type: 'credentials', delivered: true },
    });
    const stored = JSON.stringify(record);
    expect(stored).not.toContain(String(body['SecretAccessKey']));
    expect(stored).not.toContain(String(body['SessionToken']));
    expect(stored).not.toContain(aliceToken.split('.')[2]);
  });

  it('gives a policy that, with the role permissions, allows only the caller own folder', async () => {
    // Prepare
    const response = await postCredentials(bobToken, { entitlement: 'photo-uploads' });
    expect(response.status).toBe(200);
    const session = (await emulatorSessions()).find((s) => s.accessKeyId === response.json['AccessKeyId']);
    const role = (stack().roles as { roles: { arn: string; permissionPolicy: unknown }[] }).roles.find((r) => r.arn === session?.roleArn);
    const bobKey = deriveUserKey(stack().idpIssuer, BOB_SUB);
    const aliceKey = deriveUserKey(stack().idpIssuer, ALICE_SUB);
    const putObject = async (key: string) => {
      const result = await runSimulation(
        {
          request: {
            principal: String(session?.assumedRoleArn),
            action: 's3:PutObject',
            resource: { resource: `arn:aws:s3:::keyvend-demo-uploads/${key}`, accountId: '111111111111' },
            contextVariables: {},
          },
          sessionPolicy: JSON.parse(session?.policy ?? '{}'),
          identityPolicies: [{ name: 'role', policy: role?.permissionPolicy }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        },
        {},
      );
      if (result.resultType === 'error') throw new Error(JSON.stringify(result.errors));
      return result.overallResult;
    };

    // Act + Assess
    expect(await putObject(`${bobKey}/holiday.jpg`)).toBe('Allowed');
    expect(await putObject(`${aliceKey}/holiday.jpg`)).toBe('ImplicitlyDenied');
    expect(await putObject('holiday.jpg')).toBe('ImplicitlyDenied');
    expect(await putObject(`${bobKey}x/holiday.jpg`)).toBe('ImplicitlyDenied');
  });

  it('refuses an entitlement the caller does not have, audits it, and calls no STS', async () => {
    // Prepare
    const sessionsBefore = (await emulatorSessions()).length;

    // Act
    const response = await postCredentials(bobToken, { entitlement: 'console-readonly' });

    // Assess
    expect(response.status).toBe(403);
    expect(response.json).toMatchObject({ error: 'not_entitled' });
    expect(response.json['AccessKeyId']).toBeUndefined();
    expect((await emulatorSessions()).length).toBe(sessionsBefore);
    const record = await auditedDecision(response.json['requestId']);
    expect(record).toMatchObject({
      outcome: 'denied',
      reason: 'no_matching_entitlement',
      errorCode: 'not_entitled',
      caller: { subject: BOB_SUB },
    });
  });

  it('refuses an unknown entitlement exactly as a withheld one (no oracle)', async () => {
    // Act
    const unknown = await postCredentials(bobToken, { entitlement: 'does-not-exist' });
    const withheld = await postCredentials(bobToken, { entitlement: 'console-readonly' });

    // Assess
    expect(unknown.status).toBe(withheld.status);
    expect(unknown.json['message']).toBe(withheld.json['message']);
  });

  it('refuses client-chosen STS parameters and malformed bodies with invalid_request, audited', async () => {
    for (const body of [
      { entitlement: 'photo-uploads', Policy: '{"Statement":[]}' },
      { entitlement: 'photo-uploads', roleArn: 'arn:aws:iam::111111111111:role/keyvend/console-readonly' },
      { entitlement: 'Photo Uploads' },
      { entitlement: 'photo-uploads', durationSeconds: 'forever' },
      { entitlement: 'photo-uploads', durationSeconds: 60 },
      '{"entitlement":',
      '[]',
    ]) {
      // Act
      const response = await postCredentials(aliceToken, body);

      // Assess
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.json['error']).toBe('invalid_request');
      const record = await auditedDecision(response.json['requestId']);
      expect(record).toMatchObject({ outcome: 'denied', errorCode: 'invalid_request', caller: { subject: ALICE_SUB } });
    }
  });

  it('refuses a JSON body that names a member twice (last one wins in JSON.parse), on both POST routes: 400, audited, no STS call', async () => {
    // Prepare
    const stsBefore = await stsCallCount();
    const twice = '{"entitlement":"console-readonly","entitlement":"photo-uploads"}';

    // Act
    const credentials = await postCredentials(aliceToken, twice);
    const escaped = await postCredentials(aliceToken, '{"entitlement":"photo-uploads","entitl\\u0065ment":"photo-uploads"}');
    const consoleResponse = await fetch(`${stack().apiUrl}/v1/console`, {
      method: 'POST',
      headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' },
      body: twice.replaceAll('photo-uploads', 'console-readonly'),
    });
    const consoleJson = (await consoleResponse.json()) as Record<string, unknown>;

    // Assess
    const records = await auditRecords();
    for (const [status, json] of [
      [credentials.status, credentials.json],
      [escaped.status, escaped.json],
      [consoleResponse.status, consoleJson],
    ] as const) {
      expect(status).toBe(400);
      expect(json).toMatchObject({ error: 'invalid_request' });
      expect(json['AccessKeyId']).toBeUndefined();
      expect(json['url']).toBeUndefined();
      const record = records.find((r) => r['request']?.['requestId'] === json['requestId']);
      expect(record).toMatchObject({
        outcome: 'denied',
        errorCode: 'invalid_request',
        reason: 'duplicate_json_member',
        caller: { subject: ALICE_SUB },
      });
    }
    expect(await stsCallCount()).toBe(stsBefore);
  });

  it("refuses a form body (the SAML callers' binding) that repeats a field: 400 duplicate_fields, audited, no STS call", async () => {
    // Prepare
    const stsBefore = await stsCallCount();

    // Act
    const response = await fetch(`${stack().apiUrl}/v1/credentials`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams([
        ['SAMLResponse', 'PHNhbWxwOlJlc3BvbnNlLz4='],
        ['entitlement', 'console-readonly'],
        ['entitlement', 'photo-uploads'],
      ]).toString(),
    });
    const json = (await response.json()) as Record<string, unknown>;

    // Assess
    expect(response.status).toBe(400);
    expect(json).toMatchObject({ error: 'invalid_request' });
    const record = await auditedDecision(json['requestId']);
    expect(record).toMatchObject({ outcome: 'denied', errorCode: 'invalid_request', reason: 'duplicate_fields' });
    expect(await stsCallCount()).toBe(stsBefore);
  });

  it('clamps the duration to the entitlement maximum, and says so in the response', async () => {
    // Act
    const response = await postCredentials(aliceToken, { entitlement: 'photo-uploads', durationSeconds: 43_200 });
    const within = await postCredentials(aliceToken, { entitlement: 'photo-uploads', durationSeconds: 900 });

    // Assess
    expect(response.status).toBe(200);
    expect(response.json['durationSeconds']).toBe(3600);
    expect(response.json['requestedDurationSeconds']).toBe(43_200);
    expect(within.json['durationSeconds']).toBe(900);
    expect(within.json).not.toHaveProperty('requestedDurationSeconds');
  });

  it('answers JSON sent as a form (curl -d without a header) with a 415 that names the header to send', async () => {
    // Act
    const response = await postCredentials(
      aliceToken,
      { entitlement: 'photo-uploads' },
      { headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    );

    // Assess
    expect(response.status).toBe(415);
    expect(response.json['error']).toBe('unsupported_media_type');
    expect(String(response.json['message'])).toMatch(/looks like JSON.*Content-Type: application\/json/);
  });
});
