import {
  CreatePolicyVersionCommand,
  DeletePolicyVersionCommand,
  GetPolicyVersionCommand,
  IAMClient,
  IAMServiceException,
  ListPolicyVersionsCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { IamLiveSessionRevoker, revocationPolicyArnFor } from '../../src/adapters/iam/iam-live-session-revoker.ts';
import { renderRevocationPolicy } from '../../src/domain/revocation-policy.ts';
import { revocationFor } from '../unit/fakes.ts';

const sts = mockClient(STSClient);
const iam = mockClient(IAMClient);
const ROLES = ['arn:aws:iam::111111111111:role/keyvend/keyvend-revoker', 'arn:aws:iam::222222222222:role/keyvend/keyvend-revoker'];
const POLICY_1 = 'arn:aws:iam::111111111111:policy/keyvend/keyvend-revocations';
const NOW = new Date('2026-11-23T09:30:00.000Z');
const REVOCATION = revocationFor({ kind: 'person', issuerId: 'dev', subject: 'alice', userKey: 'AAAAAAAAAAAAAAAAAAAAAAAAAA' }, NOW);

const iamError = (name: string) => new IAMServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 409 }, message: name });
const version = (id: string, minutes: number, isDefault = false) => ({
  VersionId: id,
  IsDefaultVersion: isDefault,
  CreateDate: new Date(NOW.getTime() - minutes * 60_000),
});

function revoker() {
  const signedWith: string[] = [];
  const adapter = new IamLiveSessionRevoker(new STSClient({ region: 'us-east-1' }), {
    revokerRoleArns: ROLES,
    inFlightSeconds: 10,
    iamFor: (credentials) => {
      signedWith.push(credentials.accessKeyId);
      return new IAMClient({ region: 'us-east-1', credentials });
    },
  });
  return { adapter, signedWith };
}

describe('IamLiveSessionRevoker', () => {
  beforeEach(() => {
    sts.reset();
    iam.reset();
    sts.on(AssumeRoleCommand).callsFake((input: { RoleArn: string }) => ({
      Credentials: {
        AccessKeyId: `ASIA${input.RoleArn.split(':')[4]}`,
        SecretAccessKey: 'secret',
        SessionToken: 'token',
        Expiration: new Date(NOW.getTime() + 900_000),
      },
    }));
    iam
      .on(GetPolicyVersionCommand)
      .resolves({ PolicyVersion: { Document: encodeURIComponent('{"Version":"2012-10-17","Statement":[]}') } });
    iam.on(CreatePolicyVersionCommand).resolves({ PolicyVersion: { VersionId: 'v9', IsDefaultVersion: true } });
  });

  it('assumes each account revoker role and creates the rendered document as the default version', async () => {
    // Prepare
    iam.on(ListPolicyVersionsCommand).resolves({ Versions: [version('v1', 60, true)] });
    const { adapter, signedWith } = revoker();

    // Act
    const enforcement = await adapter.enforce([REVOCATION], NOW);

    // Assess
    expect(enforcement).toEqual({ mode: 'per-session', accounts: ['111111111111', '222222222222'] });
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleArn)).toEqual(ROLES);
    expect(signedWith.sort()).toEqual(['ASIA111111111111', 'ASIA222222222222']);
    const created = iam.commandCalls(CreatePolicyVersionCommand).map((c) => c.args[0].input);
    expect(created.map((c) => c.PolicyArn).sort()).toEqual([POLICY_1, 'arn:aws:iam::222222222222:policy/keyvend/keyvend-revocations']);
    expect(created[0]).toMatchObject({
      SetAsDefault: true,
      PolicyDocument: renderRevocationPolicy([REVOCATION], NOW, { inFlightSeconds: 10 }).document,
    });
    expect(iam.commandCalls(DeletePolicyVersionCommand)).toHaveLength(0);
  });

  it('deletes the oldest non-default version first when five exist', async () => {
    // Prepare
    iam.on(ListPolicyVersionsCommand).resolves({
      Versions: [version('v5', 1, true), version('v4', 2), version('v1', 50), version('v3', 3), version('v2', 4)],
    });
    const { adapter } = revoker();

    // Act
    await adapter.enforce([REVOCATION], NOW);

    // Assess
    expect(iam.commandCalls(DeletePolicyVersionCommand).map((c) => c.args[0].input.VersionId)).toEqual(['v1', 'v1']);
  });

  it('writes nothing when the default version already holds the same document', async () => {
    // Prepare
    const document = renderRevocationPolicy([REVOCATION], NOW, { inFlightSeconds: 10 }).document;
    iam.on(ListPolicyVersionsCommand).resolves({ Versions: [version('v2', 1, true)] });
    iam
      .on(GetPolicyVersionCommand)
      .resolves({ PolicyVersion: { Document: encodeURIComponent(JSON.stringify(JSON.parse(document), null, 2)) } });
    const { adapter } = revoker();

    // Act
    await adapter.enforce([REVOCATION], NOW);

    // Assess
    expect(iam.commandCalls(CreatePolicyVersionCommand)).toHaveLength(0);
  });

  it('makes room again when a concurrent writer filled the fifth slot between list and create', async () => {
    // Prepare
    iam
      .on(ListPolicyVersionsCommand)
      .resolvesOnce({ Versions: [version('v4', 1, true), version('v3', 2), version('v2', 3), version('v1', 4)] })
      .resolves({ Versions: [version('v5', 0, true), version('v4', 1), version('v3', 2), version('v2', 3), version('v1', 4)] });
    iam.on(CreatePolicyVersionCommand).rejectsOnce(iamError('LimitExceededException')).resolves({});
    const adapter = new IamLiveSessionRevoker(new STSClient({ region: 'us-east-1' }), {
      revokerRoleArns: [ROLES[0] ?? ''],
      inFlightSeconds: 10,
      iamFor: (credentials) => new IAMClient({ region: 'us-east-1', credentials }),
    });

    // Act
    await adapter.enforce([REVOCATION], NOW);

    // Assess
    expect(iam.commandCalls(DeletePolicyVersionCommand).map((c) => c.args[0].input.VersionId)).toEqual(['v1']);
    expect(iam.commandCalls(CreatePolicyVersionCommand)).toHaveLength(2);
  });

  it('fails the whole call as 503 when an account cannot be written, without a secret in the error', async () => {
    // Prepare
    iam.on(ListPolicyVersionsCommand).rejects(iamError('AccessDenied'));
    const { adapter } = revoker();

    // Act
    const error = await adapter.enforce([REVOCATION], NOW).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ code: 'upstream_unavailable', httpStatus: 503, reason: 'revocation_policy_unavailable' });
    expect(JSON.stringify(error)).not.toContain('secret');
  });

  it('derives the revocation policy of the revoker role account and partition', () => {
    // Act / Assess
    expect(revocationPolicyArnFor('arn:aws-us-gov:iam::333333333333:role/keyvend/keyvend-revoker')).toBe(
      'arn:aws-us-gov:iam::333333333333:policy/keyvend/keyvend-revocations',
    );
    expect(() => revocationPolicyArnFor('arn:aws:iam::333333333333:user/x')).toThrow();
  });
});
