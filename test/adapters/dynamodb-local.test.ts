import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbAuditLog } from '../../src/adapters/dynamodb/dynamodb-audit-log.ts';
import { DynamoDbEntitlementStore } from '../../src/adapters/dynamodb/dynamodb-entitlement-store.ts';
import type { AuditRecord } from '../../src/domain/audit-record.ts';
import { applyEntitlements } from '../../src/tools/dynamodb-entitlement-writer.ts';
import { checkEntitlementsFile } from '../../src/tools/entitlements-file.ts';
import { makeIssueCredentials } from '../../src/app/issue-credentials.ts';
import type { AuditConflictError } from '../../src/domain/audit-record.ts';
import { documentClientOf, localTables } from '../support/dynamodb.ts';
import { entitlementFor, FakeCredentialIssuer, FakeDecisionLog, FakeEntitlementStore, FakeVerifier, principalFor } from '../unit/fakes.ts';

/** The DynamoDB adapters against DynamoDB Local with the tables of serverless.yml: real conditions, real keys. */
const TABLES = { entitlements: 'adapter-test-entitlements', audit: 'adapter-test-audit' };
const local = localTables(TABLES);
let client: DynamoDBDocumentClient;

beforeAll(() => {
  client = local.documentClient();
});

const record = (eventId: string): AuditRecord => ({
  eventId,
  time: '2026-11-23T09:30:00.000Z',
  action: 'credentials',
  outcome: 'denied',
  reason: 'no_matching_entitlement',
  request: { requestId: 'r1' },
  caller: {
    idpType: 'oidc',
    issuerId: 'corp',
    issuer: 'https://idp',
    subject: 'alice',
    userKey: 'abcdefghijklmnopqrstuvwxyz',
    groups: [],
    tokenIssuedAt: 1,
    tokenExpiresAt: 2,
    tokenRef: 'sha256:x',
  },
});

/**
 * A client on DynamoDB Local whose first PutItem reaches the table and commits, and then loses its response as
 * a reset connection would. The middleware sits inside the SDK's retry loop, so the real standard retry sends
 * the write again.
 */
function lossyClient(): { client: DynamoDBDocumentClient; readonly attempts: number } {
  const raw = local.rawClient();
  const state = { lost: false, attempts: 0 };
  raw.middlewareStack.add(
    (next, context) => async (args) => {
      const closing = context.commandName === 'PutItemCommand';
      if (closing) state.attempts += 1;
      const result = await next(args);
      if (closing && !state.lost) {
        state.lost = true;
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', name: 'Error' });
      }
      return result;
    },
    { step: 'deserialize', name: 'loseFirstPutResponse' },
  );
  return {
    client: documentClientOf(raw),
    get attempts() {
      return state.attempts;
    },
  };
}

