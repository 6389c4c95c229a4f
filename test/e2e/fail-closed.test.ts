import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/dynamodb.ts';
import { definitionKey, grantKey, grantPartitionKey } from '../../src/adapters/dynamodb/keys.ts';
import {
  auditedDecision,
  auditRecords,
  brokerLogOnceItHas,
  dynamo,
  postCredentials,
  stack,
  stsCallCount,
  testToken,
} from '../support/e2e.ts';
import { type SecondBroker, startSecondBroker } from '../support/second-broker.ts';

/** Security catalog §5: when a dependency fails, nothing is issued (F-01 to F-05, F-08). */

const recordOf = async (requestId: unknown) => (await auditRecords()).find((r) => r['request']?.['requestId'] === requestId);

async function injectStsFault(code: string, count: number, httpStatus?: number): Promise<void> {
  const response = await fetch(`${stack().stsUrl}/_emulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ action: 'AssumeRoleWithWebIdentity', code, count, ...(httpStatus === undefined ? {} : { httpStatus }) }),
  });
  expect(response.status).toBe(201);
}

describe('DynamoDB unavailable (F-01, F-03)', () => {
  let broker: SecondBroker;

  beforeAll(async () => {
    broker = await startSecondBroker('dynamodb-down', { KEYVEND_DYNAMODB_ENDPOINT: `http://127.0.0.1:${await freePort()}` });
  });
  afterAll(() => broker?.close());

  it('answers 503 upstream_unavailable with Retry-After, no credentials and no STS call', async () => {
    // Prepare
    const stsBefore = await stsCallCount();

    // Act
    const response = await postCredentials(await testToken(), { entitlement: 'test-uploads' }, { apiUrl: broker.apiUrl });

    // Assess
    expect(response.status).toBe(503);
    expect(response.json).toMatchObject({
      error: 'upstream_unavailable',
      message: 'A service the broker depends on is unavailable; retry later.',
    });
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(response.text).not.toMatch(/AccessKeyId|SecretAccessKey|SessionToken|ECONNREFUSED|127\.0\.0\.1/);
    expect(await stsCallCount()).toBe(stsBefore);
  });

  it('lists nothing either: 503 on GET /v1/entitlements', async () => {
    // Act
    const response = await fetch(`${broker.apiUrl}/v1/entitlements`, { headers: { authorization: `Bearer ${await testToken()}` } });

    // Assess
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: string }).error).toBe('upstream_unavailable');
  });

  it('keeps the denial in the decision log with an alarm, since the audit table cannot be written', async () => {
    // Assess
    const log = await brokerLogOnceItHas(broker.logFile, 'keyvend.alarm.audit_write_failed_on_denial');
    expect(log).toContain('keyvend.alarm.audit_write_failed_on_denial');
    expect(log).toMatch(/"outcome":"denied"/);
  });
});

