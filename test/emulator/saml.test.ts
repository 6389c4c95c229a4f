import { generateKeyPairSync } from 'node:crypto';
import { AssumeRoleWithSAMLCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type StsEmulator, startStsEmulator } from '../../infra/local/sts-emulator/index.ts';
import { type AwsAssertionOptions, awsSamlResponse, TEST_SAML_IDP } from '../support/aws-saml-assertion.ts';
import { ACCOUNT, SIMPLE_POLICY, stsError } from './helpers.ts';

const PROVIDER = `arn:aws:iam::${ACCOUNT}:saml-provider/keyvend-test-idp`;
const OTHER_PROVIDER = `arn:aws:iam::${ACCOUNT}:saml-provider/other-idp`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/keyvend/saml-target`;
const SHORT_ROLE = `arn:aws:iam::${ACCOUNT}:role/keyvend/saml-short`;

let sts: StsEmulator;
let client: STSClient;

beforeAll(async () => {
  const trust = (max?: number) => ({
    ...(max === undefined ? {} : { maxSessionDuration: max }),
    trustPolicy: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: PROVIDER },
          Action: ['sts:AssumeRoleWithSAML', 'sts:TagSession', 'sts:SetSourceIdentity'],
          Condition: { StringEquals: { 'SAML:aud': 'https://signin.aws.amazon.com/saml' } },
        },
      ],
    },
  });
  sts = await startStsEmulator({
    accountId: ACCOUNT,
    principals: [],
    samlProviders: [
      { arn: PROVIDER, certificates: [TEST_SAML_IDP.certificate] },
      { arn: OTHER_PROVIDER, certificates: [TEST_SAML_IDP.certificate] },
    ],
    roles: [
      { arn: ROLE, ...trust(43200) },
      { arn: SHORT_ROLE, ...trust() },
    ],
  });
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
});
beforeEach(() => sts.reset());

const assertion = (options: Partial<AwsAssertionOptions> = {}) =>
  awsSamlResponse({ roles: [`${ROLE},${PROVIDER}`, `${PROVIDER},${SHORT_ROLE}`], roleSessionName: 'alice@example.com', ...options });

const assume = (samlAssertion: string, overrides: Partial<ConstructorParameters<typeof AssumeRoleWithSAMLCommand>[0]> = {}) =>
  client.send(
    new AssumeRoleWithSAMLCommand({
      RoleArn: ROLE,
      PrincipalArn: PROVIDER,
      SAMLAssertion: samlAssertion,
      Policy: SIMPLE_POLICY,
      ...overrides,
    }),
  );

describe('AssumeRoleWithSAML', () => {
  it('issues a session named, tagged and source-identified by the signed assertion', async () => {
    // Prepare
    const saml = assertion({ sourceIdentity: 'alice', principalTags: { team: 'blue' }, transitiveTagKeys: ['team'] });

    // Act
    const output = await assume(saml, { DurationSeconds: 43200 });
    const c = output.Credentials!;
    const identity = await new STSClient({
      endpoint: sts.url,
      region: 'us-east-1',
      credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! },
    }).send(new GetCallerIdentityCommand({}));

    // Assess
    expect(identity.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/saml-target/alice@example.com`);
    expect(sts.calls().map((call) => [call.action, call.signed])).toEqual([
      ['AssumeRoleWithSAML', false],
      ['GetCallerIdentity', true],
    ]);
    expect(output.Subject).toBe('alice-0001');
    expect(output.Issuer).toBe(TEST_SAML_IDP.entityId);
    expect(output.SourceIdentity).toBe('alice');
    expect(sts.sessions()[0]).toMatchObject({
      issuedBy: 'AssumeRoleWithSAML',
      provider: PROVIDER,
      policy: SIMPLE_POLICY,
      tags: [{ Key: 'team', Value: 'blue' }],
      transitiveTagKeys: ['team'],
      sourceIdentity: 'alice',
      durationSeconds: 43200,
    });
  });

  it('accepts the Role pair in either order', async () => {
    // Act
    const output = await assume(assertion(), { RoleArn: SHORT_ROLE });

    // Assess
    expect(output.AssumedRoleUser?.Arn).toContain('assumed-role/saml-short/');
  });

  it.each([
    ['an assertion under 4 characters', (): string => 'abc', {}, 'ValidationError'],
    ['a duration over the role maximum', () => assertion(), { RoleArn: SHORT_ROLE, DurationSeconds: 7200 }, 'ValidationError'],
    [
      'an unknown SAML provider',
      () => assertion(),
      { PrincipalArn: `arn:aws:iam::${ACCOUNT}:saml-provider/nobody` },
      'InvalidIdentityTokenException',
    ],
    [
      'an assertion signed by another key',
      () =>
        assertion({
          privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        }),
      {},
      'InvalidIdentityTokenException',
    ],
    ['an assertion for another audience', () => assertion({ audience: 'https://sp.example' }), {}, 'InvalidIdentityTokenException'],
    ['an assertion for another Recipient', () => assertion({ recipient: 'https://sp.example/acs' }), {}, 'InvalidIdentityTokenException'],
    ['an expired assertion', () => assertion({ notOnOrAfter: new Date(Date.now() - 1000) }), {}, 'ExpiredTokenException'],
    ['an assertion without RoleSessionName', () => assertion({ roleSessionName: undefined as never }), {}, 'InvalidIdentityTokenException'],
    ['a role the Role attribute does not name', () => assertion({ roles: [`${SHORT_ROLE},${PROVIDER}`] }), {}, 'AccessDenied'],
    ['a provider the Role attribute does not pair with the role', () => assertion(), { PrincipalArn: OTHER_PROVIDER }, 'AccessDenied'],
  ] as ReadonlyArray<readonly [string, () => string, Partial<ConstructorParameters<typeof AssumeRoleWithSAMLCommand>[0]>, string]>)(
    'refuses %s',
    async (_, makeAssertion, overrides, code) => {
      // Act
      const error = await stsError(assume(makeAssertion(), overrides));

      // Assess
      expect(error.name).toBe(code);
      expect(sts.sessions()).toHaveLength(0);
    },
  );

  it('refuses a tampered assertion', async () => {
    // Prepare
    const tampered = Buffer.from(
      Buffer.from(assertion(), 'base64').toString('utf8').replace('alice@example.com', 'admin@example.com'),
    ).toString('base64');

    // Act
    const error = await stsError(assume(tampered));

    // Assess
    expect(error.name).toBe('InvalidIdentityTokenException');
  });
});
