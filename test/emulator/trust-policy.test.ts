import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConditionContext, evaluateTrustPolicy, type TrustPrincipal } from '../../infra/local/sts-emulator/trust-policy.ts';
import { ACCOUNT, EXTERNAL_ID, OUTSIDER, ROLE, USER, startFixture, stsError, type Fixture } from './helpers.ts';

const user: TrustPrincipal = { type: 'AWS', id: USER.arn, account: ACCOUNT, partition: 'aws' };
const session: TrustPrincipal = {
  type: 'AWS',
  id: `arn:aws:sts::${ACCOUNT}:assumed-role/app/s1`,
  account: ACCOUNT,
  partition: 'aws',
  roleArn: `arn:aws:iam::${ACCOUNT}:role/app`,
};

function ctx(values: Record<string, string | string[] | undefined> = {}): ConditionContext {
  return new ConditionContext({ 'sts:ExternalId': undefined, 'sts:SourceIdentity': undefined, 'aws:TagKeys': undefined, ...values }, [
    'aws:RequestTag/',
  ]);
}

function allows(statements: object[], principal: TrustPrincipal = user, context = ctx(), actions = ['sts:AssumeRole']): boolean {
  return evaluateTrustPolicy({ Version: '2012-10-17', Statement: statements }, { principal, actions, context }).allowed;
}

