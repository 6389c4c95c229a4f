import { BatchGetCommand, type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type Entitlement, parseEntitlement } from '../../domain/entitlement.ts';
import { InternalError } from '../../domain/errors.ts';
import type { Principal } from '../../domain/principal.ts';
import type { Clock, EntitlementStore, GrantLookup } from '../../ports/index.ts';
import {
  definitionKey,
  ENTITLEMENT_KEY_PREFIX,
  entitlementIdOf,
  grantedGroupsKey,
  grantLookupKeys,
  grantMatchesOf,
  principalPartitionKeys,
} from './keys.ts';
import { sendOptions } from '../deadline/request-deadline.ts';

const BATCH_LIMIT = 100;
const UNPROCESSED_RETRIES = 3;
type Key = { pk: string; sk: string };
type Item = Record<string, unknown>;

export interface EntitlementStoreOptions {
  /**
   * How long a container keeps an issuer's list of granted groups (KEYVEND_GRANTED_GROUPS_CACHE_SECONDS). A group
   * granted meanwhile is missing from a kept list, which only under-grants for at most this long; 0 reads no list and
   * asks for every group of the caller (docs/adr/0018-granted-groups-list.md).
   */
  readonly grantedGroupsCacheSeconds: number;
  readonly clock: Clock;
}

/** Groups of one issuer that appear in some grant; undefined: the table has no list (an older writer), ask for all. */
type GrantedGroups = ReadonlySet<string> | undefined;

/**
 * Entitlements in DynamoDB, always read with ConsistentRead so that a revoked grant is gone on the very
 * next request. A stored definition that no longer parses fails the request (500) rather than being
 * guessed at.
 */
export class DynamoDbEntitlementStore implements EntitlementStore {
  /** Per issuer: the list last read, and until when it is kept. */
  readonly #grantedGroups = new Map<string, { readonly until: number; readonly groups: GrantedGroups }>();
  /** Per issuer: the read of its list under way (one at a time). */
  readonly #reading = new Map<string, Promise<void>>();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly options: EntitlementStoreOptions = { grantedGroupsCacheSeconds: 0, clock: { now: () => new Date() } },
  ) {}

  /**
   * The definition, the caller's grants (subject and groups), and the revocation marks of the caller's subject and
   * of the entitlement: one consistent BatchGetItem, so revocation costs no extra round trip.
   */
  async lookupGrant(caller: Principal, entitlementId: string): Promise<GrantLookup> {
    const principal = this.#askable(caller);
    const { definition, grants: grantKeys, personMark, entitlementMark, all } = grantLookupKeys(principal, entitlementId);
    const items = await this.#batchGet(all);
    this.#keepGrantedGroupsFresh(caller);
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

  async listGranted(caller: Principal): Promise<Entitlement[]> {
    const principal = this.#askable(caller);
    const pages = await Promise.all(principalPartitionKeys(principal).map((pk) => this.#grantsOf(pk)));
    this.#keepGrantedGroupsFresh(caller);
    const ids = [...new Set(pages.flat())];
    if (ids.length === 0) return [];
    const items = await this.#batchGet(ids.map(definitionKey));
    return items.map(toEntitlement);
  }

  /**
   * The caller with only those of its groups that appear in some grant of its issuer: a group in no grant can grant
   * nothing, so its key need not be asked for. The list is a superset of the granted groups (the writer adds a group
   * before its grant and removes it after its last), so only a list kept from before a new grant can leave out a
   * granting group: that under-grants for at most the cache time, it never widens access. No request waits for the
   * list: without a fresh one it asks for every group, and the list is read after it, for the requests after.
   */
  #askable(principal: Principal): Principal {
    if (principal.groups.length === 0 || this.options.grantedGroupsCacheSeconds === 0) return principal;
    const granted = this.#grantedGroupsOf(principal.issuerId);
    if (granted === undefined) return principal;
    return { ...principal, groups: principal.groups.filter((group) => granted.has(group)) };
  }

  #grantedGroupsOf(issuerId: string): GrantedGroups {
    const kept = this.#grantedGroups.get(issuerId);
    return kept !== undefined && kept.until > this.options.clock.now().getTime() ? kept.groups : undefined;
  }

  /**
   * Starts reading the caller's issuer's list when none is fresh and no read is under way, once the request's own
   * read is done: the request does not wait for it, and on a cold start it reuses the connection the batch opened.
   */
  #keepGrantedGroupsFresh(principal: Principal): void {
    if (principal.groups.length === 0 || this.options.grantedGroupsCacheSeconds === 0) return;
    const { issuerId } = principal;
    const now = this.options.clock.now().getTime();
    const kept = this.#grantedGroups.get(issuerId);
    if ((kept !== undefined && kept.until > now) || this.#reading.has(issuerId)) return;
    // Kept from when the read began: the list was at least that fresh.
    const until = now + this.options.grantedGroupsCacheSeconds * 1000;
    const reading = this.#readGrantedGroups(issuerId)
      .then((groups) => {
        this.#grantedGroups.set(issuerId, { until, groups });
      })
      // Unread, every group is asked for (what it costs, not whom it grants); a later request reads again.
      .catch(() => undefined)
      .finally(() => this.#reading.delete(issuerId));
    this.#reading.set(issuerId, reading);
  }

  async #readGrantedGroups(issuerId: string): Promise<GrantedGroups> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: grantedGroupsKey(issuerId), ConsistentRead: true }),
      sendOptions(),
    );
    if (Item === undefined) return undefined;
    const groups = Item['groups'];
    // The item without its set: no group of this issuer is granted (DynamoDB stores no empty set).
    if (groups === undefined) return new Set();
    if (!(groups instanceof Set)) return undefined;
    return new Set([...groups].filter((group): group is string => typeof group === 'string'));
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
