import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isSecureTransport } from '../domain/transport.ts';
import { CliError, EXIT } from './errors.ts';
import { jsonObject, request, stringField } from './http.ts';

export interface Discovery {
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly authorizationEndpoint: string | undefined;
  readonly deviceAuthorizationEndpoint: string | undefined;
}

/** What a token endpoint answered, reduced to what the CLI keeps. */
export interface TokenResponse {
  readonly accessToken: string;
  readonly expiresAt: number;
  readonly refreshToken: string | undefined;
  readonly idToken: string | undefined;
}

export async function discover(issuer: string): Promise<Discovery> {
  const response = await request(`${issuer}/.well-known/openid-configuration`, {
    what: 'identity provider',
    headers: { accept: 'application/json' },
  });
  const body = await jsonObject(response);
  const tokenEndpoint = stringField(body, 'token_endpoint');
  if (!response.ok || tokenEndpoint === undefined) {
    throw new CliError(
      'discovery_failed',
      `${issuer} published no usable OpenID configuration (HTTP ${response.status})`,
      EXIT.unavailable,
    );
  }
  // OIDC Discovery §4.3: the document must name the issuer it was fetched for, or nothing in it is trusted.
  if (stringField(body, 'issuer')?.replace(/\/+$/u, '') !== issuer) {
    throw new CliError('discovery_failed', `the OpenID configuration at ${issuer} names another issuer`, EXIT.failure);
  }
  const optionalEndpoint = (name: string) => {
    const value = stringField(body, name);
    return value === undefined ? undefined : checkedEndpoint(`the OpenID configuration at ${issuer}`, name, value);
  };
  return {
    issuer,
    tokenEndpoint: checkedEndpoint(`the OpenID configuration at ${issuer}`, 'token_endpoint', tokenEndpoint),
    authorizationEndpoint: optionalEndpoint('authorization_endpoint'),
    deviceAuthorizationEndpoint: optionalEndpoint('device_authorization_endpoint'),
  };
}

/**
 * Codes, refresh tokens and client secrets are sent to these endpoints, so they meet the rule the
 * issuer itself meets: https, or plain http to loopback. A discovery document fetched over https can
 * still name an http endpoint elsewhere, and everything sent there would cross the network in clear.
 */
function checkedEndpoint(source: string, name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError('discovery_failed', `${source} has an invalid ${name}`, EXIT.failure);
  }
  if (!isSecureTransport(url, { allowLoopbackHttp: true })) {
    throw new CliError(
      'discovery_failed',
      `${source} names a ${name} that is neither https nor loopback (${url.protocol}//${url.host})`,
      EXIT.failure,
    );
  }
  return value;
}

export interface ClientRequest {
  readonly clientId: string;
  readonly scope: string | undefined;
  readonly resource: string | undefined;
}

