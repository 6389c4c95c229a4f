import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { AuditRecord } from '../../domain/audit-record.ts';
import type { AuditLog } from '../../ports/index.ts';

/**
 * The audit table: one item per decision, keyed by its time-ordered event id, with a `byUser` index
 * (userKey, time) for "what did this person get". Items expire after the retention period (TTL).
 * Writes are conditional so a record can be neither overwritten nor closed twice.
 */
export class DynamoDbAuditLog implements AuditLog {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionDays: number,
  ) {}

  async open(record: AuditRecord): Promise<void> {
    await this.#put(record, 'attribute_not_exists(eventId)');
  }

  async close(record: AuditRecord): Promise<void> {
    await this.#put(record, 'outcome = :pending', { ':pending': 'pending' });
  }

  async record(record: AuditRecord): Promise<void> {
    await this.#put(record, 'attribute_not_exists(eventId)');
  }

  async #put(record: AuditRecord, condition: string, values?: Record<string, string>): Promise<void> {
    const expiresAt = Math.floor(Date.parse(record.time) / 1000) + this.retentionDays * 86_400;
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...record, userKey: record.caller?.userKey ?? 'anonymous', expiresAt },
        ConditionExpression: condition,
        ...(values === undefined ? {} : { ExpressionAttributeValues: values }),
      }),
    );
  }
}
