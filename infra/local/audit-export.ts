import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { StreamRecord } from '../../src/adapters/dynamodb/stream-changes.ts';
import { LOCAL_AWS_CREDENTIALS } from './dynamodb.ts';

export interface LocalStreamExport {
  /** Resolves once every change made to the table before the call has been exported. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/**
 * What Lambda's event source mapping does in AWS, for the local stack: polls each shard of the audit table's stream
 * (DynamoDB Local serves DynamoDB Streams) in order and hands each non-empty batch of records to `exportBatch`, the
 * very function the `auditExport` Lambda handler calls. A failed batch is retried from the same position, as Lambda
 * retries it, so no change is skipped.
 */
export async function startLocalStreamExport(options: {
  endpoint: string;
  tableName: string;
  exportBatch: (records: readonly StreamRecord[]) => Promise<unknown>;
  log?: (line: string) => void;
  intervalMs?: number;
}): Promise<LocalStreamExport> {
  const settings = { endpoint: options.endpoint, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS };
  const dynamo = new DynamoDBClient(settings);
  const streams = new DynamoDBStreamsClient(settings);
  const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: options.tableName }));
  dynamo.destroy();
  const streamArn = Table?.LatestStreamArn;
  if (streamArn === undefined) throw new Error(`${options.tableName} has no stream`);
  const iterators = new Map<string, string | undefined>();
  let stopped = false;
  // One poll at a time, whoever asks (the loop or drain), so a shard's iterator is never used twice.
  let queue: Promise<void> = Promise.resolve();
  const poll = (): Promise<void> => {
    queue = queue.then(pollOnce).catch((error: unknown) => options.log?.(`audit export: ${(error as Error).message} (retrying)`));
    return queue;
  };

  // The last sequence number exported per shard: a lost iterator resumes after it, never from the start again.
  const exportedUpTo = new Map<string, string>();
  const pollOnce = async (): Promise<void> => {
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    for (const shard of StreamDescription?.Shards ?? []) {
      const shardId = shard.ShardId ?? '';
      if (!iterators.has(shardId)) {
        const after = exportedUpTo.get(shardId);
        const { ShardIterator } = await streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shardId,
            ...(after === undefined
              ? { ShardIteratorType: 'TRIM_HORIZON' }
              : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after }),
          }),
        );
        iterators.set(shardId, ShardIterator);
      }
      const iterator = iterators.get(shardId);
      if (iterator === undefined) continue; // a closed shard, read to its end
      let page: Awaited<ReturnType<typeof getRecords>>;
      try {
        page = await getRecords(iterator);
      } catch (error) {
        // DynamoDB Local invalidates an iterator taken on an empty shard (TrimmedDataAccessException), and any
        // iterator expires after 15 minutes: take a new one on the next pass.
        iterators.delete(shardId);
        const name = (error as { name?: string }).name;
        if (name === 'TrimmedDataAccessException' || name === 'ExpiredIteratorException') continue;
        throw error;
      }
      const records = page.Records ?? [];
      if (records.length > 0) {
        await options.exportBatch(records as StreamRecord[]);
        const last = records.at(-1)?.dynamodb?.SequenceNumber;
        if (last !== undefined) exportedUpTo.set(shardId, last);
      }
      iterators.set(shardId, page.NextShardIterator);
    }
  };
  const getRecords = (iterator: string) => streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 100 }));
  const loop = async () => {
    while (!stopped) {
      await poll();
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
    }
  };
  void loop();
  return {
    drain: async () => {
      // Two full passes after the call: the first may have started before the change reached the stream.
      await poll();
      await poll();
    },
    close: async () => {
      stopped = true;
      await queue;
      streams.destroy();
    },
  };
}
