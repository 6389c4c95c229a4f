import { BatchGetCommand, type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type Entitlement, parseEntitlement } from '../../domain/entitlement.ts';
import { InternalError } from '../../domain/errors.ts';
import type { Principal } from '../../domain/principal.ts';
import type { EntitlementStore, GrantLookup } from '../../ports/index.ts';
import {
  definitionKey,
  ENTITLEMENT_KEY_PREFIX,
  entitlementIdOf,
  grantKey,
  grantMatchesOf,
  principalPartitionKeys,
  REVOCATION_MARK_SK,
  subjectPartitionKey,
} from './keys.ts';
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

  /**
   * The definition, the caller's grants (subject and groups), and the revocation marks of the caller's subject and
   * of the entitlement: one consistent BatchGetItem, so revocation costs no extra round trip.
   */
  async lookupGrant(principal: Principal, entitlementId: string): Promise<GrantLookup> {
    const definition = definitionKey(entitlementId);
    const grantKeys = principalPartitionKeys(principal).map((pk) => grantKey(pk, entitlementId));
    const personMark = { pk: subjectPartitionKey(principal.issuerId, principal.subject), sk: REVOCATION_MARK_SK };
    const entitlementMark = { pk: definition.pk, sk: REVOCATION_MARK_SK };
    const items = await this.#batchGet([definition, ...grantKeys, personMark, entitlementMark]);
    const at = (key: Key) => items.find((item) => item['pk'] === key.pk && item['sk'] === key.sk);
    const definitionItem = at(definition);
    const stored = definitionItem === undefined ? undefined : toEntitlement(definitionItem);
    const grantedBy = stored === undefined ? [] : grantMatchesOf(principal).filter((_, index) => at(grantKeys[index] as Key) !== undefined);
    const person = at(personMark);
    const revoked = markOf(person?.['person'], 'person') ?? markOf(at(entitlementMark)?.['entitlement'], 'entitlement');
    return {
      entitlement: grantedBy.length === 0 ? undefined : stored,
      definition: stored,
      grantedBy,
      revoked,
      revokedGrantIds: grantIdsOf(person?.['grants']),
    };
  }

  async findGranted(principal: Principal, entitlementId: string): Promise<Entitlement | undefined> {
    const lookup = await this.lookupGrant(principal, entitlementId);
    return lookup.revoked === undefined ? lookup.entitlement : undefined;
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

  /**
   * One BatchGetItem per 100 keys, sent at once: a caller with more than 98 groups costs one more request in parallel,
   * not one more round trip (issue 14, bench/results.md "Scale").
   */
  async #batchGet(keys: Key[]): Promise<Item[]> {
    const chunks: Key[][] = [];
    for (let offset = 0; offset < keys.length; offset += BATCH_LIMIT) chunks.push(keys.slice(offset, offset + BATCH_LIMIT));
    return (await Promise.all(chunks.map((chunk) => this.#batchGetChunk(chunk)))).flat();
  }

  async #batchGetChunk(keys: Key[]): Promise<Item[]> {
    const found: Item[] = [];
    let pending: Key[] = keys;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > UNPROCESSED_RETRIES) throw new Error('DynamoDB left keys unprocessed after retries');
      const result = await this.client.send(
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }),
        sendOptions(),
      );
      found.push(...(result.Responses?.[this.tableName] ?? []));
      pending = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Key[];
    }
    return found;
  }
}

function toEntitlement(item: Item): Entitlement {
  const parsed = parseEntitlement(item['definition']);
  if (!parsed.ok) throw new InternalError('entitlement_corrupt', { cause: new Error(parsed.problems.join('; ')) });
  return parsed.entitlement;
}

/** A revocation mark as stored; anything present but unreadable counts as revoked (fail closed). */
function markOf(mark: unknown, kind: 'person' | 'entitlement'): GrantLookup['revoked'] {
  if (mark === undefined) return undefined;
  const id = typeof mark === 'object' && mark !== null ? (mark as Record<string, unknown>)['id'] : undefined;
  return { kind, revocationId: typeof id === 'string' ? id : 'unreadable' };
}

function grantIdsOf(grants: unknown): string[] {
  if (grants instanceof Set) return [...grants].filter((id): id is string => typeof id === 'string').sort();
  return [];
}
