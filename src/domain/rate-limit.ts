/**
 * A token bucket per caller: `burst` requests at once, refilled at `perMinute` a minute. Pure: the caller
 * keeps the bucket and passes the time (ADR 0015 says where the buckets live and why).
 */
export interface RateLimit {
  readonly perMinute: number;
  readonly burst: number;
}

export interface TokenBucket {
  readonly tokens: number;
  /** Milliseconds since the epoch when `tokens` was last computed. */
  readonly updatedAt: number;
}

export type RateDecision =
  | { readonly allowed: true; readonly bucket: TokenBucket }
  | { readonly allowed: false; readonly bucket: TokenBucket; readonly retryAfterSeconds: number };

/** Takes one request from the bucket (a new caller starts full). Refused: the whole seconds until a token is back, at least 1. */
export function takeToken(bucket: TokenBucket | undefined, nowMs: number, limit: RateLimit): RateDecision {
  const perMs = limit.perMinute / 60_000;
  // A clock that steps back refills nothing rather than draining the bucket.
  const elapsed = bucket === undefined ? 0 : Math.max(0, nowMs - bucket.updatedAt);
  const available = bucket === undefined ? limit.burst : Math.min(limit.burst, bucket.tokens + elapsed * perMs);
  if (available >= 1) return { allowed: true, bucket: { tokens: available - 1, updatedAt: nowMs } };
  return {
    allowed: false,
    bucket: { tokens: available, updatedAt: nowMs },
    retryAfterSeconds: Math.max(1, Math.ceil((1 - available) / perMs / 1000)),
  };
}

/** True when a bucket left alone since `updatedAt` is full again by `nowMs`: forgetting it changes nothing. */
export function isRefilled(bucket: TokenBucket, nowMs: number, limit: RateLimit): boolean {
  return bucket.tokens + Math.max(0, nowMs - bucket.updatedAt) * (limit.perMinute / 60_000) >= limit.burst;
}
