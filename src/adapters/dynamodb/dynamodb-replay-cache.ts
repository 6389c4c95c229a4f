import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ReplayCache } from '../../ports/index.ts';
import { sendOptions } from '../deadline/request-deadline.ts';

/**
 * One-time identifiers (SAML assertion ids) in a table shared by every container: a conditional put
 * succeeds once per key, so a second use anywhere is seen. Items expire by TTL (`expiresAt`, epoch
 * seconds) once no copy of the identifier could be accepted any more. Until DynamoDB's TTL sweep removes
 * an expired item, it still blocks the key, which only matters for an identifier already expired.
 */
export class DynamoDbReplayCache implements ReplayCache {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async claimOnce(key: string, expiresAt: Date): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: key, expiresAt: Math.ceil(expiresAt.getTime() / 1000) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
        sendOptions(),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as { name?: unknown }).name === 'ConditionalCheckFailedException')
        return false;
      throw error;
    }
  }
}
