import { describe, expect, it } from 'vitest';
import { makeExportAudit } from '../../../src/app/export-audit.ts';
import {
  type AuditChange,
  batchKey,
  type ChainLink,
  compareHotWindow,
  nextBatch,
  sha256Of,
  type StoredBatch,
  verifyChain,
} from '../../../src/domain/audit-chain.ts';
import type { AuditArchive, ExportHead } from '../../../src/ports/index.ts';

const item = (eventId: string, outcome = 'granted') => ({ eventId, time: '2026-11-29T10:00:00.000Z', outcome, action: 'credentials' });
const insert = (eventId: string, sequenceNumber = eventId): AuditChange => ({
  eventName: 'INSERT',
  sequenceNumber,
  approximateCreationTime: 1_800_000_000,
  byTtl: false,
  eventId,
  newImage: item(eventId),
});
const NOW = new Date('2026-11-29T10:00:01.000Z');

/** A chain of n batches, one change each, as the exporter writes it. */
function chain(n: number): { stored: StoredBatch[]; head: ChainLink | undefined } {
  const stored: StoredBatch[] = [];
  let head: ChainLink | undefined;
  for (let i = 1; i <= n; i++) {
    const { bytes, link } = nextBatch(head, [insert(`e${i}`)], NOW);
    stored.push({ key: batchKey(link.sequence), bytes, versions: 1 });
    head = link;
  }
  return { stored, head };
}

/** An archive and head in memory with S3's and DynamoDB's conditions (If-None-Match, conditional put). */
function memoryStores(): { archive: AuditArchive; head: ExportHead; objects: Map<string, Buffer> } {
  const objects = new Map<string, Buffer>();
  let current: ChainLink | undefined;
  return {
    objects,
    archive: {
      putBatch: async (key, bytes) => {
        if (objects.has(key)) return 'exists';
        objects.set(key, bytes);
        return 'written';
      },
      getBatch: async (key) => objects.get(key),
      listBatches: async () => [...objects].map(([key, bytes]) => ({ key, bytes, versions: 1 })),
    },
    head: {
      read: async () => current,
      advance: async (from, to) => {
        if (JSON.stringify(current) !== JSON.stringify(from)) return false;
        current = to;
        return true;
      },
    },
  };
}

