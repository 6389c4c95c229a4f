import { isRefilled, type RateLimit, type TokenBucket, takeToken } from '../../domain/rate-limit.ts';
import type { Clock, RateLimiter, RateLimiterDecision } from '../../ports/index.ts';

/**
 * Token buckets in this container's memory (ADR 0015): no round trip and no write per request. Each container
 * counts on its own, so one caller gets at most `perMinute` × the function's reserved concurrency across the
 * account. At most `maxCallers` buckets are kept: the least recently seen is dropped first, after the ones
 * that are full again anyway.
 */
export class InMemoryRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
    private readonly maxCallers = 10_000,
  ) {}

  async take(key: string): Promise<RateLimiterDecision> {
    const now = this.clock.now().getTime();
    const decision = takeToken(this.#buckets.get(key), now, this.limit);
    // Re-inserting keeps the map in least-recently-seen order.
    this.#buckets.delete(key);
    this.#buckets.set(key, decision.bucket);
    if (this.#buckets.size > this.maxCallers) this.#evict(now);
    return decision.allowed ? { allowed: true } : { allowed: false, retryAfterSeconds: decision.retryAfterSeconds };
  }

  /** How many callers are being counted (for tests and the bound above). */
  get size(): number {
    return this.#buckets.size;
  }

  #evict(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (isRefilled(bucket, now, this.limit)) this.#buckets.delete(key);
    }
    while (this.#buckets.size > this.maxCallers) {
      const oldest = this.#buckets.keys().next();
      if (oldest.done === true) break;
      this.#buckets.delete(oldest.value);
    }
  }
}
