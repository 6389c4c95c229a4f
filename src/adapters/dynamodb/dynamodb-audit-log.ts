import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { type AuditRecord, AuditConflictError, auditItemKeys } from '../../domain/audit-record.ts';
import type { AnonymousRefusal } from '../../domain/anonymous-refusal.ts';
import type { AuditLog } from '../../ports/index.ts';
import { countAnonymousRefusal } from './anonymous-aggregates.ts';
import { sendOptions } from '../deadline/request-deadline.ts';

/** Attributes the table adds to a record: the index keys and the TTL. Stripped again when a record is read back. */
const STORAGE_ONLY = ['userKey', 'entitlementId', 'day', 'expiresAt'] as const;

/**
 * The audit table: one item per decision, keyed by its time-ordered event id, written once with
 * `attribute_not_exists(eventId)` and never updated (the table's resource policy refuses updates and deletes to
 * the broker; ADR 0011). The item carries the query indexes' keys at top level: `userKey` (absent without a
 * verified caller), `entitlementId` (when known), `day` (YYYY-MM-DD, UTC, of `time`). Items leave the table by TTL
 * after the hot window; the long-term store is the hash-chained export in S3. A failed condition becomes an
 * AuditConflictError carrying the stored record, read back with a consistent read.
 */
export class DynamoDbAuditLog implements AuditLog {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionDays: number,
  ) {}

  async record(record: AuditRecord): Promise<void> {
    if (record.outcome === 'pending') throw new Error('an undecided audit record is never stored');
    const expiresAt = Math.floor(Date.parse(record.time) / 1000) + this.retentionDays * 86_400;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...record, ...auditItemKeys(record), expiresAt },
          ConditionExpression: 'attribute_not_exists(eventId)',
        }),
        sendOptions(),
      );
    } catch (error) {
      if ((error as { name?: unknown } | undefined)?.name !== 'ConditionalCheckFailedException') throw error;
      throw new AuditConflictError(await this.#read(record.eventId), { cause: error });
    }
  }

  async countAnonymous(refusal: AnonymousRefusal): Promise<void> {
    await countAnonymousRefusal(this.client, this.tableName, this.retentionDays, refusal);
  }

  async #read(eventId: string): Promise<AuditRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { eventId }, ConsistentRead: true }),
      sendOptions(),
    );
    return Item === undefined ? undefined : auditRecordOfItem(Item);
  }
}

/** The record an audit item holds, without the attributes only the table needs. */
export function auditRecordOfItem(item: Record<string, unknown>): AuditRecord {
  const stored = { ...item };
  for (const attribute of STORAGE_ONLY) delete stored[attribute];
  return stored as unknown as AuditRecord;
}
