import { BatchWriteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { GrantTarget } from '../domain/entitlement.ts';
import {
  definitionKey,
  DEFINITION_SK,
  ENTITLEMENT_KEY_PREFIX,
  entitlementIdOf,
  GRANTED_GROUPS_SK,
  grantedGroupsKey,
  grantPartitionKey,
  grantPartitionOf,
  grantSortKey,
} from '../adapters/dynamodb/keys.ts';
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
 * Writes validated entitlements so that, whenever the run stops, nobody holds more than the old or the new
 * file gives them: removed grants are revoked first (the old definition still applies to those left), then
 * the definition is replaced (only grantees of both files see it change), and only then are new grants added,
 * so a new grantee never meets the old, possibly wider, definition. The grant list stored beside the
 * definition is what the next run diffs against, so it is written to match what the table holds at each
 * step: the kept grants with the new definition, the full list once the additions are in.
 *
 * Each issuer's list of granted groups (what the broker's read asks for, ADR 0018) follows the same order: a group is
 * added before its first grant is written, and removed only at the end of the run, after every deletion, when the
 * grants left in the table are read back; so the list always holds every group that some grant names.
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
    const definitionChanged = oldDefinition === undefined || canonicalJson(oldBody) !== canonicalJson(body);

    const version = definitionChanged ? oldVersion + 1 : oldVersion;
    const putDefinition = (stored: readonly GrantTarget[]) =>
      client.send(
        new PutCommand({
          TableName: tableName,
          Item: { ...definitionKey(entitlement.id), definition: { ...body, version }, grants: stored },
        }),
      );

    await batchWrite(
      client,
      tableName,
      revoked.map((pk) => ({ DeleteRequest: { Key: { pk, sk: grantSortKey(entitlement.id) } } })),
    );
    if (definitionChanged || revoked.length > 0) {
      // A run that stops after this write finds only the kept grants recorded, and adds the rest next time.
      await putDefinition(grants.filter((g) => !added.includes(grantPartitionKey(g))));
    }
    if (added.length > 0) {
      await addGrantedGroups(
        client,
        tableName,
        grants.filter((g) => 'group' in g && added.includes(grantPartitionKey(g))),
      );
      await batchWrite(
        client,
        tableName,
        added.map((pk) => ({ PutRequest: { Item: { pk, sk: grantSortKey(entitlement.id) } } })),
      );
      await putDefinition(grants);
    }
    if (definitionChanged || revoked.length > 0 || added.length > 0) summary.written.push(entitlement.id);
    else summary.unchanged.push(entitlement.id);
    summary.revokedGrants += revoked.length;
    summary.addedGrants += added.length;
  }
  if (options.prune) {
    const keep = new Set(entries.map((e) => e.entitlement.id));
    for (const item of await scanDefinitions(client, tableName)) {
      const id = entitlementIdOf(String(item['pk']));
      if (keep.has(id)) continue;
      const grants = ((item['grants'] as GrantTarget[] | undefined) ?? []).map(grantPartitionKey);
      await batchWrite(
        client,
        tableName,
        grants.map((pk) => ({ DeleteRequest: { Key: { pk, sk: grantSortKey(id) } } })),
      );
      await batchWrite(client, tableName, [{ DeleteRequest: { Key: definitionKey(id) } }]);
      summary.pruned.push(id);
    }
  }
  await reconcileGrantedGroups(client, tableName);
  return summary;
}

/**
 * JSON with every object's keys sorted: DynamoDB returns a map's keys in an order of its own, so the stored
 * definition and the file's would otherwise differ on every run. List order is kept (it can matter in a policy).
 */
function canonicalJson(node: unknown): string {
  const sorted = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(sorted)
      : typeof value === 'object' && value !== null
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .map((key) => [key, sorted((value as Record<string, unknown>)[key])]),
          )
        : value;
  return JSON.stringify(sorted(node));
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

/** Adds the groups of these grants to their issuers' lists before the grants are written (ADR 0018). */
async function addGrantedGroups(client: DynamoDBDocumentClient, tableName: string, groupGrants: readonly GrantTarget[]): Promise<void> {
  const byIssuer = new Map<string, Set<string>>();
  for (const grant of groupGrants) {
    if (!('group' in grant)) continue;
    byIssuer.set(grant.issuer, (byIssuer.get(grant.issuer) ?? new Set()).add(grant.group));
  }
  for (const [issuer, groups] of byIssuer) await updateGrantedGroups(client, tableName, issuer, 'ADD', groups);
}

/**
 * Makes every issuer's list of granted groups exactly the groups its grant items name, read after this run's deletions:
 * a group is dropped only once no grant names it, a list left short (a table an older writer applied, a run that
 * stopped) gains what it lacks, and an issuer with grants but no list gets one. Writes nothing when all agree.
 */
async function reconcileGrantedGroups(client: DynamoDBDocumentClient, tableName: string): Promise<void> {
  const granted = new Map<string, Set<string>>();
  const listed = new Map<string, Set<string>>();
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        FilterExpression: '(begins_with(pk, :p) AND begins_with(sk, :ent)) OR sk = :groups',
        ExpressionAttributeValues: { ':p': 'P#', ':ent': ENTITLEMENT_KEY_PREFIX, ':groups': GRANTED_GROUPS_SK },
        ProjectionExpression: 'pk, sk, #issuer, #groups',
        ExpressionAttributeNames: { '#issuer': 'issuer', '#groups': 'groups' },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      if (item['sk'] === GRANTED_GROUPS_SK) {
        if (typeof item['issuer'] !== 'string' || grantedGroupsKey(item['issuer']).pk !== item['pk']) continue;
        const groups = item['groups'] instanceof Set ? [...item['groups']].filter((g): g is string => typeof g === 'string') : [];
        listed.set(item['issuer'], new Set(groups));
        continue;
      }
      const grant = grantPartitionOf(String(item['pk']));
      if (grant === undefined) continue;
      const groups = granted.get(grant.issuerId) ?? new Set<string>();
      if (grant.kind === 'grp') groups.add(grant.name);
      granted.set(grant.issuerId, groups);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);

  for (const issuer of new Set([...granted.keys(), ...listed.keys()])) {
    const want = granted.get(issuer) ?? new Set<string>();
    const have = listed.get(issuer);
    const missing = [...want].filter((group) => have === undefined || !have.has(group));
    const extra = [...(have ?? [])].filter((group) => !want.has(group));
    if (have === undefined || missing.length > 0) await updateGrantedGroups(client, tableName, issuer, 'ADD', new Set(missing));
    if (extra.length > 0) await updateGrantedGroups(client, tableName, issuer, 'DELETE', new Set(extra));
  }
}

/** ADD or DELETE on the list's string set; the item is created (with its issuer) if absent, never overwritten. */
async function updateGrantedGroups(
  client: DynamoDBDocumentClient,
  tableName: string,
  issuer: string,
  action: 'ADD' | 'DELETE',
  groups: ReadonlySet<string>,
): Promise<void> {
  const change = groups.size > 0 ? ` ${action} #groups :groups` : '';
  await client.send(
    new UpdateCommand({
      TableName: tableName,
      Key: grantedGroupsKey(issuer),
      UpdateExpression: `SET #issuer = :issuer${change}`,
      ExpressionAttributeNames: { '#issuer': 'issuer', ...(groups.size > 0 ? { '#groups': 'groups' } : {}) },
      ExpressionAttributeValues: { ':issuer': issuer, ...(groups.size > 0 ? { ':groups': groups } : {}) },
    }),
  );
}
