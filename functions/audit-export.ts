import type { DynamoDBStreamEvent } from 'aws-lambda';
import { exportAuditStream, logger } from '../src/container.ts';

const exportBatch = exportAuditStream(); // at init: without its bucket and head table the function does not start

/**
 * The audit table's stream → one hash-chained, Object-Locked batch object per invocation (ADR 0011). A failure
 * throws, and Lambda retries the same batch (the event source mapping keeps shard order), so nothing is skipped.
 */
export const handler = async (event: DynamoDBStreamEvent): Promise<void> => {
  const link = await exportBatch(event.Records);
  if (link !== undefined)
    logger().info('keyvend.audit_export', { sequence: link.sequence, sha256: link.sha256, changes: event.Records.length });
};
