import { AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type StsEmulator, startStsEmulator } from '../../infra/local/sts-emulator/index.ts';
import { ACCOUNT, SIMPLE_POLICY, stsError } from './helpers.ts';

const PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:oidc-provider/idp.example.test/tenant`;
const PROVIDER_KEY = 'idp.example.test/tenant';
const CLIENT_ID = 'keyvend-aws';
const ROLE = {
  /** Trusts the provider for the audience and subjects `user-*`, with tags and source identity; 12 h. */
  trusting: `arn:aws:iam::${ACCOUNT}:role/keyvend/web-identity-target`,
  /** Trusts the provider, 1 h maximum. */
  short: `arn:aws:iam::${ACCOUNT}:role/keyvend/web-identity-short`,
  /** Trusts another provider only. */
  otherProvider: `arn:aws:iam::${ACCOUNT}:role/keyvend/other-provider-target`,
};

let idp: Server;
let issuer: string;
let signingKey: SigningKey;
let strangerKey: SigningKey;
let sts: StsEmulator;
let client: STSClient;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  signingKey = pair.privateKey;
  strangerKey = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  idp = createServer((req, res) => {
    const body =
      req.url === '/.well-known/openid-configuration'
        ? { issuer, jwks_uri: `${issuer}/keys` }
        : req.url === '/keys'
          ? { keys: [jwk] }
          : undefined;
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? {}));
  });
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  sts = await startStsEmulator({
    accountId: ACCOUNT,
    principals: [],
    oidcProviders: [{ arn: PROVIDER_ARN, issuer, clientIds: [CLIENT_ID] }],
    roles: [
      {
        arn: ROLE.trusting,
        maxSessionDuration: 43200,
        trustPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Federated: PROVIDER_ARN },
              Action: ['sts:AssumeRoleWithWebIdentity', 'sts:TagSession', 'sts:SetSourceIdentity'],
              Condition: { StringEquals: { [`${PROVIDER_KEY}:aud`]: CLIENT_ID }, StringLike: { [`${PROVIDER_KEY}:sub`]: 'user-*' } },
            },
          ],
        },
      },
      {
        arn: ROLE.short,
        trustPolicy: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Federated: PROVIDER_ARN }, Action: 'sts:AssumeRoleWithWebIdentity' }],
        },
      },
      {
        arn: ROLE.otherProvider,
        trustPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/other.example` },
              Action: 'sts:AssumeRoleWithWebIdentity',
            },
          ],
        },
      },
    ],
  });
  // No credentials at all: the SDK sends this action unsigned.
  client = new STSClient({
    endpoint: sts.url,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: () => Promise.reject(new Error('no credentials')),
  });
});

afterAll(async () => {
  client.destroy();
  await sts.close();
  await new Promise((resolve) => idp.close(resolve));
});

beforeEach(() => sts.reset());

async function token(claims: JWTPayload = {}, key: SigningKey = signingKey, lifetime = 600): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: issuer, aud: CLIENT_ID, sub: 'user-0001', iat: now, exp: now + lifetime, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .sign(key);
}

const assume = (webIdentityToken: string, overrides: Partial<ConstructorParameters<typeof AssumeRoleWithWebIdentityCommand>[0]> = {}) =>
  client.send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: ROLE.trusting,
      RoleSessionName: 'alice.abcdefghijklmnopqrstuvwxyz',
      WebIdentityToken: webIdentityToken,
      Policy: SIMPLE_POLICY,
      ...overrides,
    }),
  );

describe('AssumeRoleWithWebIdentity', () => {
  it('issues a 12 h session whose tags and source identity come from the token, usable with GetCallerIdentity', async () => {
    // Prepare
    const jwt = await token({
      'https://aws.amazon.com/tags': { principal_tags: { team: ['blue'] }, transitive_tag_keys: ['team'] },
      'https://aws.amazon.com/source_identity': 'alice',
    });

    // Act
    const output = await assume(jwt, { DurationSeconds: 43200 });
    const c = output.Credentials!;
    const identity = await new STSClient({
      endpoint: sts.url,
      region: 'us-east-1',
      credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! },
    }).send(new GetCallerIdentityCommand({}));

    // Assess
    expect(output.SubjectFromWebIdentityToken).toBe('user-0001');
    expect(output.Provider).toBe(PROVIDER_KEY);
    expect(output.SourceIdentity).toBe('alice');
    expect(identity.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/web-identity-target/alice.abcdefghijklmnopqrstuvwxyz`);
    expect(sts.calls().map((c) => [c.action, c.signed])).toEqual([
      ['AssumeRoleWithWebIdentity', false],
      ['GetCallerIdentity', true],
    ]);
    const [session] = sts.sessions();
    expect(session).toMatchObject({
      issuedBy: 'AssumeRoleWithWebIdentity',
      provider: PROVIDER_ARN,
      subject: 'user-0001',
      policy: SIMPLE_POLICY,
      tags: [{ Key: 'team', Value: 'blue' }],
      transitiveTagKeys: ['team'],
      sourceIdentity: 'alice',
      durationSeconds: 43200,
    });
  });

  it.each([
    ['a token under 4 characters', () => Promise.resolve('abc'), {}, 'ValidationError'],
    ['a token over 20000 characters', () => Promise.resolve('a'.repeat(20001)), {}, 'ValidationError'],
    ['a session name outside the grammar', () => token(), { RoleSessionName: 'alice/admin' }, 'ValidationError'],
    ['a duration over the role maximum', () => token(), { RoleArn: ROLE.short, DurationSeconds: 7200 }, 'ValidationError'],
    ['a duration over 12 h', () => token(), { DurationSeconds: 43201 }, 'ValidationError'],
    [
      'a policy over 2048 characters',
      () => token(),
      {
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${'x'.repeat(2100)}` }],
        }),
      },
      'ValidationError',
    ],
    ['a token from an unknown issuer', () => token({ iss: 'https://elsewhere.example' }), {}, 'InvalidIdentityTokenException'],
    ['a token for another audience', () => token({ aud: 'someone-else' }), {}, 'InvalidIdentityTokenException'],
    ['a token signed by another key', () => token({}, strangerKey), {}, 'InvalidIdentityTokenException'],
    ['an expired token', () => token({}, signingKey, -60), {}, 'ExpiredTokenException'],
    ['a subject the trust policy does not allow', () => token({ sub: 'robot-7' }), {}, 'AccessDenied'],
    ['a role that trusts another provider', () => token(), { RoleArn: ROLE.otherProvider }, 'AccessDenied'],
  ] as const)('refuses %s', async (_, makeToken, overrides, code) => {
    // Act
    const error = await stsError(assume(await makeToken(), overrides));

    // Assess
    expect(error.name).toBe(code);
    expect(sts.sessions()).toHaveLength(0);
  });

  it('refuses tags in the token when the trust policy lacks sts:TagSession', async () => {
    // Prepare
    const jwt = await token({ 'https://aws.amazon.com/tags': { principal_tags: { team: ['blue'] } } });

    // Act
    const error = await stsError(assume(jwt, { RoleArn: ROLE.short }));

    // Assess
    expect(error.name).toBe('AccessDenied');
  });
});
