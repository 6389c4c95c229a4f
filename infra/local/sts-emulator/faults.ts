/**
 * Fault injection: the next `count` calls of an action fail with a given error code.
 * Faults apply after authentication (a request with a bad signature does not consume one).
 * The SDK retries Throttling and 5xx responses (3 attempts by default), and every attempt consumes one fault.
 */
import { StsError } from './errors.ts';
import type { FaultSpec } from './types.ts';

interface PendingFault {
  action: string;
  code: string;
  httpStatus: number;
  message: string;
  remaining: number;
}

const DEFAULTS: Record<string, { status: number; message: string }> = {
  Throttling: { status: 400, message: 'Rate exceeded' },
  InternalFailure: { status: 500, message: 'An internal error occurred.' },
  ServiceUnavailable: { status: 503, message: 'Service is unavailable. Please try again later.' },
};

export class FaultQueue {
  private readonly pending: PendingFault[] = [];

  /** Validates and queues a fault; throws TypeError on a malformed spec. */
  add(spec: FaultSpec): void {
    if (typeof spec !== 'object' || spec === null) throw new TypeError('fault must be an object');
    const { action, code, httpStatus, message, count } = spec;
    if (typeof action !== 'string' || !/^(\*|[A-Za-z]+)$/.test(action)) throw new TypeError('fault.action must be an action name or *');
    if (typeof code !== 'string' || !/^[A-Za-z][A-Za-z0-9.]*$/.test(code)) throw new TypeError('fault.code must be an error code');
    if (httpStatus !== undefined && (!Number.isInteger(httpStatus) || httpStatus < 400 || httpStatus > 599)) {
      throw new TypeError('fault.httpStatus must be an integer in 400..599');
    }
    if (message !== undefined && typeof message !== 'string') throw new TypeError('fault.message must be a string');
    if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new TypeError('fault.count must be a positive integer');
    const defaults = DEFAULTS[code];
    this.pending.push({
      action,
      code,
      httpStatus: httpStatus ?? defaults?.status ?? 400,
      message: message ?? defaults?.message ?? code,
      remaining: count ?? 1,
    });
  }

  /** Consumes one matching fault, returning the error to answer with. */
  take(action: string): StsError | undefined {
    const index = this.pending.findIndex((f) => f.action === action || f.action === '*');
    const fault = this.pending[index];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.pending.splice(index, 1);
    return new StsError(fault.code, fault.message, fault.httpStatus);
  }

  list(): Array<Required<FaultSpec>> {
    return this.pending.map((f) => ({ action: f.action, code: f.code, httpStatus: f.httpStatus, message: f.message, count: f.remaining }));
  }

  clear(): void {
    this.pending.length = 0;
  }
}
