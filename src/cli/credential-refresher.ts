import type { AwsCredentials } from './broker-client.ts';

/** Credentials and when this process obtained them (IMDS answers carry it as `LastUpdated`). */
export interface HeldCredentials {
  readonly credentials: AwsCredentials;
  readonly updatedAt: number;
}

export interface Timers {
  readonly now: () => number;
  /** Runs `callback` after `ms`; returns a function that cancels it. */
  readonly schedule: (callback: () => void, ms: number) => () => void;
}

export const realTimers = (now: () => number): Timers => ({
  now,
  schedule: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    // A pending refresh must not keep a stopping process alive.
    timer.unref();
    return () => clearTimeout(timer);
  },
});

export interface RefresherOptions {
  /**
   * Credentials with more than `minRemainingMs` left: the refresher passes the bar it needs, so a cache that
   * another process already refreshed can answer, while the entry being replaced cannot.
   */
  readonly fetch: (minRemainingMs: number) => Promise<AwsCredentials>;
  /** Refresh once the held credentials have this much left (the configured minimum remaining lifetime). */
  readonly minRemainingMs: number;
  readonly timers: Timers;
  readonly log: (line: string) => void;
  /** In [0, 1); default Math.random. */
  readonly random?: () => number;
}

export interface CredentialRefresher {
  /** The held credentials while unexpired; else waits for a refresh, and throws its error when it fails. */
  current(): Promise<HeldCredentials>;
  /** Resolves when the first attempt settles (successful or not): callers announce readiness after it. */
  readonly ready: Promise<void>;
  stop(): void;
}

/** Upper bound of the random head start, so many `serve` processes do not ask the broker at the same instant. */
export const MAX_JITTER_MS = 60_000;
/** Retry after a failure: 1 s, doubling, at most 5 minutes. */
export const FIRST_RETRY_MS = 1_000;
export const MAX_RETRY_MS = 300_000;
/** Credentials shorter than the minimum would otherwise be refreshed in a loop: wait at least this long. */
export const MIN_REFRESH_DELAY_MS = 1_000;

/**
 * Keeps one entitlement's credentials fresh in the background: it asks for new ones when the held ones reach
 * the minimum remaining lifetime (less a random jitter), retries failures with a doubling backoff, and never
 * hands out expired credentials. A request that finds nothing usable starts (or joins) an attempt and waits.
 */
export function startRefresher(options: RefresherOptions): CredentialRefresher {
  const random = options.random ?? Math.random;
  const { now, schedule } = options.timers;
  let held: HeldCredentials | undefined;
  let inFlight: Promise<HeldCredentials> | undefined;
  let cancelTimer: (() => void) | undefined;
  let retryMs = FIRST_RETRY_MS;
  let stopped = false;

  const expiresAt = (credentials: AwsCredentials) => Date.parse(credentials.Expiration);

  function plan(ms: number): void {
    cancelTimer?.();
    cancelTimer = stopped ? undefined : schedule(() => void attempt().catch(() => {}), Math.max(0, ms));
  }

  function attempt(): Promise<HeldCredentials> {
    if (inFlight !== undefined) return inFlight;
    // Replace what is held: ask for something that outlives it, and at least the configured minimum.
    const bar = held === undefined ? options.minRemainingMs : Math.max(options.minRemainingMs, expiresAt(held.credentials) - now() + 1);
    const run = options.fetch(bar).then(
      (credentials) => {
        const fresh = { credentials, updatedAt: now() };
        held = fresh;
        retryMs = FIRST_RETRY_MS;
        plan(refreshDelay(expiresAt(credentials) - now()));
        return fresh;
      },
      (error: unknown) => {
        options.log(
          `refresh failed, retrying in ${Math.round(retryMs / 1000)} s: ${error instanceof Error ? error.message : String(error)}`,
        );
        plan(retryMs);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
        throw error;
      },
    );
    inFlight = run;
    const clear = () => {
      if (inFlight === run) inFlight = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  function refreshDelay(remainingMs: number): number {
    const window = remainingMs - options.minRemainingMs;
    const jitter = random() * Math.min(MAX_JITTER_MS, Math.max(0, window) / 10);
    // Credentials shorter than the minimum: refresh half-way through their life rather than at once, again and again.
    return Math.max(MIN_REFRESH_DELAY_MS, window - jitter, window < 0 ? remainingMs / 2 : 0);
  }

  const ready = attempt().then(
    () => {},
    () => {},
  );

  return {
    ready,
    async current() {
      if (held !== undefined && expiresAt(held.credentials) > now()) return held;
      // Nothing usable (never fetched, or expired after failed refreshes): join the attempt under way or start one
      // now rather than at the backoff's next step; its error is the answer, never the expired credentials.
      return attempt();
    },
    stop() {
      stopped = true;
      cancelTimer?.();
      cancelTimer = undefined;
    },
  };
}
