import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ChainLink } from '../../domain/audit-chain.ts';
import type { ExportHead } from '../../ports/index.ts';

const HEAD_KEY = { pk: 'head' };

/** The export chain's head: one item, moved only from the link it holds (a conditional put), never backwards. */
export class DynamoDbExportHead implements ExportHead {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async read(): Promise<ChainLink | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: HEAD_KEY, ConsistentRead: true }));
    if (Item === undefined) return undefined;
    return { sequence: Number(Item['sequence']), sha256: String(Item['sha256']) };
  }

  async advance(from: ChainLink | undefined, to: ChainLink): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...HEAD_KEY, sequence: to.sequence, sha256: to.sha256 },
          ...(from === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: '#sequence = :sequence AND sha256 = :sha256',
                ExpressionAttributeNames: { '#sequence': 'sequence' },
                ExpressionAttributeValues: { ':sequence': from.sequence, ':sha256': from.sha256 },
              }),
        }),
      );
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}
