import { BatchGetCommand, type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type Entitlement, parseEntitlement } from '../../domain/entitlement.ts';
import { InternalError } from '../../domain/errors.ts';
import type { Principal } from '../../domain/principal.ts';
import type { EntitlementStore, GrantLookup, GrantMatch } from '../../ports/index.ts';
import { definitionKey, ENTITLEMENT_KEY_PREFIX, entitlementIdOf, grantKey, grantMatchesOf, principalPartitionKeys } from './keys.ts';
import { sendOptions } from '../deadline/request-deadline.ts';

const BATCH_LIMIT = 100;
const UNPROCESSED_RETRIES = 3;
type Key = { pk: string; sk: string };
type Item = Record<string, unknown>;

/**
 * Entitlements in DynamoDB, always read with ConsistentRead so that a revoked grant is gone on the very
 * next request. A stored definition that no longer parses fails the request (500) rather than being
 * guessed at.
 */
export class DynamoDbEntitlementStore implements EntitlementStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async findGranted(principal: Principal, entitlementId: string): Promise<Entitlement | undefined> {
    const { definitionItem, grantedBy } = await this.#readGrants(principal, entitlementId);
    if (definitionItem === undefined || grantedBy.length === 0) return undefined;
    return toEntitlement(definitionItem);
  }

  async lookUpGrants(principal: Principal, entitlementId: string): Promise<GrantLookup> {
    const { definitionItem, grantedBy } = await this.#readGrants(principal, entitlementId);
    if (definitionItem === undefined) return { entitlement: undefined, grantedBy: [] };
    return { entitlement: toEntitlement(definitionItem), grantedBy };
  }

  /** The definition and the principal's grants of it, in one consistent BatchGetItem. */
  async #readGrants(principal: Principal, entitlementId: string): Promise<{ definitionItem: Item | undefined; grantedBy: GrantMatch[] }> {
    const definition = definitionKey(entitlementId);
    const grantKeys = principalPartitionKeys(principal).map((pk) => grantKey(pk, entitlementId));
    const items = await this.#batchGet([definition, ...grantKeys]);
    const definitionItem = items.find((item) => item['pk'] === definition.pk && item['sk'] === definition.sk);
    const matched = new Set(items.filter((item) => item['sk'] !== definition.sk).map((item) => String(item['pk'])));
    const grantedBy = grantMatchesOf(principal).filter((_, index) => matched.has(grantKeys[index]?.pk ?? ''));
    return { definitionItem, grantedBy };
  }

  async listGranted(principal: Principal): Promise<Entitlement[]> {
    const pages = await Promise.all(principalPartitionKeys(principal).map((pk) => this.#grantsOf(pk)));
    const ids = [...new Set(pages.flat())];
    if (ids.length === 0) return [];
    const items = await this.#batchGet(ids.map(definitionKey));
    return items.map(toEntitlement);
  }

  async #grantsOf(pk: string): Promise<string[]> {
    const ids: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          ConsistentRead: true,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ent)',
          ExpressionAttributeValues: { ':pk': pk, ':ent': ENTITLEMENT_KEY_PREFIX },
          ProjectionExpression: 'sk',
          ExclusiveStartKey: startKey,
        }),
        sendOptions(),
      );
      for (const item of page.Items ?? []) ids.push(entitlementIdOf(String(item['sk'])));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return ids;
  }

  async #batchGet(keys: Key[]): Promise<Item[]> {
    const found: Item[] = [];
    for (let offset = 0; offset < keys.length; offset += BATCH_LIMIT) {
      let pending: Key[] = keys.slice(offset, offset + BATCH_LIMIT);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > UNPROCESSED_RETRIES) throw new Error('DynamoDB left keys unprocessed after retries');
        const result = await this.client.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }),
          sendOptions(),
        );
        found.push(...(result.Responses?.[this.tableName] ?? []));
        pending = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Key[];
      }
    }
    return found;
  }
}

function toEntitlement(item: Item): Entitlement {
  const parsed = parseEntitlement(item['definition']);
  if (!parsed.ok) throw new InternalError('entitlement_corrupt', { cause: new Error(parsed.problems.join('; ')) });
  return parsed.entitlement;
}
