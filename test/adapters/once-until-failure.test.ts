import { describe, expect, it } from 'vitest';
import { onceUntilFailure, onceUntilFailurePerKey } from '../../src/adapters/shared/once-until-failure.ts';

/** A load whose every call is counted and settled by the test. */
function controlledLoad<T>() {
  const calls: { key: unknown; resolve: (value: T) => void; reject: (error: unknown) => void }[] = [];
  const load = (key?: unknown) =>
    new Promise<T>((resolve, reject) => {
      calls.push({ key, resolve, reject });
    });
  return { load, calls };
}

describe('onceUntilFailure', () => {
  it('keeps a success: the second call does not load again', async () => {
    // Arrange
    const { load, calls } = controlledLoad<string>();
    const get = onceUntilFailure(load);

    // Act
    const first = get();
    calls[0]?.resolve('value');
    const values = [await first, await get()];

    // Assess
    expect(values).toEqual(['value', 'value']);
    expect(calls).toHaveLength(1);
  });

  it('forgets a failure: the next call loads again', async () => {
    // Arrange
    const { load, calls } = controlledLoad<string>();
    const get = onceUntilFailure(load);
    const first = get();
    calls[0]?.reject(new Error('outage'));
    await expect(first).rejects.toThrow('outage');

    // Act
    const second = get();
    calls[1]?.resolve('value');

    // Assess
    await expect(second).resolves.toBe('value');
    expect(calls).toHaveLength(2);
  });

  it('concurrent callers share one in-flight load, and its failure', async () => {
    // Arrange
    const { load, calls } = controlledLoad<string>();
    const get = onceUntilFailure(load);

    // Act
    const callers = [get(), get(), get()];
    calls[0]?.reject(new Error('outage'));
    const settled = await Promise.allSettled(callers);

    // Assess
    expect(calls).toHaveLength(1);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
  });
});

describe('onceUntilFailurePerKey', () => {
  it('loads each key once, and forgets only the key that failed', async () => {
    // Arrange
    const { load, calls } = controlledLoad<string>();
    const get = onceUntilFailurePerKey((key: string) => load(key));
    const a = get('a');
    const b = get('b');
    calls[0]?.resolve('A');
    calls[1]?.reject(new Error('outage'));
    await a;
    await expect(b).rejects.toThrow('outage');

    // Act
    const again = [get('a'), get('b')];
    calls[2]?.resolve('B');

    // Assess
    expect(await Promise.all(again)).toEqual(['A', 'B']);
    expect(calls.map((c) => c.key)).toEqual(['a', 'b', 'b']);
  });

  it('with maxAgeMs, keeps a success until it is that old, then loads again', async () => {
    // Arrange
    let now = 1_000;
    const { load, calls } = controlledLoad<string>();
    const get = onceUntilFailurePerKey((key: string) => load(key), { maxAgeMs: 100, now: () => now });
    const first = get('k');
    calls[0]?.resolve('old');
    await first;

    // Act
    now = 1_099;
    const kept = await get('k');
    now = 1_100;
    const next = get('k');
    const sharedWhilePending = get('k');
    calls[1]?.resolve('new');

    // Assess
    expect(kept).toBe('old');
    expect(await next).toBe('new');
    expect(await sharedWhilePending).toBe('new');
    expect(calls).toHaveLength(2);
  });

  it('a failure of a refresh does not evict a newer attempt', async () => {
    // Arrange
    const { load, calls } = controlledLoad<string>();
    const get = onceUntilFailurePerKey((key: string) => load(key));
    const failing = get('k');
    calls[0]?.reject(new Error('outage'));
    await expect(failing).rejects.toThrow('outage');
    const second = get('k');

    // Act
    calls[1]?.resolve('value');
    await second;
    await get('k');

    // Assess
    expect(calls).toHaveLength(2);
  });
});
