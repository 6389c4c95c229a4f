import { describe, expect, it } from 'vitest';
import type { AwsCredentials } from '../../../src/cli/broker-client.ts';
import { FIRST_RETRY_MS, startRefresher, type Timers } from '../../../src/cli/credential-refresher.ts';
import { CliError, EXIT } from '../../../src/cli/errors.ts';

const MINUTE = 60_000;
const START = Date.parse('2030-01-01T00:00:00Z');

/** A clock that only moves when told, and runs the timers that fall due on the way. */
function fakeClock() {
  let now = START;
  let timers: { at: number; callback: () => void; cancelled: boolean }[] = [];
  const clock: Timers & { advance(ms: number): Promise<void>; pending(): number[] } = {
    now: () => now,
    schedule: (callback, ms) => {
      const timer = { at: now + ms, callback, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        await settle();
        const due = timers.filter((timer) => !timer.cancelled && timer.at <= end).sort((a, b) => a.at - b.at)[0];
        if (due === undefined) break;
        now = Math.max(now, due.at);
        due.cancelled = true;
        due.callback();
      }
      now = end;
      timers = timers.filter((timer) => !timer.cancelled);
      await settle();
    },
    pending: () => timers.filter((timer) => !timer.cancelled).map((timer) => timer.at - now),
  };
  return clock;
}

const settle = async () => {
  for (let i = 0; i < 20; i += 1) await Promise.resolve();
};

/** A broker stand-in: each call issues credentials of `lifetimeMs`, or fails while `failing` is set. */
function fakeBroker(clock: Timers, lifetimeMs: number) {
  const broker = {
    calls: [] as { at: number; minRemainingMs: number }[],
    failing: undefined as CliError | undefined,
    fetch: async (minRemainingMs: number): Promise<AwsCredentials> => {
      broker.calls.push({ at: clock.now() - START, minRemainingMs });
      if (broker.failing !== undefined) throw broker.failing;
      const n = broker.calls.length;
      return {
        AccessKeyId: `ASIAFAKE${String(n).padStart(12, '0')}`,
        SecretAccessKey: `s${n}`,
        SessionToken: `t${n}`,
        Expiration: new Date(clock.now() + lifetimeMs).toISOString(),
      };
    },
  };
  return broker;
}

