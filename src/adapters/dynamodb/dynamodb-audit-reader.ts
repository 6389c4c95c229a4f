import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { AuditRecord } from '../../domain/audit-record.ts';
import type { AuditReader } from '../../ports/index.ts';
import { sendOptions } from '../deadline/request-deadline.ts';

/** Narrow reads of the audit table for admin actions: one record by its key, and whether a person has any record. */
export class DynamoDbAuditReader implements AuditReader {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(eventId: string): Promise<AuditRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { eventId }, ConsistentRead: true }),
      sendOptions(),
    );
    if (Item === undefined || typeof Item['eventId'] !== 'string') return undefined;
    // The table's own attributes (index keys, TTL) are not the record's.
    const { userKey: _userKey, expiresAt: _expiresAt, entitlementId: _entitlementId, day: _day, ...record } = Item;
    return record as AuditRecord;
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
}
