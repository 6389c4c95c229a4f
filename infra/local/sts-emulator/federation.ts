/**
 * The AWS federation endpoint (`signin.aws.amazon.com/federation`), emulated next to STS because only the STS
 * emulator knows which credentials it issued. `getSigninToken` (GET or form POST) turns unexpired issued
 * credentials into a one-time SigninToken valid 15 minutes; `login` consumes it and shows a small "console"
 * page naming the role, session and destination, so a test can see where a person lands.
 * Sign-in events (no tokens, no credentials) are listed at `GET /_emulator/signin-events`.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { EmulatorRequest } from './protocol/http-request.ts';
import { QueryParams } from './protocol/query-params.ts';
import type { EmulatorState } from './state.ts';
import { constantTimeEqual, isoSeconds } from './util.ts';

export const FEDERATION_PATH = '/federation';
const TOKEN_LIFETIME_MS = 15 * 60 * 1000;

export interface SigninEvent {
  time: string;
  action: 'getSigninToken' | 'login' | string;
  outcome: 'ok' | 'error';
  error?: string;
  httpMethod: string;
  accessKeyId?: string;
  roleArn?: string;
  assumedRoleArn?: string;
  roleSessionName?: string;
  sessionDuration?: number;
  /** Seconds of console session the login gives. */
  consoleSessionSeconds?: number;
  destination?: string;
  issuer?: string;
}

interface PendingToken {
  readonly accessKeyId: string;
  readonly issuedAtMs: number;
  readonly consoleSessionSeconds: number;
}

export class FederationState {
  readonly #tokens = new Map<string, PendingToken>();
  readonly #events: SigninEvent[] = [];

  add(token: string, pending: PendingToken): void {
    this.#tokens.set(token, pending);
  }

  /** One-time: a token is gone after its first use, valid or not. */
  take(token: string): PendingToken | undefined {
    const pending = this.#tokens.get(token);
    this.#tokens.delete(token);
    return pending;
  }

  record(event: SigninEvent): void {
    this.#events.push(event);
  }

  events(): SigninEvent[] {
    return this.#events.map((e) => structuredClone(e));
  }

  clear(): void {
    this.#tokens.clear();
    this.#events.length = 0;
  }
}

class FederationError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function handleFederation(req: EmulatorRequest, res: ServerResponse, state: EmulatorState): void {
  const now = state.now();
  const params = QueryParams.fromRequest(req);
  const action = params.get('Action') ?? '';
  const event: SigninEvent = { time: isoSeconds(now), action, outcome: 'error', httpMethod: req.method };
  try {
    if (req.method !== 'GET' && req.method !== 'POST') throw new FederationError(405, 'Method not allowed');
    if (action === 'getSigninToken') {
      const token = getSigninToken(params, state, now, event);
      event.outcome = 'ok';
      send(res, 200, 'application/json', JSON.stringify({ SigninToken: token }));
    } else if (action === 'login') {
      const page = login(params, state, now, event);
      event.outcome = 'ok';
      send(res, 200, 'text/html; charset=utf-8', page);
    } else {
      throw new FederationError(400, 'Invalid action');
    }
  } catch (error) {
    const failure = error instanceof FederationError ? error : new FederationError(500, 'Internal error');
    event.error = failure.message;
    send(res, failure.status, 'text/plain; charset=utf-8', failure.message);
  }
  state.federation.record(event);
}

