import { type AuditChange, batchKey, type ChainLink, nextBatch, sha256Of } from '../domain/audit-chain.ts';
import type { AuditArchive, Clock, ExportHead } from '../ports/index.ts';

export interface ExportAuditDeps {
  readonly archive: AuditArchive;
  readonly head: ExportHead;
  readonly clock: Clock;
}

/** Writers racing for the same sequence retry this many times before the batch fails (and the stream redelivers it). */
const ATTEMPTS = 8;

/**
 * Appends one batch of the audit table's stream to the export chain, and returns its link.
 *
 * One chain for the whole table, whatever the number of stream shards: each writer reads the head, writes the next
 * sequence's object only if that key is new, then moves the head on. A writer that loses the race for a sequence
 * finds the winner's object, moves the head to it if the winner died before doing so, and tries the next sequence.
 * So the chain never forks, and a writer dying between its object and the head costs nothing. A failure throws:
 * the stream then redelivers the batch (a redelivered batch is exported again; verify compares last images).
 */
export function makeExportAudit(deps: ExportAuditDeps) {
  return async function exportAudit(changes: readonly AuditChange[]): Promise<ChainLink | undefined> {
    if (changes.length === 0) return undefined;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const head = await deps.head.read();
      const { bytes, link } = nextBatch(head, changes, deps.clock.now());
      if ((await deps.archive.putBatch(batchKey(link.sequence), bytes)) === 'written') {
        await deps.head.advance(head, link);
        return link;
      }
      const theirs = await deps.archive.getBatch(batchKey(link.sequence));
      if (theirs !== undefined) await deps.head.advance(head, { sequence: link.sequence, sha256: sha256Of(theirs) });
    }
    throw new Error(`the audit export could not claim a batch sequence in ${ATTEMPTS} attempts`);
  };
}
