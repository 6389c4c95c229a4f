import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  DynamoDBDocumentClient as DocumentClient,
  GetCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbAuditLog } from '../../src/adapters/dynamodb/dynamodb-audit-log.ts';
import { DynamoDbAuditReader } from '../../src/adapters/dynamodb/dynamodb-audit-reader.ts';
import type { AuditCursor, AuditQuery } from '../../src/domain/audit-query.ts';
import type { AuditRecord } from '../../src/domain/audit-record.ts';
import { localTables } from '../support/dynamodb.ts';

/**
 * The audit queries (DynamoDbAuditReader) against DynamoDB Local with the audit table and GSIs of serverless.yml,
 * the records written by DynamoDbAuditLog as the broker writes them; the failure paths DynamoDB Local never takes
 * (unprocessed keys, short filtered pages) on a mocked client.
 */
const TABLES = { entitlements: 'reader-test-entitlements', audit: 'reader-test-audit' };
const local = localTables(TABLES);
let client: DynamoDBDocumentClient;
let log: DynamoDbAuditLog;
let reader: DynamoDbAuditReader;

beforeAll(() => {
  client = local.documentClient();
  log = new DynamoDbAuditLog(client, TABLES.audit, 30);
  reader = new DynamoDbAuditReader(client, TABLES.audit);
});

