import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type AnonymousAggregate, type AnonymousRefusal, anonymousAggregateKey, minuteOf } from '../../domain/anonymous-refusal.ts';
import { sendOptions } from '../deadline/request-deadline.ts';

/** Each reason's count is an attribute of its own: DynamoDB cannot create a map and add to one of its members in one update. */
const REASON_ATTRIBUTE_PREFIX = 'reason#';

/**
 * One `UpdateItem` on the aggregate of the refusal's source and minute in the audit table: `ADD requests :1`, the
 * reason's counter and the action; first and last seen; the expiry of the minute's first refusal. The table's
 * resource policy and the functions' roles allow `UpdateItem` only on keys beginning `anon#`.
 */
export async function countAnonymousRefusal(
  client: DynamoDBDocumentClient,
  tableName: string,
  retentionDays: number,
  refusal: AnonymousRefusal,
): Promise<void> {
  const expiresAt = Math.floor(Date.parse(refusal.time) / 1000) + retentionDays * 86_400;
  await client.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { eventId: anonymousAggregateKey(refusal) },
      UpdateExpression:
        'ADD #requests :one, #reason :one, #actions :action, #errorCodes :errorCode ' +
        'SET #kind = :kind, #minute = :minute, #source = :source, #firstSeen = if_not_exists(#firstSeen, :time), ' +
        '#lastSeen = :time, #expiresAt = if_not_exists(#expiresAt, :expiresAt)',
      ExpressionAttributeNames: {
        '#requests': 'requests',
        '#reason': `${REASON_ATTRIBUTE_PREFIX}${refusal.reason}`,
        '#actions': 'actions',
        '#errorCodes': 'errorCodes',
        '#kind': 'kind',
        '#minute': 'minute',
        '#source': 'sourceIp',
        '#firstSeen': 'firstSeen',
        '#lastSeen': 'lastSeen',
        '#expiresAt': 'expiresAt',
      },
      ExpressionAttributeValues: {
        ':one': 1,
        ':action': new Set([refusal.action]),
        ':errorCode': new Set([refusal.errorCode]),
        ':kind': 'anonymous_refusals',
        ':minute': minuteOf(refusal.time),
        ':source': refusal.source,
        ':time': refusal.time,
        ':expiresAt': expiresAt,
      },
    }),
    sendOptions(),
  );
}

/** The aggregate under `eventId`, read consistently (operators and tests). */
export async function readAnonymousAggregate(
  client: DynamoDBDocumentClient,
  tableName: string,
  eventId: string,
): Promise<AnonymousAggregate | undefined> {
  const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: { eventId }, ConsistentRead: true }), sendOptions());
  return Item === undefined ? undefined : anonymousAggregateOf(Item);
}

/** An aggregate item as the domain sees it: the per-reason attributes folded into one map. */
export function anonymousAggregateOf(item: Record<string, unknown>): AnonymousAggregate {
  const reasons: Record<string, number> = {};
  for (const [name, value] of Object.entries(item)) {
    if (name.startsWith(REASON_ATTRIBUTE_PREFIX)) reasons[name.slice(REASON_ATTRIBUTE_PREFIX.length)] = Number(value);
  }
  return {
    eventId: String(item['eventId']),
    minute: String(item['minute']),
    source: String(item['sourceIp']),
    requests: Number(item['requests']),
    reasons,
    actions: [...((item['actions'] as Set<string> | undefined) ?? [])].sort(),
    firstSeen: String(item['firstSeen']),
    lastSeen: String(item['lastSeen']),
  };
}