describe('keyvend serve: refreshing credentials in the background', () => {
  it('fetches at start, then again at the minimum remaining lifetime less a jitter, without a request waiting', async () => {
    // Prepare
    const clock = fakeClock();
    const broker = fakeBroker(clock, 60 * MINUTE);
    const refresher = startRefresher({ fetch: broker.fetch, minRemainingMs: 5 * MINUTE, timers: clock, log: () => {}, random: () => 0.5 });

    // Act
    await refresher.ready;
    const first = await refresher.current();
    // 55 minutes to the refresh point, less half of the 60 s jitter cap (a tenth of 55 minutes is more than 60 s).
    await clock.advance(55 * MINUTE - 30_001);
    const beforeRefresh = broker.calls.length;
    await clock.advance(1);
    const second = await refresher.current();

    // Assess
    expect(first.credentials.AccessKeyId).toBe('ASIAFAKE000000000001');
    expect(first.updatedAt).toBe(START);
    expect(beforeRefresh).toBe(1);
    expect(broker.calls).toEqual([
      { at: 0, minRemainingMs: 5 * MINUTE },
      // asks for credentials that outlive the held ones, so the shared cache cannot hand back the same entry
      { at: 55 * MINUTE - 30_000, minRemainingMs: 5 * MINUTE + 30_000 + 1 },
    ]);
    expect(second.credentials.AccessKeyId).toBe('ASIAFAKE000000000002');
    expect(second.updatedAt).toBe(START + 55 * MINUTE - 30_000);
    expect(broker.calls).toHaveLength(2);
    refresher.stop();
  });

  it('spreads refreshes of different processes by the jitter, never later than the minimum remaining lifetime', async () => {
    // Prepare
    const times = await Promise.all(
      [0, 0.999].map(async (random) => {
        const clock = fakeClock();
        const broker = fakeBroker(clock, 15 * MINUTE);
        const refresher = startRefresher({
          fetch: broker.fetch,
          minRemainingMs: 5 * MINUTE,
          timers: clock,
          log: () => {},
          random: () => random,
        });
        await refresher.ready;
        // Act
        await clock.advance(10 * MINUTE);
        refresher.stop();
        return broker.calls[1]?.at;
      }),
    );

    // Assess: 10 minutes in, less up to a tenth of the 10-minute window
    expect(times[0]).toBe(10 * MINUTE);
    expect(times[1]).toBeGreaterThan(9 * MINUTE);
    expect(times[1]).toBeLessThan(10 * MINUTE);
  });

  it('retries a failed refresh with a doubling backoff and serves the held credentials until they expire, then the error', async () => {
    // Prepare
    const clock = fakeClock();
    const broker = fakeBroker(clock, 15 * MINUTE);
    const logged: string[] = [];
    const refresher = startRefresher({
      fetch: broker.fetch,
      minRemainingMs: 5 * MINUTE,
      timers: clock,
      log: (line) => logged.push(line),
      random: () => 0,
    });
    await refresher.ready;
    broker.failing = new CliError('unavailable', 'the broker is unreachable', EXIT.unavailable);

    // Act
    await clock.advance(10 * MINUTE + 7 * FIRST_RETRY_MS);
    const stillValid = await refresher.current();
    const retries = broker.calls.map((call) => call.at - 10 * MINUTE);
    await clock.advance(5 * MINUTE);
    const afterExpiry = await refresher.current().then(
      () => 'served',
      (error: unknown) => (error as CliError).code,
    );

    // Assess
    expect(retries).toEqual([-10 * MINUTE, 0, 1_000, 3_000, 7_000]);
    expect(stillValid.credentials.AccessKeyId).toBe('ASIAFAKE000000000001');
    expect(afterExpiry).toBe('unavailable');
    expect(logged[0]).toBe('refresh failed, retrying in 1 s: the broker is unreachable');
    refresher.stop();
  });

  it('caps the backoff at five minutes and recovers at the first success', async () => {
    // Prepare
    const clock = fakeClock();
    const broker = fakeBroker(clock, 60 * MINUTE);
    broker.failing = new CliError('not_logged_in', 'not logged in', EXIT.notLoggedIn);
    const refresher = startRefresher({ fetch: broker.fetch, minRemainingMs: 5 * MINUTE, timers: clock, log: () => {}, random: () => 0 });
    await refresher.ready;

    // Act
    await clock.advance(60 * MINUTE);
    const gaps = broker.calls.slice(1).map((call, i) => call.at - (broker.calls[i]?.at ?? 0));
    broker.failing = undefined;
    await clock.advance(5 * MINUTE);
    const recovered = await refresher.current();

    // Assess
    expect(gaps.slice(0, 9)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256].map((s) => s * 1000));
    expect(new Set(gaps.slice(9))).toEqual(new Set([300_000]));
    const recoveredAt = START + (broker.calls.at(-1)?.at ?? 0);
    expect(recovered.updatedAt).toBe(recoveredAt);
    expect(Date.parse(recovered.credentials.Expiration)).toBe(recoveredAt + 60 * MINUTE);
    // the next refresh is planned from the new credentials, the backoff forgotten
    expect(clock.pending()).toEqual([recoveredAt + 55 * MINUTE - clock.now()]);
    refresher.stop();
  });

  it('a request that finds expired credentials starts an attempt at once and waits for it, and concurrent ones share it', async () => {
    // Prepare
    const clock = fakeClock();
    const broker = fakeBroker(clock, 15 * MINUTE);
    const refresher = startRefresher({ fetch: broker.fetch, minRemainingMs: 5 * MINUTE, timers: clock, log: () => {}, random: () => 0 });
    await refresher.ready;
    broker.failing = new CliError('unavailable', 'down', EXIT.unavailable);
    await clock.advance(15 * MINUTE + 1);
    const callsAtExpiry = broker.calls.length;
    broker.failing = undefined;

    // Act
    const [a, b] = await Promise.all([refresher.current(), refresher.current()]);

    // Assess
    expect(broker.calls).toHaveLength(callsAtExpiry + 1);
    expect(a).toBe(b);
    expect(Date.parse(a.credentials.Expiration)).toBeGreaterThan(clock.now());
    refresher.stop();
  });

  it('refreshes credentials shorter than the minimum half-way through their life, not in a loop', async () => {
    // Prepare
    const clock = fakeClock();
    const broker = fakeBroker(clock, 4 * MINUTE);
    const refresher = startRefresher({ fetch: broker.fetch, minRemainingMs: 5 * MINUTE, timers: clock, log: () => {}, random: () => 0 });
    await refresher.ready;

    // Act
    await clock.advance(4 * MINUTE);

    // Assess
    expect(broker.calls.map((call) => call.at)).toEqual([0, 2 * MINUTE, 4 * MINUTE]);
    refresher.stop();
    expect(clock.pending()).toEqual([]);
  });
});