/** A DynamoDB endpoint that accepts connections and never answers: a paused or black-holed table. */
async function startSilentEndpoint(): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('DynamoDB hung: accepts connections, never answers (issue 13, deadlines)', () => {
  // A 4-second function: the request deadline cuts dependency calls at 1.5 s and the denial's write at 3 s.
  const TIMEOUT_MS = 4000;
  let silent: Awaited<ReturnType<typeof startSilentEndpoint>>;
  let broker: SecondBroker;

  beforeAll(async () => {
    silent = await startSilentEndpoint();
    broker = await startSecondBroker('dynamodb-hung', {
      KEYVEND_DYNAMODB_ENDPOINT: silent.url,
      KEYVEND_FUNCTION_TIMEOUT_SECONDS: String(TIMEOUT_MS / 1000),
    });
    // The first request also loads the function; the timed one below runs warm, as most do in Lambda.
    await postCredentials(await testToken(), { entitlement: 'test-uploads' }, { apiUrl: broker.apiUrl });
  });
  afterAll(async () => {
    await broker?.close();
    await silent?.close();
  });

  it('answers 503 upstream_unavailable inside the function timeout, issues nothing and calls no STS', async () => {
    // Prepare
    const stsBefore = await stsCallCount();
    const token = await testToken();

    // Act
    const started = Date.now();
    const response = await postCredentials(token, { entitlement: 'test-uploads' }, { apiUrl: broker.apiUrl });
    const elapsed = Date.now() - started;

    // Assess
    expect(response.status).toBe(503);
    expect(response.json).toMatchObject({
      error: 'upstream_unavailable',
      message: 'A service the broker depends on is unavailable; retry later.',
    });
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(response.text).not.toMatch(/AccessKeyId|SecretAccessKey|SessionToken|Abort|127\.0\.0\.1/);
    expect(elapsed).toBeLessThan(TIMEOUT_MS);
    expect(silent.connections()).toBeGreaterThan(0);
    expect(await stsCallCount()).toBe(stsBefore);
  });

  it('keeps the denial in the decision log with an alarm, since the audit table cannot be written in time', async () => {
    // Assess: the entitlement read is what times out first (nothing is written before STS, ADR 0011)
    const log = await brokerLogOnceItHas(broker.logFile, 'keyvend.alarm.audit_write_failed_on_denial');
    expect(log).toContain('keyvend.alarm.audit_write_failed_on_denial');
    expect(log).toMatch(/"reason":"entitlements_unavailable"/);
    expect(log).toMatch(/"outcome":"denied"/);
  });
});

describe('the audit write failing (F-03)', () => {
  let broker: SecondBroker;

  beforeAll(async () => {
    broker = await startSecondBroker('audit-missing', { KEYVEND_AUDIT_TABLE: 'keyvend-local-audit-does-not-exist' });
  });
  afterAll(() => broker?.close());

  it('answers 503 and returns no credentials: the session STS minted is withheld, with an alarm and the attempt line', async () => {
    // Prepare
    const stsBefore = await stsCallCount();

    // Act
    const response = await postCredentials(await testToken(), { entitlement: 'test-uploads' }, { apiUrl: broker.apiUrl });

    // Assess: the grant's one record is written after STS (ADR 0011); it cannot be, so nothing leaves
    expect(response.status).toBe(503);
    expect(response.json['error']).toBe('upstream_unavailable');
    expect(response.headers.get('retry-after')).not.toBeNull();
    expect(response.text).not.toMatch(/AccessKeyId|SecretAccessKey|SessionToken|does-not-exist/);
    expect(await stsCallCount()).toBe(stsBefore + 1);
    const log = await brokerLogOnceItHas(broker.logFile, 'keyvend.alarm.minted_not_delivered');
    expect(log).toContain('keyvend.alarm.minted_not_delivered');
    expect(log).toMatch(/"reason":"audit_write_failed"/);
    const attempt = /"message":"keyvend\.attempt".*"grantId":"([0-9a-f-]{36})"/.exec(log);
    expect(attempt?.[1]).toBeDefined();
    expect(log).toMatch(new RegExp(`keyvend\\.alarm\\.minted_not_delivered.*"eventId":"${attempt?.[1]}"`));
  });
});

