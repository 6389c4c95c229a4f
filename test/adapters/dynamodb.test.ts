import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbAuditLog } from '../../src/adapters/dynamodb/dynamodb-audit-log.ts';
import { DynamoDbEntitlementStore } from '../../src/adapters/dynamodb/dynamodb-entitlement-store.ts';
import {
  definitionKey,
  ENTITLEMENT_KEY_PREFIX,
  entitlementIdOf,
  grantedGroupsKey,
  grantKey,
  grantPartitionKey,
  grantSortKey,
  principalPartitionKeys,
} from '../../src/adapters/dynamodb/keys.ts';
import type { AuditRecord } from '../../src/domain/audit-record.ts';
import { principalFor } from '../unit/fakes.ts';

const documents = mockClient(DynamoDBDocumentClient);
const client = () => DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));

const definition = {
  id: 'photo-uploads',
  description: 'Uploads',
  roleArn: 'arn:aws:iam::111111111111:role/keyvend/photo-uploads',
  outputs: ['credentials'],
  maxDurationSeconds: 3600,
  sessionPolicy: {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/{{userKey}}/*' }],
  },
};
const principal = principalFor({ issuerId: 'corp', subject: 'alice', groups: ['uploaders'] });
const [alicePk = '', uploadersPk = ''] = principalPartitionKeys(principal);
const photoUploads = definitionKey('photo-uploads');

describe('the entitlements table layout (keys.ts)', () => {
  it('is the layout stored tables hold: a change here needs a data migration', () => {
    // Act + Assess: the one place the key strings are written out
    expect(definitionKey('photo-uploads')).toEqual({ pk: 'ENT#photo-uploads', sk: 'DEF' });
    expect(principalPartitionKeys(principal)).toEqual(['P#corp#sub#alice', 'P#corp#grp#uploaders']);
    expect(grantPartitionKey({ issuer: 'corp', group: 'uploaders' })).toBe('P#corp#grp#uploaders');
    expect(grantKey(alicePk, 'photo-uploads')).toEqual({ pk: 'P#corp#sub#alice', sk: 'ENT#photo-uploads' });
    expect(ENTITLEMENT_KEY_PREFIX).toBe('ENT#');
    expect(entitlementIdOf(grantKey(alicePk, 'photo-uploads').sk)).toBe('photo-uploads');
    expect(grantedGroupsKey('corp')).toEqual({ pk: 'GROUPS#corp', sk: 'GROUPS' });
  });
});

describe('DynamoDbEntitlementStore', () => {
  beforeEach(() => documents.reset());

  it('sends the batches of a caller with many groups at once, not one after the other', async () => {
    // Prepare: 150 groups, so 154 keys (definition, subject, groups, two revocation marks) in two batches; each answer waits until both requests are in flight
    const many = principalFor({ issuerId: 'corp', subject: 'alice', groups: Array.from({ length: 150 }, (_, i) => `g${i}`) });
    let inFlight = 0;
    let mostInFlight = 0;
    documents.on(BatchGetCommand).callsFake(async () => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 20));
      inFlight -= 1;
      return { Responses: { ents: [] } };
    });

    // Act
    const found = await new DynamoDbEntitlementStore(client(), 'ents').findGranted(many, 'photo-uploads');

    // Assess
    expect(found).toBeUndefined();
    const sent = documents.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems?.['ents']?.Keys?.length);
    expect(sent).toEqual([100, 54]);
    expect(mostInFlight).toBe(2);
  });

  it('reads the definition, every grant key of the caller and the two revocation marks in one strongly consistent batch', async () => {
    // Prepare
    documents.on(BatchGetCommand).resolves({
      Responses: { ents: [{ ...photoUploads, definition }, grantKey(uploadersPk, 'photo-uploads')] },
    });

    // Act
    const found = await new DynamoDbEntitlementStore(client(), 'ents').findGranted(principal, 'photo-uploads');

    // Assess
    expect(found?.id).toBe('photo-uploads');
    const request = documents.commandCalls(BatchGetCommand)[0]?.args[0].input.RequestItems?.['ents'];
    expect(request?.ConsistentRead).toBe(true);
    expect(request?.Keys).toEqual([
      photoUploads,
      grantKey(alicePk, 'photo-uploads'),
      grantKey(uploadersPk, 'photo-uploads'),
      { pk: alicePk, sk: 'REV' },
      { pk: 'ENT#photo-uploads', sk: 'REV' },
    ]);
    expect(documents.commandCalls(BatchGetCommand)).toHaveLength(1);
  });

  it('counts an unreadable revocation mark as revoked (fail closed)', async () => {
    // Prepare
    documents.on(BatchGetCommand).resolves({
      Responses: {
        ents: [{ ...photoUploads, definition }, grantKey(alicePk, 'photo-uploads'), { pk: alicePk, sk: 'REV', person: 'garbage' }],
      },
    });

    // Act
    const lookup = await new DynamoDbEntitlementStore(client(), 'ents').lookupGrant(principal, 'photo-uploads');

    // Assess
    expect(lookup.revoked).toEqual({ kind: 'person', revocationId: 'unreadable' });
  });

  it('finds nothing when the definition exists but no grant does, or the reverse', async () => {
    // Prepare
    documents
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { ents: [{ ...photoUploads, definition }] } })
      .resolvesOnce({ Responses: { ents: [grantKey(alicePk, 'photo-uploads')] } });
    const store = new DynamoDbEntitlementStore(client(), 'ents');

    // Act + Assess
    expect(await store.findGranted(principal, 'photo-uploads')).toBeUndefined();
    expect(await store.findGranted(principal, 'photo-uploads')).toBeUndefined();
  });

  it('fails closed on a corrupted definition instead of guessing (F-01)', async () => {
    // Prepare: a definition that lost its policy would grant the whole role
    const { sessionPolicy: _dropped, ...corrupt } = definition;
    documents.on(BatchGetCommand).resolves({
      Responses: { ents: [{ ...photoUploads, definition: corrupt }, grantKey(alicePk, 'photo-uploads')] },
    });

    // Act + Assess
    await expect(new DynamoDbEntitlementStore(client(), 'ents').findGranted(principal, 'photo-uploads')).rejects.toMatchObject({
      httpStatus: 500,
      reason: 'entitlement_corrupt',
    });
  });

  it('retries unprocessed keys a bounded number of times, then fails', async () => {
    // Prepare
    documents.on(BatchGetCommand).resolves({ UnprocessedKeys: { ents: { Keys: [photoUploads] } } });

    // Act
    const result = new DynamoDbEntitlementStore(client(), 'ents').findGranted(principal, 'photo-uploads');

    // Assess
    await expect(result).rejects.toThrow(/unprocessed/);
    expect(documents.commandCalls(BatchGetCommand).length).toBe(4);
  });

  it('passes a DynamoDB failure up for the use case to turn into a 503', async () => {
    // Prepare
    documents
      .on(BatchGetCommand)
      .rejects(Object.assign(new Error('Throughput exceeds the current capacity'), { name: 'ProvisionedThroughputExceededException' }));

    // Act + Assess
    await expect(new DynamoDbEntitlementStore(client(), 'ents').findGranted(principal, 'photo-uploads')).rejects.toThrow(/Throughput/);
  });

  describe('with the granted groups list kept (ADR 0018)', () => {
    let nowMs = Date.parse('2026-11-29T12:00:00Z');
    const clock = { now: () => new Date(nowMs) };
    const store = () => new DynamoDbEntitlementStore(client(), 'ents', { grantedGroupsCacheSeconds: 60, clock });
    const hundred = Array.from({ length: 100 }, (_, i) => `g${i}`);
    const caller = principalFor({ issuerId: 'corp', subject: 'alice', groups: hundred });
    const groupKey = (group: string) => grantKey(grantPartitionKey({ issuer: 'corp', group }), 'photo-uploads');
    const marks = [
      { pk: alicePk, sk: 'REV' },
      { pk: 'ENT#photo-uploads', sk: 'REV' },
    ];
    const batches = () => documents.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems?.['ents']?.Keys);
    /** Lets the list's read, started beside a request, finish. */
    const settle = () => new Promise((resolve) => setTimeout(resolve, 5));
    const listOf = (groups?: string[]) => ({
      Item: { ...grantedGroupsKey('corp'), issuer: 'corp', ...(groups ? { groups: new Set(groups) } : {}) },
    });

    it('asks a caller with 100 groups, 2 of them granted, for only those 2 group keys in one BatchGetItem', async () => {
      // Prepare: the list names the 2 granted groups and one the caller is not in; the first request reads it
      documents.on(GetCommand, { Key: grantedGroupsKey('corp') }).resolves(listOf(['g17', 'g99', 'other']));
      documents.on(BatchGetCommand).resolves({ Responses: { ents: [{ ...photoUploads, definition }, groupKey('g99')] } });
      const kept = store();
      await kept.lookupGrant(caller, 'photo-uploads');
      await settle();
      documents.resetHistory();

      // Act
      const lookup = await kept.lookupGrant(caller, 'photo-uploads');

      // Assess
      expect(lookup.grantedBy).toEqual([{ group: 'g99' }]);
      expect(lookup.entitlement?.id).toBe('photo-uploads');
      expect(batches()).toEqual([[photoUploads, grantKey(alicePk, 'photo-uploads'), groupKey('g17'), groupKey('g99'), ...marks]]);
      expect(documents.commandCalls(GetCommand)).toHaveLength(0);
    });

    it('never waits for the list: without a fresh one it asks for every group and reads the list once beside it', async () => {
      // Prepare: the list, and a read that takes a while
      documents.on(GetCommand, { Key: grantedGroupsKey('corp') }).callsFake(async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return listOf(['g1']);
      });
      documents.on(BatchGetCommand).resolves({ Responses: { ents: [] } });
      const kept = store();

      // Act
      await Promise.all([kept.findGranted(caller, 'photo-uploads'), kept.findGranted(caller, 'photo-uploads')]);
      const whileReading = batches().length;
      await new Promise((resolve) => setTimeout(resolve, 40));
      await kept.findGranted(caller, 'photo-uploads');

      // Assess: 104 keys in two batches per request until the list is in; one read of it; then 5 keys
      expect(whileReading).toBe(4);
      expect(batches().map((keys) => keys?.length)).toEqual([100, 4, 100, 4, 5]);
      expect(documents.commandCalls(GetCommand)).toHaveLength(1);
      expect(documents.commandCalls(GetCommand)[0]?.args[0].input.ConsistentRead).toBe(true);
    });

    it('keeps the list for the cache time, then reads it again; a group granted meanwhile only under-grants until then', async () => {
      // Prepare: the list first lacks g5, then a writer grants it
      let listed = ['g1'];
      documents.on(GetCommand, { Key: grantedGroupsKey('corp') }).callsFake(async () => listOf(listed));
      documents.on(BatchGetCommand).resolves({ Responses: { ents: [{ ...photoUploads, definition }, groupKey('g5')] } });
      const kept = store();
      await kept.findGranted(caller, 'photo-uploads');
      await settle();
      documents.resetHistory();

      // Act
      listed = ['g1', 'g5'];
      const kept1 = await kept.findGranted(caller, 'photo-uploads');
      nowMs += 59_000;
      const kept2 = await kept.findGranted(caller, 'photo-uploads');
      nowMs += 1_000;
      const expired = await kept.findGranted(caller, 'photo-uploads');
      await settle();
      const reread = await kept.findGranted(caller, 'photo-uploads');

      // Assess: the kept list asked for g1 only, so g5's grant stayed unseen (never more than the table grants)
      expect([kept1, kept2]).toEqual([undefined, undefined]);
      expect([expired?.id, reread?.id]).toEqual(['photo-uploads', 'photo-uploads']);
      expect(documents.commandCalls(GetCommand)).toHaveLength(1);
      expect(batches().map((keys) => keys?.length)).toEqual([5, 5, 100, 4, 6]);
    });

    it('asks for every group when the table has no list (an older writer), and reads again after a failed read', async () => {
      // Prepare
      documents
        .on(GetCommand, { Key: grantedGroupsKey('corp') })
        .rejectsOnce(new Error('Throughput exceeds the current capacity'))
        .resolves({});
      documents.on(BatchGetCommand).resolves({ Responses: { ents: [] } });
      const kept = store();

      // Act
      for (let i = 0; i < 3; i++) {
        await kept.findGranted(caller, 'photo-uploads');
        await settle();
      }

      // Assess: failed, then missing (kept as missing: no third read)
      expect(batches().map((keys) => keys?.length)).toEqual([100, 4, 100, 4, 100, 4]);
      expect(documents.commandCalls(GetCommand)).toHaveLength(2);
    });

    it('asks for no group key when the list has no groups (none of the issuer is granted)', async () => {
      // Prepare
      documents.on(GetCommand, { Key: grantedGroupsKey('corp') }).resolves(listOf());
      documents.on(BatchGetCommand).resolves({ Responses: { ents: [] } });
      const kept = store();
      await kept.findGranted(caller, 'photo-uploads');
      await settle();
      documents.resetHistory();

      // Act
      await kept.findGranted(caller, 'photo-uploads');

      // Assess
      expect(batches()).toEqual([[photoUploads, grantKey(alicePk, 'photo-uploads'), ...marks]]);
    });

    it('reads no list for a caller without groups, nor with the cache time 0', async () => {
      // Prepare
      documents.on(BatchGetCommand).resolves({ Responses: { ents: [] } });
      const off = new DynamoDbEntitlementStore(client(), 'ents', { grantedGroupsCacheSeconds: 0, clock });

      // Act
      await store().findGranted(principalFor({ issuerId: 'corp', subject: 'alice', groups: [] }), 'photo-uploads');
      await off.findGranted(caller, 'photo-uploads');
      await settle();

      // Assess
      expect(documents.commandCalls(GetCommand)).toHaveLength(0);
    });
  });

  it('lists grants with consistent, paginated queries per partition', async () => {
    // Prepare
    documents
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': alicePk, ':ent': ENTITLEMENT_KEY_PREFIX } })
      .resolvesOnce({ Items: [{ sk: grantSortKey('photo-uploads') }], LastEvaluatedKey: { pk: 'x', sk: 'y' } })
      .resolvesOnce({ Items: [{ sk: grantSortKey('console') }] });
    documents
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': uploadersPk, ':ent': ENTITLEMENT_KEY_PREFIX } })
      .resolves({ Items: [{ sk: grantSortKey('photo-uploads') }] });
    documents.on(BatchGetCommand).resolves({ Responses: { ents: [{ definition }, { definition: { ...definition, id: 'console' } }] } });

    // Act
    const listed = await new DynamoDbEntitlementStore(client(), 'ents').listGranted(principal);

    // Assess
    expect(listed.map((e) => e.id).sort()).toEqual(['console', 'photo-uploads']);
    const queries = documents.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(queries).toHaveLength(3);
    expect(queries.every((q) => q.ConsistentRead === true)).toBe(true);
    expect(documents.commandCalls(BatchGetCommand)[0]?.args[0].input.RequestItems?.['ents']?.Keys).toEqual([
      photoUploads,
      definitionKey('console'),
    ]);
  });
});