describe('DynamoDbAuditLog on DynamoDB Local', () => {
  it('writes a record once, with the query indexes keys at top level, and never overwrites it', async () => {
    // Prepare
    const log = new DynamoDbAuditLog(client, TABLES.audit, 30);
    const id = '019abcde-0000-7000-8000-0000000000a1';
    const grant: AuditRecord = { ...record(id), outcome: 'granted', entitlement: { id: 'photo-uploads', version: 3 } };

    // Act
    await log.record(grant);

    // Assess: a later write is refused by its condition, as a conflict carrying what is stored
    const conflict = {
      name: 'AuditConflictError',
      stored: expect.objectContaining({ eventId: id, outcome: 'granted' }),
      cause: expect.objectContaining({ name: 'ConditionalCheckFailedException' }),
    };
    await expect(log.record({ ...record(id), outcome: 'denied' })).rejects.toMatchObject(conflict);
    const stored = await client.send(new GetCommand({ TableName: TABLES.audit, Key: { eventId: id }, ConsistentRead: true }));
    expect(stored.Item).toMatchObject({
      outcome: 'granted',
      action: 'credentials',
      time: '2026-11-23T09:30:00.000Z',
      userKey: 'abcdefghijklmnopqrstuvwxyz',
      entitlementId: 'photo-uploads',
      day: '2026-11-23',
      expiresAt: Date.parse('2026-11-23T09:30:00.000Z') / 1000 + 30 * 86_400,
    });
  });

  it('leaves userKey and entitlementId out of a record without a verified caller or an entitlement', async () => {
    // Prepare
    const log = new DynamoDbAuditLog(client, TABLES.audit, 30);
    const id = '019abcde-0000-7000-8000-0000000000a4';
    const { caller: _caller, ...anonymous } = record(id);

    // Act
    await log.record({ ...anonymous, reason: 'missing_token' });

    // Assess
    const stored = await client.send(new GetCommand({ TableName: TABLES.audit, Key: { eventId: id }, ConsistentRead: true }));
    expect(stored.Item).toMatchObject({ outcome: 'denied', day: '2026-11-23' });
    expect(stored.Item).not.toHaveProperty('userKey');
    expect(stored.Item).not.toHaveProperty('entitlementId');
  });

  it('reports a write whose response was lost, and which the SDK retried, as a conflict with the record it wrote', async () => {
    // Prepare: the first attempt commits, then its response is lost (a reset connection), so the SDK's standard
    // retry sends the same write again
    const lossy = lossyClient();
    const log = new DynamoDbAuditLog(lossy.client, TABLES.audit, 30);
    const id = '019abcde-0000-7000-8000-0000000000a3';
    const granted: AuditRecord = { ...record(id), outcome: 'granted', session: { accessKeyId: 'ASIALOSTRESPONSE0001' } };

    // Act
    const attempt = log.record(granted).catch((error: unknown) => error);

    // Assess
    expect(await attempt).toMatchObject({
      name: 'AuditConflictError',
      stored: { eventId: id, outcome: 'granted', session: { accessKeyId: 'ASIALOSTRESPONSE0001' } },
    });
    expect(((await attempt) as AuditConflictError).stored).not.toHaveProperty('expiresAt');
    expect(((await attempt) as AuditConflictError).stored).not.toHaveProperty('day');
    expect(lossy.attempts).toBe(2);
    lossy.client.destroy();
  });

  it('lets issueCredentials deliver that grant once, as the table says, instead of minted_not_delivered and a 503', async () => {
    // Prepare
    const lossy = lossyClient();
    const audit = new DynamoDbAuditLog(lossy.client, TABLES.audit, 30);
    const sts = new FakeCredentialIssuer();
    const log = new FakeDecisionLog();
    const issue = makeIssueCredentials({
      verifier: new FakeVerifier(principalFor()),
      entitlements: new FakeEntitlementStore([entitlementFor()]),
      credentials: sts,
      brokerIssuer: undefined,
      audit,
      log,
      clock: { now: () => new Date() },
      settings: { roleChaining: true, isAllowedRole: () => true },
    });

    // Act
    const grant = await issue({
      caller: { kind: 'bearer', authorization: 'Bearer token' },
      entitlement: 'photo-uploads',
      durationSeconds: 900,
      output: 'credentials',
      context: { requestId: 'lost-1' },
    });

    // Assess
    const stored = await client.send(new GetCommand({ TableName: TABLES.audit, Key: { eventId: grant.grantId }, ConsistentRead: true }));
    expect(stored.Item).toMatchObject({
      outcome: 'granted',
      session: { accessKeyId: grant.credentials.accessKeyId },
      delivery: { delivered: true },
    });
    expect(sts.calls).toHaveLength(1);
    expect(log.alarms).toEqual([]);
    expect(lossy.attempts).toBe(2);
    lossy.client.destroy();
  });

  it('fails when the table does not exist, so the use case issues nothing', async () => {
    // Act + Assess
    await expect(
      new DynamoDbAuditLog(client, 'no-such-table', 30).record(record('019abcde-0000-7000-8000-0000000000a2')),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});

describe('DynamoDbEntitlementStore on DynamoDB Local', () => {
  it('finds what the entitlements writer stored, by subject or group, and sees a revocation at once', async () => {
    // Prepare
    const file = `entitlements:
  - id: uploads
    description: Uploads
    roleArn: arn:aws:iam::111111111111:role/keyvend/uploads
    outputs: [credentials]
    maxDurationSeconds: 3600
    sessionPolicy:
      Version: '2012-10-17'
      Statement:
        - { Effect: Allow, Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/{{userKey}}/*' }
    grants:
      - { issuer: corp, group: uploaders }
      - { issuer: corp, subject: bob }
`;
    const check = checkEntitlementsFile(file);
    if (!check.ok) throw new Error(check.problems.join('\n'));
    await applyEntitlements(client, TABLES.entitlements, check.entries, { prune: true });
    const store = new DynamoDbEntitlementStore(client, TABLES.entitlements);
    const byGroup = principalFor({ issuerId: 'corp', subject: 'alice', groups: ['uploaders'] });
    const bySubject = principalFor({ issuerId: 'corp', subject: 'bob', groups: [] });
    const otherIssuer = principalFor({ issuerId: 'other', subject: 'bob', groups: ['uploaders'] });

    // Act + Assess
    expect((await store.findGranted(byGroup, 'uploads'))?.id).toBe('uploads');
    expect((await store.findGranted(bySubject, 'uploads'))?.id).toBe('uploads');
    expect(await store.findGranted(otherIssuer, 'uploads')).toBeUndefined();
    expect((await store.listGranted(bySubject)).map((e) => e.id)).toEqual(['uploads']);

    // Act: revoke the subject grant
    const revoked = checkEntitlementsFile(file.replace('      - { issuer: corp, subject: bob }\n', ''));
    if (!revoked.ok) throw new Error(revoked.problems.join('\n'));
    await applyEntitlements(client, TABLES.entitlements, revoked.entries, { prune: true });

    // Assess
    expect(await store.findGranted(bySubject, 'uploads')).toBeUndefined();
    expect((await store.findGranted(byGroup, 'uploads'))?.id).toBe('uploads');
  });
});
