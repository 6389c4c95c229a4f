import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { type AuditRecord, AuditConflictError } from '../../domain/audit-record.ts';
import type { AnonymousRefusal } from '../../domain/anonymous-refusal.ts';
import type { AuditLog } from '../../ports/index.ts';
import { countAnonymousRefusal } from './anonymous-aggregates.ts';
import { sendOptions } from '../deadline/request-deadline.ts';

/**
 * The audit table: one item per decision, keyed by its time-ordered event id, with a `byUser` index
 * (userKey, time) for "what did this person get". Items expire after the retention period (TTL).
 * Writes are conditional so a record can be neither overwritten nor closed twice; a failed condition
 * becomes an AuditConflictError carrying the stored record, read back with a consistent read.
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

  async countAnonymous(refusal: AnonymousRefusal): Promise<void> {
    await countAnonymousRefusal(this.client, this.tableName, this.retentionDays, refusal);
  }

  async #put(record: AuditRecord, condition: string, values?: Record<string, string>): Promise<void> {
    const expiresAt = Math.floor(Date.parse(record.time) / 1000) + this.retentionDays * 86_400;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...record, userKey: record.caller?.userKey ?? 'anonymous', expiresAt },
          ConditionExpression: condition,
          ...(values === undefined ? {} : { ExpressionAttributeValues: values }),
        }),
        sendOptions(),
      );
    } catch (error) {
      if ((error as { name?: unknown } | undefined)?.name !== 'ConditionalCheckFailedException') throw error;
      throw new AuditConflictError(await this.#read(record.eventId), { cause: error });
    }
  }

  async #read(eventId: string): Promise<AuditRecord | undefined> {
    // Consistent: an eventually consistent read could still show the pending record our own retry overwrote.
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { eventId }, ConsistentRead: true }),
      sendOptions(),
    );
    if (Item === undefined) return undefined;
    const { userKey: _userKey, expiresAt: _expiresAt, ...stored } = Item;
    return stored as AuditRecord;
  }
}
