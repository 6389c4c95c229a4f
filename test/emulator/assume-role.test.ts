import { AssumeRoleCommand, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedSession } from '../../infra/local/sts-emulator/index.ts';
import { ACCOUNT, BROKER, EXTERNAL_ID, ROLE, SIMPLE_POLICY, USER, startFixture, stsError, type Fixture } from './helpers.ts';

describe('STS emulator: AssumeRole and GetCallerIdentity through the real SDK', () => {
  let fx: Fixture;

  beforeAll(async () => {
    fx = await startFixture();
  });
  afterAll(async () => {
    await fx.close();
  });
  beforeEach(() => {
    fx.emulator.reset();
    fx.clock.reset();
  });

  it('issues credentials with policy, tags, transitive keys, SourceIdentity and ExternalId, and records the session', async () => {
    // Prepare
    const sts = fx.client(USER);
    const start = fx.clock.now().getTime();

    // Act
    const out = await sts.send(
      new AssumeRoleCommand({
        RoleArn: ROLE.externalId,
        RoleSessionName: 'alice@example.com',
        DurationSeconds: 1800,
        Policy: SIMPLE_POLICY,
        PolicyArns: [{ arn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }],
        Tags: [
          { Key: 'team', Value: 'blue' },
          { Key: 'cost-centre', Value: 'cc 42' },
        ],
        TransitiveTagKeys: ['team'],
        SourceIdentity: 'alice',
        ExternalId: EXTERNAL_ID,
      }),
    );

    // Assess: the response as the SDK parsed it
    const creds = out.Credentials;
    expect(creds?.AccessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/);
    expect(creds?.SecretAccessKey).toHaveLength(40);
    expect((creds?.SessionToken ?? '').length).toBeGreaterThan(100);
    expect(creds?.Expiration).toBeInstanceOf(Date);
    expect(creds?.Expiration?.getTime()).toBe(Math.floor((start + 1800_000) / 1000) * 1000);
    expect(out.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/target-external-id/alice@example.com`);
    expect(out.AssumedRoleUser?.AssumedRoleId).toMatch(/^AROA[A-Z2-7]{17}:alice@example\.com$/);
    expect(out.PackedPolicySize).toBeGreaterThan(0);
    expect(out.PackedPolicySize).toBeLessThanOrEqual(100);
    expect(out.SourceIdentity).toBe('alice');

    // Assess: the session as sessions() and the admin route report it
    const expected: Partial<IssuedSession> = {
      accessKeyId: creds?.AccessKeyId ?? '',
      roleArn: ROLE.externalId,
      assumedRoleArn: out.AssumedRoleUser?.Arn ?? '',
      assumedRoleId: out.AssumedRoleUser?.AssumedRoleId ?? '',
      roleSessionName: 'alice@example.com',
      sourceIdentity: 'alice',
      tags: [
        { Key: 'team', Value: 'blue' },
        { Key: 'cost-centre', Value: 'cc 42' },
      ],
      transitiveTagKeys: ['team'],
      policy: SIMPLE_POLICY,
      policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
      externalId: EXTERNAL_ID,
      durationSeconds: 1800,
      expiration: creds?.Expiration?.toISOString().replace('.000Z', 'Z') ?? '',
      callerArn: USER.arn,
      packedPolicySize: out.PackedPolicySize ?? -1,
    };
    const sessions = fx.emulator.sessions();
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject(expected);
    expect(sessions[0]?.issuedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const byKey = (await (await fetch(`${fx.emulator.url}/_emulator/sessions/${creds?.AccessKeyId}`)).json()) as IssuedSession;
    expect(byKey).toEqual(sessions[0]);
    const all = (await (await fetch(`${fx.emulator.url}/_emulator/sessions`)).json()) as IssuedSession[];
    expect(all).toEqual(sessions);

    // Assess: no secret material anywhere the emulator reports
    const reported = JSON.stringify([sessions, fx.emulator.calls(), all]);
    expect(reported).not.toContain(creds?.SecretAccessKey);
    expect(reported).not.toContain(creds?.SessionToken);
    expect(reported).not.toContain(USER.secretAccessKey);
  });

  it('GetCallerIdentity with the vended credentials returns the assumed-role ARN', async () => {
    // Prepare
    const out = await fx.client(USER).send(new AssumeRoleCommand({ RoleArn: ROLE.target, RoleSessionName: 'bob' }));
    const vended = fx.client({
      accessKeyId: out.Credentials?.AccessKeyId ?? '',
      secretAccessKey: out.Credentials?.SecretAccessKey ?? '',
      sessionToken: out.Credentials?.SessionToken ?? '',
    });

    // Act
    const id = await vended.send(new GetCallerIdentityCommand({}));

    // Assess
    expect(id.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/target-full/bob`);
    expect(id.UserId).toBe(out.AssumedRoleUser?.AssumedRoleId);
    expect(id.Account).toBe(ACCOUNT);
    expect(out.PackedPolicySize).toBeUndefined();
    expect(out.SourceIdentity).toBeUndefined();
  });

  it('GetCallerIdentity with a configured principal returns its own ARN', async () => {
    // Prepare
    const sts = fx.client(BROKER);

    // Act
    const id = await sts.send(new GetCallerIdentityCommand({}));

    // Assess
    expect(id.Arn).toBe(BROKER.arn);
    expect(id.UserId).toMatch(/^AROA[A-Z2-7]{17}:local$/);
    expect(id.Account).toBe(ACCOUNT);
  });

  it('defaults DurationSeconds to 3600 and allows up to the role maximum for a non-chained caller', async () => {
    // Prepare
    const sts = fx.client(USER);

    // Act
    await sts.send(new AssumeRoleCommand({ RoleArn: ROLE.short, RoleSessionName: 'default-duration' }));
    await sts.send(new AssumeRoleCommand({ RoleArn: ROLE.target, RoleSessionName: 'twelve-hours', DurationSeconds: 43200 }));

    // Assess
    expect(fx.emulator.sessions().map((s) => s.durationSeconds)).toEqual([3600, 43200]);
  });

  it('carries transitive tags and SourceIdentity over a role chain and rejects colliding tags and a changed SourceIdentity', async () => {
    // Prepare
    const first = await fx.client(USER).send(
      new AssumeRoleCommand({
        RoleArn: ROLE.target,
        RoleSessionName: 'hop-1',
        Tags: [
          { Key: 'Project', Value: 'keyvend' },
          { Key: 'scratch', Value: 'not-transitive' },
        ],
        TransitiveTagKeys: ['Project'],
        SourceIdentity: 'carol',
      }),
    );
    const chained = fx.client({
      accessKeyId: first.Credentials?.AccessKeyId ?? '',
      secretAccessKey: first.Credentials?.SecretAccessKey ?? '',
      sessionToken: first.Credentials?.SessionToken ?? '',
    });

    // Act
    const second = await chained.send(
      new AssumeRoleCommand({ RoleArn: ROLE.short, RoleSessionName: 'hop-2', Tags: [{ Key: 'stage', Value: 'dev' }] }),
    );
    const collision = await stsError(
      chained.send(new AssumeRoleCommand({ RoleArn: ROLE.short, RoleSessionName: 'hop-2b', Tags: [{ Key: 'project', Value: 'x' }] })),
    );
    const changedIdentity = await stsError(
      chained.send(new AssumeRoleCommand({ RoleArn: ROLE.short, RoleSessionName: 'hop-2c', SourceIdentity: 'mallory' })),
    );
    const noTagSession = await stsError(chained.send(new AssumeRoleCommand({ RoleArn: ROLE.noTags, RoleSessionName: 'hop-2d' })));

    // Assess
    expect(second.SourceIdentity).toBe('carol');
    const session = fx.emulator.sessions().find((s) => s.accessKeyId === second.Credentials?.AccessKeyId);
    expect(session?.tags).toEqual([
      { Key: 'Project', Value: 'keyvend' },
      { Key: 'stage', Value: 'dev' },
    ]);
    expect(session?.transitiveTagKeys).toEqual(['Project']);
    expect(session?.sourceIdentity).toBe('carol');
    expect(session?.callerArn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/target-full/hop-1`);
    expect(collision).toMatchObject({ name: 'ValidationError', status: 400 });
    expect(changedIdentity).toMatchObject({ name: 'ValidationError', status: 400 });
    expect(changedIdentity.message).toContain('carol');
    // Inherited tags need sts:TagSession in the next role's trust policy too.
    expect(noTagSession).toEqual({
      name: 'AccessDenied',
      status: 403,
      message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/target-full/hop-1 is not authorized to perform: sts:TagSession on resource: ${ROLE.noTags}`,
    });
  });

  it('trusts a configured role session by its role ARN', async () => {
    // Prepare
    const broker = fx.client(BROKER);

    // Act
    const out = await broker.send(new AssumeRoleCommand({ RoleArn: ROLE.brokerOnly, RoleSessionName: 'via-broker' }));
    const denied = await stsError(fx.client(USER).send(new AssumeRoleCommand({ RoleArn: ROLE.brokerOnly, RoleSessionName: 'via-user' })));

    // Assess
    expect(out.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/target-broker-only/via-broker`);
    expect(denied.name).toBe('AccessDenied');
  });

  it('records every call, successful or not, with caller and role', async () => {
    // Prepare
    const sts = fx.client(USER);

    // Act
    await sts.send(new AssumeRoleCommand({ RoleArn: ROLE.target, RoleSessionName: 'logged' }));
    await stsError(sts.send(new AssumeRoleCommand({ RoleArn: ROLE.target, RoleSessionName: 'bad name' })));
    await sts.send(new GetCallerIdentityCommand({}));

    // Assess
    const calls = fx.emulator.calls();
    expect(calls.map((c) => [c.action, c.outcome, c.errorCode ?? null, c.roleSessionName ?? null])).toEqual([
      ['AssumeRole', 'ok', null, 'logged'],
      ['AssumeRole', 'error', 'ValidationError', 'bad name'],
      ['GetCallerIdentity', 'ok', null, null],
    ]);
    expect(calls.every((c) => c.callerAccessKeyId === USER.accessKeyId && c.callerArn === USER.arn)).toBe(true);
    expect(calls[0]?.roleArn).toBe(ROLE.target);
    expect(calls[1]?.httpStatus).toBe(400);
    const admin = (await (await fetch(`${fx.emulator.url}/_emulator/calls`)).json()) as unknown[];
    expect(admin).toEqual(calls);
  });
});
