/**
 * Single-flight memo for what an adapter fetches once per container (a discovery document, a key's public half,
 * a secret): concurrent callers share one in-flight promise, a success is kept, and a failure is forgotten as soon
 * as it settles, so the next call tries again instead of replaying an outage for the container's lifetime.
 */
export interface OnceOptions {
  /** Keep a success this long after it settled (then fetch again); kept for the container's lifetime without it. */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
}

/** `load` once per key, under the rules above. */
export function onceUntilFailurePerKey<K, T>(load: (key: K) => Promise<T>, options: OnceOptions = {}): (key: K) => Promise<T> {
  const now = options.now ?? Date.now;
  const entries = new Map<K, { readonly value: Promise<T>; expiresAt?: number }>();
  return (key: K): Promise<T> => {
    const kept = entries.get(key);
    if (kept !== undefined && (kept.expiresAt === undefined || kept.expiresAt > now())) return kept.value;
    const entry: { readonly value: Promise<T>; expiresAt?: number } = { value: load(key) };
    entries.set(key, entry);
    entry.value.then(
      () => {
        if (options.maxAgeMs !== undefined) entry.expiresAt = now() + options.maxAgeMs;
      },
      () => {
        // Only this attempt's entry: a newer one (started after this one expired) stays.
        if (entries.get(key) === entry) entries.delete(key);
      },
    );
    return entry.value;
  };
}

/** `load` once, under the rules above. */
export function onceUntilFailure<T>(load: () => Promise<T>, options: OnceOptions = {}): () => Promise<T> {
  const perKey = onceUntilFailurePerKey(load, options);
  return () => perKey(undefined);
}