describe('the identity provider keys unreachable (F-08)', () => {
  let broker: SecondBroker;
  let deadJwks: string;

  beforeAll(async () => {
    deadJwks = `http://127.0.0.1:${await freePort()}/jwks`;
    const issuers = (JSON.parse(stack().brokerEnv['KEYVEND_ISSUERS'] ?? '[]') as Record<string, unknown>[]).map((issuer) =>
      issuer['id'] === 'test' ? { ...issuer, jwksUri: deadJwks } : issuer,
    );
    broker = await startSecondBroker('jwks-down', { KEYVEND_ISSUERS: JSON.stringify(issuers) });
  });
  afterAll(() => broker?.close());

  it('answers 503, never falls back to an unverified token, calls no STS, and audits the denial', async () => {
    // Prepare
    const stsBefore = await stsCallCount();

    // Act
    const response = await postCredentials(await testToken(), { entitlement: 'test-uploads' }, { apiUrl: broker.apiUrl });

    // Assess
    expect(response.status).toBe(503);
    expect(response.json['error']).toBe('upstream_unavailable');
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await stsCallCount()).toBe(stsBefore);
    // The token cannot be verified, so there is no caller: the decision line is the record (the refusal is counted
    // in its source's aggregate).
    expect(await auditedDecision(response.json['requestId'], broker.logFile)).toMatchObject({
      outcome: 'denied',
      reason: 'jwks_unavailable',
      errorCode: 'upstream_unavailable',
    });
    // The broker's log names the dependency that failed (issue 15), and holds no token.
    const failed = (await brokerLogOnceItHas(broker.logFile, '"keyvend.request_failed"'))
      .split('\n')
      .filter((line) => line.includes('"keyvend.request_failed"') && line.includes('"jwks_unavailable"'));
    expect(failed.length).toBeGreaterThan(0);
    expect(JSON.parse(failed.at(-1) ?? '{}')).toMatchObject({ dependency: { service: 'jwks', issuerId: 'test', url: deadJwks } });
    expect(failed.join('\n')).not.toMatch(/eyJ[\w-]+\.eyJ/);
  });
});

describe('a corrupted entitlement (F-01)', () => {
  const definition = definitionKey('corrupted-for-test');
  const grant = grantKey(grantPartitionKey({ issuer: 'test', subject: 'tester-corrupt' }), 'corrupted-for-test');

  beforeAll(async () => {
    // A definition that lost its session policy: read blindly, it would grant the whole role
    await dynamo().send(
      new PutCommand({
        TableName: stack().brokerEnv['KEYVEND_ENTITLEMENTS_TABLE'],
        Item: {
          ...definition,
          definition: {
            id: 'corrupted-for-test',
            description: '',
            roleArn: 'arn:aws:iam::111111111111:role/keyvend/photo-uploads',
            outputs: ['credentials'],
            maxDurationSeconds: 3600,
          },
        },
      }),
    );
    await dynamo().send(new PutCommand({ TableName: stack().brokerEnv['KEYVEND_ENTITLEMENTS_TABLE'], Item: grant }));
  });
  afterAll(async () => {
    await dynamo().send(new DeleteCommand({ TableName: stack().brokerEnv['KEYVEND_ENTITLEMENTS_TABLE'], Key: definition }));
    await dynamo().send(new DeleteCommand({ TableName: stack().brokerEnv['KEYVEND_ENTITLEMENTS_TABLE'], Key: grant }));
  });

  it('fails with an opaque 500, audited, and never calls STS', async () => {
    // Prepare
    const stsBefore = await stsCallCount();

    // Act
    const response = await postCredentials(await testToken({ sub: 'tester-corrupt' }), { entitlement: 'corrupted-for-test' });

    // Assess
    expect(response.status).toBe(500);
    expect(response.json).toMatchObject({ error: 'internal_error', message: 'Internal error.' });
    expect(await stsCallCount()).toBe(stsBefore);
    expect(await recordOf(response.json['requestId'])).toMatchObject({ outcome: 'denied', reason: 'entitlement_corrupt' });
  });
});

