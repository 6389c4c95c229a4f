import { runSimulation } from '@cloud-copilot/iam-simulate';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../../infra/local/stack.ts';
import { loadTemplate, renderTemplate } from '../../support/cfn-render.ts';

const BROKER_ROLE_ARN = 'arn:aws:iam::222222222222:role/keyvend-prod-broker';
/** The API, console sign-in and the portal each run as their own role; all three vend (docs/operations.md). */
const VENDING_ROLE_ARNS = [
  BROKER_ROLE_ARN,
  'arn:aws:iam::222222222222:role/keyvend-prod-console',
  'arn:aws:iam::222222222222:role/keyvend-prod-portal',
];

const template = loadTemplate('infra/target-role.yaml');

/** The role a stack would create for these parameters. */
function render(parameters: Record<string, string | number>): { role: Record<string, any> } {
  return { role: renderTemplate(template, parameters).resources['TargetRole'] as Record<string, any> };
}

const trustStatements = (role: Record<string, any>): Record<string, any>[] => role['AssumeRolePolicyDocument']['Statement'];

describe('infra/target-role.yaml', () => {
  it('creates one role under /keyvend/ whose trust policy names only the vending roles', () => {
    // Act
    const { role } = render({ RoleName: 'photo-uploads', TrustedBrokerRoleArns: VENDING_ROLE_ARNS.join(',') });

    // Assess
    expect(Object.values(template.Resources).map((r) => r.Type)).toEqual(['AWS::IAM::Role']);
    expect(role['Path']).toBe('/keyvend/');
    expect(role['RoleName']).toBe('photo-uploads');
    const statements = trustStatements(role);
    expect(statements.every((s) => s['Effect'] === 'Allow')).toBe(true);
    expect(statements.map((s) => s['Principal'])).toEqual(statements.map(() => ({ AWS: VENDING_ROLE_ARNS })));
    expect(statements.map((s) => s['Action']).sort()).toEqual(['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession']);
    expect(JSON.stringify(role['AssumeRolePolicyDocument'])).not.toMatch(/"\*"|:root/);
  });

  it('requires the ExternalId only when one is given', () => {
    // Act
    const without = render({ RoleName: 'r', TrustedBrokerRoleArns: VENDING_ROLE_ARNS.join(',') }).role;
    const withId = render({ RoleName: 'r', TrustedBrokerRoleArns: VENDING_ROLE_ARNS.join(','), ExternalId: 'tenant-42-7f3a9c' }).role;

    // Assess
    const assume = (role: Record<string, any>) => trustStatements(role).find((s) => s['Action'] === 'sts:AssumeRole');
    expect(assume(without)).not.toHaveProperty('Condition');
    expect(assume(withId)?.['Condition']).toEqual({ StringEquals: { 'sts:ExternalId': 'tenant-42-7f3a9c' } });
    expect(template.Parameters['ExternalId']?.NoEcho).toBe(true);
  });

  it('lets the broker set only its own tag keys and the configured ones, keyvend:user always present', () => {
    // Act
    const plain = render({ RoleName: 'r', TrustedBrokerRoleArns: VENDING_ROLE_ARNS.join(',') }).role;
    const extra = render({
      RoleName: 'r',
      TrustedBrokerRoleArns: VENDING_ROLE_ARNS.join(','),
      AdditionalSessionTagKeys: 'department,cost-center',
    }).role;

    // Assess
    const tagCondition = (role: Record<string, any>) => trustStatements(role).find((s) => s['Action'] === 'sts:TagSession')?.['Condition'];
    const brokerKeys = ['keyvend:user', 'keyvend:issuer', 'keyvend:entitlement', 'keyvend:grant'];
    expect(tagCondition(plain)).toEqual({
      'ForAllValues:StringEquals': { 'aws:TagKeys': brokerKeys },
      Null: { 'aws:RequestTag/keyvend:user': 'false' },
    });
    expect(tagCondition(extra)['ForAllValues:StringEquals']['aws:TagKeys']).toEqual([...brokerKeys, 'department', 'cost-center']);
  });

  it('takes MaxSessionDuration from its parameter within what IAM allows', () => {
    // Act
    const { role } = render({ RoleName: 'r', TrustedBrokerRoleArns: VENDING_ROLE_ARNS.join(','), MaxSessionDuration: 7200 });

    // Assess
    expect(role['MaxSessionDuration']).toBe(7200);
    expect(template.Parameters['MaxSessionDuration']).toMatchObject({ MinValue: 3600, MaxValue: 43200 });
  });

  it('refuses a broker ARN that is not a role, such as an account root', () => {
    // Prepare
    const pattern = new RegExp(template.Parameters['TrustedBrokerRoleArns']?.AllowedPattern ?? '');

    // Assess
    expect(pattern.test(BROKER_ROLE_ARN)).toBe(true);
    expect(pattern.test('arn:aws:iam::222222222222:root')).toBe(false);
    expect(pattern.test('*')).toBe(false);
  });

  it('grants the S3 example policy only when a bucket is given, and it is the published example', () => {
    // Act
    const without = render({ RoleName: 'r', TrustedBrokerRoleArns: VENDING_ROLE_ARNS.join(',') }).role;
    const withBucket = render({
      RoleName: 'r',
      TrustedBrokerRoleArns: VENDING_ROLE_ARNS.join(','),
      UploadsBucketName: 'example-uploads-bucket',
    }).role;

    // Assess
    expect(without).not.toHaveProperty('Policies');
    const example = readFileSync(join(ROOT, 'infra/examples/s3-uploads-permission-policy.json'), 'utf8').replaceAll(
      'EXAMPLE-UPLOADS-BUCKET',
      'example-uploads-bucket',
    );
    expect(withBucket['Policies'][0]['PolicyDocument']).toEqual(JSON.parse(example));
  });
});

