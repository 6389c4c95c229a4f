import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables, LOCAL_AWS_CREDENTIALS, type LocalDynamoDb, startLocalDynamoDb, tableDefinitionsFromServerlessYml } from '../../infra/local/dynamodb.ts';
import { ROOT } from '../../infra/local/stack.ts';
import { DynamoDbAuditLog } from '../../src/adapters/dynamodb/dynamodb-audit-log.ts';
import { DynamoDbEntitlementStore } from '../../src/adapters/dynamodb/dynamodb-entitlement-store.ts';
import type { AuditRecord } from '../../src/domain/audit-record.ts';
import { applyEntitlements } from '../../src/tools/dynamodb-entitlement-writer.ts';
import { checkEntitlementsFile } from '../../src/tools/entitlements-file.ts';
import { principalFor } from '../unit/fakes.ts';

/** The DynamoDB adapters against DynamoDB Local with the tables of serverless.yml: real conditions, real keys. */
const TABLES = { entitlements: 'adapter-test-entitlements', audit: 'adapter-test-audit' };
let dynamo: LocalDynamoDb;
let client: DynamoDBDocumentClient;

beforeAll(async () => {
  dynamo = await startLocalDynamoDb();
  await createTables(dynamo.endpoint, tableDefinitionsFromServerlessYml(join(ROOT, 'serverless.yml'), TABLES));
  client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS }), {
    marshallOptions: { removeUndefinedValues: true },
  });
}, 60_000);
afterAll(async () => {
  client?.destroy();
  await dynamo?.close();
});

const record = (eventId: string): AuditRecord => ({
  eventId,
  time: '2026-11-23T09:30:00.000Z',
  action: 'credentials',
  outcome: 'pending',
  request: { requestId: 'r1' },
  caller: { idpType: 'oidc', issuerId: 'corp', issuer: 'https://idp', subject: 'alice', userKey: 'abcdefghijklmnopqrstuvwxyz', groups: [], tokenIssuedAt: 1, tokenExpiresAt: 2, tokenRef: 'sha256:x' },
});

describe('DynamoDbAuditLog on DynamoDB Local', () => {
  it('closes a pending record once, and never overwrites or re-closes it', async () => {
    // Prepare
    const log = new DynamoDbAuditLog(client, TABLES.audit, 30);
    const id = '019abcde-0000-7000-8000-0000000000a1';
    await log.open(record(id));

    // Act
    await log.close({ ...record(id), outcome: 'granted' });

    // Assess: each later write is refused by its condition
    await expect(log.open(record(id))).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    await expect(log.close({ ...record(id), outcome: 'denied' })).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    await expect(log.record({ ...record(id), outcome: 'denied' })).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    const stored = await client.send(new GetCommand({ TableName: TABLES.audit, Key: { eventId: id }, ConsistentRead: true }));
    expect(stored.Item).toMatchObject({ outcome: 'granted', userKey: 'abcdefghijklmnopqrstuvwxyz' });
  });

  it('fails when the table does not exist, so the use case issues nothing', async () => {
    // Act + Assess
    await expect(new DynamoDbAuditLog(client, 'no-such-table', 30).open(record('019abcde-0000-7000-8000-0000000000a2'))).rejects.toMatchObject({
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
