import { type DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { InternalError } from '../../domain/errors.ts';
import { parseStoredRevocation, type Revocation, sameTarget } from '../../domain/revocation.ts';
import type { RevocationState, RevocationStore } from '../../ports/index.ts';
import { sendOptions } from '../deadline/request-deadline.ts';
import {
  definitionKey,
  ENTITLEMENT_KEY_PREFIX,
  REVOCATION_MARK_SK,
  REVOCATION_SK_PREFIX,
  REVOCATION_STATE_KEY,
  REVOCATIONS_PK,
  revocationKey,
  subjectPartitionKey,
} from './keys.ts';

type Update = NonNullable<NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number]['Update']>;

/**
 * Revocations in the entitlements table (layout in keys.ts). Every change is one TransactWriteItems: the revocation
 * item, the mark that DynamoDbEntitlementStore.lookupGrant reads with the grant, and `ADD generation 1`, so the
 * marks never disagree with the list and every change is visible to the live-session rewrite's check.
 */
export class DynamoDbRevocationStore implements RevocationStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async add(revocation: Revocation): Promise<{ revocation: Revocation; created: boolean }> {
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { ...revocationKey(revocation.id), revocation },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Update: this.#markAdd(revocation) },
            { Update: this.#nextGeneration() },
          ],
        }),
        sendOptions(),
      );
      return { revocation, created: true };
    } catch (error) {
      if (!cancelledByCondition(error)) throw error;
      // The target is already revoked (its mark's condition failed): that revocation stands, nothing was written.
      const existing = (await this.state()).revocations.find((r) => sameTarget(r.target, revocation.target));
      if (existing === undefined) throw error;
      return { revocation: existing, created: false };
    }
  }

  async remove(id: string): Promise<Revocation | undefined> {
    const revocation = await this.get(id);
    if (revocation === undefined) return undefined;
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Delete: { TableName: this.tableName, Key: revocationKey(id), ConditionExpression: 'attribute_exists(pk)' } },
            { Update: this.#markRemove(revocation) },
            { Update: this.#nextGeneration() },
          ],
        }),
        sendOptions(),
      );
      return revocation;
    } catch (error) {
      // Removed meanwhile by someone else: nothing of ours was written.
      if (cancelledByCondition(error)) return undefined;
      throw error;
    }
  }

  async get(id: string): Promise<Revocation | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: revocationKey(id), ConsistentRead: true }),
      sendOptions(),
    );
    return Item === undefined ? undefined : checked(Item['revocation']);
  }

  async state(): Promise<RevocationState> {
    const revocations: Revocation[] = [];
    let generation = 0;
    let enforcedGeneration = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          ConsistentRead: true,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': REVOCATIONS_PK },
          ExclusiveStartKey: startKey,
        }),
        sendOptions(),
      );
      for (const item of page.Items ?? []) {
        if (String(item['sk']).startsWith(REVOCATION_SK_PREFIX)) revocations.push(checked(item['revocation']));
        else if (item['sk'] === REVOCATION_STATE_KEY.sk) {
          generation = numberOf(item['generation']);
          enforcedGeneration = numberOf(item['enforcedGeneration']);
        }
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return { revocations, generation, enforcedGeneration };
  }

  async generation(): Promise<number> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: REVOCATION_STATE_KEY, ConsistentRead: true }),
      sendOptions(),
    );
    return numberOf(Item?.['generation']);
  }

  async markEnforced(generation: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: REVOCATION_STATE_KEY,
          UpdateExpression: 'SET enforcedGeneration = :g',
          ConditionExpression: 'attribute_not_exists(enforcedGeneration) OR enforcedGeneration < :g',
          ExpressionAttributeValues: { ':g': generation },
        }),
        sendOptions(),
      );
    } catch (error) {
      // A later generation was already enforced: that is further forward, not a failure.
      if ((error as { name?: unknown } | undefined)?.name !== 'ConditionalCheckFailedException') throw error;
    }
  }

  async hasSubjectGrants(issuerId: string, subject: string): Promise<boolean> {
    const page = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        ConsistentRead: true,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ent)',
        ExpressionAttributeValues: { ':pk': subjectPartitionKey(issuerId, subject), ':ent': ENTITLEMENT_KEY_PREFIX },
        ProjectionExpression: 'sk',
        Limit: 1,
      }),
      sendOptions(),
    );
    return (page.Items ?? []).length > 0;
  }

  async entitlementExists(entitlementId: string): Promise<boolean> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: definitionKey(entitlementId), ConsistentRead: true, ProjectionExpression: 'pk' }),
      sendOptions(),
    );
    return Item !== undefined;
  }

  #nextGeneration(): Update {
    return {
      TableName: this.tableName,
      Key: REVOCATION_STATE_KEY,
      UpdateExpression: 'ADD generation :one',
      ExpressionAttributeValues: { ':one': 1 },
    };
  }

  /** The mark lookupGrant reads, set only if that target is not revoked already. */
  #markAdd(revocation: Revocation): Update {
    const target = revocation.target;
    const mark = { id: revocation.id, revokedAt: revocation.revokedAt };
    switch (target.kind) {
      case 'person':
        return {
          TableName: this.tableName,
          Key: { pk: subjectPartitionKey(target.issuerId, target.subject), sk: REVOCATION_MARK_SK },
          UpdateExpression: 'SET #person = :mark',
          ConditionExpression: 'attribute_not_exists(#person)',
          ExpressionAttributeNames: { '#person': 'person' },
          ExpressionAttributeValues: { ':mark': mark },
        };
      case 'grant':
        return {
          TableName: this.tableName,
          Key: { pk: subjectPartitionKey(target.issuerId, target.subject), sk: REVOCATION_MARK_SK },
          UpdateExpression: 'ADD #grants :ids',
          ConditionExpression: 'attribute_not_exists(#grants) OR NOT contains(#grants, :id)',
          ExpressionAttributeNames: { '#grants': 'grants' },
          ExpressionAttributeValues: { ':ids': new Set([target.grantId]), ':id': target.grantId },
        };
      case 'entitlement':
        return {
          TableName: this.tableName,
          Key: { pk: definitionKey(target.entitlementId).pk, sk: REVOCATION_MARK_SK },
          UpdateExpression: 'SET #entitlement = :mark',
          ConditionExpression: 'attribute_not_exists(#entitlement)',
          ExpressionAttributeNames: { '#entitlement': 'entitlement' },
          ExpressionAttributeValues: { ':mark': mark },
        };
    }
  }

  #markRemove(revocation: Revocation): Update {
    const target = revocation.target;
    switch (target.kind) {
      case 'person':
        return {
          TableName: this.tableName,
          Key: { pk: subjectPartitionKey(target.issuerId, target.subject), sk: REVOCATION_MARK_SK },
          UpdateExpression: 'REMOVE #person',
          ConditionExpression: '#person.#id = :id',
          ExpressionAttributeNames: { '#person': 'person', '#id': 'id' },
          ExpressionAttributeValues: { ':id': revocation.id },
        };
      case 'grant':
        return {
          TableName: this.tableName,
          Key: { pk: subjectPartitionKey(target.issuerId, target.subject), sk: REVOCATION_MARK_SK },
          UpdateExpression: 'DELETE #grants :ids',
          ExpressionAttributeNames: { '#grants': 'grants' },
          ExpressionAttributeValues: { ':ids': new Set([target.grantId]) },
        };
      case 'entitlement':
        return {
          TableName: this.tableName,
          Key: { pk: definitionKey(target.entitlementId).pk, sk: REVOCATION_MARK_SK },
          UpdateExpression: 'REMOVE #entitlement',
          ConditionExpression: '#entitlement.#id = :id',
          ExpressionAttributeNames: { '#entitlement': 'entitlement', '#id': 'id' },
          ExpressionAttributeValues: { ':id': revocation.id },
        };
    }
  }
}

function cancelledByCondition(error: unknown): boolean {
  const e = error as { name?: unknown; CancellationReasons?: readonly { Code?: string }[] } | undefined;
  return e?.name === 'TransactionCanceledException' && (e.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed');
}

function checked(value: unknown): Revocation {
  const revocation = parseStoredRevocation(value);
  if (revocation === undefined) throw new InternalError('revocation_corrupt');
  return revocation;
}

function numberOf(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : 0;
}