const allowAll = { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' };

describe('trust-policy evaluator', () => {
  it('matches principals by ARN, role ARN, account id, account root and *', () => {
    // Prepare
    const byArn = { ...allowAll, Principal: { AWS: [USER.arn] } };
    const byRole = { ...allowAll, Principal: { AWS: session.roleArn } };
    const byAccountId = { ...allowAll, Principal: { AWS: ACCOUNT } };
    const star = { ...allowAll, Principal: '*' };
    const otherRoot = { ...allowAll, Principal: { AWS: 'arn:aws:iam::111111111111:root' } };
    const wildcardArn = { ...allowAll, Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/*` } };
    const service = { ...allowAll, Principal: { Service: 'lambda.amazonaws.com' } };

    // Act / Assess
    expect(allows([byArn])).toBe(true);
    expect(allows([byRole], session)).toBe(true);
    expect(allows([byRole], user)).toBe(false);
    expect(allows([byAccountId])).toBe(true);
    expect(allows([allowAll], session)).toBe(true);
    expect(allows([star])).toBe(true);
    expect(allows([otherRoot])).toBe(false);
    expect(allows([wildcardArn])).toBe(false);
    expect(allows([service])).toBe(false);
  });

  it('matches actions case-insensitively with wildcards and requires every requested action', () => {
    // Prepare
    const wildcard = { ...allowAll, Action: 'STS:Assume*' };
    const list = { ...allowAll, Action: ['sts:AssumeRole', 'sts:TagSession'] };

    // Act / Assess
    expect(allows([wildcard])).toBe(true);
    expect(allows([list], user, ctx(), ['sts:AssumeRole', 'sts:TagSession'])).toBe(true);
    const decision = evaluateTrustPolicy(
      { Statement: [list] },
      { principal: user, actions: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'], context: ctx() },
    );
    expect(decision).toEqual({ allowed: false, deniedAction: 'sts:SetSourceIdentity', explicitDeny: false });
  });

  it('evaluates StringEquals / StringLike, IfExists, negated operators and Null', () => {
    // Prepare
    const eq = { ...allowAll, Condition: { StringEquals: { 'sts:ExternalId': ['a1', 'b2'] } } };
    const like = { ...allowAll, Condition: { StringLike: { 'sts:SourceIdentity': 'user-??-*' } } };
    const ifExists = { ...allowAll, Condition: { StringEqualsIfExists: { 'sts:ExternalId': 'a1' } } };
    const notEquals = { ...allowAll, Condition: { StringNotEquals: { 'sts:ExternalId': 'bad' } } };
    const mustBeAbsent = { ...allowAll, Condition: { Null: { 'sts:ExternalId': 'true' } } };

    // Act / Assess
    expect(allows([eq], user, ctx({ 'sts:ExternalId': 'b2' }))).toBe(true);
    expect(allows([eq], user, ctx({ 'sts:ExternalId': 'B2' }))).toBe(false);
    expect(allows([eq], user, ctx())).toBe(false);
    expect(allows([like], user, ctx({ 'sts:SourceIdentity': 'user-42-alice' }))).toBe(true);
    expect(allows([like], user, ctx({ 'sts:SourceIdentity': 'user-4-alice' }))).toBe(false);
    expect(allows([ifExists], user, ctx())).toBe(true);
    expect(allows([ifExists], user, ctx({ 'sts:ExternalId': 'zz' }))).toBe(false);
    expect(allows([notEquals], user, ctx())).toBe(true);
    expect(allows([notEquals], user, ctx({ 'sts:ExternalId': 'bad' }))).toBe(false);
    expect(allows([mustBeAbsent], user, ctx())).toBe(true);
    expect(allows([mustBeAbsent], user, ctx({ 'sts:ExternalId': 'x' }))).toBe(false);
  });

  it('evaluates ForAllValues / ForAnyValue on aws:TagKeys and aws:RequestTag/<key> case-insensitively by key', () => {
    // Prepare
    const forAll = { ...allowAll, Condition: { 'ForAllValues:StringLike': { 'aws:TagKeys': ['team', 'cost-*'] } } };
    const forAny = { ...allowAll, Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'team' } } };
    const requestTag = { ...allowAll, Condition: { StringEquals: { 'aws:RequestTag/Team': 'blue' } } };
    const tagged = (keys: string[]) => ctx({ 'aws:TagKeys': keys });

    // Act / Assess
    expect(allows([forAll], user, tagged(['team', 'cost-centre']))).toBe(true);
    expect(allows([forAll], user, tagged(['team', 'owner']))).toBe(false);
    expect(allows([forAll], user, ctx())).toBe(true); // ForAllValues over no values is true, as in IAM
    expect(allows([forAny], user, tagged(['owner', 'team']))).toBe(true);
    expect(allows([forAny], user, ctx())).toBe(false);
    const withTag = ctx({ 'aws:TagKeys': ['team'] });
    withTag.set('aws:RequestTag/team', 'blue');
    expect(allows([requestTag], user, withTag)).toBe(true);
    expect(allows([requestTag], user, ctx())).toBe(false);
  });

  it('fails closed: unknown operators, keys, policy variables and NotPrincipal never allow, and make a Deny apply', () => {
    // Prepare
    const unknownOperator = { ...allowAll, Condition: { StringSortOf: { 'sts:ExternalId': 'a' } } };
    const unknownKey = { ...allowAll, Condition: { StringEquals: { 'aws:SourceVpc': 'vpc-1' } } };
    const variable = { ...allowAll, Condition: { StringEquals: { 'sts:SourceIdentity': '${aws:username}' } } };
    const notPrincipal = { Effect: 'Allow', NotPrincipal: { AWS: OUTSIDER.arn }, Action: 'sts:AssumeRole' };
    const singleOnMulti = { ...allowAll, Condition: { StringEquals: { 'aws:TagKeys': 'team' } } };
    const denyUnknown = {
      Effect: 'Deny',
      Principal: '*',
      Action: 'sts:AssumeRole',
      Condition: { DateLessThan: { 'aws:CurrentTime': 'x' } },
    };

    // Act / Assess
    expect(allows([unknownOperator], user, ctx({ 'sts:ExternalId': 'a' }))).toBe(false);
    expect(allows([unknownKey])).toBe(false);
    expect(allows([variable], user, ctx({ 'sts:SourceIdentity': '${aws:username}' }))).toBe(false);
    expect(allows([notPrincipal])).toBe(false);
    expect(allows([singleOnMulti], user, ctx({ 'aws:TagKeys': ['team'] }))).toBe(false);
    expect(allows([allowAll, denyUnknown])).toBe(false);
  });

  it('lets an explicit Deny win and treats a document without statements as deny', () => {
    // Prepare
    const deny = { Effect: 'Deny', Principal: { AWS: USER.arn }, Action: 'sts:*' };

    // Act
    const decision = evaluateTrustPolicy({ Statement: [allowAll, deny] }, { principal: user, actions: ['sts:AssumeRole'], context: ctx() });

    // Assess
    expect(decision).toEqual({ allowed: false, deniedAction: 'sts:AssumeRole', explicitDeny: true });
    expect(allows([allowAll, deny], session)).toBe(true);
    expect(evaluateTrustPolicy({ Version: '2012-10-17' }, { principal: user, actions: ['sts:AssumeRole'], context: ctx() }).allowed).toBe(
      false,
    );
    expect(evaluateTrustPolicy('not a policy', { principal: user, actions: ['sts:AssumeRole'], context: ctx() }).allowed).toBe(false);
  });
});

describe('STS emulator: trust policies through the SDK', () => {
  let fx: Fixture;

  beforeAll(async () => {
    fx = await startFixture();
  });
  afterAll(async () => {
    await fx.close();
  });

  const denied = (caller: string, action: string, role: string) => ({
    name: 'AccessDenied',
    status: 403,
    message: `User: ${caller} is not authorized to perform: ${action} on resource: ${role}`,
  });

  it('denies a wrong or missing ExternalId and allows the right one', async () => {
    // Prepare
    const sts = fx.client(USER);
    const input = { RoleArn: ROLE.externalId, RoleSessionName: 'ext' };

    // Act
    const wrong = await stsError(sts.send(new AssumeRoleCommand({ ...input, ExternalId: 'wrong-external-id' })));
    const missing = await stsError(sts.send(new AssumeRoleCommand(input)));
    const right = await sts.send(new AssumeRoleCommand({ ...input, ExternalId: EXTERNAL_ID }));

    // Assess
    expect(wrong).toEqual(denied(USER.arn, 'sts:AssumeRole', ROLE.externalId));
    expect(missing).toEqual(denied(USER.arn, 'sts:AssumeRole', ROLE.externalId));
    expect(right.AssumedRoleUser?.Arn).toContain('assumed-role/target-external-id/ext');
  });

  it('denies a caller the trust policy does not name', async () => {
    // Act
    const error = await stsError(fx.client(OUTSIDER).send(new AssumeRoleCommand({ RoleArn: ROLE.target, RoleSessionName: 'intruder' })));

    // Assess
    expect(error).toEqual(denied(OUTSIDER.arn, 'sts:AssumeRole', ROLE.target));
  });

  it('requires sts:TagSession for tags and sts:SetSourceIdentity for a SourceIdentity', async () => {
    // Prepare
    const sts = fx.client(USER);

    // Act
    const tags = await stsError(
      sts.send(new AssumeRoleCommand({ RoleArn: ROLE.noTags, RoleSessionName: 'tagged', Tags: [{ Key: 'team', Value: 'blue' }] })),
    );
    const sourceIdentity = await stsError(
      sts.send(new AssumeRoleCommand({ RoleArn: ROLE.noTags, RoleSessionName: 'si', SourceIdentity: 'alice' })),
    );
    const plain = await sts.send(new AssumeRoleCommand({ RoleArn: ROLE.noTags, RoleSessionName: 'plain' }));

    // Assess
    expect(tags).toEqual(denied(USER.arn, 'sts:TagSession', ROLE.noTags));
    expect(sourceIdentity).toEqual(denied(USER.arn, 'sts:SetSourceIdentity', ROLE.noTags));
    expect(plain.AssumedRoleUser?.Arn).toContain('/plain');
  });

  it('applies aws:TagKeys and aws:RequestTag conditions on sts:TagSession', async () => {
    // Prepare
    const sts = fx.client(USER);
    const assume = (tags: { Key: string; Value: string }[]) =>
      sts.send(new AssumeRoleCommand({ RoleArn: ROLE.tagRules, RoleSessionName: 'tags', Tags: tags }));

    // Act
    const ok = await assume([
      { Key: 'team', Value: 'blue' },
      { Key: 'cost-centre', Value: '42' },
    ]);
    const wrongValue = await stsError(assume([{ Key: 'team', Value: 'red' }]));
    const extraKey = await stsError(
      assume([
        { Key: 'team', Value: 'blue' },
        { Key: 'owner', Value: 'x' },
      ]),
    );

    // Assess
    expect(ok.PackedPolicySize).toBeGreaterThan(0);
    expect(wrongValue).toEqual(denied(USER.arn, 'sts:TagSession', ROLE.tagRules));
    expect(extraKey).toEqual(denied(USER.arn, 'sts:TagSession', ROLE.tagRules));
  });

  it('lets an explicit Deny win and fails closed on an unknown condition operator', async () => {
    // Prepare
    const sts = fx.client(USER);

    // Act
    const blocked = await stsError(sts.send(new AssumeRoleCommand({ RoleArn: ROLE.withDeny, RoleSessionName: 'blocked-1' })));
    const fine = await sts.send(new AssumeRoleCommand({ RoleArn: ROLE.withDeny, RoleSessionName: 'fine-1' }));
    const unknown = await stsError(
      sts.send(new AssumeRoleCommand({ RoleArn: ROLE.unknownOperator, RoleSessionName: 'unknown-op', ExternalId: EXTERNAL_ID })),
    );

    // Assess
    expect(blocked).toEqual(denied(USER.arn, 'sts:AssumeRole', ROLE.withDeny));
    expect(fine.AssumedRoleUser?.Arn).toContain('/fine-1');
    expect(unknown).toEqual(denied(USER.arn, 'sts:AssumeRole', ROLE.unknownOperator));
  });
});
