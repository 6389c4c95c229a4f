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

const pending = (eventId: string = randomUUID()): AuditRecord => ({
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
    tokenIssuedAt: 1_800_000_000,
    tokenExpiresAt: 1_800_000_600,
    tokenRef: 'sha256:abc',
  },
  entitlement: { id: 'photo-uploads', requested: 'photo-uploads', version: 3 },
});
const granted = (record: AuditRecord, accessKeyId = 'ASIACONTRACT00000001'): AuditRecord => ({
  ...record,
  outcome: 'granted',
  session: { vending: 'assume-role', accessKeyId, durationSeconds: 900 },
  delivery: { type: 'credentials', delivered: true },
});
const denied = (record: AuditRecord, reason = 'not_entitled'): AuditRecord => ({
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
 * The AuditLog port's contract (ports/index.ts): `open` and `record` write only a new event id, `close`
 * only a pending record, and a failed condition is an AuditConflictError carrying the stored record. A fake
 * that is kinder than DynamoDB here would hide the very bugs the conditions exist for.
 */
export function auditLogContract(name: string, implementation: AuditLogImplementation): void {
  describe(`AuditLog contract: ${name}`, () => {
    describe('open', () => {
      it('writes a pending record as given', async () => {
        // Prepare
        const { log, stored } = await implementation.make();
        const record = pending();

        // Act
        await log.open(record);

        // Assess
        expect(await stored(record.eventId)).toEqual(record);
      });

      it('refuses a second open of the same event id, as a conflict carrying the first, which stays', async () => {
        // Prepare
        const { log, stored } = await implementation.make();
        const first = pending();
        await log.open(first);
        const second: AuditRecord = { ...first, request: { requestId: 'someone-else' } };

        // Act
        const conflict = await conflictOf(log.open(second));

        // Assess
        expect(conflict.stored).toEqual(first);
        expect(await stored(first.eventId)).toEqual(first);
      });

      it('refuses to open an event id a finished denial already holds', async () => {
        // Prepare
        const { log, stored } = await implementation.make();
        const denial = denied(pending(), 'invalid_token');
        await log.record(denial);

        // Act
        const conflict = await conflictOf(log.open(pending(denial.eventId)));

        // Assess
        expect(conflict.stored).toEqual(denial);
        expect(await stored(denial.eventId)).toEqual(denial);
      });
    });

    describe('close', () => {
      it('turns a pending record into a grant', async () => {
        // Prepare
        const { log, stored } = await implementation.make();
        const record = pending();
        await log.open(record);

        // Act
        await log.close(granted(record));

        // Assess
        expect(await stored(record.eventId)).toEqual(granted(record));
      });

      it('turns a pending record into a denial', async () => {
        // Prepare
        const { log, stored } = await implementation.make();
        const record = pending();
        await log.open(record);

        // Act
        await log.close(denied(record));

        // Assess
        expect(await stored(record.eventId)).toEqual(denied(record));
      });

      it('refuses to close a record that was never opened, and writes nothing', async () => {
        // Prepare
        const { log, stored } = await implementation.make();
        const record = pending();

        // Act
        const conflict = await conflictOf(log.close(granted(record)));

        // Assess
        expect(conflict.stored).toBeUndefined();
        expect(await stored(record.eventId)).toBeUndefined();
      });

      it('refuses to close a record twice, as a conflict carrying the first close, which stays', async () => {
        // Prepare
        const { log, stored } = await implementation.make();
        const record = pending();
        await log.open(record);
        await log.close(granted(record));

        // Act
        const conflict = await conflictOf(log.close(denied(record, 'audit_unavailable')));

        // Assess
        expect(conflict.stored).toEqual(granted(record));
        expect(await stored(record.eventId)).toEqual(granted(record));
      });

      it('refuses to close a finished denial written by record', async () => {
        // Prepare
        const { log, stored } = await implementation.make();
        const denial = denied(pending(), 'invalid_token');
        await log.record(denial);

        // Act
        const conflict = await conflictOf(log.close(granted(pending(denial.eventId))));

        // Assess
        expect(conflict.stored).toEqual(denial);
        expect(await stored(denial.eventId)).toEqual(denial);
      });
    });

    describe('record', () => {
      it('writes a finished denial', async () => {
        // Prepare
        const { log, stored } = await implementation.make();
        const denial = denied(pending(), 'invalid_token');

        // Act
        await log.record(denial);

        // Assess
        expect(await stored(denial.eventId)).toEqual(denial);
      });

      it('writes a denial once: a second record of the event id is a conflict carrying the first', async () => {
        // Prepare
        const { log, stored } = await implementation.make();
        const denial = denied(pending(), 'invalid_token');
        await log.record(denial);

        // Act
        const conflict = await conflictOf(log.record(denied(denial, 'other_reason')));

        // Assess
        expect(conflict.stored).toEqual(denial);
        expect(await stored(denial.eventId)).toEqual(denial);
      });

      it('refuses to overwrite a pending record', async () => {
        // Prepare
        const { log, stored } = await implementation.make();
        const record = pending();
        await log.open(record);

        // Act
        const conflict = await conflictOf(log.record(denied(record)));

        // Assess
        expect(conflict.stored).toEqual(record);
        expect(await stored(record.eventId)).toEqual(record);
      });
    });

    describe('a write whose response is lost after it committed', () => {
      it('is reported as a conflict carrying the record it wrote, which writeAudit accepts as written', async () => {
        // Prepare
        const subject = await implementation.make();
        const record = pending();
        await subject.log.open(record);
        const grant = granted(record, 'ASIALOSTRESPONSE0001');

        // Act
        subject.loseNextResponse();
        const conflict = await conflictOf(subject.log.close(grant));

        // Assess
        expect(conflict.stored).toEqual(grant);
        expect(await subject.stored(record.eventId)).toEqual(grant);
      });

      it('lets writeAudit complete a lost open and a lost close, so the grant stands as stored', async () => {
        // Prepare
        const subject = await implementation.make();
        const record = pending();
        const grant = granted(record, 'ASIALOSTRESPONSE0002');

        // Act
        subject.loseNextResponse();
        await writeAudit((r) => subject.log.open(r), record);
        subject.loseNextResponse();
        await writeAudit((r) => subject.log.close(r), grant);

        // Assess
        expect(await subject.stored(record.eventId)).toEqual(grant);
      });

      it('still fails writeAudit when what is stored is another decision than the one being written', async () => {
        // Prepare: the record was closed as a grant of another session before our close arrived
        const { log } = await implementation.make();
        const record = pending();
        await log.open(record);
        await log.close(granted(record, 'ASIAOTHERSESSION0000'));

        // Act
        const error = await writeAudit((r) => log.close(r), granted(record, 'ASIAOURSESSION000001')).catch((thrown: unknown) => thrown);

        // Assess
        expect(error).toBeInstanceOf(AuditConflictError);
        expect((error as AuditConflictError).stored?.session?.accessKeyId).toBe('ASIAOTHERSESSION0000');
      });
    });

    it.each(['open', 'close', 'record'] as const)(
      'throws when %s cannot write, and not as a conflict the caller might accept',
      async (operation) => {
        // Prepare
        const log = implementation.broken();
        const record = operation === 'open' ? pending() : denied(pending());

        // Act
        const error = await log[operation](record).then(
          () => undefined,
          (thrown: unknown) => thrown,
        );

        // Assess
        expect(error).toBeInstanceOf(Error);
        expect(error).not.toBeInstanceOf(AuditConflictError);
      },
    );
  });
}
