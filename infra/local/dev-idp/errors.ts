export type DevIdpErrorCode =
  | 'invalid_options'
  | 'unknown_user'
  | 'login_refused'
  | 'discovery_failed'
  | 'authorization_failed'
  | 'token_request_failed';

/** Every failure of the dev IdP helpers carries a stable `code` that callers can switch on. */
export class DevIdpError extends Error {
  override readonly name = 'DevIdpError';
  readonly code: DevIdpErrorCode;

  constructor(code: DevIdpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
