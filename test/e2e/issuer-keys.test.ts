import { KMSClient } from '@aws-sdk/client-kms';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { scanAll } from '../support/dynamodb.ts';
import { importJWK, type JWK, SignJWT } from 'jose';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/dynamodb.ts';
import type { KmsKeyInfo } from '../../infra/local/kms/index.ts';
import { type LocalStack, ROOT, startLocalStack } from '../../infra/local/stack.ts';
import { KmsSigningKeys } from '../../src/adapters/kms/kms-signing-keys.ts';
import { brokerTokenClaims } from '../../src/domain/broker-token.ts';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import { startTestIssuer, TEST_CLIENT_ID, type TestIssuer } from '../support/test-issuer.ts';

/**
 * The signing key's life: KMS faults while signing, and a rotation from an RS256 key to an ES256 key that never
 * breaks a grant. Its own stack, because it replaces the broker (same port, so the same issuer URL) and drives the KMS.
 */
let stack: LocalStack;
let issuer: TestIssuer;
const BROKER_LOG = join(ROOT, 'test-output/e2e-issuer-keys-broker.log');

beforeAll(async () => {
  issuer = await startTestIssuer();
  stack = await startLocalStack({
    entitlementsFile: join(ROOT, 'test/e2e/fixtures/entitlements.yaml'),
    extraIssuers: [issuer.settings],
    brokerLogFile: BROKER_LOG,
  });
}, 180_000);

afterAll(async () => {
  await stack?.close();
  await issuer?.close();
});

async function token(): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: issuer.issuer,
    aud: issuer.audience,
    sub: 'tester-0001',
    client_id: TEST_CLIENT_ID,
    groups: ['testers'],
    department: 'research',
    iat: now,
    exp: now + 600,
  })
    .setProtectedHeader({ alg: 'RS256', kid: issuer.rsa.kid, typ: 'at+jwt' })
    .sign(await importJWK(issuer.rsa.privateJwk as JWK, 'RS256'));
}

async function grant(): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${stack.apiUrl}/v1/credentials`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ entitlement: 'test-uploads', durationSeconds: 43200 }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

async function auditOf(json: Record<string, unknown>): Promise<Record<string, any> | undefined> {
  return (await scanAll(stack.documentClient, stack.brokerEnv['KEYVEND_AUDIT_TABLE'])).find(
    (r) => r['request']?.['requestId'] === json['requestId'] || r['eventId'] === json['grantId'],
  );
}

const stsCalls = async (): Promise<number> => ((await (await fetch(`${stack.sts.url}/_emulator/calls`)).json()) as unknown[]).length;
const jwksKids = async (): Promise<string[]> =>
  ((await (await fetch(`${stack.apiUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

function signingKeys(key: KmsKeyInfo): KmsSigningKeys {
  const client = new KMSClient({
    endpoint: stack.kms.url,
    region: 'us-east-1',
    credentials: {
      accessKeyId: String(stack.brokerEnv['AWS_ACCESS_KEY_ID']),
      secretAccessKey: String(stack.brokerEnv['AWS_SECRET_ACCESS_KEY']),
    },
  });
  return new KmsSigningKeys(client, { signingKeyId: key.arn, publishedKeyIds: [] });
}

/** A token for the tester's test-uploads grant, signed by the given key, as the broker would mint it. */
async function mintWith(key: KmsKeyInfo): Promise<{ token: string; kid: string }> {
  const userKey = deriveUserKey(issuer.issuer, 'tester-0001');
  const grantId = '0190a1b2-0000-7000-8000-00000000beef';
  const identity = {
    roleSessionName: `tester-0001.${userKey}`,
    sourceIdentity: `tester-0001.${userKey}`,
    tags: [
      { Key: 'keyvend:user', Value: userKey },
      { Key: 'keyvend:entitlement', Value: 'test-uploads' },
    ],
    transitiveTagKeys: [],
  };
  const claims = brokerTokenClaims(
    { issuer: stack.apiUrl, audience: 'sts.amazonaws.com', lifetimeSeconds: 300 },
    { grantId, entitlementId: 'test-uploads', userKey, identity },
    new Date(),
  );
  const signed = await signingKeys(key).sign(claims);
  return { token: signed.token.reveal(), kid: signed.keyId };
}

async function exchange(webIdentityToken: string): Promise<string> {
  const client = new STSClient({
    endpoint: stack.sts.url,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: () => Promise.reject(new Error('unsigned')),
  });
  try {
    await client.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: 'arn:aws:iam::111111111111:role/keyvend/photo-uploads',
        RoleSessionName: 'rotation-check',
        WebIdentityToken: webIdentityToken,
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] }),
      }),
    );
    return 'ok';
  } catch (error) {
    return (error as Error).name;
  } finally {
    client.destroy();
  }
}

