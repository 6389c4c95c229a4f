/**
 * The CLI's exit codes, documented in docs/cli.md. Scripts branch on them, so they never change meaning.
 */
export const EXIT = Object.freeze({
  ok: 0,
  failure: 1,
  usage: 2,
  notLoggedIn: 3,
  refused: 4,
  unavailable: 5,
} as const);

/**
 * Every failure the CLI reports: a stable snake_case `code` (the broker's own code when the broker
 * refused), a one-line message that never carries a secret, and the exit code scripts rely on.
 */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number,
    options: { cause?: unknown; requestId?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.requestId = options.requestId;
  }

  readonly requestId: string | undefined;
}

export const usageError = (message: string): CliError => new CliError('usage', message, EXIT.usage);

export const notLoggedIn = (issuer: string): CliError =>
  new CliError('not_logged_in', `not logged in to ${issuer}; run \`keyvend login\``, EXIT.notLoggedIn);

export const loginExpired = (issuer: string, detail: string): CliError =>
  new CliError('login_expired', `your login to ${issuer} has expired (${detail}); run \`keyvend login\``, EXIT.notLoggedIn);

/** One line for stderr: `keyvend: <code>: <message> (request <id>)`. */
export function describeFailure(error: unknown): { line: string; exitCode: number } {
  if (error instanceof CliError) {
    const request = error.requestId === undefined ? '' : ` (request ${error.requestId})`;
    return { line: `keyvend: ${error.code}: ${oneLine(error.message)}${request}`, exitCode: error.exitCode };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { line: `keyvend: internal_error: ${oneLine(message)}`, exitCode: EXIT.failure };
}

function oneLine(text: string): string {
  return text
    .replace(/\s+/gu, ' ')
    .replace(/[\u0000-\u001f\u007f-\u009f]/gu, '?')
    .trim();
}
