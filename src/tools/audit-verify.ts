import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbExportHead } from '../adapters/dynamodb/dynamodb-export-head.ts';
import type { S3AuditArchive } from '../adapters/s3/s3-audit-archive.ts';
import { type AuditChange, compareHotWindow, verifyChain } from '../domain/audit-chain.ts';

export interface AuditVerification {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly batches: number;
  readonly changes: number;
  readonly itemsChecked: number;
}

export interface VerifyTargets {
  readonly documentClient: DynamoDBDocumentClient;
  readonly archive: Pick<S3AuditArchive, 'listBatches'>;
  readonly auditTable: string;
  readonly exportHeadTable: string;
}

/**
 * `npm run audit -- verify`: the whole export chain (a gap anywhere breaks every later link, so it is always read
 * whole; each batch's hash, the links, the head), then the audit table's items whose `time` is in [from, to)
 * against their last exported images, and every change made to an item after its insert.
 */
export async function verifyAudit(targets: VerifyTargets, range: { from: string; to: string }): Promise<AuditVerification> {
  const [stored, head, items] = await Promise.all([
    targets.archive.listBatches(),
    new DynamoDbExportHead(targets.documentClient, targets.exportHeadTable).read(),
    hotWindow(targets.documentClient, targets.auditTable, range),
  ]);
  const chain = verifyChain(stored, head);
  const inRange = (change: AuditChange) => {
    const time = change.newImage?.['time'] ?? change.oldImage?.['time'];
    return typeof time !== 'string' || (time >= range.from && time < range.to);
  };
  const problems = [...chain.problems, ...compareHotWindow(items, chain.changes.filter(inRange))];
  return { ok: problems.length === 0, problems, batches: chain.batches, changes: chain.changes.length, itemsChecked: items.length };
}

/** The table's decision items in [from, to), read consistently (a scan: the byDay index would bound it by day). */
async function hotWindow(client: DynamoDBDocumentClient, table: string, range: { from: string; to: string }) {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        ConsistentRead: true,
        FilterExpression: '#time >= :from AND #time < :to',
        ExpressionAttributeNames: { '#time': 'time' },
        ExpressionAttributeValues: { ':from': range.from, ':to': range.to },
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}