describe('STS failures are mapped, audited, and never retried with another policy (F-04, F-05)', () => {
  it.each([
    ['Throttling', 3, undefined, 503, 'upstream_unavailable', 'sts_throttled'],
    ['PackedPolicyTooLarge', 1, undefined, 422, 'policy_too_large', 'sts_packed_policy_too_large'],
    ['MalformedPolicyDocument', 1, undefined, 500, 'internal_error', 'sts_malformed_policy'],
    ['ValidationError', 1, undefined, 500, 'internal_error', 'sts_validation_error'],
    ['InternalFailure', 3, 500, 503, 'upstream_unavailable', 'sts_unavailable'],
  ])('%s', async (code, count, httpStatus, status, error, reason) => {
    // Prepare
    await injectStsFault(code, count, httpStatus);
    const callsBefore = await stsCallCount();

    // Act
    const response = await postCredentials(await testToken(), { entitlement: 'test-uploads' });

    // Assess
    expect(response.status).toBe(status);
    expect(response.json['error']).toBe(error);
    expect(response.text).not.toMatch(/AccessKeyId|Rate exceeded|arn:aws/);
    if (status === 503) expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    const calls = (await stsCallCount()) - callsBefore;
    expect(calls).toBe(count);
    const faults = (await (await fetch(`${stack().stsUrl}/_emulator/faults`)).json()) as unknown[];
    expect(faults).toEqual([]);
    expect(await recordOf(response.json['requestId'])).toMatchObject({
      outcome: 'denied',
      reason,
      session: { policySha256: expect.any(String) },
    });
  });

  it('AccessDenied (a role that does not trust the broker) is an opaque 500 with no STS message', async () => {
    // Act
    const response = await postCredentials(await testToken(), { entitlement: 'untrusting-role' });

    // Assess
    expect(response.status).toBe(500);
    expect(response.json).toMatchObject({ error: 'internal_error', message: 'Internal error.' });
    expect(response.text).not.toMatch(/arn:aws|not authorized|untrusting/);
    expect(await recordOf(response.json['requestId'])).toMatchObject({ outcome: 'denied', reason: 'sts_access_denied' });
  });

  it("a role whose trust policy does not pin the entitlement refuses the broker's token: 403, audited, no retry", async () => {
    // Prepare
    const callsBefore = await stsCallCount();

    // Act
    const response = await postCredentials(await testToken(), { entitlement: 'unpinned-uploads' });

    // Assess: one AssumeRoleWithWebIdentity, refused by the trust policy's sub pin; the member account said no
    expect(response.status).toBe(403);
    expect(response.json).toMatchObject({ error: 'not_entitled' });
    expect(response.text).not.toMatch(/arn:aws|not authorized|AccessKeyId/);
    expect((await stsCallCount()) - callsBefore).toBe(1);
    expect(await recordOf(response.json['requestId'])).toMatchObject({
      outcome: 'denied',
      reason: 'sts_trust_refused',
      session: { vending: 'keyvend-issuer', tokenSubject: expect.stringMatching(/^ent:unpinned-uploads:user:[a-z2-7]{26}$/) },
    });
  });

  it('a role outside the broker allow list is refused before STS, even though an entitlement names it', async () => {
    // Prepare
    const stsBefore = await stsCallCount();

    // Act
    const response = await postCredentials(await testToken(), { entitlement: 'role-outside-allow-list' });

    // Assess
    expect(response.status).toBe(500);
    expect(await stsCallCount()).toBe(stsBefore);
    expect(await recordOf(response.json['requestId'])).toMatchObject({ outcome: 'denied', reason: 'role_not_in_broker_allow_list' });
  });

  it('the main broker still grants after all of the above (the failures were contained)', async () => {
    // Act
    const response = await postCredentials(await testToken(), { entitlement: 'test-uploads' });

    // Assess
    expect(response.status).toBe(200);
    expect(String(response.json['AccessKeyId'])).toMatch(/^ASIA/);
  });
});

describe('client retries (F-13)', () => {
  it('each retry is a new session with its own audit record, never a replay of stored credentials', async () => {
    // Prepare
    const token = await testToken();

    // Act
    const first = await postCredentials(token, { entitlement: 'test-uploads' });
    const retry = await postCredentials(token, { entitlement: 'test-uploads' });

    // Assess
    expect([first.status, retry.status]).toEqual([200, 200]);
    expect(retry.json['AccessKeyId']).not.toBe(first.json['AccessKeyId']);
    expect(retry.json['grantId']).not.toBe(first.json['grantId']);
    const records = await auditRecords();
    for (const response of [first, retry]) {
      expect(records.find((r) => r['eventId'] === response.json['grantId'])).toMatchObject({
        outcome: 'granted',
        session: { accessKeyId: response.json['AccessKeyId'] },
      });
    }
  });
});