/** A UUIDv7 event id made at `time`; `n` orders ids of the same millisecond. */
function eventIdAt(time: string, n = 0): string {
  const ms = Date.parse(time).toString(16).padStart(12, '0');
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7000-8000-${n.toString(16).padStart(12, '0')}`;
}

interface Shape {
  readonly time: string;
  readonly n?: number;
  readonly userKey?: string;
  readonly entitlementId?: string;
  readonly outcome?: 'granted' | 'denied';
}

function auditRecord({ time, n = 0, userKey, entitlementId, outcome = 'denied' }: Shape): AuditRecord {
  return {
    eventId: eventIdAt(time, n),
    time,
    action: 'credentials',
    outcome,
    ...(outcome === 'denied' ? { reason: 'no_matching_entitlement' } : {}),
    request: { requestId: `r-${time}-${n}` },
    ...(userKey === undefined
      ? {}
      : {
          caller: {
            idpType: 'oidc',
            issuerId: 'corp',
            issuer: 'https://idp',
            subject: userKey,
            userKey,
            groups: [],
            tokenIssuedAt: 1,
            tokenExpiresAt: 2,
            tokenRef: 'sha256:x',
          },
        }),
    ...(entitlementId === undefined ? {} : { entitlement: { id: entitlementId, version: 1 } }),
  };
}

/** Writes the records through the audit log, in the order given, and returns them. */
async function write(shapes: readonly Shape[]): Promise<AuditRecord[]> {
  const records = shapes.map(auditRecord);
  for (const record of records) await log.record(record);
  return records;
}

const ids = (items: readonly Readonly<Record<string, unknown>>[]): unknown[] => items.map((item) => item['eventId']);
const newestFirst = (records: readonly AuditRecord[]): string[] =>
  records
    .map((r) => r.eventId)
    .sort()
    .reverse();
const range = (from: string, to: string) => ({ from: new Date(from), to: new Date(to) });

/** Every page of a query, following the cursor until there is none. */
async function allPages(on: DynamoDbAuditReader, query: AuditQuery): Promise<{ pages: unknown[][]; cursors: AuditCursor[] }> {
  const pages: unknown[][] = [];
  const cursors: AuditCursor[] = [];
  let cursor: AuditCursor | undefined;
  do {
    const page = await on.query(query, cursor);
    pages.push(ids(page.items));
    cursor = page.next;
    if (cursor !== undefined) cursors.push(cursor);
  } while (cursor !== undefined && pages.length < 20);
  return { pages, cursors };
}

describe('DynamoDbAuditReader on DynamoDB Local', () => {
  it('finds the records of a person on byUser, newest first, whatever order they were written in', async () => {
    // Prepare
    const mine = await write([
      { time: '2026-11-20T10:00:00.000Z', userKey: 'user-by-user', entitlementId: 'photo-uploads' },
      { time: '2026-11-22T08:00:00.000Z', userKey: 'user-by-user' },
      { time: '2026-11-21T12:00:00.000Z', userKey: 'user-by-user', outcome: 'granted', entitlementId: 'reports' },
      { time: '2026-11-21T12:00:00.000Z', n: 1, userKey: 'user-by-user' },
    ]);
    await write([{ time: '2026-11-21T11:00:00.000Z', userKey: 'someone-else', entitlementId: 'photo-uploads' }]);

    // Act
    const page = await reader.query(
      { userKey: 'user-by-user', ...range('2026-11-01T00:00:00Z', '2026-11-30T00:00:00Z'), limit: 10 },
      undefined,
    );

    // Assess: the whole items are read from the table, not only what the index projects
    expect(ids(page.items)).toEqual(newestFirst(mine));
    expect(page.next).toBeUndefined();
    expect(page.items[1]).toMatchObject({
      eventId: eventIdAt('2026-11-21T12:00:00.000Z', 1),
      action: 'credentials',
      reason: 'no_matching_entitlement',
      request: { requestId: 'r-2026-11-21T12:00:00.000Z-1' },
      caller: { userKey: 'user-by-user' },
    });
  });

  it('finds the records of an entitlement on byEntitlement, across people, newest first', async () => {
    // Prepare
    const granted = await write([
      { time: '2026-11-20T09:00:00.000Z', userKey: 'ent-user-a', entitlementId: 'ent-query', outcome: 'granted' },
      { time: '2026-11-20T09:30:00.000Z', userKey: 'ent-user-b', entitlementId: 'ent-query' },
      { time: '2026-11-21T07:00:00.000Z', userKey: 'ent-user-a', entitlementId: 'ent-query', outcome: 'granted' },
    ]);
    await write([{ time: '2026-11-20T09:45:00.000Z', userKey: 'ent-user-a', entitlementId: 'ent-other' }]);

    // Act
    const page = await reader.query(
      { entitlementId: 'ent-query', ...range('2026-11-01T00:00:00Z', '2026-11-30T00:00:00Z'), limit: 10 },
      undefined,
    );

    // Assess
    expect(ids(page.items)).toEqual(newestFirst(granted));
    expect(page.items.map((item) => item['entitlement'])).toEqual([
      { id: 'ent-query', version: 1 },
      { id: 'ent-query', version: 1 },
      { id: 'ent-query', version: 1 },
    ]);
    expect(page.next).toBeUndefined();
  });

  it('finds every record of a day on byDay, anonymous ones included, and nothing of the day after', async () => {
    // Prepare
    const day = await write([
      { time: '2026-10-03T00:00:00.000Z', userKey: 'day-user-a' },
      { time: '2026-10-03T13:00:00.000Z' },
      { time: '2026-10-03T23:59:59.999Z', userKey: 'day-user-b', entitlementId: 'photo-uploads', outcome: 'granted' },
    ]);
    await write([
      { time: '2026-10-04T00:00:00.000Z', userKey: 'day-user-a' },
      { time: '2026-10-02T23:59:59.999Z', userKey: 'day-user-a' },
    ]);

    // Act
    const page = await reader.query({ ...range('2026-10-03T00:00:00.000Z', '2026-10-03T23:59:59.999Z'), limit: 10 }, undefined);

    // Assess
    expect(ids(page.items)).toEqual(newestFirst(day));
    expect(page.items[1]).not.toHaveProperty('caller');
    expect(page.next).toBeUndefined();
  });

  it('filters on outcome, and on byUser on the entitlement too, before the limit counts', async () => {
    // Prepare
    const [deniedUploads, grantedUploads, grantedReports, deniedNone] = await write([
      { time: '2026-11-24T10:00:00.000Z', userKey: 'filter-user', entitlementId: 'filter-uploads' },
      { time: '2026-11-24T11:00:00.000Z', userKey: 'filter-user', entitlementId: 'filter-uploads', outcome: 'granted' },
      { time: '2026-11-24T12:00:00.000Z', userKey: 'filter-user', entitlementId: 'filter-reports', outcome: 'granted' },
      { time: '2026-11-24T13:00:00.000Z', userKey: 'filter-user' },
    ]);
    await write([{ time: '2026-11-24T10:30:00.000Z', userKey: 'filter-other', entitlementId: 'filter-uploads', outcome: 'granted' }]);
    const bounds = range('2026-11-24T00:00:00Z', '2026-11-24T23:59:59.999Z');

    // Act
    const granted = await reader.query({ userKey: 'filter-user', outcome: 'granted', ...bounds, limit: 10 }, undefined);
    const uploads = await reader.query({ userKey: 'filter-user', entitlementId: 'filter-uploads', ...bounds, limit: 10 }, undefined);
    const deniedUploadsOnly = await reader.query(
      { userKey: 'filter-user', entitlementId: 'filter-uploads', outcome: 'denied', ...bounds, limit: 10 },
      undefined,
    );
    const firstDenied = await reader.query({ userKey: 'filter-user', outcome: 'denied', ...bounds, limit: 1 }, undefined);
    const grantedOnEntitlement = await reader.query(
      { entitlementId: 'filter-uploads', outcome: 'granted', ...bounds, limit: 10 },
      undefined,
    );

    // Assess
    expect(ids(granted.items)).toEqual([grantedReports?.eventId, grantedUploads?.eventId]);
    expect(ids(uploads.items)).toEqual([grantedUploads?.eventId, deniedUploads?.eventId]);
    expect(ids(deniedUploadsOnly.items)).toEqual([deniedUploads?.eventId]);
    expect(ids(firstDenied.items)).toEqual([deniedNone?.eventId]);
    expect(firstDenied.next).toEqual({ partition: 'filter-user', after: deniedNone?.eventId });
    expect(ids(grantedOnEntitlement.items)).toEqual([eventIdAt('2026-11-24T11:00:00.000Z'), eventIdAt('2026-11-24T10:30:00.000Z')]);
  });

  it('keeps to the from and to instants, both inclusive, to the millisecond', async () => {
    // Prepare
    const [before, atFrom, inside, atTo, after] = await write([
      { time: '2026-11-25T10:59:59.999Z', userKey: 'bounds-user' },
      { time: '2026-11-25T11:00:00.000Z', userKey: 'bounds-user' },
      { time: '2026-11-25T11:30:00.000Z', userKey: 'bounds-user' },
      { time: '2026-11-25T12:00:00.000Z', userKey: 'bounds-user' },
      { time: '2026-11-25T12:00:00.001Z', userKey: 'bounds-user' },
    ]);

    // Act
    const inclusive = await reader.query(
      { userKey: 'bounds-user', ...range('2026-11-25T11:00:00.000Z', '2026-11-25T12:00:00.000Z'), limit: 10 },
      undefined,
    );
    const narrower = await reader.query(
      { userKey: 'bounds-user', ...range('2026-11-25T11:00:00.001Z', '2026-11-25T11:59:59.999Z'), limit: 10 },
      undefined,
    );
    const all = await reader.query(
      { userKey: 'bounds-user', ...range('2026-11-25T00:00:00Z', '2026-11-25T23:59:59.999Z'), limit: 10 },
      undefined,
    );

    // Assess
    expect(ids(inclusive.items)).toEqual([atTo?.eventId, inside?.eventId, atFrom?.eventId]);
    expect(ids(narrower.items)).toEqual([inside?.eventId]);
    expect(ids(all.items)).toEqual([after?.eventId, atTo?.eventId, inside?.eventId, atFrom?.eventId, before?.eventId]);
  });

  it('pages with the cursor across a page boundary: each record exactly once, in order', async () => {
    // Prepare
    const five = await write(
      [3, 1, 4, 0, 2].map((hour) => ({ time: `2026-11-26T1${hour}:00:00.000Z`, userKey: 'paging-user', entitlementId: 'paging' })),
    );
    const query = { userKey: 'paging-user', ...range('2026-11-26T00:00:00Z', '2026-11-26T23:59:59.999Z'), limit: 2 };

    // Act
    const { pages, cursors } = await allPages(reader, query);

    // Assess
    const expected = newestFirst(five);
    expect(pages).toEqual([expected.slice(0, 2), expected.slice(2, 4), expected.slice(4)]);
    expect(cursors).toEqual([
      { partition: 'paging-user', after: expected[1] },
      { partition: 'paging-user', after: expected[3] },
    ]);
  });

  it('ends a page that is exactly full with a cursor, and the page after it is empty and final', async () => {
    // Prepare
    const two = await write([
      { time: '2026-11-27T10:00:00.000Z', userKey: 'full-page-user' },
      { time: '2026-11-27T11:00:00.000Z', userKey: 'full-page-user' },
    ]);
    const query = { userKey: 'full-page-user', ...range('2026-11-27T00:00:00Z', '2026-11-27T23:59:59.999Z'), limit: 2 };

    // Act
    const { pages, cursors } = await allPages(reader, query);

    // Assess
    expect(pages).toEqual([newestFirst(two), []]);
    expect(cursors).toEqual([{ partition: 'full-page-user', after: two[0]?.eventId }]);
  });

  it('pages across day partitions on byDay, an empty day included: each record exactly once, newest first', async () => {
    // Prepare: three records on 10-07, none on 10-06, two on 10-05, one on 10-04 outside the range
    const inRange = await write([
      { time: '2026-10-05T08:00:00.000Z', userKey: 'days-user-a' },
      { time: '2026-10-07T09:00:00.000Z', userKey: 'days-user-b', entitlementId: 'photo-uploads', outcome: 'granted' },
      { time: '2026-10-05T20:00:00.000Z' },
      { time: '2026-10-07T01:00:00.000Z', userKey: 'days-user-a' },
      { time: '2026-10-07T23:00:00.000Z', userKey: 'days-user-b' },
    ]);
    await write([{ time: '2026-10-04T23:00:00.000Z', userKey: 'days-user-a' }]);
    const query = { ...range('2026-10-05T00:00:00Z', '2026-10-07T23:59:59.999Z'), limit: 2 };

    // Act
    const { pages, cursors } = await allPages(reader, query);
    const granted = await allPages(reader, { ...query, outcome: 'granted' });
    const denied = await allPages(reader, { ...query, outcome: 'denied', limit: 3 });

    // Assess
    const expected = newestFirst(inRange);
    expect(pages.flat()).toEqual(expected);
    expect(pages).toEqual([expected.slice(0, 2), expected.slice(2, 4), expected.slice(4)]);
    // the second page begins on 10-07 and, past the empty 10-06, ends on 10-05: its cursor is in the day it ended in
    expect(cursors).toEqual([
      { partition: '2026-10-07', after: expected[1] },
      { partition: '2026-10-05', after: expected[3] },
    ]);
    expect(granted.pages).toEqual([[eventIdAt('2026-10-07T09:00:00.000Z')]]);
    expect(denied.pages).toEqual([
      [eventIdAt('2026-10-07T23:00:00.000Z'), eventIdAt('2026-10-07T01:00:00.000Z'), eventIdAt('2026-10-05T20:00:00.000Z')],
      [eventIdAt('2026-10-05T08:00:00.000Z')],
    ]);
    expect(denied.cursors).toEqual([{ partition: '2026-10-05', after: eventIdAt('2026-10-05T20:00:00.000Z') }]);
  });

  it('gets a record by its event id without the attributes only the table needs, and nothing for an unknown id', async () => {
    // Prepare
    const [stored] = await write([
      { time: '2026-11-28T10:00:00.000Z', userKey: 'get-user', entitlementId: 'photo-uploads', outcome: 'granted' },
    ]);
    const raw = await client.send(new GetCommand({ TableName: TABLES.audit, Key: { eventId: stored?.eventId }, ConsistentRead: true }));

    // Act
    const found = await reader.get(stored?.eventId ?? '');
    const missing = await reader.get(eventIdAt('2026-11-28T10:00:00.000Z', 99));

    // Assess: the table holds the index keys and the expiry; the record read back is the one written
    expect(raw.Item).toMatchObject({
      userKey: 'get-user',
      entitlementId: 'photo-uploads',
      day: '2026-11-28',
      expiresAt: expect.any(Number),
    });
    expect(found).toEqual(stored);
    for (const attribute of ['userKey', 'entitlementId', 'day', 'expiresAt']) expect(found).not.toHaveProperty(attribute);
    expect(missing).toBeUndefined();
  });

  it('says whether a person has any record', async () => {
    // Prepare
    await write([{ time: '2026-11-28T11:00:00.000Z', userKey: 'has-records-user' }]);

    // Act
    const has = await reader.hasRecordsFor('has-records-user');
    const hasNot = await reader.hasRecordsFor('never-seen-user');

    // Assess
    expect(has).toBe(true);
    expect(hasNot).toBe(false);
  });
});

describe('DynamoDbAuditReader on a mocked client', () => {
  const TABLE = 'audit';
  const day = range('2026-11-29T00:00:00Z', '2026-11-29T23:59:59.999Z');
  const idAt = (n: number) => eventIdAt('2026-11-29T10:00:00.000Z', n);
  /** A document client of its own (not the DynamoDB Local one), its `send` replaced by the mock. */
  function mocked() {
    const documents = DocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
    return { mock: mockClient(documents), reader: new DynamoDbAuditReader(documents, TABLE) };
  }

  it('retries the keys a BatchGetItem left unprocessed, and keeps the page in index order', async () => {
    // Prepare
    const { mock, reader: onMock } = mocked();
    mock.on(QueryCommand).resolves({ Items: [{ eventId: idAt(3) }, { eventId: idAt(2) }, { eventId: idAt(1) }] });
    mock
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [{ eventId: idAt(2), outcome: 'denied' }] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ eventId: idAt(3) }, { eventId: idAt(1) }] } },
      })
      .resolvesOnce({
        Responses: { [TABLE]: [{ eventId: idAt(1), outcome: 'denied' }] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ eventId: idAt(3) }] } },
      })
      .resolvesOnce({ Responses: { [TABLE]: [{ eventId: idAt(3), outcome: 'granted' }] } });

    // Act
    const page = await onMock.query({ userKey: 'u', ...day, limit: 3 }, undefined);

    // Assess
    expect(ids(page.items)).toEqual([idAt(3), idAt(2), idAt(1)]);
    expect(page.next).toEqual({ partition: 'u', after: idAt(1) });
    const sent = mock.commandCalls(BatchGetCommand).map((call) => call.args[0].input.RequestItems?.[TABLE]?.Keys);
    expect(sent).toEqual([
      [{ eventId: idAt(3) }, { eventId: idAt(2) }, { eventId: idAt(1) }],
      [{ eventId: idAt(3) }, { eventId: idAt(1) }],
      [{ eventId: idAt(3) }],
    ]);
  });

  it('fails when keys are still unprocessed after the retries, rather than return a page with holes', async () => {
    // Prepare
    const { mock, reader: onMock } = mocked();
    mock.on(QueryCommand).resolves({ Items: [{ eventId: idAt(1) }] });
    mock.on(BatchGetCommand).resolves({ UnprocessedKeys: { [TABLE]: { Keys: [{ eventId: idAt(1) }] } } });

    // Act
    const attempt = onMock.query({ userKey: 'u', ...day, limit: 5 }, undefined);

    // Assess: the first read and three retries
    await expect(attempt).rejects.toThrow('DynamoDB left keys unprocessed after retries');
    expect(mock.commandCalls(BatchGetCommand)).toHaveLength(4);
  });

  it('reads a page of more than a hundred items in BatchGetItem calls of at most a hundred keys', async () => {
    // Prepare
    const { mock, reader: onMock } = mocked();
    const found = Array.from({ length: 150 }, (_, i) => ({ eventId: idAt(150 - i) }));
    mock.on(QueryCommand).resolves({ Items: found });
    mock.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, { Keys: { eventId: string }[] }> }) => ({
      Responses: { [TABLE]: (input.RequestItems[TABLE]?.Keys ?? []).map((key) => ({ ...key, outcome: 'denied' })) },
    }));

    // Act
    const page = await onMock.query({ ...day, limit: 150 }, undefined);

    // Assess
    expect(ids(page.items)).toEqual(ids(found));
    expect(mock.commandCalls(BatchGetCommand).map((call) => call.args[0].input.RequestItems?.[TABLE]?.Keys?.length)).toEqual([100, 50]);
    expect(mock.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({ IndexName: 'byDay', Limit: 150, ScanIndexForward: false });
    expect(mock.commandCalls(QueryCommand)[0]?.args[0].input).not.toHaveProperty('FilterExpression');
  });

  it('sends Query calls until a filtered page is full, each starting where the last stopped, and drops what is over', async () => {
    // Prepare: the filter leaves one item of the first two index pages and two of the third
    const { mock, reader: onMock } = mocked();
    mock
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ eventId: idAt(9) }], LastEvaluatedKey: { eventId: idAt(5), userKey: 'u' } })
      .resolvesOnce({ Items: [], LastEvaluatedKey: { eventId: idAt(4), userKey: 'u' } })
      .resolvesOnce({ Items: [{ eventId: idAt(3) }], LastEvaluatedKey: { eventId: idAt(3), userKey: 'u' } })
      .resolvesOnce({ Items: [{ eventId: idAt(2) }, { eventId: idAt(1) }], LastEvaluatedKey: { eventId: idAt(0), userKey: 'u' } });
    mock.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, { Keys: { eventId: string }[] }> }) => ({
      Responses: { [TABLE]: input.RequestItems[TABLE]?.Keys ?? [] },
    }));

    // Act
    const page = await onMock.query({ userKey: 'u', entitlementId: 'photo-uploads', outcome: 'granted', ...day, limit: 3 }, undefined);

    // Assess
    expect(ids(page.items)).toEqual([idAt(9), idAt(3), idAt(2)]);
    expect(page.next).toEqual({ partition: 'u', after: idAt(2) });
    const queries = mock.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(queries.map((input) => input.ExclusiveStartKey)).toEqual([
      undefined,
      { eventId: idAt(5), userKey: 'u' },
      { eventId: idAt(4), userKey: 'u' },
      { eventId: idAt(3), userKey: 'u' },
    ]);
    expect(queries[0]).toMatchObject({
      IndexName: 'byUser',
      FilterExpression: 'outcome = :outcome AND entitlementId = :entitlementId',
      ExpressionAttributeValues: { ':h': 'u', ':outcome': 'granted', ':entitlementId': 'photo-uploads' },
      Limit: 200,
    });
  });

  it('continues after the cursor in its partition, and leaves out an item gone (TTL) before it was read', async () => {
    // Prepare
    const { mock, reader: onMock } = mocked();
    mock.on(QueryCommand).resolves({});
    mock.on(QueryCommand, { IndexName: 'byEntitlement' }).resolves({ Items: [{ eventId: idAt(2) }, { eventId: idAt(1) }] });
    mock.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [{ eventId: idAt(1) }] } });

    // Act
    const page = await onMock.query({ entitlementId: 'photo-uploads', ...day, limit: 5 }, { partition: 'photo-uploads', after: idAt(3) });

    // Assess
    expect(ids(page.items)).toEqual([idAt(1)]);
    expect(page.next).toBeUndefined();
    expect(mock.commandCalls(QueryCommand)[0]?.args[0].input.ExclusiveStartKey).toEqual({
      eventId: idAt(3),
      entitlementId: 'photo-uploads',
    });
  });

  it('reads an index page without items as an empty final page, and an item without an event id as nothing', async () => {
    // Prepare
    const { mock, reader: onMock } = mocked();
    mock.on(QueryCommand).resolves({});
    mock.on(GetCommand).resolves({ Item: { outcome: 'denied' } });

    // Act
    const page = await onMock.query({ userKey: 'u', ...day, limit: 5 }, undefined);
    const has = await onMock.hasRecordsFor('u');
    const got = await onMock.get(idAt(1));

    // Assess
    expect(page).toEqual({ items: [], next: undefined });
    expect(has).toBe(false);
    expect(got).toBeUndefined();
    expect(mock.commandCalls(BatchGetCommand)).toHaveLength(0);
    expect(mock.commandCalls(GetCommand)[0]?.args[0].input).toEqual({ TableName: TABLE, Key: { eventId: idAt(1) }, ConsistentRead: true });
  });

  it('asks byUser for one key only to know whether a person has records', async () => {
    // Prepare
    const { mock, reader: onMock } = mocked();
    mock.on(QueryCommand).resolves({ Items: [{ eventId: idAt(1) }] });

    // Act
    const has = await onMock.hasRecordsFor('u');

    // Assess
    expect(has).toBe(true);
    expect(mock.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      IndexName: 'byUser',
      ProjectionExpression: 'eventId',
      Limit: 1,
    });
  });
});
