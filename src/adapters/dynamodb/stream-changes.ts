import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AuditChange } from '../../domain/audit-chain.ts';

/** A DynamoDB stream record, as a Lambda event carries it and as GetRecords returns it (the same shape). */
export interface StreamRecord {
  readonly eventName?: string | undefined;
  readonly dynamodb?:
    | {
        readonly Keys?: Record<string, unknown> | undefined;
        readonly NewImage?: Record<string, unknown> | undefined;
        readonly OldImage?: Record<string, unknown> | undefined;
        readonly SequenceNumber?: string | undefined;
        readonly ApproximateCreationDateTime?: number | Date | undefined;
      }
    | undefined;
  readonly userIdentity?: { readonly type?: string | undefined; readonly principalId?: string | undefined } | undefined;
}

const image = (value: Record<string, unknown> | undefined) =>
  value === undefined ? undefined : unmarshall(value as Record<string, AttributeValue>);

/** The audit changes of stream records; a record without a key or an event name is a malformed event and throws. */
export function auditChangesOf(records: readonly StreamRecord[]): AuditChange[] {
  return records.map((record) => {
    const { eventName, dynamodb } = record;
    if ((eventName !== 'INSERT' && eventName !== 'MODIFY' && eventName !== 'REMOVE') || dynamodb?.Keys === undefined) {
      throw new Error('not a DynamoDB stream record');
    }
    const keys = image(dynamodb.Keys) ?? {};
    const created = dynamodb.ApproximateCreationDateTime;
    const newImage = image(dynamodb.NewImage);
    const oldImage = image(dynamodb.OldImage);
    return {
      eventName,
      sequenceNumber: String(dynamodb.SequenceNumber ?? ''),
      approximateCreationTime: created instanceof Date ? Math.floor(created.getTime() / 1000) : created,
      // TTL deletions are made by DynamoDB's own service principal (AWS's "Streams and Time to Live").
      byTtl: record.userIdentity?.type === 'Service' && record.userIdentity.principalId === 'dynamodb.amazonaws.com',
      eventId: String(keys['eventId']),
      ...(newImage === undefined ? {} : { newImage }),
      ...(oldImage === undefined ? {} : { oldImage }),
    };
  });
}
