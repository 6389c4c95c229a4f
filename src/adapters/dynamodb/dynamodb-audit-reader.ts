import { BatchGetCommand, type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { AuditRecord } from '../../domain/audit-record.ts';
import { auditRecordOfItem } from './dynamodb-audit-log.ts';
import { type AuditCursor, type AuditQuery, eventIdBounds, indexFor, partitionsFor } from '../../domain/audit-query.ts';
import type { AuditPage, AuditReader, AuditRecordLookup } from '../../ports/index.ts';
import { sendOptions } from '../deadline/request-deadline.ts';

const BATCH_LIMIT = 100;
const UNPROCESSED_RETRIES = 3;
/** Index entries read per Query call when a filter may drop some: enough to fill most pages in one call. */
const FILTERED_READ = 200;
const HASH_KEY = { byUser: 'userKey', byEntitlement: 'entitlementId', byDay: 'day' } as const;
type Item = Record<string, unknown>;

/**
 * Audit queries on the audit table's GSIs (serverless.yml `AuditTable`). The indexes project only the keys and
 * `outcome` (plus `entitlementId` on byUser), so a page is found on the index, newest first, with the filters
 * applied there, and its items are then read from the table in one BatchGetItem per hundred. The cursor is the
 * last event id returned, so a page ends exactly where the caller's limit does, whatever the filter dropped.
 */
export class DynamoDbAuditReader implements AuditReader, AuditRecordLookup {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(eventId: string): Promise<AuditRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { eventId }, ConsistentRead: true }),
      sendOptions(),
    );
    return Item === undefined || typeof Item['eventId'] !== 'string' ? undefined : auditRecordOfItem(Item);
  }

  async hasRecordsFor(userKey: string): Promise<boolean> {
    const page = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'byUser',
        KeyConditionExpression: 'userKey = :u',
        ExpressionAttributeValues: { ':u': userKey },
        ProjectionExpression: 'eventId',
        Limit: 1,
      }),
      sendOptions(),
    );
    return (page.Items ?? []).length > 0;
  }

  async query(query: AuditQuery, cursor: AuditCursor | undefined): Promise<AuditPage> {
    const index = indexFor(query);
    const hashKey = HASH_KEY[index];
    const partitions = partitionsFor(query);
    const start = cursor === undefined ? 0 : partitions.indexOf(cursor.partition);
    const { lowest, highest } = eventIdBounds(query.from, query.to);
    const filters = [
      ...(query.outcome === undefined ? [] : ['outcome = :outcome']),
      ...(index === 'byUser' && query.entitlementId !== undefined ? ['entitlementId = :entitlementId'] : []),
    ];
    const found: string[] = [];
    let next: AuditCursor | undefined;
    for (let p = Math.max(start, 0); p < partitions.length && next === undefined; p++) {
      const partition = partitions[p] ?? '';
      let startKey: Item | undefined =
        cursor !== undefined && partition === cursor.partition ? { eventId: cursor.after, [hashKey]: partition } : undefined;
      do {
        const remaining = query.limit - found.length;
        const page = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: index,
            KeyConditionExpression: '#h = :h AND eventId BETWEEN :lowest AND :highest',
            ...(filters.length === 0 ? {} : { FilterExpression: filters.join(' AND ') }),
            ExpressionAttributeNames: { '#h': hashKey },
            ExpressionAttributeValues: {
              ':h': partition,
              ':lowest': lowest,
              ':highest': highest,
              ...(query.outcome === undefined ? {} : { ':outcome': query.outcome }),
              ...(index === 'byUser' && query.entitlementId !== undefined ? { ':entitlementId': query.entitlementId } : {}),
            },
            ScanIndexForward: false,
            Limit: filters.length === 0 ? remaining : Math.max(remaining, FILTERED_READ),
            ExclusiveStartKey: startKey,
          }),
          sendOptions(),
        );
        for (const item of page.Items ?? []) {
          if (found.length === query.limit) break;
          found.push(String(item['eventId']));
        }
        startKey = page.LastEvaluatedKey;
        if (found.length === query.limit) {
          const last = found.at(-1) ?? '';
          // A full page: the next one starts after its last item, in this partition or (if it ended here) the next.
          next = { partition, after: last };
        }
      } while (startKey !== undefined && next === undefined);
    }
    return { items: await this.#batchGet(found), next };
  }

  /** The items, in the order of `eventIds`. */
  async #batchGet(eventIds: readonly string[]): Promise<Item[]> {
    const byId = new Map<string, Item>();
    for (let offset = 0; offset < eventIds.length; offset += BATCH_LIMIT) {
      let pending = eventIds.slice(offset, offset + BATCH_LIMIT).map((eventId) => ({ eventId }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > UNPROCESSED_RETRIES) throw new Error('DynamoDB left keys unprocessed after retries');
        const result = await this.client.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending } } }),
          sendOptions(),
        );
        for (const item of result.Responses?.[this.tableName] ?? []) byId.set(String(item['eventId']), item);
        pending = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as { eventId: string }[];
      }
    }
    return eventIds.flatMap((eventId) => {
      const item = byId.get(eventId);
      return item === undefined ? [] : [item];
    });
  }
}
