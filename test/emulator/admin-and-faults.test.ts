import { AssumeRoleCommand, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isLoopback } from '../../infra/local/sts-emulator/admin.ts';
import { MAX_BODY_BYTES, type IssuedSession, type StsCallRecord } from '../../infra/local/sts-emulator/index.ts';
import { ROLE, USER, signedGet, signedPost, startFixture, stsError, xmlCode, type Fixture } from './helpers.ts';

describe('STS emulator: fault injection', () => {
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

  it('fails the next matching call with Throttling (client maxAttempts 1), then recovers', async () => {
    // Prepare
    const sts = fx.client(USER, { maxAttempts: 1 });
    fx.emulator.injectFault({ action: 'AssumeRole', code: 'Throttling', count: 1 });

    // Act
    const throttled = await stsError(sts.send(new AssumeRoleCommand({ RoleArn: ROLE.target, RoleSessionName: 'throttled' })));
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    const next = await sts.send(new AssumeRoleCommand({ RoleArn: ROLE.target, RoleSessionName: 'after' }));

    // Assess
    expect(throttled).toEqual({ name: 'Throttling', status: 400, message: 'Rate exceeded' });
    expect(identity.Arn).toBe(USER.arn);
    expect(next.AssumedRoleUser?.Arn).toContain('/after');
    expect(fx.emulator.calls().map((c) => c.errorCode ?? 'ok')).toEqual(['Throttling', 'ok', 'ok']);
    expect(fx.emulator.sessions().map((s) => s.roleSessionName)).toEqual(['after']);
  });

  it('consumes one fault per SDK attempt: two 500s are retried away with the default three attempts', async () => {
    // Prepare
    const sts = fx.client(USER, { maxAttempts: 3 });
    fx.emulator.injectFault({ action: 'GetCallerIdentity', code: 'InternalFailure', count: 2 });

    // Act
    const identity = await sts.send(new GetCallerIdentityCommand({}));

    // Assess
    expect(identity.$metadata.attempts).toBe(3);
    expect(fx.emulator.calls().map((c) => [c.httpStatus, c.errorCode ?? 'ok'])).toEqual([
      [500, 'InternalFailure'],
      [500, 'InternalFailure'],
      [200, 'ok'],
    ]);
  });

  it('returns 503 ServiceUnavailable for any action with `*`, and validates fault specs', async () => {
    // Prepare
    const sts = fx.client(USER);
    fx.emulator.injectFault({ action: '*', code: 'ServiceUnavailable' });

    // Act
    const error = await stsError(sts.send(new GetCallerIdentityCommand({})));

    // Assess
    expect(error).toMatchObject({ name: 'ServiceUnavailable', status: 503 });
    expect(() => fx.emulator.injectFault({ action: 'AssumeRole', code: 'Throttling', count: 0 })).toThrow(TypeError);
    expect(() => fx.emulator.injectFault({ action: 'AssumeRole', code: 'Throttling', httpStatus: 200 })).toThrow(TypeError);
  });
});

describe('STS emulator: admin routes and limits', () => {
  let fx: Fixture;
  let admin: string;

  beforeAll(async () => {
    fx = await startFixture();
    admin = `${fx.emulator.url}/_emulator`;
  });
  afterAll(async () => {
    await fx.close();
  });
  beforeEach(() => {
    fx.emulator.reset();
    fx.clock.reset();
  });

  it('reports health, sessions and calls, and resets state', async () => {
    // Prepare
    const out = await fx.client(USER).send(new AssumeRoleCommand({ RoleArn: ROLE.target, RoleSessionName: 'admin-view' }));
    const key = out.Credentials?.AccessKeyId ?? '';

    // Act
    const health = await (await fetch(`${admin}/health`)).json();
    const sessions = (await (await fetch(`${admin}/sessions`)).json()) as IssuedSession[];
    const one = await fetch(`${admin}/sessions/${key}`);
    const missing = await fetch(`${admin}/sessions/ASIANOSUCHKEY0000000`);
    const calls = (await (await fetch(`${admin}/calls`)).json()) as StsCallRecord[];
    const reset = await fetch(`${admin}/reset`, { method: 'POST' });

    // Assess
    expect(health).toEqual({ status: 'ok', accountId: '000000000000', sessions: 1, calls: 1 });
    expect(sessions.map((s) => s.accessKeyId)).toEqual([key]);
    expect(one.status).toBe(200);
    expect(missing.status).toBe(404);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ action: 'AssumeRole', outcome: 'ok', callerAccessKeyId: USER.accessKeyId, roleArn: ROLE.target });
    expect(reset.status).toBe(204);
    expect(fx.emulator.sessions()).toEqual([]);
    expect(fx.emulator.calls()).toEqual([]);
    const body = JSON.stringify(sessions);
    expect(body).not.toContain(out.Credentials?.SecretAccessKey ?? '<none>');
    expect(body).not.toContain(out.Credentials?.SessionToken ?? '<none>');
  });

  it('queues faults posted over HTTP', async () => {
    // Prepare
    const posted = await fetch(`${admin}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'GetCallerIdentity', code: 'Throttling', count: 1 }),
    });
    const pending = await (await fetch(`${admin}/faults`)).json();

    // Act
    const error = await stsError(fx.client(USER).send(new GetCallerIdentityCommand({})));

    // Assess
    expect(posted.status).toBe(201);
    expect(pending).toEqual([{ action: 'GetCallerIdentity', code: 'Throttling', httpStatus: 400, message: 'Rate exceeded', count: 1 }]);
    expect(error).toMatchObject({ name: 'Throttling', status: 400 });
    expect(await (await fetch(`${admin}/faults`)).json()).toEqual([]);
  });

  it('rejects bad admin requests', async () => {
    // Act
    const notJson = await fetch(`${admin}/faults`, { method: 'POST', body: '{' });
    const badSpec = await fetch(`${admin}/faults`, { method: 'POST', body: JSON.stringify({ action: 'AssumeRole' }) });
    const wrongMethod = await fetch(`${admin}/reset`);
    const unknown = await fetch(`${admin}/nope`);

    // Assess
    expect([notJson.status, badSpec.status, wrongMethod.status, unknown.status]).toEqual([400, 400, 405, 404]);
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('10.0.0.5')).toBe(false);
    expect(isLoopback(undefined)).toBe(false);
  });

  it('answers bodies over the size limit with 413', async () => {
    // Prepare
    const huge = { Action: 'GetCallerIdentity', Version: '2011-06-15', Padding: 'x'.repeat(MAX_BODY_BYTES) };

    // Act
    const res = await signedPost(fx.emulator.url, huge, USER);

    // Assess
    expect(res.status).toBe(413);
    expect(xmlCode(res.text)).toBe('RequestEntityTooLarge');
  });

  it('accepts a signed GET with the parameters in the query string', async () => {
    // Prepare
    const query = {
      Action: 'AssumeRole',
      Version: '2011-06-15',
      RoleArn: ROLE.target,
      RoleSessionName: 'via-get',
      'Tags.member.1.Key': 'team',
      'Tags.member.1.Value': 'a b',
    };

    // Act
    const res = await signedGet(fx.emulator.url, query, USER);

    // Assess
    expect(res.status).toBe(200);
    expect(res.text).toContain('<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">');
    expect(res.text).toMatch(/<ResponseMetadata>\s*<RequestId>[0-9a-f-]{36}<\/RequestId>\s*<\/ResponseMetadata>/);
    expect(fx.emulator.sessions()[0]?.tags).toEqual([{ Key: 'team', Value: 'a b' }]);
  });
});
