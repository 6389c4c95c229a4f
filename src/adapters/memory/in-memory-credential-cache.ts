import type { CachedSession, CredentialCache } from '../../ports/index.ts';

export interface InMemoryCredentialCacheOptions {
  /** A session is served only while it has at least this long left (KEYVEND_CREDENTIAL_CACHE_MIN_REMAINING_SECONDS). */
  readonly minRemainingSeconds: number;
  /** At most this many sessions are kept; the least recently used goes first (KEYVEND_CREDENTIAL_CACHE_MAX_ENTRIES). */
  readonly maxEntries: number;
}

/**
 * The credential cache in the function's own memory: one container's sessions, gone with it. A Map keeps
 * insertion order, so re-inserting on every hit makes its first key the least recently used (LRU eviction).
 * Expired and too-short-lived entries are dropped when found; the size bound covers the rest.
 */
export class InMemoryCredentialCache implements CredentialCache {
  readonly #entries = new Map<string, CachedSession>();
  readonly #minRemainingMs: number;
  readonly #maxEntries: number;

  constructor(options: InMemoryCredentialCacheOptions) {
    this.#minRemainingMs = options.minRemainingSeconds * 1000;
    this.#maxEntries = options.maxEntries;
  }

  find(key: string, userKey: string, now: Date): CachedSession | undefined {
    const kept = this.#entries.get(key);
    if (kept === undefined) return undefined;
    if (kept.credentials.expiration.getTime() - now.getTime() < this.#minRemainingMs) {
      this.#entries.delete(key);
      return undefined;
    }
    // The key already names the caller; this makes a collision of keys a miss rather than another caller's session.
    if (kept.userKey !== userKey) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, kept);
    return kept;
  }

  keep(key: string, session: CachedSession): void {
    this.#entries.delete(key);
    this.#entries.set(key, session);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }

  forgetGrants(grantIds: readonly string[]): void {
    if (grantIds.length === 0) return;
    const revoked = new Set(grantIds);
    for (const [key, session] of this.#entries) if (revoked.has(session.grantId)) this.#entries.delete(key);
  }

  forgetCaller(userKey: string): void {
    for (const [key, session] of this.#entries) if (session.userKey === userKey) this.#entries.delete(key);
  }

  /** How many sessions are kept (for tests and the bench). */
  get size(): number {
    return this.#entries.size;
  }
}