export interface Prompter {
  /** Tells the user what to do; never given a secret. */
  readonly say: (line: string) => void;
  /** Opens a URL in the user's browser; false when it could not. */
  readonly open: (url: string) => Promise<boolean>;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** RFC 8628: show a code and a URL, then poll the token endpoint until the user has signed in. */
export async function deviceFlow(discovery: Discovery, client: ClientRequest, prompter: Prompter): Promise<TokenResponse> {
  const endpoint = discovery.deviceAuthorizationEndpoint;
  if (endpoint === undefined)
    throw new CliError('device_flow_unsupported', `${discovery.issuer} does not offer the device authorization grant`, EXIT.failure);
  const started = await request(endpoint, {
    what: 'identity provider',
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: withOptional({ client_id: client.clientId }, { scope: client.scope, resource: client.resource }),
  });
  const body = await jsonObject(started);
  const deviceCode = stringField(body, 'device_code');
  const userCode = stringField(body, 'user_code');
  const verificationUri = stringField(body, 'verification_uri');
  if (!started.ok || deviceCode === undefined || userCode === undefined || verificationUri === undefined) {
    throw oauthFailure('device authorization', started.status, body);
  }
  const complete = stringField(body, 'verification_uri_complete');
  prompter.say(`To sign in, open ${verificationUri} and enter the code ${userCode}`);
  if (complete !== undefined) prompter.say(`(or open ${complete})`);

  let intervalMs = Math.max(1, Number(body['interval'] ?? 5)) * 1000;
  const deadline = prompter.now() + Math.max(30, Number(body['expires_in'] ?? 600)) * 1000;
  for (;;) {
    await prompter.sleep(intervalMs);
    const polled = await tokenRequest(
      discovery,
      { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode, client_id: client.clientId },
      prompter.now,
    );
    if (polled.ok) return polled.tokens;
    if (polled.error === 'authorization_pending' && prompter.now() < deadline) continue;
    if (polled.error === 'slow_down') {
      intervalMs += 5000;
      continue;
    }
    if (polled.error === 'access_denied') throw new CliError('login_denied', 'the sign-in was declined', EXIT.notLoggedIn);
    if (polled.error === 'expired_token' || polled.error === 'authorization_pending') {
      throw new CliError('login_timeout', 'the sign-in code expired before it was used; run `keyvend login` again', EXIT.notLoggedIn);
    }
    throw polled.failure;
  }
}

/**
 * Authorization code with PKCE (S256) and a loopback redirect (RFC 8252 §7.3): a one-shot server on
 * 127.0.0.1 and a random port receives the code; the `state` must come back unchanged.
 */
export async function browserFlow(
  discovery: Discovery,
  client: ClientRequest,
  prompter: Prompter,
  timeoutMs = 300_000,
): Promise<TokenResponse> {
  if (discovery.authorizationEndpoint === undefined) {
    throw new CliError('browser_flow_unsupported', `${discovery.issuer} publishes no authorization endpoint`, EXIT.failure);
  }
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const callback = await receiveOneCallback(timeoutMs);
  try {
    const redirectUri = `http://127.0.0.1:${callback.port}/callback`;
    const url = new URL(discovery.authorizationEndpoint);
    for (const [key, value] of withOptional(
      {
        client_id: client.clientId,
        response_type: 'code',
        redirect_uri: redirectUri,
        state,
        nonce: randomBytes(16).toString('base64url'),
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      },
      { scope: client.scope, resource: client.resource },
    )) {
      url.searchParams.set(key, value);
    }
    prompter.say(`Opening your browser to sign in. If it does not open, visit:\n  ${url.href}`);
    await prompter.open(url.href);
    const params = await callback.result;
    if (params.get('state') !== state)
      throw new CliError('login_failed', 'the sign-in answer carried the wrong state; start again', EXIT.notLoggedIn);
    const error = params.get('error');
    if (error !== null) throw new CliError('login_failed', `the identity provider refused the sign-in: ${error}`, EXIT.notLoggedIn);
    const iss = params.get('iss');
    if (iss !== null && iss.replace(/\/+$/u, '') !== discovery.issuer) {
      throw new CliError('login_failed', 'the sign-in answer came from another issuer', EXIT.notLoggedIn);
    }
    const code = params.get('code');
    if (code === null) throw new CliError('login_failed', 'the sign-in answer carried no code', EXIT.notLoggedIn);
    const exchanged = await tokenRequest(
      discovery,
      withOptionalRecord(
        { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: client.clientId },
        { resource: client.resource },
      ),
      prompter.now,
    );
    if (!exchanged.ok) throw exchanged.failure;
    return exchanged.tokens;
  } finally {
    callback.close();
  }
}

export async function refreshTokens(
  discovery: Pick<Discovery, 'tokenEndpoint'>,
  clientId: string,
  refreshToken: string,
  resource: string | undefined,
  now: () => number,
) {
  return tokenRequest(
    discovery,
    withOptionalRecord({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }, { resource }),
    now,
  );
}

export async function clientCredentials(
  discovery: Pick<Discovery, 'tokenEndpoint'>,
  client: ClientRequest & { clientSecret: string },
  now: () => number,
) {
  return tokenRequest(
    discovery,
    withOptionalRecord({ grant_type: 'client_credentials' }, { scope: client.scope, resource: client.resource }),
    now,
    basicAuthorization(client.clientId, client.clientSecret),
  );
}

type TokenResult = { ok: true; tokens: TokenResponse } | { ok: false; error: string | undefined; failure: CliError };

async function tokenRequest(
  discovery: Pick<Discovery, 'tokenEndpoint'>,
  form: Record<string, string>,
  now: () => number,
  authorization?: string,
): Promise<TokenResult> {
  // Logins saved by older versions keep the token endpoint they discovered, unchecked.
  checkedEndpoint('the saved login', 'token_endpoint', discovery.tokenEndpoint);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (authorization !== undefined) headers['authorization'] = authorization;
  const response = await request(discovery.tokenEndpoint, {
    what: 'identity provider',
    method: 'POST',
    headers,
    body: new URLSearchParams(form),
  });
  const body = await jsonObject(response);
  const accessToken = stringField(body, 'access_token');
  if (response.ok && accessToken !== undefined) {
    const expiresIn = Number(body['expires_in']);
    return {
      ok: true,
      tokens: {
        accessToken,
        expiresAt: Number.isFinite(expiresIn) && expiresIn > 0 ? now() + expiresIn * 1000 : (jwtExpiry(accessToken) ?? now() + 300_000),
        refreshToken: stringField(body, 'refresh_token'),
        idToken: stringField(body, 'id_token'),
      },
    };
  }
  return { ok: false, error: stringField(body, 'error'), failure: oauthFailure('token request', response.status, body) };
}

function oauthFailure(what: string, status: number, body: Record<string, unknown>): CliError {
  const error = stringField(body, 'error') ?? `http_${status}`;
  const description = stringField(body, 'error_description');
  const exitCode = status >= 500 ? EXIT.unavailable : EXIT.failure;
  return new CliError(
    `idp_${error}`,
    `${what} failed at the identity provider: ${error}${description ? ` (${description})` : ''}`,
    exitCode,
  );
}

/** Claims of a JWT read without verification: only to label a login and key its cache, never to trust. */
export function unverifiedClaims(token: string | undefined): Record<string, unknown> {
  const payload = token?.split('.')[1];
  if (payload === undefined) return {};
  try {
    const value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function jwtExpiry(token: string): number | undefined {
  const exp = unverifiedClaims(token)['exp'];
  return typeof exp === 'number' ? exp * 1000 : undefined;
}

function basicAuthorization(clientId: string, clientSecret: string): string {
  // RFC 6749 §2.3.1: each part is form-encoded before base64.
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/gu, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

function withOptionalRecord(fixed: Record<string, string>, optional: Record<string, string | undefined>): Record<string, string> {
  const result = { ...fixed };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) result[key] = value;
  return result;
}

function withOptional(fixed: Record<string, string>, optional: Record<string, string | undefined>): URLSearchParams {
  return new URLSearchParams(withOptionalRecord(fixed, optional));
}

function receiveOneCallback(timeoutMs: number): Promise<{ port: number; result: Promise<URLSearchParams>; close: () => void }> {
  return new Promise((resolveServer, rejectServer) => {
    let settle: { resolve: (params: URLSearchParams) => void; reject: (error: Error) => void } | undefined;
    const result = new Promise<URLSearchParams>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (req.method !== 'GET' || url.pathname !== '/callback' || (!url.searchParams.has('code') && !url.searchParams.has('error'))) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found.\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
      res.end(
        '<!DOCTYPE html><html lang="en"><title>Keyvend</title><p>Keyvend received the sign-in. You can close this window.</p></html>',
      );
      settle?.resolve(url.searchParams);
    });
    const timer = setTimeout(
      () =>
        settle?.reject(new CliError('login_timeout', 'no sign-in arrived within 5 minutes; run `keyvend login` again', EXIT.notLoggedIn)),
      timeoutMs,
    );
    timer.unref();
    server.once('error', rejectServer);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolveServer({
        port,
        result,
        close: () => {
          clearTimeout(timer);
          server.close();
          server.closeAllConnections();
        },
      });
    });
  });
}
