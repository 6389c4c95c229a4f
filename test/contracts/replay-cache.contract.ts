import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ReplayCache } from '../../src/ports/index.ts';

/** One replay store to run the contract on; every test claims its own keys, so a shared table is fine. */
export interface ReplayCacheSubject {
  readonly cache: ReplayCache;
  /** What the store's expiry sweep (DynamoDB's TTL) does when it runs at `now`. */
  sweepExpired(now: Date): Promise<void>;
}

export interface ReplayCacheImplementation {
  make(): Promise<ReplayCacheSubject> | ReplayCacheSubject;
  /** A cache whose store cannot be read or written (unreachable, missing table). */
  broken(): ReplayCache;
}

const key = () => `saml#corp#_${randomUUID()}`;
const EXPIRES_AT = new Date('2026-11-23T09:35:00.200Z');
const later = (date: Date, ms: number) => new Date(date.getTime() + ms);

/**
 * The ReplayCache port's contract (ports/index.ts): a key is claimed once, by one caller even when two race;
 * an expired claim keeps blocking its key until the store's expiry sweep removes it (the side that refuses),
 * and is never swept before it expires; a store that cannot answer throws rather than saying "first use".
 */
export function replayCacheContract(name: string, implementation: ReplayCacheImplementation): void {
  describe(`ReplayCache contract: ${name}`, () => {
    it('claims a key the first time only, whatever expiry a replay brings', async () => {
      // Prepare
      const { cache } = await implementation.make();
      const replayed = key();

      // Act
      const first = await cache.claimOnce(replayed, EXPIRES_AT);
      const again = await cache.claimOnce(replayed, EXPIRES_AT);
      const withLaterExpiry = await cache.claimOnce(replayed, later(EXPIRES_AT, 3_600_000));

      // Assess
      expect([first, again, withLaterExpiry]).toEqual([true, false, false]);
    });

    it('keeps keys apart: claiming one does not claim another', async () => {
      // Prepare
      const { cache } = await implementation.make();
      const [one, other] = [key(), key()];
      await cache.claimOnce(one, EXPIRES_AT);

      // Act
      const claimed = await cache.claimOnce(other, EXPIRES_AT);

      // Assess
      expect(claimed).toBe(true);
    });

    it('lets exactly one of two racing claims of a key win', async () => {
      // Prepare
      const { cache } = await implementation.make();
      const raced = key();

      // Act
      const results = await Promise.all([cache.claimOnce(raced, EXPIRES_AT), cache.claimOnce(raced, EXPIRES_AT)]);

      // Assess
      expect(results.sort()).toEqual([false, true]);
    });

    it('keeps an expired claim blocking its key until the expiry sweep has removed it; then the key may be taken again', async () => {
      // Prepare
      const subject = await implementation.make();
      const expired = key();
      await subject.cache.claimOnce(expired, EXPIRES_AT);

      // Act
      const beforeSweep = await subject.cache.claimOnce(expired, later(EXPIRES_AT, 600_000));
      await subject.sweepExpired(later(EXPIRES_AT, 1_000));
      const afterSweep = await subject.cache.claimOnce(expired, later(EXPIRES_AT, 600_000));

      // Assess
      expect([beforeSweep, afterSweep]).toEqual([false, true]);
    });

    it('is never swept before its expiry, not even within its last second', async () => {
      // Prepare
      const subject = await implementation.make();
      const live = key();
      await subject.cache.claimOnce(live, EXPIRES_AT);

      // Act
      await subject.sweepExpired(later(EXPIRES_AT, -1));
      const replay = await subject.cache.claimOnce(live, EXPIRES_AT);

      // Assess
      expect(replay).toBe(false);
    });

    it('throws when the store cannot answer, rather than calling anything a first use', async () => {
      // Prepare
      const cache = implementation.broken();

      // Act
      const outcome = await cache.claimOnce(key(), EXPIRES_AT).then(
        (claimed) => claimed,
        (error: unknown) => error,
      );

      // Assess
      expect(outcome).toBeInstanceOf(Error);
    });
  });
}
