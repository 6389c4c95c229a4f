/**
 * Credentials and sessions the emulator issued. Secrets never leave this module except in the one issuance result
 * that goes into the STS response; listings return copies without secret key or token.
 */
import { createHash } from 'node:crypto';
import type { IssuedSession } from './types.ts';
import { constantTimeEqual, isoSeconds, randomSecretAccessKey, randomSessionToken, randomTemporaryAccessKeyId } from './util.ts';

export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** ISO-8601 seconds precision. */
  expiration: string;
}

export interface StoredSession {
  readonly session: IssuedSession;
  readonly secretAccessKey: string;
  readonly sessionTokenDigest: string;
  readonly expiresAtMs: number;
}

export type NewSession = Omit<IssuedSession, 'accessKeyId' | 'expiration' | 'issuedAt'>;

function digest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class SessionStore {
  private readonly byAccessKeyId = new Map<string, StoredSession>();

  issue(input: NewSession, now: Date): { session: IssuedSession; credentials: IssuedCredentials } {
    let accessKeyId = randomTemporaryAccessKeyId();
    while (this.byAccessKeyId.has(accessKeyId)) accessKeyId = randomTemporaryAccessKeyId();
    const secretAccessKey = randomSecretAccessKey();
    const sessionToken = randomSessionToken();
    // STS expirations have whole seconds; the stored deadline is the one the client sees.
    const expiresAtMs = Math.floor((now.getTime() + input.durationSeconds * 1000) / 1000) * 1000;
    const expiration = isoSeconds(new Date(expiresAtMs));
    const session: IssuedSession = { ...structuredClone(input), accessKeyId, expiration, issuedAt: isoSeconds(now) };
    this.byAccessKeyId.set(accessKeyId, { session, secretAccessKey, sessionTokenDigest: digest(sessionToken), expiresAtMs });
    return { session: structuredClone(session), credentials: { accessKeyId, secretAccessKey, sessionToken, expiration } };
  }

  find(accessKeyId: string): StoredSession | undefined {
    return this.byAccessKeyId.get(accessKeyId);
  }

  tokenMatches(stored: StoredSession, token: string | undefined): boolean {
    return token !== undefined && constantTimeEqual(digest(token), stored.sessionTokenDigest);
  }

  get(accessKeyId: string): IssuedSession | undefined {
    const stored = this.byAccessKeyId.get(accessKeyId);
    return stored ? structuredClone(stored.session) : undefined;
  }

  list(): IssuedSession[] {
    return [...this.byAccessKeyId.values()].map((s) => structuredClone(s.session));
  }

  clear(): void {
    this.byAccessKeyId.clear();
  }
}
