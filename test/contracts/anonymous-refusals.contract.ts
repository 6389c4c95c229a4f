import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type AnonymousAggregate, type AnonymousRefusal, anonymousAggregateKey } from '../../src/domain/anonymous-refusal.ts';
import type { AuditLog } from '../../src/ports/index.ts';

/** One audit store to count anonymous refusals in; every test uses a source address of its own. */
export interface AnonymousRefusalsSubject {
  readonly log: Pick<AuditLog, 'countAnonymous'>;
  /** The aggregate stored under this key (a consistent read), or undefined. */
  aggregate(eventId: string): Promise<AnonymousAggregate | undefined>;
}

export interface AnonymousRefusalsImplementation {
  make(): Promise<AnonymousRefusalsSubject> | AnonymousRefusalsSubject;
  /** A log whose store cannot be written. */
  broken(): Pick<AuditLog, 'countAnonymous'>;
}

/** A source of the documentation range 2001:db8::/32 no other test uses. */
const freshSource = () => `2001:db8::${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`;

const refusal = (source: string, overrides: Partial<AnonymousRefusal> = {}): AnonymousRefusal => ({
  time: '2026-11-29T10:15:07.123Z',
  action: 'credentials',
  source,
  reason: 'bad_signature',
  errorCode: 'invalid_token',
  ...overrides,
});

/**
 * `AuditLog.countAnonymous` (ports/index.ts): each refusal adds one to the aggregate of its source and UTC minute,
 * created by the first, with a count per reason, the actions, and first and last seen. Never an item per request.
 */
export function anonymousRefusalsContract(name: string, implementation: AnonymousRefusalsImplementation): void {
  describe(`AuditLog.countAnonymous contract: ${name}`, () => {
    it('creates the aggregate of a source and minute with the first refusal', async () => {
      // Prepare
      const { log, aggregate } = await implementation.make();
      const source = freshSource();

      // Act
      await log.countAnonymous(refusal(source));

      // Assess
      expect(await aggregate(`anon#2026-11-29T10:15#${source}`)).toEqual({
        eventId: `anon#2026-11-29T10:15#${source}`,
        minute: '2026-11-29T10:15',
        source,
        requests: 1,
        reasons: { bad_signature: 1 },
        actions: ['credentials'],
        firstSeen: '2026-11-29T10:15:07.123Z',
        lastSeen: '2026-11-29T10:15:07.123Z',
      });
    });

    it('adds every later refusal of the minute to it, counting each reason and action, concurrent ones included', async () => {
      // Prepare
      const { log, aggregate } = await implementation.make();
      const source = freshSource();
      await log.countAnonymous(refusal(source));

      // Act
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          log.countAnonymous(
            refusal(source, {
              time: `2026-11-29T10:15:${String(10 + i).padStart(2, '0')}.000Z`,
              reason: i % 2 === 0 ? 'missing_bearer' : 'bad_signature',
              action: i === 0 ? 'portal_login' : 'credentials',
            }),
          ),
        ),
      );

      // Assess
      const stored = await aggregate(anonymousAggregateKey({ time: '2026-11-29T10:15:59.000Z', source }));
      expect(stored).toMatchObject({
        requests: 21,
        reasons: { bad_signature: 11, missing_bearer: 10 },
        actions: ['credentials', 'portal_login'],
        firstSeen: '2026-11-29T10:15:07.123Z',
      });
    });

    it('keeps each minute and each source apart', async () => {
      // Prepare
      const { log, aggregate } = await implementation.make();
      const [one, two] = [freshSource(), freshSource()];

      // Act
      await log.countAnonymous(refusal(one, { time: '2026-11-29T10:15:59.999Z' }));
      await log.countAnonymous(refusal(one, { time: '2026-11-29T10:16:00.000Z' }));
      await log.countAnonymous(refusal(two, { time: '2026-11-29T10:16:00.000Z' }));

      // Assess
      expect((await aggregate(`anon#2026-11-29T10:15#${one}`))?.requests).toBe(1);
      expect((await aggregate(`anon#2026-11-29T10:16#${one}`))?.requests).toBe(1);
      expect((await aggregate(`anon#2026-11-29T10:16#${two}`))?.requests).toBe(1);
    });

    it('throws when the store cannot be written', async () => {
      // Act and assess
      await expect(implementation.broken().countAnonymous(refusal(freshSource()))).rejects.toThrow();
    });
  });
}