describe('infra/examples/s3-uploads-permission-policy.json', () => {
  const policy = JSON.parse(readFileSync(join(ROOT, 'infra/examples/s3-uploads-permission-policy.json'), 'utf8'));
  const decide = async (action: string, resource: string, userTag: string | undefined, prefix?: string) => {
    const result = await runSimulation(
      {
        request: {
          principal: 'arn:aws:sts::333333333333:assumed-role/photo-uploads/alice.abcdefghijklmnopqrstuvwxyz',
          action,
          resource: { resource, accountId: '333333333333' },
          contextVariables: {
            ...(userTag === undefined ? {} : { 'aws:PrincipalTag/keyvend:user': userTag }),
            ...(prefix === undefined ? {} : { 's3:prefix': prefix }),
          },
        },
        identityPolicies: [{ name: 'uploads', policy }],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      {},
    );
    if (result.resultType === 'error') throw new Error(JSON.stringify(result.errors));
    return result.overallResult;
  };
  const bucket = 'arn:aws:s3:::EXAMPLE-UPLOADS-BUCKET';
  const alice = 'aliceaaaaaaaaaaaaaaaaaaaaa';
  const bob = 'bobbbbbbbbbbbbbbbbbbbbbbbb';

  it('confines a session to the folder named by its keyvend:user tag', async () => {
    // Act + Assess
    expect(await decide('s3:PutObject', `${bucket}/${alice}/photo.jpg`, alice)).toBe('Allowed');
    expect(await decide('s3:PutObject', `${bucket}/${bob}/photo.jpg`, alice)).toBe('ImplicitlyDenied');
    expect(await decide('s3:PutObject', `${bucket}/photo.jpg`, alice)).toBe('ImplicitlyDenied');
    expect(await decide('s3:PutObject', `${bucket}/${alice}x/photo.jpg`, alice)).toBe('ImplicitlyDenied');
    expect(await decide('s3:ListBucket', bucket, alice, `${alice}/`)).toBe('Allowed');
    expect(await decide('s3:ListBucket', bucket, alice, `${bob}/`)).toBe('ImplicitlyDenied');
    expect(await decide('s3:DeleteObject', `${bucket}/${alice}/photo.jpg`, alice)).toBe('ImplicitlyDenied');
  });

  it('grants nothing to a session without the tag', async () => {
    // Act + Assess
    expect(await decide('s3:PutObject', `${bucket}/${alice}/photo.jpg`, undefined)).toBe('ImplicitlyDenied');
  });
});
