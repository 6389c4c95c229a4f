import { AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchAccessToken } from '../../infra/local/dev-idp/index.ts';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import { auditRecords, emulatorCalls, emulatorSessions, postCredentials, stack, stsCallCount, testToken } from '../support/e2e.ts';

const ACCOUNT = '111111111111';
const clients: STSClient[] = [];
afterAll(() => {
  for (const c of clients) c.destroy();
});

/** Calls STS with the vended credentials, as their holder would. */
async function callerIdentity(body: Record<string, unknown>): Promise<string | undefined> {
  const client = new STSClient({
    endpoint: stack().stsUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: String(body['AccessKeyId']), secretAccessKey: String(body['SecretAccessKey']), sessionToken: String(body['SessionToken']) },
  });
  clients.push(client);
  return (await client.send(new GetCallerIdentityCommand({}))).Arn;
}

const secretsManagerCalls = async (): Promise<{ target: string; outcome: string }[]> =>
  (await (await fetch(`${stack().brokerEnv['KEYVEND_SECRETS_MANAGER_ENDPOINT']}/_emulator/calls`)).json()) as never;

const testerKey = deriveUserKey(stack().testIssuer.issuer, 'tester-0001');

describe('vending: web-identity (AssumeRoleWithWebIdentity with the caller\'s own token)', () => {
  it('gets 12 h credentials that work, with the policy, and the tags and source identity the token carries', async () => {
    // Prepare
    const token = await testToken({
      'https://aws.amazon.com/tags': { principal_tags: { team: ['research'] }, transitive_tag_keys: ['team'] },
      'https://aws.amazon.com/source_identity': 'tester-0001',
    });

    // Act
    const response = await postCredentials(token, { entitlement: 'web-identity-uploads', durationSeconds: 43200 });
    const arn = await callerIdentity(response.json);

    // Assess: working credentials for the full 12 h: not role chaining
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ durationSeconds: 43200, sourceIdentity: 'tester-0001', roleSessionName: `tester-0001.${testerKey}` });
    expect(arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/web-identity-uploads/tester-0001.${testerKey}`);

    // Assess: the session, read back from the emulator
    const session = (await emulatorSessions()).find((s) => s.accessKeyId === response.json['AccessKeyId']) as Record<string, unknown> | undefined;
    expect(session).toMatchObject({
      issuedBy: 'AssumeRoleWithWebIdentity',
      provider: `arn:aws:iam::${ACCOUNT}:oidc-provider/test-issuer.keyvend.local`,
      subject: 'tester-0001',
      tags: [{ Key: 'team', Value: 'research' }],
      transitiveTagKeys: ['team'],
      sourceIdentity: 'tester-0001',
      durationSeconds: 43200,
    });
    expect(JSON.parse(String(session?.['policy']))).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject'], Resource: `arn:aws:s3:::keyvend-demo-uploads/${testerKey}/*` }],
    });

    // Assess: unsigned (no broker credentials involved), and audited with its path
    const call = (await emulatorCalls()).find((c) => c.action === 'AssumeRoleWithWebIdentity' && c.outcome === 'ok') as Record<string, unknown> | undefined;
    expect(call?.['signed']).toBe(false);
    const record = (await auditRecords()).find((r) => r['eventId'] === response.json['grantId']);
    expect(record).toMatchObject({ outcome: 'granted', session: { vending: 'web-identity', sourceIdentity: 'tester-0001', durationSeconds: 43200 } });
    expect(JSON.stringify(record)).not.toContain(token);
    expect(readFileSync(stack().brokerLogFile, 'utf8')).not.toContain(token);
  });

  it('audits STS\'s refusal of a token whose tags STS rejects (reserved aws: prefix) as a denial', async () => {
    // Prepare: a tag key STS refuses (the reserved aws: prefix), only visible to STS
    const token = await testToken({ 'https://aws.amazon.com/tags': { principal_tags: { 'aws:team': ['x'] } } });

    // Act
    const response = await postCredentials(token, { entitlement: 'web-identity-uploads' });

    // Assess
    expect(response.status).toBe(500);
    const record = (await auditRecords()).find((r) => r['request']?.['requestId'] === response.json['requestId']);
    expect(record).toMatchObject({ outcome: 'denied', session: { vending: 'web-identity' } });
  });
});

describe('the local stack\'s OIDC providers (infra/local/roles.yaml)', () => {
  it('lets a role that trusts the dev IdP take a real dev IdP token, verified with the keys the dev IdP publishes', async () => {
    // Prepare: alice signs in through the real authorization-code flow
    const token = await fetchAccessToken({
      issuer: stack().idpIssuer,
      clientId: 'keyvend-demo-app',
      username: 'alice',
      password: 'alice-password',
      resource: 'urn:keyvend:api',
    });
    const unsigned = new STSClient({ endpoint: stack().stsUrl, region: 'us-east-1', maxAttempts: 1, credentials: () => Promise.reject(new Error('unsigned')) });
    clients.push(unsigned);

    // Act
    const output = await unsigned.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/keyvend/web-identity-uploads`,
        RoleSessionName: 'alice-direct',
        WebIdentityToken: token,
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] }),
      }),
    );

    // Assess
    expect(output.Provider).toBe('dev-idp.keyvend.local');
    expect(output.SubjectFromWebIdentityToken).toBe('7f3a9c1e-4b2d-4e6f-8a1b-2c3d4e5f6a7b');
  });
});

describe('vending: federation-token (GetFederationToken with the IAM user\'s keys from Secrets Manager)', () => {
  it('gets 36 h credentials that work, as the federated user named from the user key, with policy and tags', async () => {
    // Prepare
    const token = await testToken();

    // Act
    const response = await postCredentials(token, { entitlement: 'federation-uploads', durationSeconds: 129600 });
    const arn = await callerIdentity(response.json);

    // Assess: working credentials
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ durationSeconds: 129600, roleSessionName: `kv.${testerKey}` });
    expect(response.json['sourceIdentity']).toBeUndefined();
    expect(arn).toBe(`arn:aws:sts::${ACCOUNT}:federated-user/kv.${testerKey}`);

    // Assess: the session, read back from the emulator
    const session = (await emulatorSessions()).find((s) => s.accessKeyId === response.json['AccessKeyId']) as Record<string, unknown> | undefined;
    expect(session).toMatchObject({
      issuedBy: 'GetFederationToken',
      roleArn: `arn:aws:iam::${ACCOUNT}:user/keyvend/keyvend-federation`,
      callerArn: `arn:aws:iam::${ACCOUNT}:user/keyvend/keyvend-federation`,
      tags: [
        { Key: 'keyvend:user', Value: testerKey },
        { Key: 'keyvend:issuer', Value: 'test' },
        { Key: 'keyvend:entitlement', Value: 'federation-uploads' },
        { Key: 'department', Value: 'research' },
      ],
      durationSeconds: 129600,
    });
    expect(session?.['sourceIdentity']).toBeUndefined();
    expect(JSON.parse(String(session?.['policy']))).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['s3:PutObject'], Resource: `arn:aws:s3:::keyvend-demo-uploads/${testerKey}/*` }],
    });
    const record = (await auditRecords()).find((r) => r['eventId'] === response.json['grantId']);
    expect(record).toMatchObject({ outcome: 'granted', session: { vending: 'federation-token', roleSessionName: `kv.${testerKey}` } });
  });

  it('reads the IAM user\'s keys once and reuses them across requests, and never logs them', async () => {
    // Prepare
    const before = (await secretsManagerCalls()).length;

    // Act
    const responses = [
      await postCredentials(await testToken(), { entitlement: 'federation-uploads' }),
      await postCredentials(await testToken(), { entitlement: 'federation-uploads' }),
    ];

    // Assess
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    expect((await secretsManagerCalls()).length - before).toBeLessThanOrEqual(1);
    const log = readFileSync(stack().brokerLogFile, 'utf8');
    const roles = stack().roles as { federationUsers: { secretAccessKey: string }[] };
    expect(log).not.toContain(roles.federationUsers[0]!.secretAccessKey);
  });

  it('refuses an entitlement whose secret the broker is not configured to read: no STS call, a denial audited', async () => {
    // Prepare
    const callsBefore = await stsCallCount();

    // Act
    const response = await postCredentials(await testToken(), { entitlement: 'federation-unknown-secret' });

    // Assess
    expect(response.status).toBe(500);
    expect(response.json['error']).toBe('internal_error');
    expect(await stsCallCount()).toBe(callsBefore);
    const record = (await auditRecords()).find((r) => r['request']?.['requestId'] === response.json['requestId']);
    expect(record).toMatchObject({ outcome: 'denied', reason: 'federation_secret_not_allowed', session: { vending: 'federation-token' } });
  });
});

describe('vending: saml needs a SAML caller', () => {
  it('refuses an OIDC caller asking for a saml entitlement it is not granted, before STS', async () => {
    // Prepare
    const callsBefore = await stsCallCount();

    // Act
    const response = await postCredentials(await testToken(), { entitlement: 'saml-uploads' });

    // Assess
    expect(response.status).toBe(403);
    expect(await stsCallCount()).toBe(callsBefore);
  });
});
