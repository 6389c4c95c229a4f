import type { Principal } from './principal.ts';

/**
 * One error model for the whole broker. Every error a caller can see has a stable snake_case `code`
 * (documented in docs/errors.md and the OpenAPI description) and an HTTP status. Errors of 500 and
 * above are never shown in detail: the HTTP layer replaces their message with a generic one.
 *
 * `reason` is finer than `code` and goes only to the audit record and the log (e.g. `token_expired`
 * behind `invalid_token`), so that clients get no oracle while operators can still see what happened.
 */
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'not_entitled'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'policy_too_large'
  | 'throttled'
  | 'upstream_unavailable'
  | 'internal_error';

export class KeyvendError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly reason: string;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    httpStatus: number,
    message: string,
    options: { reason?: string; cause?: unknown; retryAfterSeconds?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.httpStatus = httpStatus;
    this.reason = options.reason ?? code;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** Errors below 500 are the caller's to see; the rest are ours and stay opaque. */
  get expose(): boolean {
    return this.httpStatus < 500;
  }
}

type Options = { reason?: string; cause?: unknown };

export class InvalidRequestError extends KeyvendError {
  constructor(message: string, options: Options = {}) {
    super('invalid_request', 400, message, { reason: 'invalid_request', ...options });
  }
}

/** Every authentication failure looks the same to the caller; the reason goes to the audit record. */
export class InvalidTokenError extends KeyvendError {
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super('invalid_token', 401, 'The bearer token is missing, malformed, expired or not trusted.', {
      reason,
      ...options,
    });
  }
}

/**
 * A SAML response that is not accepted: same code and status as a bad bearer token, its own message.
 * `principal` is set when the response verified but may not be used (a replay), so the denial names who.
 */
export class InvalidSamlResponseError extends KeyvendError {
  readonly principal: Principal | undefined;

  constructor(reason: string, options: { cause?: unknown; principal?: Principal } = {}) {
    super('invalid_token', 401, 'The SAML response is malformed, expired, replayed or not trusted.', {
      reason,
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.principal = options.principal;
  }
}

/** Same status and message whether the entitlement does not exist or the caller lacks it (no oracle). */
export class NotEntitledError extends KeyvendError {
  constructor(reason = 'not_entitled', options: { cause?: unknown } = {}) {
    super('not_entitled', 403, 'You are not entitled to this entitlement, or it does not allow this output.', {
      reason,
      ...options,
    });
  }
}

export class PolicyTooLargeError extends KeyvendError {
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super('policy_too_large', 422, 'The session policy or tags for this entitlement exceed what STS accepts.', {
      reason,
      ...options,
    });
  }
}

/** An authenticated caller asked for something only an admin may do (KEYVEND_ADMINS); the reason goes to the audit record. */
export class ForbiddenError extends KeyvendError {
  constructor(reason = 'not_admin', options: { cause?: unknown } = {}) {
    super('forbidden', 403, 'This requires an administrator.', { reason, ...options });
  }
}

/** What a request names (a person, a grant, a revocation) does not exist; nothing was written. */
export class NotFoundError extends KeyvendError {
  constructor(message: string, reason = 'not_found', options: { cause?: unknown } = {}) {
    super('not_found', 404, message, { reason, ...options });
  }
}

export class ThrottledError extends KeyvendError {
  constructor(reason: string, retryAfterSeconds: number, options: { cause?: unknown } = {}) {
    super('throttled', 429, 'Too many requests; retry later.', { reason, retryAfterSeconds, ...options });
  }
}

/**
 * Which dependency failed, for the log line of a 503 (never the response): the kind of service, whose it is
 * (an issuer id) and where (a configured or discovered URL, never one carrying a credential).
 */
export interface FailedDependency {
  readonly service: string;
  readonly issuerId?: string;
  readonly url?: string;
}

export class UpstreamUnavailableError extends KeyvendError {
  readonly dependency: FailedDependency | undefined;

  constructor(reason: string, options: { cause?: unknown; retryAfterSeconds?: number; dependency?: FailedDependency } = {}) {
    super('upstream_unavailable', 503, 'A service the broker depends on is unavailable; retry later.', {
      reason,
      retryAfterSeconds: options.retryAfterSeconds ?? 2,
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.dependency = options.dependency;
  }
}

export class InternalError extends KeyvendError {
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super('internal_error', 500, 'Internal error.', { reason, ...options });
  }
}

export const isKeyvendError = (value: unknown): value is KeyvendError => value instanceof KeyvendError;

/** Anything thrown, as the one error model: an unknown failure is an opaque internal error whose cause is kept for the log. */
export const asKeyvendError = (error: unknown): KeyvendError =>
  isKeyvendError(error) ? error : new InternalError('unexpected', { cause: error });

/** What a log line may say of a failure: its name, code and the start of its message, never the object itself. */
export function describeError(error: unknown): { name: string; code?: string; message: string } {
  if (!(error instanceof Error)) return { name: 'NonError', message: 'non-error thrown' };
  const code = (error as { code?: unknown }).code;
  return {
    name: error.name,
    ...(typeof code === 'string' ? { code } : {}),
    message: error.message.slice(0, 300),
  };
}
