import { GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { calculateJwkThumbprint, generateKeyPair, SignJWT } from 'jose';
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { KmsSigningKeys } from '../../src/adapters/kms/kms-signing-keys.ts';
import { brokerTokenClaims } from '../../src/domain/broker-token.ts';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import { webIdentityWithCli, webIdentityWithSdk } from '../support/direct-sts.ts';
import {
  auditRecords,
  devIdpToken,
  emulatorCalls,
  emulatorSessions,
  postCredentials,
  stack,
  stsCallCount,
  testToken,
} from '../support/e2e.ts';

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
    credentials: {
      accessKeyId: String(body['AccessKeyId']),
      secretAccessKey: String(body['SecretAccessKey']),
      sessionToken: String(body['SessionToken']),
    },
  });
  clients.push(client);
  return (await client.send(new GetCallerIdentityCommand({}))).Arn;
}

const secretsManagerCalls = async (): Promise<{ target: string; outcome: string }[]> =>
  (await (await fetch(`${stack().brokerEnv['KEYVEND_SECRETS_MANAGER_ENDPOINT']}/_emulator/calls`)).json()) as never;

const testerKey = deriveUserKey(stack().testIssuer.issuer, 'tester-0001');

const BROKER_PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/keyvend.local`;
const DEMO_ROLES = ['photo-uploads', 'console-readonly', 'hourly-readonly'].map((name) => `arn:aws:iam::${ACCOUNT}:role/keyvend/${name}`);

/** The local KMS, reached as the broker reaches it (with its credentials). */
function brokerKms(): KMSClient {
  const env = stack().brokerEnv;
  return new KMSClient({
    endpoint: String(env['KEYVEND_KMS_ENDPOINT']),
    region: 'us-east-1',
    credentials: { accessKeyId: String(env['AWS_ACCESS_KEY_ID']), secretAccessKey: String(env['AWS_SECRET_ACCESS_KEY']) },
  });
}

const brokerSigningKeys = () =>
  new KmsSigningKeys(brokerKms(), { signingKeyId: String(stack().brokerEnv['KEYVEND_SIGNING_KEY_ID']), publishedKeyIds: [] });

/** A token as the broker would mint it for the tester and test-uploads, at a given time. */
async function mintedToken(now = new Date(), grantId = `0190a1b2-0000-7000-8000-${String(Date.now()).padStart(12, '0')}`): Promise<string> {
  const identity = {
    roleSessionName: `tester-0001.${testerKey}`,
    sourceIdentity: `tester-0001.${testerKey}`,
    tags: [
      { Key: 'keyvend:user', Value: testerKey },
      { Key: 'keyvend:issuer', Value: 'test' },
      { Key: 'keyvend:entitlement', Value: 'test-uploads' },
      { Key: 'keyvend:grant', Value: grantId },
    ],
    transitiveTagKeys: [],
  };
  const claims = brokerTokenClaims(
    { issuer: stack().apiUrl, audience: 'sts.amazonaws.com', lifetimeSeconds: 300 },
    { grantId, entitlementId: 'test-uploads', userKey: testerKey, identity },
    now,
  );
  return (await brokerSigningKeys().sign(claims)).token.reveal();
}

const POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] });

async function exchange(token: string, roleArn = `arn:aws:iam::${ACCOUNT}:role/keyvend/photo-uploads`): Promise<string> {
  const unsigned = new STSClient({
    endpoint: stack().stsUrl,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: () => Promise.reject(new Error('unsigned')),
  });
  clients.push(unsigned);
  try {
    await unsigned.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: roleArn,
        RoleSessionName: `tester-0001.${testerKey}`,
        WebIdentityToken: token,
        Policy: POLICY,
      }),
    );
    return 'ok';
  } catch (error) {
    return (error as Error).name;
  }
}

describe('vending: keyvend-issuer (the broker mints a token for the grant; the role trusts only that)', () => {
  it("gets 12 h credentials that work, with the policy, the broker's tags and SourceIdentity carried by its own token", async () => {
    // Act
    const response = await postCredentials(await testToken(), { entitlement: 'test-uploads', durationSeconds: 43200 });
    const arn = await callerIdentity(response.json);

    // Assess: working credentials for the full 12 h: not role chaining
    expect(response.status, response.text).toBe(200);
    const sessionName = `tester-0001.${testerKey}`;
    expect(response.json).toMatchObject({ durationSeconds: 43200, sourceIdentity: sessionName, roleSessionName: sessionName });
    expect(arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/photo-uploads/${sessionName}`);

    // Assess: the session, read back from the emulator: issued for the broker's token, with the claims' tags
    const grantId = String(response.json['grantId']);
    const session = (await emulatorSessions()).find((s) => s.accessKeyId === response.json['AccessKeyId']) as
      | Record<string, unknown>
      | undefined;
    expect(session).toMatchObject({
      issuedBy: 'AssumeRoleWithWebIdentity',
      provider: BROKER_PROVIDER,
      subject: `ent:test-uploads:user:${testerKey}`,
      sourceIdentity: sessionName,
      tags: [
        { Key: 'keyvend:user', Value: testerKey },
        { Key: 'keyvend:issuer', Value: 'test' },
        { Key: 'keyvend:entitlement', Value: 'test-uploads' },
        { Key: 'keyvend:grant', Value: grantId },
        { Key: 'department', Value: 'research' },
      ],
      transitiveTagKeys: ['department'],
      durationSeconds: 43200,
    });
    expect(JSON.parse(String(session?.['policy']))).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['s3:PutObject'], Resource: `arn:aws:s3:::keyvend-demo-uploads/${testerKey}/*` }],
    });

    // Assess: unsigned (no broker credentials involved), audited with the token's subject and key, never the token
    const call = (await emulatorCalls()).filter((c) => c.action === 'AssumeRoleWithWebIdentity' && c.outcome === 'ok').at(-1) as
      | Record<string, unknown>
      | undefined;
    expect(call?.['signed']).toBe(false);
    const jwks = (await (await fetch(`${stack().apiUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    const record = (await auditRecords()).find((r) => r['eventId'] === grantId);
    expect(record).toMatchObject({
      outcome: 'granted',
      session: {
        vending: 'keyvend-issuer',
        tokenSubject: `ent:test-uploads:user:${testerKey}`,
        tokenKeyId: jwks.keys[0]?.kid,
        durationSeconds: 43200,
      },
    });
    expect(JSON.stringify(record)).not.toMatch(/eyJ[\w-]+\.eyJ/);
    expect(readFileSync(stack().brokerLogFile, 'utf8')).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/);
  });
});

describe("the issuer's public documents", () => {
  it('serve a discovery document for the configured issuer and a JWKS of public keys only, cacheable', async () => {
    // Act
    const discovery = await fetch(`${stack().apiUrl}/.well-known/openid-configuration`);
    const discoveryBody = (await discovery.json()) as Record<string, unknown>;
    const jwks = await fetch(String(discoveryBody['jwks_uri']));
    const jwksBody = (await jwks.json()) as { keys: Record<string, unknown>[] };

    // Assess
    expect(discovery.status).toBe(200);
    expect(discovery.headers.get('cache-control')).toBe('public, max-age=300');
    expect(discoveryBody).toMatchObject({
      issuer: stack().apiUrl,
      jwks_uri: `${stack().apiUrl}/.well-known/jwks.json`,
      id_token_signing_alg_values_supported: ['RS256'],
    });
    expect(jwks.headers.get('cache-control')).toBe('public, max-age=300');
    expect(jwksBody.keys).toHaveLength(1);
    const [key] = jwksBody.keys;
    expect(Object.keys(key ?? {}).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) expect(key).not.toHaveProperty(privateMember);
    expect(key?.['kid']).toBe(await calculateJwkThumbprint({ kty: 'RSA', n: String(key?.['n']), e: String(key?.['e']) }));
  });

  it('publish exactly the public half of the KMS signing key', async () => {
    // Prepare
    const kms = brokerKms();

    // Act
    const fromKms = await kms.send(new GetPublicKeyCommand({ KeyId: stack().brokerEnv['KEYVEND_SIGNING_KEY_ID'] }));
    const jwks = (await (await fetch(`${stack().apiUrl}/.well-known/jwks.json`)).json()) as { keys: Record<string, string>[] };

    // Assess
    const expected = createPublicKey({ key: Buffer.from(fromKms.PublicKey ?? new Uint8Array()), format: 'der', type: 'spki' }).export({
      format: 'jwk',
    });
    expect({ n: jwks.keys[0]?.['n'], e: jwks.keys[0]?.['e'] }).toEqual({ n: expected.n, e: expected.e });
    kms.destroy();
  });
});

describe("nobody goes around the broker: a caller's own token, sent straight to STS, opens no demo role", () => {
  it.each(DEMO_ROLES)("%s refuses the dev IdP's and the tests' issuer's tokens, with the AWS SDK and the AWS CLI", async (roleArn) => {
    // Prepare: alice's and bob's real dev IdP tokens, and a token of the tests' issuer; their providers exist in the account
    const tokens = [await devIdpToken('alice'), await devIdpToken('bob'), await testToken()];

    // Act
    const sdk = await Promise.all(tokens.map((token) => webIdentityWithSdk(stack().stsUrl, roleArn, token)));
    const cli = await Promise.all(tokens.map((token) => webIdentityWithCli(stack().stsUrl, roleArn, token)));

    // Assess: AccessDenied, not an invalid token: the providers verified the tokens and the trust policies said no
    expect(sdk).toEqual(tokens.map(() => ({ ok: false, error: 'AccessDenied' })));
    for (const attempt of cli) {
      expect(attempt.ok).toBe(false);
      expect(attempt.error).toMatch(/AccessDenied/);
    }
  });

  it("asking for alice's computable session name or a 12 h session changes nothing", async () => {
    // Prepare
    const token = await testToken();
    const unsigned = new STSClient({
      endpoint: stack().stsUrl,
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: () => Promise.reject(new Error('unsigned')),
    });
    clients.push(unsigned);

    // Act
    const attempt = unsigned.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: DEMO_ROLES[0],
        RoleSessionName: `tester-0001.${testerKey}`,
        WebIdentityToken: token,
        DurationSeconds: 43200,
      }),
    );

    // Assess
    await expect(attempt).rejects.toMatchObject({ name: 'AccessDenied' });
  });
});

describe('STS refuses a minted token that is not exactly what the broker minted, now', () => {
  it('accepts a fresh minted token (the control), and refuses it replayed after it expired', async () => {
    // Act
    const fresh = await exchange(await mintedToken());
    const expired = await exchange(await mintedToken(new Date(Date.now() - 10 * 60_000)));

    // Assess
    expect(fresh).toBe('ok');
    expect(expired).toBe('ExpiredTokenException');
  });

  it('refuses a minted token whose claims were altered after signing', async () => {
    // Prepare: the same signature over another entitlement's subject
    const [header, payload, signature] = (await mintedToken()).split('.');
    const claims = JSON.parse(Buffer.from(String(payload), 'base64url').toString('utf8')) as Record<string, unknown>;
    const altered = Buffer.from(JSON.stringify({ ...claims, sub: `ent:photo-uploads:user:${testerKey}` })).toString('base64url');

    // Act
    const outcome = await exchange(`${header}.${altered}.${signature}`);

    // Assess
    expect(outcome).toBe('InvalidIdentityTokenException');
  });

  it('refuses a token with the same claims signed by another key, under the published kid or another', async () => {
    // Prepare
    const [header, payload] = (await mintedToken()).split('.');
    const { kid } = JSON.parse(Buffer.from(String(header), 'base64url').toString('utf8')) as { kid: string };
    const claims = JSON.parse(Buffer.from(String(payload), 'base64url').toString('utf8')) as Record<string, unknown>;
    const { privateKey } = await generateKeyPair('RS256');
    const forge = (keyId: string) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: keyId, typ: 'JWT' }).sign(privateKey);

    // Act
    const underPublishedKid = await exchange(await forge(kid));
    const underOtherKid = await exchange(await forge('attacker-key'));

    // Assess
    expect(underPublishedKid).toBe('InvalidIdentityTokenException');
    expect(underOtherKid).not.toBe('ok');
  });
});

describe("vending: federation-token (GetFederationToken with the IAM user's keys from Secrets Manager)", () => {
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
    const session = (await emulatorSessions()).find((s) => s.accessKeyId === response.json['AccessKeyId']) as
      | Record<string, unknown>
      | undefined;
    expect(session).toMatchObject({
      issuedBy: 'GetFederationToken',
      roleArn: `arn:aws:iam::${ACCOUNT}:user/keyvend/keyvend-federation`,
      callerArn: `arn:aws:iam::${ACCOUNT}:user/keyvend/keyvend-federation`,
      tags: [
        { Key: 'keyvend:user', Value: testerKey },
        { Key: 'keyvend:issuer', Value: 'test' },
        { Key: 'keyvend:entitlement', Value: 'federation-uploads' },
        { Key: 'keyvend:grant', Value: response.json['grantId'] },
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

  it("reads the IAM user's keys once and reuses them across requests, and never logs them", async () => {
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