describe('KMS faults while minting: nothing is issued, the denial is audited', () => {
  it('throttled Sign: 503 upstream_unavailable with Retry-After, no STS call', async () => {
    // Prepare: the SDK makes three attempts; each consumes one fault
    expect((await grant()).status).toBe(200);
    stack.kms.injectFault({ operation: 'Sign', code: 'ThrottlingException', count: 3 });
    const callsBefore = await stsCalls();

    // Act
    const response = await grant();

    // Assess
    expect(response.status).toBe(503);
    expect(response.json['error']).toBe('upstream_unavailable');
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(response.json['AccessKeyId']).toBeUndefined();
    expect(await stsCalls()).toBe(callsBefore);
    expect(await auditOf(response.json)).toMatchObject({ outcome: 'denied', reason: 'kms_throttled', errorCode: 'upstream_unavailable' });
  });

  it('KMS unreachable: 503 for grants and for the JWKS, nothing issued', async () => {
    // Prepare: a broker whose KMS endpoint answers nothing
    await stack.restartBroker({ KEYVEND_KMS_ENDPOINT: `http://127.0.0.1:${await freePort()}` });
    const callsBefore = await stsCalls();

    try {
      // Act
      const response = await grant();
      const jwks = await fetch(`${stack.apiUrl}/.well-known/jwks.json`);

      // Assess
      expect(response.status).toBe(503);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await stsCalls()).toBe(callsBefore);
      expect(await auditOf(response.json)).toMatchObject({ outcome: 'denied', reason: 'kms_unavailable' });
      expect(jwks.status).toBe(503);
    } finally {
      await stack.restartBroker({});
    }
  });
});

describe('rotating the signing key never breaks a grant', () => {
  it('publishes the next key first, switches to it (RS256 → ES256), keeps the old one until its tokens expire, then retires it', async () => {
    // Prepare
    const keyA = stack.kms.keys[0] as KmsKeyInfo;
    const keyB = stack.kms.createKey({ keySpec: 'ECC_NIST_P256' });
    const kidA = (await mintWith(keyA)).kid;
    const kidB = (await mintWith(keyB)).kid;

    // Act + Assess 1: A signs alone
    const before = await grant();
    expect(before.status).toBe(200);
    expect((await auditOf(before.json))?.['session']?.['tokenKeyId']).toBe(kidA);
    expect(await jwksKids()).toEqual([kidA]);

    // Act + Assess 2: B is published before it signs
    await stack.restartBroker({ KEYVEND_PUBLISHED_KEY_IDS: keyB.arn });
    const published = await grant();
    expect(published.status).toBe(200);
    expect((await auditOf(published.json))?.['session']?.['tokenKeyId']).toBe(kidA);
    expect(await jwksKids()).toEqual([kidA, kidB]);
    const signedByA = await mintWith(keyA);

    // Act + Assess 3: B signs (ES256), A stays published: A's last tokens still open the role
    await stack.restartBroker({ KEYVEND_SIGNING_KEY_ID: keyB.arn, KEYVEND_PUBLISHED_KEY_IDS: keyA.arn });
    const switched = await grant();
    expect(switched.status, JSON.stringify(switched.json)).toBe(200);
    expect((await auditOf(switched.json))?.['session']?.['tokenKeyId']).toBe(kidB);
    expect(await jwksKids()).toEqual([kidB, kidA]);
    const discovery = (await (await fetch(`${stack.apiUrl}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery['id_token_signing_alg_values_supported']).toEqual(['ES256', 'RS256']);
    expect(await exchange(signedByA.token)).toBe('ok');

    // Act + Assess 4: A retired once its tokens have expired: B alone is published and grants go on
    await stack.restartBroker({ KEYVEND_SIGNING_KEY_ID: keyB.arn, KEYVEND_PUBLISHED_KEY_IDS: undefined });
    const after = await grant();
    expect(after.status).toBe(200);
    expect(await jwksKids()).toEqual([kidB]);
  });
});
