import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbAuditReader } from '../../src/adapters/dynamodb/dynamodb-audit-reader.ts';
import { DynamoDbRevocationStore } from '../../src/adapters/dynamodb/dynamodb-revocation-store.ts';
import { IamLiveSessionRevoker } from '../../src/adapters/iam/iam-live-session-revoker.ts';
import { makeRevocations } from '../../src/app/revocations.ts';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import { isolatedEnv, runInProcess, storeLogin } from '../support/cli-harness.ts';
import { auditRecordsSince, devIdpToken, dynamo, postCredentials, stack, stsCallCount } from '../support/e2e.ts';

const POLICY = 'arn:aws:iam::111111111111:policy/keyvend/keyvend-revocations';
const ALICE_SUB = '7f3a9c1e-4b2d-4e6f-8a1b-2c3d4e5f6a7b';
const BOB_SUB = 'b0b5e2d4-6c8a-4f1e-9d3b-5a7c9e1f3b2d';
type Json = Record<string, any>;

async function admin(token: string, method: 'GET' | 'POST' | 'DELETE', path = '', body?: unknown) {
  const response = await fetch(`${stack().apiUrl}/v1/admin/revocations${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: (text === '' ? {} : JSON.parse(text)) as Json, text };
}

async function authorize(accessKeyId: string, userKey: string): Promise<string> {
  const response = await fetch(`${stack().stsUrl}/_emulator/authorize`, {
    method: 'POST',
    body: JSON.stringify({ accessKeyId, action: 's3:PutObject', resource: `arn:aws:s3:::keyvend-demo-uploads/${userKey}/report.csv` }),
  });
  return ((await response.json()) as { decision: string }).decision;
}

async function revocationPolicy(): Promise<string> {
  const policies = (await (await fetch(`${stack().stsUrl}/_emulator/policies`)).json()) as {
    arn: string;
    defaultVersionId: string;
    versions: { versionId: string; document: unknown }[];
  }[];
  const policy = policies.find((p) => p.arn === POLICY);
  return JSON.stringify(policy?.versions.find((v) => v.versionId === policy.defaultVersionId)?.document);
}

/** The revocations use case as the function composes it, on the stack's table and emulator, with a clock `offsetMs` ahead. */
function revocationsAt(offsetMs: number) {
  const env = stack().brokerEnv;
  const credentials = { accessKeyId: env['AWS_ACCESS_KEY_ID'] ?? '', secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] ?? '' };
  return makeRevocations({
    verifier: { verifyBearer: async () => Promise.reject(new Error('not used')) },
    admins: [],
    issuerNames: new Map(),
    revocations: new DynamoDbRevocationStore(dynamo(), env['KEYVEND_ENTITLEMENTS_TABLE'] ?? ''),
    auditReader: new DynamoDbAuditReader(dynamo(), env['KEYVEND_AUDIT_TABLE'] ?? ''),
    liveSessions: new IamLiveSessionRevoker(new STSClient({ region: 'us-east-1', endpoint: stack().stsUrl, credentials }), {
      revokerRoleArns: (env['KEYVEND_REVOKER_ROLE_ARNS'] ?? '').split(','),
      inFlightSeconds: 10,
      iamFor: (c) => new IAMClient({ region: 'us-east-1', endpoint: stack().stsUrl, credentials: c }),
    }),
    audit: { record: async () => {}, countAnonymous: async () => {} },
    log: { decision: () => {}, attempt: () => {}, alarm: () => {} },
    clock: { now: () => new Date(Date.now() + offsetMs) },
    inFlightSeconds: 10,
  });
}

describe('revocation end to end: carol revokes alice, her live session stops, un-revoke restores her', () => {
  let alice: string;
  let bob: string;
  let carol: string;
  const aliceKey = () => deriveUserKey(stack().idpIssuer, ALICE_SUB);
  const bobKey = () => deriveUserKey(stack().idpIssuer, BOB_SUB);
  const made: string[] = [];

  beforeAll(async () => {
    [alice, bob, carol] = await Promise.all([devIdpToken('alice'), devIdpToken('bob'), devIdpToken('carol')]);
  });
  afterAll(async () => {
    // Leave the shared stack as found, whatever failed.
    for (const id of made) await admin(carol, 'DELETE', `/${id}?reason=test%20cleanup`);
  });

  it('revokes alice: her next request is refused, her earlier session is denied by AWS, bob keeps working; pruned after 12 h; un-revoke restores her', async () => {
    // Prepare: both hold live sessions
    const aliceGrant = await postCredentials(alice, { entitlement: 'photo-uploads', durationSeconds: 3600 });
    const bobGrant = await postCredentials(bob, { entitlement: 'photo-uploads', durationSeconds: 3600 });
    expect([aliceGrant.status, bobGrant.status]).toEqual([200, 200]);
    const aliceSession = String(aliceGrant.json['AccessKeyId']);
    const bobSession = String(bobGrant.json['AccessKeyId']);
    expect(await authorize(aliceSession, aliceKey())).toBe('Allowed');
    const startedAt = new Date().toISOString();

    // Act: carol revokes alice
    const revoked = await admin(carol, 'POST', '', { kind: 'person', issuer: 'dev', subject: ALICE_SUB, reason: 'laptop stolen' });
    made.push(String(revoked.json['revocation']?.['id']));
    const stsBefore = await stsCallCount();
    const refused = await postCredentials(alice, { entitlement: 'photo-uploads' });
    const stsAfter = await stsCallCount();
    const [aliceNow, bobNow] = await Promise.all([authorize(aliceSession, aliceKey()), authorize(bobSession, bobKey())]);
    const bobAgain = await postCredentials(bob, { entitlement: 'photo-uploads', durationSeconds: 900 });
    const listed = await admin(carol, 'GET');

    // Assess
    expect(revoked.status).toBe(201);
    expect(revoked.json).toMatchObject({
      created: true,
      revocation: { target: { kind: 'person', issuerId: 'dev', subject: ALICE_SUB, userKey: aliceKey() }, reason: 'laptop stolen' },
      liveSessions: { mode: 'per-session', accounts: ['111111111111'] },
    });
    expect(refused.status).toBe(403);
    expect(refused.json['error']).toBe('not_entitled');
    expect(stsAfter).toBe(stsBefore);
    expect(aliceNow).toBe('ExplicitlyDenied');
    expect(bobNow).toBe('Allowed');
    expect(bobAgain.status).toBe(200);
    expect(listed.json['policyInSync']).toBe(true);
    expect(listed.json['revocations']).toContainEqual(
      expect.objectContaining({ id: revoked.json['revocation']['id'], liveSessionDeny: true }),
    );
    for (const answer of [revoked.text, listed.text]) expect(answer).not.toMatch(/SecretAccessKey|SessionToken|eyJ/);
    const records = await auditRecordsSince(startedAt);
    expect(records).toContainEqual(
      expect.objectContaining({ action: 'revoke', outcome: 'granted', caller: expect.objectContaining({ groups: ['keyvend-admins'] }) }),
    );
    expect(records).toContainEqual(expect.objectContaining({ action: 'credentials', outcome: 'denied', reason: 'revoked' }));
    expect(await revocationPolicy()).toContain(aliceKey());

    // Act: the hourly reconcile, 13 hours on (every session alice could hold has expired)
    await revocationsAt(13 * 3600_000).reconcile();

    // Assess: the entry is pruned from the policy; re-issue stays refused
    expect(await revocationPolicy()).not.toContain(aliceKey());
    expect((await postCredentials(alice, { entitlement: 'photo-uploads' })).status).toBe(403);

    // Act: carol lifts it
    const lifted = await admin(carol, 'DELETE', `/${revoked.json['revocation']['id']}`, { reason: 'laptop found' });
    const restored = await postCredentials(alice, { entitlement: 'photo-uploads', durationSeconds: 900 });

    // Assess
    expect(lifted.status).toBe(200);
    expect(restored.status).toBe(200);
    expect(await authorize(String(restored.json['AccessKeyId']), aliceKey())).toBe('Allowed');
    expect(await auditRecordsSince(startedAt)).toContainEqual(
      expect.objectContaining({ action: 'unrevoke', outcome: 'granted', revocation: expect.objectContaining({ reason: 'laptop found' }) }),
    );
    made.length = 0;
  });

  it('revokes one grant: that session is denied, a new one of the same person works', async () => {
    // Prepare
    const first = await postCredentials(bob, { entitlement: 'photo-uploads', durationSeconds: 900 });
    const grantId = String(first.json['grantId'] ?? '');

    // Act
    const revoked = await admin(carol, 'POST', '', { kind: 'grant', grantId, reason: 'key pasted in chat' });
    made.push(String(revoked.json['revocation']?.['id']));
    const second = await postCredentials(bob, { entitlement: 'photo-uploads', durationSeconds: 900 });

    // Assess
    expect(grantId).toMatch(/^[0-9a-f-]{36}$/);
    expect(revoked.status).toBe(201);
    expect(await authorize(String(first.json['AccessKeyId']), bobKey())).toBe('ExplicitlyDenied');
    expect(second.status).toBe(200);
    expect(await authorize(String(second.json['AccessKeyId']), bobKey())).toBe('Allowed');
  });

  it('refuses a non-admin with 403 forbidden and audits it; an unknown person or grant is 404 with nothing written', async () => {
    // Prepare
    const startedAt = new Date().toISOString();
    const before = await admin(carol, 'GET');

    // Act
    const byBob = await admin(bob, 'POST', '', { kind: 'person', issuer: 'dev', subject: ALICE_SUB, reason: 'no' });
    const bobList = await admin(bob, 'GET');
    const nobody = await admin(carol, 'POST', '', { kind: 'person', issuer: 'dev', subject: 'never-seen-anyone', reason: 'x' });
    const noGrant = await admin(carol, 'POST', '', { kind: 'grant', grantId: '019ab000-0000-7000-8000-00000000dead', reason: 'x' });
    const noRevocation = await admin(carol, 'DELETE', '/019ab000-0000-7000-8000-00000000beef?reason=x');
    const after = await admin(carol, 'GET');

    // Assess
    expect([byBob.status, byBob.json['error']]).toEqual([403, 'forbidden']);
    expect([bobList.status, bobList.json['error']]).toEqual([403, 'forbidden']);
    expect([nobody.status, nobody.json['error']]).toEqual([404, 'not_found']);
    expect([noGrant.status, noGrant.json['error']]).toEqual([404, 'not_found']);
    expect([noRevocation.status, noRevocation.json['error']]).toEqual([404, 'not_found']);
    expect(after.json['revocations']).toEqual(before.json['revocations']);
    const records = await auditRecordsSince(startedAt);
    expect(records).toContainEqual(
      expect.objectContaining({
        action: 'revoke',
        outcome: 'denied',
        reason: 'not_admin',
        caller: expect.objectContaining({ subject: BOB_SUB }),
      }),
    );
    expect(records).toContainEqual(expect.objectContaining({ action: 'revoke', outcome: 'denied', reason: 'unknown_person' }));
    expect(records).toContainEqual(expect.objectContaining({ action: 'revoke', outcome: 'denied', reason: 'unknown_grant' }));
  });

  it('keyvend revoke, revocations and unrevoke: carol revokes the entitlement from the CLI; bob cannot', async () => {
    // Prepare: logins as the CLI keeps them, with the dev IdP's real access tokens
    const login = (accessToken: string) => {
      const env = isolatedEnv({ KEYVEND_URL: stack().apiUrl, KEYVEND_ISSUER: stack().idpIssuer });
      storeLogin(env, { issuer: stack().idpIssuer, tokenEndpoint: `${stack().idpIssuer}/token`, accessToken });
      return env;
    };
    const asCarol = login(carol);
    const asBob = login(bob);

    // Act
    const revoked = await runInProcess(['revoke', 'entitlement', 'photo-uploads', '--reason', 'bucket incident', '--json'], asCarol);
    const id = String((JSON.parse(revoked.stdout || '{}') as Json)['revocation']?.['id']);
    made.push(id);
    const refused = await postCredentials(bob, { entitlement: 'photo-uploads' });
    const listed = await runInProcess(['revocations'], asCarol);
    const bobTries = await runInProcess(['revoke', 'entitlement', 'photo-uploads', '--reason', 'mine'], asBob);
    const noReason = await runInProcess(['unrevoke', id], asCarol);
    const lifted = await runInProcess(['unrevoke', id, '--reason', 'incident closed'], asCarol);
    const after = await postCredentials(bob, { entitlement: 'photo-uploads', durationSeconds: 900 });

    // Assess
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(refused.json['error']).toBe('not_entitled');
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+entitlement photo-uploads\\s+.*bucket incident`, 'u'));
    expect([bobTries.code, bobTries.stderr]).toEqual([4, expect.stringContaining('forbidden')]);
    expect(noReason.code).toBe(2);
    expect([lifted.code, lifted.stdout]).toEqual([0, `Lifted: entitlement photo-uploads (revocation ${id})\n`]);
    expect(after.status).toBe(200);
    made.splice(made.indexOf(id), 1);
  });
});