describe('DynamoDbAuditLog', () => {
  beforeEach(() => documents.reset());

  const record = (): AuditRecord => ({
    eventId: '019abcde-0000-7000-8000-000000000001',
    time: '2026-11-23T09:30:00.000Z',
    action: 'credentials',
    outcome: 'denied',
    request: { requestId: 'r1' },
    caller: {
      idpType: 'oidc',
      issuerId: 'corp',
      issuer: 'https://idp',
      subject: 'alice',
      userKey: principal.userKey,
      groups: [],
      tokenIssuedAt: 1,
      tokenExpiresAt: 2,
      tokenRef: 'sha256:x',
    },
  });

  it('records with one write that can never overwrite, carrying the query indexes keys', async () => {
    // Prepare
    documents.on(PutCommand).resolves({});
    const log = new DynamoDbAuditLog(client(), 'audit', 30);

    // Act
    await log.record({ ...record(), outcome: 'granted', entitlement: { id: 'photo-uploads', version: 1 } });

    // Assess
    const puts = documents.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.ConditionExpression)).toEqual(['attribute_not_exists(eventId)']);
    expect(puts[0]?.ExpressionAttributeValues).toBeUndefined();
    expect(puts[0]?.TableName).toBe('audit');
    expect(puts[0]?.Item).toMatchObject({
      eventId: record().eventId,
      userKey: principal.userKey,
      entitlementId: 'photo-uploads',
      day: '2026-11-23',
      expiresAt: Date.parse('2026-11-23T09:30:00.000Z') / 1000 + 30 * 86_400,
    });
  });

  it('refuses to store an undecided record, and sends nothing', async () => {
    // Act
    const error = await new DynamoDbAuditLog(client(), 'audit', 30).record({ ...record(), outcome: 'pending' }).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(Error);
    expect(documents.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('leaves userKey out of a denial without a known caller (the byUser index is sparse)', async () => {
    // Prepare
    documents.on(PutCommand).resolves({});
    const { caller: _caller, ...anonymous } = record();

    // Act
    await new DynamoDbAuditLog(client(), 'audit', 30).record({ ...anonymous, outcome: 'denied' });

    // Assess
    const item = documents.commandCalls(PutCommand)[0]?.args[0].input.Item ?? {};
    expect(item).not.toHaveProperty('userKey');
    expect(item).not.toHaveProperty('entitlementId');
    expect(item['day']).toBe('2026-11-23');
  });

  it('stores only what the record holds: no secret, even when the session carries credential identifiers', async () => {
    // Prepare
    documents.on(PutCommand).resolves({});
    const granted: AuditRecord = {
      ...record(),
      outcome: 'granted',
      session: { accessKeyId: 'ASIAEXAMPLE', roleSessionName: 's', policySha256: 'f'.repeat(64) },
    };

    // Act
    await new DynamoDbAuditLog(client(), 'audit', 30).record(granted);

    // Assess
    const item = documents.commandCalls(PutCommand)[0]?.args[0].input.Item ?? {};
    expect(Object.keys(item).sort()).toEqual([
      'action',
      'caller',
      'day',
      'eventId',
      'expiresAt',
      'outcome',
      'request',
      'session',
      'time',
      'userKey',
    ]);
    expect(JSON.stringify(item)).not.toMatch(/SecretAccessKey|SessionToken|secretAccessKey|sessionToken/);
  });

  it('turns a failed condition into an AuditConflictError carrying the stored record, read back consistently', async () => {
    // Prepare
    documents
      .on(PutCommand)
      .rejects(Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' }));
    documents.on(GetCommand).resolves({ Item: { ...record(), outcome: 'denied', userKey: 'u', day: '2026-11-23', expiresAt: 1 } });

    // Act
    const error = await new DynamoDbAuditLog(client(), 'audit', 30).record(record()).catch((caught: unknown) => caught);

    // Assess
    expect(error).toMatchObject({
      name: 'AuditConflictError',
      stored: { outcome: 'denied' },
      cause: { name: 'ConditionalCheckFailedException' },
    });
    expect((error as { stored: object }).stored).not.toHaveProperty('expiresAt');
    expect((error as { stored: object }).stored).not.toHaveProperty('day');
    expect(documents.commandCalls(GetCommand)[0]?.args[0].input).toMatchObject({
      TableName: 'audit',
      Key: { eventId: record().eventId },
      ConsistentRead: true,
    });
  });

  it('passes any other failure on, so the use case issues nothing', async () => {
    // Prepare
    documents.on(PutCommand).rejects(Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' }));

    // Act + Assess
    await expect(new DynamoDbAuditLog(client(), 'audit', 30).record(record())).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect(documents.commandCalls(GetCommand)).toHaveLength(0);
  });
});
