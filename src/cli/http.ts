import { CliError, EXIT } from './errors.ts';

const TIMEOUT_MS = 30_000;

/**
 * `fetch` with a timeout, where a network failure becomes `unavailable` (exit 5) naming the host
 * only: URLs can carry codes or tokens, so they never reach an error message whole.
 */
export async function request(url: string, init: RequestInit & { what: string }): Promise<Response> {
  const { what, ...rest } = init;
  try {
    return await fetch(url, { ...rest, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (cause) {
    const reason = cause instanceof Error && cause.name === 'TimeoutError' ? 'timed out' : 'is unreachable';
    throw new CliError(`${what.replace(/\W+/gu, '_')}_unavailable`, `${what} at ${new URL(url).origin} ${reason}`, EXIT.unavailable, {
      cause,
    });
  }
}

/** The body as a JSON object, or an empty object when it is not one. */
export async function jsonObject(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export const stringField = (body: Record<string, unknown>, name: string): string | undefined =>
  typeof body[name] === 'string' ? body[name] : undefined;
