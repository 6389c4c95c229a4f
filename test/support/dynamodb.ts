import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import {
  createTables,
  LOCAL_AWS_CREDENTIALS,
  type LocalDynamoDb,
  startLocalDynamoDb,
  tableDefinitionsFromServerlessYml,
} from '../../infra/local/dynamodb.ts';
import { ROOT } from '../../infra/local/stack.ts';

/** A document client as the broker builds one (undefined members are left out, not refused). */
export const documentClientOf = (raw: DynamoDBClient): DynamoDBDocumentClient =>
  DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });

/**
 * DynamoDB Local (or dynalite) for the calling test file, with the tables of serverless.yml under `tables`:
 * started in a `beforeAll`, stopped with every client it handed out in an `afterAll`.
 */
export function localTables(
  tables: Parameters<typeof tableDefinitionsFromServerlessYml>[1],
  options: { engine?: 'dynamodb-local' | 'dynalite' } = {},
) {
  let dynamo: LocalDynamoDb | undefined;
  const clients: DynamoDBClient[] = [];
  beforeAll(async () => {
    dynamo = await startLocalDynamoDb(options);
    await createTables(dynamo.endpoint, tableDefinitionsFromServerlessYml(join(ROOT, 'serverless.yml'), tables));
  }, 60_000);
  afterAll(async () => {
    for (const client of clients) client.destroy();
    await dynamo?.close();
  });
  /** A raw client on the tables (to add middleware to), destroyed after the file's tests. */
  const rawClient = (): DynamoDBClient => {
    if (dynamo === undefined) throw new Error('DynamoDB Local is not started yet: call this inside a test or hook');
    const raw = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS });
    clients.push(raw);
    return raw;
  };
  return { rawClient, documentClient: (): DynamoDBDocumentClient => documentClientOf(rawClient()) };
}

/** Every item of a table, page after page (a single Scan stops at 1 MB), read consistently. */
export async function scanAll(client: DynamoDBDocumentClient, tableName: string | undefined): Promise<Record<string, any>[]> {
  const items: Record<string, any>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}