function getSigninToken(params: QueryParams, state: EmulatorState, now: Date, event: SigninEvent): string {
  let session: unknown;
  try {
    session = JSON.parse(params.get('Session') ?? '');
  } catch {
    throw new FederationError(400, 'Invalid credentials parameter');
  }
  const { sessionId, sessionKey, sessionToken } = (typeof session === 'object' && session !== null ? session : {}) as Record<
    string,
    unknown
  >;
  if (typeof sessionId !== 'string' || typeof sessionKey !== 'string' || typeof sessionToken !== 'string') {
    throw new FederationError(400, 'Invalid credentials parameter');
  }
  const stored = state.store.find(sessionId);
  if (stored === undefined || !constantTimeEqual(sessionKey, stored.secretAccessKey) || !state.store.tokenMatches(stored, sessionToken)) {
    throw new FederationError(400, 'Invalid credentials parameter');
  }
  const s = stored.session;
  Object.assign(event, {
    accessKeyId: s.accessKeyId,
    roleArn: s.roleArn,
    assumedRoleArn: s.assumedRoleArn,
    roleSessionName: s.roleSessionName,
  });
  if (now.getTime() >= stored.expiresAtMs) throw new FederationError(400, 'Invalid credentials parameter');

  const rawDuration = params.get('SessionDuration');
  let consoleSessionSeconds = Math.floor((stored.expiresAtMs - now.getTime()) / 1000);
  if (rawDuration !== undefined) {
    const duration = /^\d{1,6}$/.test(rawDuration) ? Number(rawDuration) : Number.NaN;
    event.sessionDuration = Number.isNaN(duration) ? -1 : duration;
    if (!(duration >= 900 && duration <= 43_200)) throw new FederationError(400, 'Invalid SessionDuration parameter');
    // The real endpoint refuses SessionDuration for credentials of a chained role session or a federation
    // token with this same 400 (aws-facts §7.6).
    const chained = s.callerArn.includes(':assumed-role/');
    const federated = s.assumedRoleArn.includes(':federated-user/');
    if (chained || federated) throw new FederationError(400, 'Invalid credentials parameter');
    consoleSessionSeconds = duration;
  }
  const token = randomBytes(48).toString('base64url');
  state.federation.add(token, { accessKeyId: s.accessKeyId, issuedAtMs: now.getTime(), consoleSessionSeconds });
  event.consoleSessionSeconds = consoleSessionSeconds;
  return token;
}

function login(params: QueryParams, state: EmulatorState, now: Date, event: SigninEvent): string {
  const destination = params.get('Destination') ?? '';
  const issuer = params.get('Issuer') ?? '';
  Object.assign(event, { destination, issuer });
  const pending = state.federation.take(params.get('SigninToken') ?? '');
  if (pending === undefined || now.getTime() - pending.issuedAtMs > TOKEN_LIFETIME_MS) {
    throw new FederationError(400, 'Invalid or expired sign-in token');
  }
  const session = state.store.get(pending.accessKeyId);
  if (session === undefined) throw new FederationError(400, 'Invalid or expired sign-in token');
  Object.assign(event, {
    accessKeyId: session.accessKeyId,
    roleArn: session.roleArn,
    assumedRoleArn: session.assumedRoleArn,
    roleSessionName: session.roleSessionName,
    consoleSessionSeconds: pending.consoleSessionSeconds,
  });
  return consolePage({
    roleArn: session.roleArn,
    assumedRoleArn: session.assumedRoleArn,
    sessionName: session.roleSessionName,
    destination,
    issuer,
  });
}

function consolePage(view: { roleArn: string; assumedRoleArn: string; sessionName: string; destination: string; issuer: string }): string {
  const row = (label: string, id: string, value: string) => `<dt>${label}</dt><dd id="${id}">${escapeHtml(value)}</dd>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>AWS console (local emulator)</title>
<style>body{font-family:system-ui,sans-serif;margin:0;color:#16191f}header{background:#232f3e;color:#fff;padding:.8rem 1rem}
main{padding:1rem;max-width:48rem}a{color:#0b5cad;font-weight:600}dt{font-weight:600;margin-top:.6rem}dd{margin:0;word-break:break-all;font-family:monospace}</style>
</head><body><header><strong>AWS Management Console</strong> · local emulator</header>
<main><h1>Signed in</h1><dl>
${row('Role', 'role-arn', view.roleArn)}
${row('Assumed role', 'assumed-role-arn', view.assumedRoleArn)}
${row('Session name', 'session-name', view.sessionName)}
${row('Destination', 'destination', view.destination)}
${row('Sign-out returns to', 'issuer', view.issuer)}
</dl>${backLink(view.issuer)}</main></body></html>`;
}

/**
 * AWS's console signs out to the Issuer the sign-in URL carried; this stand-in offers that way back as a link,
 * and only to an http(s) URL, so a crafted Issuer cannot become a javascript: link.
 */
function backLink(issuer: string): string {
  try {
    const url = new URL(issuer);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return '';
    return `<p><a id="back" href="${escapeHtml(url.toString())}">Back to ${escapeHtml(url.host)}</a></p>`;
  } catch {
    return '';
  }
}

function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
  });
  res.end(body);
}
