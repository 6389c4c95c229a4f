import { GetCallerIdentityCommand, GetFederationTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type StsEmulator, startStsEmulator } from '../../infra/local/sts-emulator/index.ts';
import { ACCOUNT, BROKER, SIMPLE_POLICY, stsError } from './helpers.ts';

const FEDERATOR = {
  accessKeyId: 'AKIATESTFEDERATOR001',
  secretAccessKey: 'federator-secret-key-for-tests-only-000',
  arn: `arn:aws:iam::${ACCOUNT}:user/keyvend/keyvend-federation`,
  identityPolicy: {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'sts:GetFederationToken', Resource: `arn:aws:sts::${ACCOUNT}:federated-user/kv.*` },
      { Effect: 'Allow', Action: 'sts:TagSession', Resource: `arn:aws:sts::${ACCOUNT}:federated-user/kv.*` },
    ],
  },
};
/** An IAM user whose policy allows GetFederationToken but not tagging. */
const UNTAGGED = {
  accessKeyId: 'AKIATESTFEDERATOR002',
  secretAccessKey: 'federator2-secret-key-for-tests-only-00',
  arn: `arn:aws:iam::${ACCOUNT}:user/no-tags`,
  identityPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:GetFederationToken', Resource: '*' }] },
};
/** An IAM user with no policy at all. */
const POWERLESS = {
  accessKeyId: 'AKIATESTPOWERLESS001',
  secretAccessKey: 'powerless-secret-key-for-tests-only-000',
  arn: `arn:aws:iam::${ACCOUNT}:user/powerless`,
};

let sts: StsEmulator;
const clients: STSClient[] = [];
const clientFor = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) => {
  const c = new STSClient({ endpoint: sts.url, region: 'us-east-1', maxAttempts: 1, credentials });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  sts = await startStsEmulator({ accountId: ACCOUNT, principals: [FEDERATOR, UNTAGGED, POWERLESS, BROKER], roles: [] });
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await sts.close();
});
beforeEach(() => sts.reset());

const federate = (
  input: Partial<ConstructorParameters<typeof GetFederationTokenCommand>[0]> = {},
  who: typeof FEDERATOR | typeof UNTAGGED | typeof POWERLESS | typeof BROKER = FEDERATOR,
) => clientFor(who).send(new GetFederationTokenCommand({ Name: 'kv.abcdefghijklmnopqrstuvwxyz', Policy: SIMPLE_POLICY, ...input }));

describe('GetFederationToken', () => {
  it('issues a 36 h federated-user session with the policy and tags, usable with GetCallerIdentity', async () => {
    // Act
    const output = await federate({ DurationSeconds: 129600, Tags: [{ Key: 'keyvend:user', Value: 'abcdefghijklmnopqrstuvwxyz' }] });
    const c = output.Credentials!;
    const identity = await clientFor({
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
    }).send(new GetCallerIdentityCommand({}));

    // Assess
    const arn = `arn:aws:sts::${ACCOUNT}:federated-user/kv.abcdefghijklmnopqrstuvwxyz`;
    expect(output.FederatedUser).toEqual({ Arn: arn, FederatedUserId: `${ACCOUNT}:kv.abcdefghijklmnopqrstuvwxyz` });
    expect(identity.Arn).toBe(arn);
    expect(sts.sessions()[0]).toMatchObject({
      issuedBy: 'GetFederationToken',
      roleArn: FEDERATOR.arn,
      assumedRoleArn: arn,
      policy: SIMPLE_POLICY,
      tags: [{ Key: 'keyvend:user', Value: 'abcdefghijklmnopqrstuvwxyz' }],
      durationSeconds: 129600,
    });
    expect(sts.sessions()[0]?.sourceIdentity).toBeUndefined();
  });

  it.each([
    ['a one-character Name', { Name: 'k' }, 'ValidationError'],
    ['a 33-character Name', { Name: 'k'.repeat(33) }, 'ValidationError'],
    ['a Name outside the grammar', { Name: 'kv/alice' }, 'ValidationError'],
    ['a duration under 900 s', { DurationSeconds: 899 }, 'ValidationError'],
    ['a duration over 36 h', { DurationSeconds: 129601 }, 'ValidationError'],
    ['a malformed policy', { Policy: '{"Version":"2012-10-17","Statement":' }, 'MalformedPolicyDocumentException'],
  ] as const)('refuses %s', async (_, input, code) => {
    // Act
    const error = await stsError(federate(input));

    // Assess
    expect(error.name).toBe(code);
    expect(sts.sessions()).toHaveLength(0);
  });

  it('refuses a user whose identity policy does not allow it, and tags without sts:TagSession', async () => {
    // Act
    const powerless = await stsError(federate({}, POWERLESS));
    const untagged = await stsError(federate({ Tags: [{ Key: 'team', Value: 'blue' }] }, UNTAGGED));
    const outsideResource = await stsError(federate({ Name: 'someone-else' }));

    // Assess
    expect([powerless.name, untagged.name, outsideResource.name]).toEqual(['AccessDenied', 'AccessDenied', 'AccessDenied']);
    expect(untagged.message).toContain('sts:TagSession');
    expect(sts.sessions()).toHaveLength(0);
  });

  it('refuses session credentials, as STS does', async () => {
    // Act
    const error = await stsError(federate({}, BROKER));

    // Assess
    expect(error.name).toBe('AccessDenied');
    expect(error.message).toBe('Cannot call GetFederationToken with session credentials');
  });

  it('issues a session without a policy (which has no permissions) and records it as such', async () => {
    // Act
    await federate({ Policy: undefined });

    // Assess
    expect(sts.sessions()[0]?.policy).toBeUndefined();
    expect(sts.sessions()[0]?.policyArns).toEqual([]);
  });
});