describe('the audit export chain', () => {
  it('verifies an intact chain and returns its changes in order', () => {
    // Prepare
    const { stored, head } = chain(3);

    // Act
    const report = verifyChain(stored, head);

    // Assess
    expect(report.problems).toEqual([]);
    expect(report.changes.map((c) => c.eventId)).toEqual(['e1', 'e2', 'e3']);
  });

  it('reports a missing batch, an altered batch, an altered last batch, and a second version under one key', () => {
    // Prepare
    const { stored, head } = chain(4);
    const altered = (b: StoredBatch) => ({ ...b, bytes: Buffer.from(b.bytes.toString('utf8').replace('"e', '"x')) });

    // Act
    const missing = verifyChain([stored[0]!, stored[2]!, stored[3]!], head);
    const alteredMiddle = verifyChain([stored[0]!, altered(stored[1]!), stored[2]!, stored[3]!], head);
    const alteredLast = verifyChain([...stored.slice(0, 3), altered(stored[3]!)], head);
    const lastRemoved = verifyChain(stored.slice(0, 3), head);
    const overwritten = verifyChain([{ ...stored[0]!, versions: 2 }, ...stored.slice(1)], head);

    // Assess
    expect(missing.problems).toContain(`batch 2 (${batchKey(2)}) is missing`);
    expect(alteredMiddle.problems).toEqual(['batch 3 does not name the hash of batch 2: batch 2 was altered, or this one']);
    expect(alteredLast.problems).toEqual(['batch 4 is not the batch the export head names (its hash differs): it was altered']);
    expect(lastRemoved.problems).toContain(`batch 4 (${batchKey(4)}) is missing`);
    expect(overwritten.problems).toEqual([`${batchKey(1)}: 2 versions under one key (a batch was written twice)`]);
  });

  it('reports stray keys, unparsable or misplaced batches, and a head that is missing or behind', () => {
    // Prepare
    const { stored, head } = chain(2);
    const garbage: StoredBatch = { key: batchKey(2), bytes: Buffer.from('not json'), versions: 1 };
    const misplaced: StoredBatch = { key: batchKey(2), bytes: stored[0]!.bytes, versions: 1 };

    // Act
    const stray = verifyChain([...stored, { key: 'audit-chain/notes.txt', bytes: Buffer.from('x'), versions: 1 }], head);
    const unparsable = verifyChain([stored[0]!, garbage], head);
    const moved = verifyChain([stored[0]!, misplaced], head);
    const headless = verifyChain(stored, undefined);
    const behind = verifyChain(stored, { sequence: 1, sha256: sha256Of(stored[0]!.bytes) });
    const empty = verifyChain([], undefined);

    // Assess
    expect(stray.problems).toEqual(['audit-chain/notes.txt: not a batch key']);
    expect(unparsable.problems).toContain('batch 2 does not parse');
    expect(moved.problems).toContain('batch 2 is not batch 2 of this chain');
    expect(headless.problems).toContain('no export head, but batches exist');
    expect(behind.problems).toContain(`the export head names batch 1, but batch 2 exists`);
    expect(empty).toEqual({ problems: [], batches: 0, changes: [] });
  });

  it('reports changes after an insert, but not TTL deletions or anonymous aggregates, and items missing or differing', () => {
    // Prepare
    const changes: AuditChange[] = [
      insert('kept'),
      insert('changed'),
      { ...insert('changed'), eventName: 'MODIFY', newImage: item('changed', 'denied') },
      insert('expired'),
      { ...insert('expired'), eventName: 'REMOVE', byTtl: true, newImage: undefined as never },
      insert('deleted'),
      { ...insert('deleted'), eventName: 'REMOVE', byTtl: false },
      { ...insert('anon#2026-11-29T10:00#203.0.113.9'), eventName: 'MODIFY' },
    ];

    // Act
    const problems = compareHotWindow([item('kept'), item('unexported'), { ...item('kept'), eventId: 'changed' }], changes);

    // Assess
    expect(problems).toEqual([
      'audit item changed was changed after it was written',
      'audit item deleted was deleted after it was written',
      'audit item unexported is in the table but not in the export',
      'audit item changed differs from its exported image',
    ]);
  });
});

describe('makeExportAudit', () => {
  it('appends each batch to one chain, and two writers racing never fork it', async () => {
    // Prepare
    const stores = memoryStores();
    const exportAudit = makeExportAudit({ ...stores, clock: { now: () => NOW } });

    // Act
    await Promise.all([exportAudit([insert('a')]), exportAudit([insert('b')]), exportAudit([insert('c')])]);
    await exportAudit([]);

    // Assess
    const report = verifyChain(await stores.archive.listBatches(), await stores.head.read());
    expect(report.problems).toEqual([]);
    expect(report.changes.map((c) => c.eventId).sort()).toEqual(['a', 'b', 'c']);
    expect(stores.objects.size).toBe(3);
  });

  it('moves on past a writer that wrote its batch and died before moving the head', async () => {
    // Prepare: batch 1 is in the archive, the head still names nothing
    const stores = memoryStores();
    const orphan = nextBatch(undefined, [insert('orphan')], NOW);
    await stores.archive.putBatch(batchKey(1), orphan.bytes);

    // Act
    const link = await makeExportAudit({ ...stores, clock: { now: () => NOW } })([insert('next')]);

    // Assess
    expect(link?.sequence).toBe(2);
    expect(sha256Of(orphan.bytes)).toBe(JSON.parse((await stores.archive.getBatch(batchKey(2)))!.toString()).previous.sha256);
    expect(verifyChain(await stores.archive.listBatches(), await stores.head.read()).problems).toEqual([]);
  });
});
