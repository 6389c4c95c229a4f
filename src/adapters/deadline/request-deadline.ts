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

// Ambient because the use cases (src/app) know nothing of time budgets: the composition starts a deadline
// around each use case call and the adapters read it at each SDK or HTTP call, with no parameter in between.
const current = new AsyncLocalStorage<Deadline>();

/**
 * `fn`, run under a deadline that starts when it is called. A use case called from another (the portal's console
 * button calls issueConsoleUrl) keeps the outer deadline.
 */
export function withinDeadline<A extends unknown[], R>(
  budget: DeadlineBudget,
  fn: (...args: A) => Promise<R>,
  now: () => number = Date.now,
) {
  return (...args: A): Promise<R> => {
    if (current.getStore() !== undefined) return fn(...args);
    const start = now();
    return current.run({ workUntil: start + budget.workMs, recordUntil: start + budget.recordMs }, () => fn(...args));
  };
}

/** The abort signal for a dependency call starting now; undefined outside a request (tools, adapter tests). */
export function deadlineSignal(now: () => number = Date.now): AbortSignal | undefined {
  const deadline = current.getStore();
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
