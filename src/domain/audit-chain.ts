import { createHash } from 'node:crypto';

/**
 * The audit trail's long-term store: the audit table's stream, exported in batches to S3 (Object Lock, compliance
 * mode). Each batch object names the SHA-256 of the previous batch object's bytes, and the export head (a small
 * table) names the last one, so a batch that is missing, altered or reordered breaks the chain (ADR 0011).
 */

export const BATCH_FORMAT = 'keyvend-audit-batch/1';
/** Batch objects are `<prefix><sequence, 12 digits>.json`, so their keys sort in chain order. */
export const BATCH_PREFIX = 'audit-chain/';

/** One change of the audit table as its stream saw it; images are plain values (unmarshalled). */
export interface AuditChange {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  /** The stream's sequence number of the change, unique within its shard. */
  readonly sequenceNumber: string;
  /** The stream's approximate creation time of the change (epoch seconds). */
  readonly approximateCreationTime: number | undefined;
  /** A deletion by TTL (the stream names DynamoDB's service principal): the end of the hot window, not tampering. */
  readonly byTtl: boolean;
  readonly eventId: string;
  readonly newImage?: Record<string, unknown>;
  readonly oldImage?: Record<string, unknown>;
}

/** The link to the previous batch: its sequence and the SHA-256 (hex) of its object's bytes. */
export interface ChainLink {
  readonly sequence: number;
  readonly sha256: string;
}

export interface AuditBatch {
  readonly format: typeof BATCH_FORMAT;
  readonly sequence: number;
  /** Null only for the first batch of the chain. */
  readonly previous: ChainLink | null;
  readonly exportedAt: string;
  readonly changes: readonly AuditChange[];
}

export function batchKey(sequence: number): string {
  return `${BATCH_PREFIX}${String(sequence).padStart(12, '0')}.json`;
}

export function sequenceOfKey(key: string): number | undefined {
  const match = /^audit-chain\/(\d{12})\.json$/.exec(key);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** The batch after `previous` (or the first), as the bytes that are stored and hashed. */
export function nextBatch(
  previous: ChainLink | undefined,
  changes: readonly AuditChange[],
  now: Date,
): { batch: AuditBatch; bytes: Buffer; link: ChainLink } {
  const batch: AuditBatch = {
    format: BATCH_FORMAT,
    sequence: previous === undefined ? 1 : previous.sequence + 1,
    previous: previous ?? null,
    exportedAt: now.toISOString(),
    changes,
  };
  const bytes = Buffer.from(JSON.stringify(batch), 'utf8');
  return { batch, bytes, link: { sequence: batch.sequence, sha256: sha256Of(bytes) } };
}

export const sha256Of = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A stored batch object as verify reads it. `versions` counts the object versions under its key (one, unless someone overwrote it). */
export interface StoredBatch {
  readonly key: string;
  readonly bytes: Buffer;
  readonly versions: number;
}

export interface ChainReport {
  readonly problems: string[];
  readonly batches: number;
  /** Every exported change, in chain order. */
  readonly changes: AuditChange[];
}

/**
 * Checks the chain: batches 1..head, each present once, each parsing as a batch of its own sequence, each naming
 * the previous batch's hash, and the last one's hash equal to the head's. A missing, altered, reordered or
 * overwritten batch is a problem; so is a head that names another last batch.
 */
export function verifyChain(stored: readonly StoredBatch[], head: ChainLink | undefined): ChainReport {
  const problems: string[] = [];
  const changes: AuditChange[] = [];
  const bySequence = new Map<number, StoredBatch>();
  for (const object of stored) {
    const sequence = sequenceOfKey(object.key);
    if (sequence === undefined) problems.push(`${object.key}: not a batch key`);
    else bySequence.set(sequence, object);
    if (object.versions > 1) problems.push(`${object.key}: ${object.versions} versions under one key (a batch was written twice)`);
  }
  const last = Math.max(0, head?.sequence ?? 0, ...bySequence.keys());
  if (head === undefined && last > 0) problems.push('no export head, but batches exist');
  if (head !== undefined && head.sequence < last) problems.push(`the export head names batch ${head.sequence}, but batch ${last} exists`);
  let previous: ChainLink | undefined;
  for (let sequence = 1; sequence <= last; sequence++) {
    const object = bySequence.get(sequence);
    if (object === undefined) {
      problems.push(`batch ${sequence} (${batchKey(sequence)}) is missing`);
      previous = undefined;
      continue;
    }
    const link: ChainLink = { sequence, sha256: sha256Of(object.bytes) };
    let batch: AuditBatch;
    try {
      batch = JSON.parse(object.bytes.toString('utf8')) as AuditBatch;
    } catch {
      problems.push(`batch ${sequence} does not parse`);
      previous = link;
      continue;
    }
    if (batch.format !== BATCH_FORMAT || batch.sequence !== sequence)
      problems.push(`batch ${sequence} is not batch ${sequence} of this chain`);
    const expected = sequence === 1 ? null : previous;
    if (expected !== undefined && JSON.stringify(batch.previous) !== JSON.stringify(expected)) {
      problems.push(`batch ${sequence} does not name the hash of batch ${sequence - 1}: batch ${sequence - 1} was altered, or this one`);
    }
    changes.push(...(Array.isArray(batch.changes) ? batch.changes : []));
    previous = link;
  }
  if (head !== undefined && previous !== undefined && head.sequence === last && previous.sha256 !== head.sha256) {
    problems.push(`batch ${last} is not the batch the export head names (its hash differs): it was altered`);
  }
  return { problems, batches: bySequence.size, changes };
}

/** Aggregate items (anonymous refusals per source and minute) are updated in place by design. */
export const isAggregateEventId = (eventId: string): boolean => eventId.startsWith('anon#');

/**
 * Compares the exported changes with the table's hot window: every change to a decision's item after its insert
 * (a MODIFY, or a REMOVE that TTL did not make) is tampering; every item in the table must equal its last exported
 * image. `items` are the table's items whose `time` falls in the range checked.
 */
export function compareHotWindow(items: readonly Record<string, unknown>[], changes: readonly AuditChange[]): string[] {
  const problems: string[] = [];
  const lastImage = new Map<string, Record<string, unknown> | undefined>();
  for (const change of changes) {
    if (!isAggregateEventId(change.eventId) && (change.eventName === 'MODIFY' || (change.eventName === 'REMOVE' && !change.byTtl))) {
      problems.push(`audit item ${change.eventId} was ${change.eventName === 'MODIFY' ? 'changed' : 'deleted'} after it was written`);
    }
    lastImage.set(change.eventId, change.newImage);
  }
  for (const item of items) {
    const eventId = String(item['eventId']);
    if (!lastImage.has(eventId)) {
      problems.push(`audit item ${eventId} is in the table but not in the export`);
      continue;
    }
    if (canonical(lastImage.get(eventId)) !== canonical(item)) problems.push(`audit item ${eventId} differs from its exported image`);
  }
  return problems;
}

/** JSON with object keys sorted, so two equal items compare equal whatever order their attributes came in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
