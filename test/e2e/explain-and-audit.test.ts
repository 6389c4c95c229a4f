import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALICE_SUB, BOB_SUB, CAROL_SUB } from '../../infra/local/dev-idp/demo-users.ts';
import { GRANT_ID_PLACEHOLDER } from '../../src/app/explain.ts';
import { newEventId } from '../../src/domain/audit-record.ts';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import { auditRecords, devIdpToken, dynamo, emulatorSessions, postCredentials, stack, stsCallCount } from '../support/e2e.ts';

type Json = Record<string, any>;

async function call(
  method: 'GET' | 'POST',
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; json: Json; text: string }> {
  const response = await fetch(`${stack().apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text) as Json, text };
}

const userKeyOf = (subject: string) => deriveUserKey(stack().idpIssuer, subject);

describe('explain: what a caller would get, and why', () => {
  let alice: string;
  let carol: string;

  beforeAll(async () => {
    [alice, carol] = await Promise.all([devIdpToken('alice'), devIdpToken('carol')]);
  });

  it('matches, field by field, what the real grant then asks STS for, without calling STS itself', async () => {
    // Prepare
    const before = await stsCallCount();

    // Act
    const explained = await call('GET', '/v1/explain/photo-uploads', alice);
    const stsCallsOfExplain = (await stsCallCount()) - before;
    const grant = await postCredentials(alice, { entitlement: 'photo-uploads' });

    // Assess
    expect(explained.status).toBe(200);
    expect(stsCallsOfExplain).toBe(0);
    expect(grant.status).toBe(200);
    const session = (await emulatorSessions()).find((s) => s.accessKeyId === grant.json['AccessKeyId']);
    const record = (await auditRecords()).find((r) => r['eventId'] === grant.json['grantId']);
    const e = explained.json['session'];
    expect(explained.json).toMatchObject({ entitled: true, grantedBy: [{ group: 'photo-uploaders' }], output: 'credentials' });
    expect(e.roleArn).toBe(session?.roleArn);
    expect(e.roleSessionName).toBe(session?.roleSessionName);
    expect(e.sourceIdentity).toBe(session?.sourceIdentity);
    expect(e.durationSeconds).toBe(session?.durationSeconds);
    expect(e.sessionPolicy).toBe(session?.policy);
    expect(e.transitiveTagKeys).toEqual(session?.transitiveTagKeys);
    const tags = e.tags.map((t: Json) => (t['Value'] === GRANT_ID_PLACEHOLDER ? { ...t, Value: grant.json['grantId'] } : t));
    expect(tags).toEqual(session?.tags);
    expect(e.vending).toBe(record?.['session']?.['vending']);
    expect(e.tokenSubject).toBe(record?.['session']?.['tokenSubject']);
    expect(e.sessionPolicySha256).toBe(record?.['session']?.['policySha256']);
    expect(e.managedPolicyArns).toEqual(record?.['session']?.['policyArns']);
    expect(e.packedPolicyEstimatePercent).toBe(record?.['session']?.['packedPolicyEstimatePercent']);
    expect(explained.json['note']).toMatch(/outside the broker's view/);
  });

  it('answers an admin asking why bob is not entitled to console-readonly, and audits the question', async () => {
    // Act
    const answer = await call('POST', '/v1/explain', carol, {
      entitlement: 'console-readonly',
      output: 'console',
      issuer: 'dev',
      subject: BOB_SUB,
      groups: ['photo-uploaders'],
    });

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      entitled: false,
      reason: 'no_grant',
      principal: { issuerId: 'dev', subject: BOB_SUB, userKey: userKeyOf(BOB_SUB) },
    });
    const audited = (await auditRecords()).filter((r) => r['action'] === 'explain' && r['caller']?.['subject'] === CAROL_SUB);
    expect(audited.at(-1)).toMatchObject({ outcome: 'granted', query: { issuer: 'dev', subject: BOB_SUB } });
  });

  it('refuses a non-admin explaining for someone else: 403 forbidden, and an audited denial', async () => {
    // Act
    const answer = await call('POST', '/v1/explain', alice, { entitlement: 'photo-uploads', issuer: 'dev', subject: BOB_SUB });

    // Assess
    expect(answer.status).toBe(403);
    expect(answer.json['error']).toBe('forbidden');
    const denied = (await auditRecords()).filter(
      (r) => r['action'] === 'explain' && r['outcome'] === 'denied' && r['caller']?.['subject'] === ALICE_SUB,
    );
    expect(denied.at(-1)).toMatchObject({ reason: 'not_admin', errorCode: 'forbidden' });
  });
});

describe('explain refuses bad input', () => {
  it('answers 400 invalid_request for a bad id, output or query, or a body with other fields, and 401 without a token', async () => {
    // Prepare
    const alice = await devIdpToken('alice');

    // Act
    const answers = await Promise.all([
      call('GET', '/v1/explain/Not_An_Id', alice),
      call('GET', '/v1/explain/photo-uploads?output=shell', alice),
      call('GET', '/v1/explain/photo-uploads?verbose=1', alice),
      call('POST', '/v1/explain', alice, { entitlement: 'photo-uploads', roleArn: 'arn:aws:iam::111111111111:role/x' }),
    ]);
    const anonymous = await fetch(`${stack().apiUrl}/v1/explain/photo-uploads`);

    // Assess
    expect(answers.map((a) => [a.status, a.json['error']])).toEqual(Array(4).fill([400, 'invalid_request']));
    expect(anonymous.status).toBe(401);
  });
});

describe('who got what', () => {
  let alice: string;
  let carol: string;

  beforeAll(async () => {
    [alice, carol] = await Promise.all([devIdpToken('alice'), devIdpToken('carol')]);
  });

  it('lists a caller their own grants whose sessions are still alive', async () => {
    // Prepare
    const grant = await postCredentials(alice, { entitlement: 'photo-uploads' });

    // Act
    const mine = await call('GET', '/v1/me/grants', alice);

    // Assess
    expect(mine.status).toBe(200);
    const listed = mine.json['grants'].find((g: Json) => g['grantId'] === grant.json['grantId']);
    expect(listed).toMatchObject({ entitlement: 'photo-uploads', accessKeyId: grant.json['AccessKeyId'] });
    expect(Date.parse(listed.expiration)).toBe(Date.parse(String(grant.json['Expiration'])));
    for (const g of mine.json['grants']) expect(Date.parse(g['expiration'])).toBeGreaterThan(Date.now());
  });

  it("lets an admin find a person's grants by issuer and subject, with nothing secret in the answer, and audits the query", async () => {
    // Prepare
    const grant = await postCredentials(alice, { entitlement: 'photo-uploads' });

    // Act
    const found = await call(
      'GET',
      `/v1/admin/audit?issuer=dev&subject=${ALICE_SUB}&entitlement=photo-uploads&outcome=granted&limit=5`,
      carol,
    );

    // Assess
    expect(found.status).toBe(200);
    expect(found.json['records'][0]).toMatchObject({ eventId: grant.json['grantId'], outcome: 'granted', caller: { subject: ALICE_SUB } });
    expect(found.text).not.toContain(String(grant.json['SecretAccessKey']));
    expect(found.text).not.toContain(String(grant.json['SessionToken']));
    expect(found.text).not.toMatch(/secretAccessKey|sessionToken|SecretAccessKey|SessionToken/);
    const queries = (await auditRecords()).filter((r) => r['action'] === 'audit_query' && r['caller']?.['subject'] === CAROL_SUB);
    expect(queries.at(-1)).toMatchObject({ outcome: 'granted', query: { userKey: userKeyOf(ALICE_SUB), entitlement: 'photo-uploads' } });
  });

  it('refuses a non-admin with 403 and an audited denial', async () => {
    // Act
    const refused = await call('GET', '/v1/admin/audit', alice);

    // Assess
    expect(refused.status).toBe(403);
    expect(refused.json['error']).toBe('forbidden');
    const denied = (await auditRecords()).filter((r) => r['action'] === 'audit_query' && r['caller']?.['subject'] === ALICE_SUB);
    expect(denied.at(-1)).toMatchObject({ outcome: 'denied', reason: 'not_admin' });
  });

  it('refuses a bad range or page token with 400 invalid_request', async () => {
    // Act
    const answers = await Promise.all([
      call('GET', '/v1/admin/audit?from=2026-11-02&to=2026-11-01', carol),
      call('GET', '/v1/admin/audit?from=yesterday', carol),
      call('GET', '/v1/admin/audit?from=2020-01-01&to=2026-01-01', carol),
      call('GET', '/v1/admin/audit?limit=0', carol),
      call('GET', '/v1/admin/audit?pageToken=not-a-token', carol),
      call('GET', `/v1/admin/audit?pageToken=${Buffer.from('{"p":"2001-01-01","a":"x"}').toString('base64url')}`, carol),
    ]);

    // Assess
    expect(answers.map((a) => [a.status, a.json['error']])).toEqual(Array(6).fill([400, 'invalid_request']));
  });

  it('pages over thousands of records: each exactly once, newest first, by person and by day', async () => {
    // Prepare: 2,400 records of one person over three days, seeded directly into the audit table
    const userKey = `zz${randomBytes(12)
      .toString('hex')
      .replace(/[^a-z2-7]/g, 'a')}`
      .slice(0, 26)
      .padEnd(26, 'a');
    const start = Date.parse('2003-03-01T00:00:00Z') + Math.floor(Math.random() * 1000) * 86_400_000 * 3;
    const items = Array.from({ length: 2400 }, (_, i) => {
      const time = new Date(start + i * 108_000); // 2,400 records over three days
      return {
        eventId: newEventId(time, randomBytes(10)),
        time: time.toISOString(),
        day: time.toISOString().slice(0, 10),
        action: 'credentials',
        outcome: i % 3 === 0 ? 'denied' : 'granted',
        userKey,
        entitlementId: 'seeded-entitlement',
        request: { requestId: `seed-${i}` },
      };
    });
    for (let i = 0; i < items.length; i += 25) {
      await dynamo().send(
        new BatchWriteCommand({
          RequestItems: {
            [stack().brokerEnv['KEYVEND_AUDIT_TABLE'] as string]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })),
          },
        }),
      );
    }
    const expected = items.map((item) => item.eventId).reverse();
    const range = `from=${items[0]?.time}&to=${items.at(-1)?.time}`;

    // Act
    const walk = async (query: string) => {
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page = await call('GET', `/v1/admin/audit?${query}${token === undefined ? '' : `&pageToken=${token}`}`, carol);
        expect(page.status).toBe(200);
        seen.push(...page.json['records'].map((r: Json) => r['eventId']));
        token = page.json['nextPageToken'];
      } while (token !== undefined);
      return seen;
    };
    const byUser = await walk(`user=${userKey}&limit=200&${range}`);
    const byDay = await walk(`limit=170&${range}`);
    const deniedOnly = await walk(`user=${userKey}&outcome=denied&limit=150&${range}`);

    // Assess
    expect(byUser).toEqual(expected);
    expect(byDay.filter((id) => expected.includes(id))).toEqual(expected);
    expect(new Set(byDay).size).toBe(byDay.length);
    expect(deniedOnly).toEqual(
      items
        .filter((item) => item.outcome === 'denied')
        .map((item) => item.eventId)
        .reverse(),
    );
  }, 180_000);
});
