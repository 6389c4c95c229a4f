import {
  CreatePolicyVersionCommand,
  DeletePolicyVersionCommand,
  GetPolicyVersionCommand,
  IAMClient,
  ListPolicyVersionsCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type StsEmulator, startStsEmulator } from '../../infra/local/sts-emulator/index.ts';
import { IamLiveSessionRevoker } from '../../src/adapters/iam/iam-live-session-revoker.ts';
import { revocationFor } from '../unit/fakes.ts';

const ACCOUNT = '111111111111';
const POLICY = `arn:aws:iam::${ACCOUNT}:policy/keyvend/keyvend-revocations`;
const REVOKER = `arn:aws:iam::${ACCOUNT}:role/keyvend-revoker`;
const TARGET = `arn:aws:iam::${ACCOUNT}:role/keyvend/photo-uploads`;
const BROKER = {
  accessKeyId: 'AKIAREVOKETEST000001',
  secretAccessKey: 'revocation-test-broker-secret-000000000',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/broker/b`,
};
const NOTHING_REVOKED = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': '1970-01-01T00:00:00Z' } } },
  ],
};
const ALICE = 'AAAAAAAAAAAAAAAAAAAAAAAAAA';
const BOB = 'BBBBBBBBBBBBBBBBBBBBBBBBBB';

describe('STS emulator: IAM managed-policy versions and /_emulator/authorize', () => {
  let emulator: StsEmulator;
  // The emulator's clock runs with real time (SigV4 checks it against the SDK's), moved forward by `skewMs`.
  let skewMs = 0;
  const now = () => new Date(Date.now() + skewMs);
  const credentials = { accessKeyId: BROKER.accessKeyId, secretAccessKey: BROKER.secretAccessKey };
  const sts = () => new STSClient({ region: 'us-east-1', endpoint: emulator.url, credentials, maxAttempts: 1 });
  const iamAs = (c: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
    new IAMClient({ region: 'us-east-1', endpoint: emulator.url, credentials: c, maxAttempts: 1 });

  beforeAll(async () => {
    emulator = await startStsEmulator({
      accountId: ACCOUNT,
      now,
      principals: [BROKER],
      managedPolicies: [{ arn: POLICY, document: NOTHING_REVOKED }],
      roles: [
        {
          arn: TARGET,
          trustPolicy: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { AWS: BROKER.arn }, Action: ['sts:AssumeRole', 'sts:TagSession'] }],
          },
          permissionPolicy: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::uploads/*' }],
          },
          attachedPolicyArns: [POLICY],
        },
        {
          arn: REVOKER,
          trustPolicy: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { AWS: BROKER.arn }, Action: 'sts:AssumeRole' }],
          },
          permissionPolicy: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['iam:CreatePolicyVersion', 'iam:DeletePolicyVersion', 'iam:ListPolicyVersions', 'iam:GetPolicyVersion'],
                Resource: POLICY,
              },
            ],
          },
        },
      ],
    });
  });
  afterAll(async () => {
    await emulator.close();
  });
  beforeEach(() => {
    emulator.reset();
    skewMs = 0;
  });

  async function sessionOf(userKey: string, policy?: string) {
    const out = await sts().send(
      new AssumeRoleCommand({
        RoleArn: TARGET,
        RoleSessionName: `s.${userKey}`,
        Tags: [
          { Key: 'keyvend:user', Value: userKey },
          { Key: 'keyvend:grant', Value: `019ab000-0000-7000-8000-${userKey.slice(0, 12)}` },
          { Key: 'keyvend:entitlement', Value: 'photo-uploads' },
        ],
        ...(policy === undefined ? {} : { Policy: policy }),
      }),
    );
    return out.Credentials?.AccessKeyId ?? '';
  }

  async function authorize(accessKeyId: string, action = 's3:PutObject', resource = `arn:aws:s3:::uploads/${ALICE}/a.txt`) {
    const response = await fetch(`${emulator.url}/_emulator/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ accessKeyId, action, resource }),
    });
    return (await response.json()) as { decision: string; policies?: string[] };
  }

  it('lets the real IamLiveSessionRevoker rewrite the policy; then the revoked person is denied, the other still allowed', async () => {
    // Prepare
    const alice = await sessionOf(ALICE);
    const bob = await sessionOf(BOB);
    const before = await authorize(alice);
    skewMs = 60_000;
    const revoker = new IamLiveSessionRevoker(sts(), { revokerRoleArns: [REVOKER], inFlightSeconds: 10, iamFor: (c) => iamAs(c) });

    // Act
    const at = now();
    const enforcement = await revoker.enforce(
      [revocationFor({ kind: 'person', issuerId: 'dev', subject: 'alice', userKey: ALICE }, at)],
      at,
    );
    const [aliceAfter, bobAfter] = await Promise.all([
      authorize(alice),
      authorize(bob, 's3:PutObject', `arn:aws:s3:::uploads/${BOB}/b.txt`),
    ]);

    // Assess
    expect(enforcement).toEqual({ mode: 'per-session', accounts: [ACCOUNT] });
    expect(before).toMatchObject({ decision: 'Allowed', policies: ['permissionPolicy', POLICY] });
    expect(aliceAfter.decision).toBe('ExplicitlyDenied');
    expect(bobAfter.decision).toBe('Allowed');
  });

  it('does not deny a session issued after the revocation (and its in-flight margin)', async () => {
    // Prepare
    const revoker = new IamLiveSessionRevoker(sts(), { revokerRoleArns: [REVOKER], inFlightSeconds: 10, iamFor: (c) => iamAs(c) });
    const at = now();
    await revoker.enforce([revocationFor({ kind: 'person', issuerId: 'dev', subject: 'alice', userKey: ALICE }, at)], at);
    skewMs = 60_000;

    // Act
    const later = await sessionOf(ALICE);

    // Assess
    expect((await authorize(later)).decision).toBe('Allowed');
  });

  it('keeps at most five versions: the sixth create is LimitExceeded, the default cannot be deleted, documents come back URL-encoded', async () => {
    // Prepare
    const revokerCreds = (await sts().send(new AssumeRoleCommand({ RoleArn: REVOKER, RoleSessionName: 'revoker' }))).Credentials;
    const iam = iamAs({
      accessKeyId: revokerCreds?.AccessKeyId ?? '',
      secretAccessKey: revokerCreds?.SecretAccessKey ?? '',
      sessionToken: revokerCreds?.SessionToken ?? '',
    });
    const doc = (n: number) => JSON.stringify({ ...NOTHING_REVOKED, Statement: [{ ...NOTHING_REVOKED.Statement[0], Sid: `V${n}` }] });

    // Act
    for (let n = 2; n <= 5; n++)
      await iam.send(new CreatePolicyVersionCommand({ PolicyArn: POLICY, PolicyDocument: doc(n), SetAsDefault: true }));
    const sixth = await iam
      .send(new CreatePolicyVersionCommand({ PolicyArn: POLICY, PolicyDocument: doc(6) }))
      .catch((e: { name: string }) => e.name);
    const deleteDefault = await iam
      .send(new DeletePolicyVersionCommand({ PolicyArn: POLICY, VersionId: 'v5' }))
      .catch((e: { name: string }) => e.name);
    const listed = await iam.send(new ListPolicyVersionsCommand({ PolicyArn: POLICY }));
    const got = await iam.send(new GetPolicyVersionCommand({ PolicyArn: POLICY, VersionId: 'v5' }));

    // Assess
    expect(sixth).toBe('LimitExceededException');
    expect(deleteDefault).toBe('DeleteConflictException');
    expect(listed.Versions?.map((v) => [v.VersionId, v.IsDefaultVersion])).toEqual([
      ['v5', true],
      ['v4', false],
      ['v3', false],
      ['v2', false],
      ['v1', false],
    ]);
    expect(JSON.parse(decodeURIComponent(got.PolicyVersion?.Document ?? ''))).toEqual(JSON.parse(doc(5)));
  });

  it('refuses the IAM actions to a caller whose role does not allow them on that policy', async () => {
    // Prepare
    const target = (await sts().send(new AssumeRoleCommand({ RoleArn: TARGET, RoleSessionName: 'target' }))).Credentials;
    const iam = iamAs({
      accessKeyId: target?.AccessKeyId ?? '',
      secretAccessKey: target?.SecretAccessKey ?? '',
      sessionToken: target?.SessionToken ?? '',
    });

    // Act
    const refused = await iam.send(new ListPolicyVersionsCommand({ PolicyArn: POLICY })).catch((e: { name: string }) => e.name);

    // Assess
    expect(refused).toBe('AccessDenied');
  });

  it('answers the authorize route for a session policy that does not allow the action, for an expired session, and for an unknown key', async () => {
    // Prepare
    const narrow = await sessionOf(
      ALICE,
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] }),
    );
    const expiring = await sessionOf(BOB);

    // Act
    const outsideSessionPolicy = await authorize(narrow);
    skewMs = 2 * 3600_000;
    const expired = await authorize(expiring);
    const unknown = await authorize('ASIANOSUCHKEY0000000');

    // Assess
    expect(outsideSessionPolicy.decision).toBe('ImplicitlyDenied');
    expect(expired.decision).toBe('ExpiredToken');
    expect(unknown.decision).toBe('UnknownSession');
  });
});
