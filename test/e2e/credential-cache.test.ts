import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords, devIdpToken, emulatorCalls, emulatorSessions, postCredentials } from '../support/e2e.ts';
import { type SecondBroker, startSecondBroker } from '../support/second-broker.ts';

/** Issue 14, item 1: with the credential cache on, STS calls grow with distinct sessions, not with requests. */

const REPEATS = 50;

const webIdentityCalls = async () => (await emulatorCalls()).filter((c) => c.action === 'AssumeRoleWithWebIdentity');

describe('the credential cache through the local stack', () => {
  let broker: SecondBroker;
  let aliceToken: string;
  let bobToken: string;

  beforeAll(async () => {
    broker = await startSecondBroker('credential-cache', { KEYVEND_CREDENTIAL_CACHE: 'true' });
    [aliceToken, bobToken] = await Promise.all([devIdpToken('alice'), devIdpToken('bob')]);
  });
  afterAll(() => broker?.close());

  it(`serves ${REPEATS} repeated requests from one STS session, with one granted audit record per request`, async () => {
    // Prepare
    const stsBefore = (await webIdentityCalls()).length;
    const ask = () => postCredentials(aliceToken, { entitlement: 'photo-uploads', durationSeconds: 3600 }, { apiUrl: broker.apiUrl });

    // Act
    const responses = [];
    for (let i = 0; i < REPEATS; i++) responses.push(await ask());

    // Assess: one STS call, one session, every response its credentials
    expect(responses.map((r) => r.status)).toEqual(Array(REPEATS).fill(200));
    expect((await webIdentityCalls()).length - stsBefore).toBe(1);
    const accessKeyIds = new Set(responses.map((r) => r.json['AccessKeyId']));
    expect(accessKeyIds.size).toBe(1);
    const [accessKeyId] = accessKeyIds;
    expect((await emulatorSessions()).filter((s) => s.accessKeyId === accessKeyId)).toHaveLength(1);
    expect(new Set(responses.map((r) => r.json['SecretAccessKey'])).size).toBe(1);

    // Assess: each request its own granted record; every later one names the grant that minted the session
    const grantIds = responses.map((r) => String(r.json['grantId']));
    expect(new Set(grantIds).size).toBe(REPEATS);
    const byId = new Map((await auditRecords()).map((r) => [String(r['eventId']), r]));
    const records = grantIds.map((id) => byId.get(id));
    expect(records.every((r) => r?.['outcome'] === 'granted' && r?.['session']?.['accessKeyId'] === accessKeyId)).toBe(true);
    const [minted, ...reused] = records;
    expect(minted?.['session']?.['reusedGrantId']).toBeUndefined();
    expect(minted?.['session']?.['tags']).toContainEqual({ Key: 'keyvend:grant', Value: grantIds[0] });
    expect(reused.map((r) => r?.['session']?.['reusedGrantId'])).toEqual(Array(REPEATS - 1).fill(grantIds[0]));
    expect(JSON.stringify(records)).not.toContain(String(responses[0]?.json['SecretAccessKey']));
  });

  it('never serves one caller the session of another, under concurrent requests', async () => {
    // Prepare: each caller has a session of a duration no other test asked for
    const body = { entitlement: 'photo-uploads', durationSeconds: 2700 };
    const ask = (token: string) => postCredentials(token, body, { apiUrl: broker.apiUrl });
    await Promise.all([ask(aliceToken), ask(bobToken)]);
    const userKeys = new Map<string, string>();

    // Act: serverless-offline runs concurrent requests in several instances, as Lambda runs several containers
    const later = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? ask(aliceToken) : ask(bobToken))));

    // Assess: every response's session is its own caller's, as STS issued it
    const sessions = new Map((await emulatorSessions()).map((s) => [s.accessKeyId, s]));
    for (const [i, response] of later.entries()) {
      expect(response.status).toBe(200);
      const session = sessions.get(String(response.json['AccessKeyId']));
      const userKey = session?.tags.find((t) => t.Key === 'keyvend:user')?.Value;
      expect(session?.roleSessionName).toBe(response.json['roleSessionName']);
      const caller = i % 2 === 0 ? 'alice' : 'bob';
      const known = userKeys.get(caller) ?? String(userKey);
      userKeys.set(caller, known);
      expect(userKey).toBe(known);
    }
    expect(userKeys.get('alice')).not.toBe(userKeys.get('bob'));
    // ...and the audit record of each response names that caller and that session
    const byId = new Map((await auditRecords()).map((r) => [String(r['eventId']), r]));
    for (const response of later) {
      const record = byId.get(String(response.json['grantId']));
      expect(record?.['session']?.['accessKeyId']).toBe(response.json['AccessKeyId']);
      expect(record?.['caller']?.['userKey']).toBe(
        sessions.get(String(response.json['AccessKeyId']))?.tags.find((t) => t.Key === 'keyvend:user')?.Value,
      );
    }
  });

  it('mints a new session for another duration or when the rest of the session is shorter than the minimum', async () => {
    // Prepare: 900 s sessions never have the default 900 s left once minted
    const ask = (durationSeconds: number) =>
      postCredentials(aliceToken, { entitlement: 'photo-uploads', durationSeconds }, { apiUrl: broker.apiUrl });
    const stsBefore = (await webIdentityCalls()).length;

    // Act
    const short = [await ask(900), await ask(900)];
    const other = await ask(1800);

    // Assess
    expect(new Set([...short, other].map((r) => r.json['AccessKeyId'])).size).toBe(3);
    expect((await webIdentityCalls()).length - stsBefore).toBe(3);
  });
});
