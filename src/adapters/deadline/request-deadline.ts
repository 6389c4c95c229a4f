import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * How long one request may spend on its dependencies, from the moment its use case starts (docs/operations.md,
 * "Deadlines"). Until `workMs` every call is cut at `workMs`; a call started after it (writing down a denial or
 * closing the audit record) is cut at `recordMs`, so a hung dependency still leaves time to record what happened
 * and to answer 503 before the function's own timeout.
 */
export interface DeadlineBudget {
  readonly workMs: number;
  readonly recordMs: number;
}

interface Deadline {
  readonly workUntil: number;
  readonly recordUntil: number;
}

/** Thrown (as an abort reason) for a call started after the request's last moment. */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';
}

/** Where the deadline of the request being served is kept while its use case runs. */
export interface DeadlineStore {
  current(): Deadline | undefined;
  /** `fn`'s own result, as it is: a promise settles before the deadline leaves; a plain value (a sync method) at once. */
  run<R>(deadline: Deadline, fn: () => R): R;
}

/**
 * One request at a time, as a Lambda container serves them: the deadlines of the use cases running now, in a list,
 * the newest in force. Each entry takes the earlier of its own deadline and the one in force (a use case called from
 * another keeps the outer one; a request that starts while the init's key warm-up is in flight is never given more
 * time than either) and leaves the list when it ends, whatever ended before it. No AsyncLocalStorage: in Node 20 and
 * 22 it turns on async hooks for every promise the process makes, about 20 ms of a cold start (ADR 0019).
 */
export function sequentialDeadlineStore(): DeadlineStore {
  const running: Deadline[] = [];
  return {
    current: () => running.at(-1),
    run: <R>(deadline: Deadline, fn: () => R): R => {
      const inForce = running.at(-1);
      const own = inForce === undefined ? deadline : earliest(inForce, deadline);
      running.push(own);
      const leave = () => {
        running.splice(running.lastIndexOf(own), 1);
      };
      let result: R;
      try {
        result = fn();
      } catch (error) {
        leave();
        throw error;
      }
      if (result instanceof Promise) return result.finally(leave) as R;
      leave();
      return result;
    },
  };
}

/**
 * Several requests at once in one process (Lambda's multi-concurrency, `AWS_LAMBDA_MAX_CONCURRENCY`): each keeps its
 * own deadline through its asynchronous calls, at the price of async hooks.
 */
export function concurrentDeadlineStore(): DeadlineStore {
  const storage = new AsyncLocalStorage<Deadline>();
  return {
    current: () => storage.getStore(),
    run: (deadline, fn) => {
      const outer = storage.getStore();
      return storage.run(outer === undefined ? deadline : earliest(outer, deadline), fn);
    },
  };
}

const earliest = (a: Deadline, b: Deadline): Deadline => ({
  workUntil: Math.min(a.workUntil, b.workUntil),
  recordUntil: Math.min(a.recordUntil, b.recordUntil),
});

// Ambient because the use cases (src/app) know nothing of time budgets: the composition starts a deadline
// around each use case call and the adapters read it at each SDK or HTTP call, with no parameter in between.
// Lambda sets AWS_LAMBDA_MAX_CONCURRENCY only when one environment may serve several requests at once.
const store: DeadlineStore =
  process.env['AWS_LAMBDA_MAX_CONCURRENCY'] === undefined ? sequentialDeadlineStore() : concurrentDeadlineStore();

/**
 * `fn`, run under a deadline that starts when it is called. A use case called from another (the portal's console
 * button calls issueConsoleUrl) keeps the outer deadline: a deadline is never extended.
 */
export function withinDeadline<A extends unknown[], R>(
  budget: DeadlineBudget,
  fn: (...args: A) => Promise<R>,
  now: () => number = Date.now,
  deadlines: DeadlineStore = store,
) {
  return (...args: A): Promise<R> => {
    const start = now();
    return deadlines.run({ workUntil: start + budget.workMs, recordUntil: start + budget.recordMs }, () => fn(...args));
  };
}

/** The abort signal for a dependency call starting now; undefined outside a request (tools, adapter tests). */
export function deadlineSignal(now: () => number = Date.now, deadlines: DeadlineStore = store): AbortSignal | undefined {
  const deadline = deadlines.current();
  if (deadline === undefined) return undefined;
  const at = now();
  const until = at < deadline.workUntil ? deadline.workUntil : deadline.recordUntil;
  return until <= at ? AbortSignal.abort(new DeadlineExceededError('the request deadline has passed')) : AbortSignal.timeout(until - at);
}

/** The options of `client.send` that bind an SDK call to the request's deadline. */
export function sendOptions(): { abortSignal?: AbortSignal } {
  const signal = deadlineSignal();
  return signal === undefined ? {} : { abortSignal: signal };
}

/** A fetch signal bound to the request's deadline as well as to `own` (the adapter's own per-call timeout). */
export function withDeadline(own: AbortSignal): AbortSignal;
export function withDeadline(own: AbortSignal | undefined): AbortSignal | undefined;
export function withDeadline(own: AbortSignal | undefined): AbortSignal | undefined {
  const signal = deadlineSignal();
  if (signal === undefined) return own;
  return own === undefined ? signal : AbortSignal.any([own, signal]);
}
