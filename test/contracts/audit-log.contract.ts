import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { writeAudit } from '../../src/app/audit-trail.ts';
import { type AuditRecord, AuditConflictError } from '../../src/domain/audit-record.ts';
import type { AuditLog } from '../../src/ports/index.ts';

/** One audit store to run the contract on; every test writes its own event ids, so a shared table is fine. */
export interface AuditLogSubject {
  readonly log: AuditLog;
  /** The record as stored under this event id (a consistent read), without storage-only attributes. */
  stored(eventId: string): Promise<AuditRecord | undefined>;
  /** The next write through `log` commits, then its response is lost and the write is sent again. */
  loseNextResponse(): void;
}

export interface AuditLogImplementation {
  make(): Promise<AuditLogSubject> | AuditLogSubject;
  /** A log whose store cannot be written (unreachable, missing table). */
  broken(): AuditLog;
}

const undecided = (eventId: string = randomUUID()): AuditRecord => ({
  eventId,
  time: '2026-11-23T09:30:00.000Z',
  action: 'credentials',
  outcome: 'pending',
  request: { requestId: `req-${eventId}` },
  caller: {
    idpType: 'oidc',
    issuerId: 'corp',
    issuer: 'https://idp.example.com',
    subject: 'alice',
    userKey: 'abcdefghijklmnopqrstuvwxyz',
    groups: ['uploaders'],
    groupCount: 1,
    tokenIssuedAt: 1_800_000_000,
    tokenExpiresAt: 1_800_000_600,
    tokenRef: 'sha256:abc',
  },
  entitlement: { id: 'photo-uploads', requested: 'photo-uploads', version: 3 },
});
const granted = (record: AuditRecord = undecided(), accessKeyId = 'ASIACONTRACT00000001'): AuditRecord => ({
  ...record,
  outcome: 'granted',
  session: { vending: 'assume-role', accessKeyId, durationSeconds: 900 },
  delivery: { type: 'credentials', delivered: true },
});
const denied = (record: AuditRecord = undecided(), reason = 'not_entitled'): AuditRecord => ({
  ...record,
  outcome: 'denied',
  reason,
  errorCode: 'forbidden',
});

async function conflictOf(write: Promise<void>): Promise<AuditConflictError> {
  const error = await write.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AuditConflictError);
  return error as AuditConflictError;
}

/**
 * The AuditLog port's contract (ports/index.ts): `record` inserts a decided record once, only under a new event
 * id, never an undecided one; a failed condition is an AuditConflictError carrying the stored record. A fake
 * that is kinder than DynamoDB here would hide the very bugs the condition exists for.
 */
export function auditLogContract(name: string, implementation: AuditLogImplementation): void {
  describe(`AuditLog contract: ${name}`, () => {
    it.each([
      ['a grant', granted()],
      ['a denial', denied()],
      ['a minted_not_delivered', { ...granted(), outcome: 'minted_not_delivered', reason: 'audit_write_failed' } as AuditRecord],
    ])('writes %s as given', async (_, record) => {
      // Prepare
      const { log, stored } = await implementation.make();

      // Act
      await log.record(record);

      // Assess
      expect(await stored(record.eventId)).toEqual(record);
    });

    it('refuses an undecided (pending) record, and writes nothing', async () => {
      // Prepare
      const { log, stored } = await implementation.make();
      const record = undecided();

      // Act
      const error = await log.record(record).catch((thrown: unknown) => thrown);

      // Assess
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(AuditConflictError);
      expect(await stored(record.eventId)).toBeUndefined();
    });

    it('writes an event id once: a second write is a conflict carrying the first, which stays', async () => {
      // Prepare
      const { log, stored } = await implementation.make();
      const grant = granted();
      await log.record(grant);

      // Act
      const conflict = await conflictOf(log.record(denied(grant, 'other_reason')));

      // Assess
      expect(conflict.stored).toEqual(grant);
      expect(await stored(grant.eventId)).toEqual(grant);
    });

    it('never turns a denial into a grant', async () => {
      // Prepare
      const { log, stored } = await implementation.make();
      const denial = denied(undecided(), 'invalid_token');
      await log.record(denial);

      // Act
      const conflict = await conflictOf(log.record(granted(undecided(denial.eventId))));

      // Assess
      expect(conflict.stored).toEqual(denial);
      expect(await stored(denial.eventId)).toEqual(denial);
    });

    describe('a write whose response is lost after it committed', () => {
      it('is reported as a conflict carrying the record it wrote, which writeAudit accepts as written', async () => {
        // Prepare
        const subject = await implementation.make();
        const grant = granted(undecided(), 'ASIALOSTRESPONSE0001');

        // Act
        subject.loseNextResponse();
        const conflict = await conflictOf(subject.log.record(grant));

        // Assess
        expect(conflict.stored).toEqual(grant);
        expect(await subject.stored(grant.eventId)).toEqual(grant);
      });

      it('lets writeAudit complete a lost grant, so the grant stands as stored', async () => {
        // Prepare
        const subject = await implementation.make();
        const grant = granted(undecided(), 'ASIALOSTRESPONSE0002');

        // Act
        subject.loseNextResponse();
        await writeAudit((r) => subject.log.record(r), grant);

        // Assess
        expect(await subject.stored(grant.eventId)).toEqual(grant);
      });

      it('still fails writeAudit when what is stored is another decision than the one being written', async () => {
        // Prepare: the event id holds a grant of another session before our write arrived
        const { log } = await implementation.make();
        const record = undecided();
        await log.record(granted(record, 'ASIAOTHERSESSION0000'));

        // Act
        const error = await writeAudit((r) => log.record(r), granted(record, 'ASIAOURSESSION000001')).catch((thrown: unknown) => thrown);

        // Assess
        expect(error).toBeInstanceOf(AuditConflictError);
        expect((error as AuditConflictError).stored?.session?.accessKeyId).toBe('ASIAOTHERSESSION0000');
      });
    });

    it('throws when it cannot write, and not as a conflict the caller might accept', async () => {
      // Prepare
      const log = implementation.broken();

      // Act
      const error = await log.record(denied()).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );

      // Assess
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(AuditConflictError);
    });
  });
}
