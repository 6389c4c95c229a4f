import { describe, expect, it } from 'vitest';
import { InMemoryRateLimiter } from '../../../src/adapters/memory/in-memory-rate-limiter.ts';
import { isRefilled, takeToken } from '../../../src/domain/rate-limit.ts';
import type { Clock } from '../../../src/ports/index.ts';

const LIMIT = { perMinute: 60, burst: 3 };

/** A clock the test moves by hand. */
const manualClock = (start = Date.parse('2026-11-29T12:00:00Z')) => {
  let now = start;
  const clock: Clock = { now: () => new Date(now) };
  return { clock, advance: (ms: number) => (now += ms) };
};

describe('takeToken: a token bucket per caller', () => {
  it('lets a new caller spend the whole burst at once, then refuses with the seconds until a token is back', () => {
    // Prepare
    let bucket;
    const decisions = [];

    // Act
    for (let i = 0; i < 4; i++) {
      const decision = takeToken(bucket, 1_000, LIMIT);
      bucket = decision.bucket;
      decisions.push(decision);
    }

    // Assess
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(decisions[3]).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
  });

  it('refills at the configured rate, never above the burst', () => {
    // Prepare: an empty bucket
    const empty = { tokens: 0, updatedAt: 0 };

    // Act
    const halfASecond = takeToken(empty, 500, LIMIT);
    const oneSecond = takeToken(empty, 1_000, LIMIT);
    const anHour = takeToken(empty, 3_600_000, LIMIT);

    // Assess
    expect(halfASecond.allowed).toBe(false);
    expect(oneSecond).toMatchObject({ allowed: true, bucket: { tokens: 0 } });
    expect(anHour).toMatchObject({ allowed: true, bucket: { tokens: LIMIT.burst - 1 } });
  });

  it('rounds Retry-After up to whole seconds for slow limits, and is never 0', () => {
    // Act
    const slow = takeToken({ tokens: 0, updatedAt: 0 }, 0, { perMinute: 1, burst: 1 });
    const fast = takeToken({ tokens: 0.99, updatedAt: 0 }, 0, { perMinute: 60_000, burst: 1 });

    // Assess
    expect(slow).toMatchObject({ allowed: false, retryAfterSeconds: 60 });
    expect(fast).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
  });

  it('refills nothing when the clock steps back', () => {
    // Act
    const decision = takeToken({ tokens: 0, updatedAt: 10_000 }, 5_000, LIMIT);

    // Assess
    expect(decision.allowed).toBe(false);
    expect(decision.bucket.tokens).toBe(0);
  });

  it('knows when a bucket left alone is full again', () => {
    // Assess
    expect(isRefilled({ tokens: 0, updatedAt: 0 }, 2_999, LIMIT)).toBe(false);
    expect(isRefilled({ tokens: 0, updatedAt: 0 }, 3_000, LIMIT)).toBe(true);
  });
});

describe('InMemoryRateLimiter', () => {
  it('counts each caller on its own, and lets a refused caller back in after Retry-After', async () => {
    // Prepare
    const { clock, advance } = manualClock();
    const limiter = new InMemoryRateLimiter(LIMIT, clock);
    for (let i = 0; i < 3; i++) await limiter.take('alice');

    // Act
    const refused = await limiter.take('alice');
    const bob = await limiter.take('bob');
    advance(refused.allowed ? 0 : refused.retryAfterSeconds * 1000);
    const recovered = await limiter.take('alice');

    // Assess
    expect(refused).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(bob).toEqual({ allowed: true });
    expect(recovered).toEqual({ allowed: true });
  });

  it('keeps at most maxCallers buckets, forgetting full ones first, then the least recently seen', async () => {
    // Prepare
    const { clock, advance } = manualClock();
    const limiter = new InMemoryRateLimiter(LIMIT, clock, 2);
    for (let i = 0; i < 3; i++) await limiter.take('busy');
    advance(100);
    await limiter.take('idle');
    advance(10_000); // idle and busy are both full again

    // Act
    await limiter.take('third');
    const sizeAfterRefill = limiter.size;
    for (let i = 0; i < 3; i++) await limiter.take('a');
    for (let i = 0; i < 3; i++) await limiter.take('b');
    const sizeAfterOverflow = limiter.size;

    // Assess
    expect(sizeAfterRefill).toBe(1);
    expect(sizeAfterOverflow).toBe(2);
    expect(await limiter.take('b')).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });
});
