import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
} from '@aws-sdk/lib-dynamodb';
import type { GrantTarget } from '../domain/entitlement.ts';
import { definitionKey, DEFINITION_SK, grantPartitionKey, grantSortKey } from '../adapters/dynamodb/keys.ts';
import type { EntitlementWithGrants } from './entitlements-file.ts';

type WriteRequest = { PutRequest: { Item: Record<string, unknown> } } | { DeleteRequest: { Key: Record<string, unknown> } };

export interface ApplySummary {
  readonly written: string[];
  readonly unchanged: string[];
  readonly revokedGrants: number;
  readonly addedGrants: number;
  readonly pruned: string[];
}

/**
 * Writes validated entitlements. Revocations go first, then new grants, then the definition: at no moment
 * does anyone hold a grant that neither the old nor the new file gives them.
 */
export async function applyEntitlements(
  client: DynamoDBDocumentClient,
  tableName: string,
  entries: readonly EntitlementWithGrants[],
  options: { prune: boolean },
): Promise<ApplySummary> {
  const summary = { written: [] as string[], unchanged: [] as string[], revokedGrants: 0, addedGrants: 0, pruned: [] as string[] };
  for (const { entitlement, grants } of entries) {
    const existing = await client.send(new GetCommand({ TableName: tableName, Key: definitionKey(entitlement.id), ConsistentRead: true }));
    const oldGrants = ((existing.Item?.['grants'] as GrantTarget[] | undefined) ?? []).map(grantPartitionKey);
    const newGrants = grants.map(grantPartitionKey);
    const revoked = oldGrants.filter((pk) => !newGrants.includes(pk));
    const added = newGrants.filter((pk) => !oldGrants.includes(pk));
    const oldDefinition = existing.Item?.['definition'] as { version?: number } | undefined;
    const { version: _ignored, ...body } = entitlement;
    const { version: oldVersion = 0, ...oldBody } = oldDefinition ?? {};
    const definitionChanged = oldDefinition === undefined || JSON.stringify(oldBody) !== JSON.stringify(body);

    await batchWrite(client, tableName, revoked.map((pk) => ({ DeleteRequest: { Key: { pk, sk: grantSortKey(entitlement.id) } } })));
    await batchWrite(client, tableName, added.map((pk) => ({ PutRequest: { Item: { pk, sk: grantSortKey(entitlement.id) } } })));
    if (definitionChanged || revoked.length > 0 || added.length > 0) {
      const version = definitionChanged ? oldVersion + 1 : oldVersion;
      await client.send(
        new PutCommand({
          TableName: tableName,
          Item: { ...definitionKey(entitlement.id), definition: { ...body, version }, grants },
        }),
      );
      summary.written.push(entitlement.id);
    } else {
      summary.unchanged.push(entitlement.id);
    }
    summary.revokedGrants += revoked.length;
    summary.addedGrants += added.length;
  }
  if (options.prune) {
    const keep = new Set(entries.map((e) => e.entitlement.id));
    for (const item of await scanDefinitions(client, tableName)) {
      const id = String(item['pk']).slice('ENT#'.length);
      if (keep.has(id)) continue;
      const grants = ((item['grants'] as GrantTarget[] | undefined) ?? []).map(grantPartitionKey);
      await batchWrite(client, tableName, grants.map((pk) => ({ DeleteRequest: { Key: { pk, sk: grantSortKey(id) } } })));
      await batchWrite(client, tableName, [{ DeleteRequest: { Key: definitionKey(id) } }]);
      summary.pruned.push(id);
    }
  }
  return summary;
}

async function scanDefinitions(client: DynamoDBDocumentClient, tableName: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        FilterExpression: 'sk = :def',
        ExpressionAttributeValues: { ':def': DEFINITION_SK },
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

async function batchWrite(client: DynamoDBDocumentClient, tableName: string, requests: WriteRequest[]): Promise<void> {
  for (let offset = 0; offset < requests.length; offset += 25) {
    let pending = requests.slice(offset, offset + 25);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 5) throw new Error('DynamoDB left writes unprocessed after retries');
      const result = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
      pending = (result.UnprocessedItems?.[tableName] ?? []) as WriteRequest[];
      if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
    }
  }
}
