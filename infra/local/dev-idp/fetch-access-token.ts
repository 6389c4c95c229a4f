import { createHash, randomBytes } from 'node:crypto';

import { DEFAULT_API_AUDIENCE, DEFAULT_USER_SCOPE, LOOPBACK_REDIRECT_URI } from './constants.ts';
import { DevIdpError } from './errors.ts';

export interface FetchTokensOptions {
  /** Issuer URL of a running dev IdP, e.g. `http://127.0.0.1:4010`. */
  issuer: string;
  clientId: string;
  username: string;
  password: string;
  /** Resource indicator (RFC 8707) the access token is for; defaults to `urn:keyvend:api`. */
  resource?: string;
  /** Only for confidential clients; sent with `client_secret_basic`. */
  clientSecret?: string;
  redirectUri?: string;
  scope?: string;
}

export interface TokenSet {
  access_token: string;
  token_type: string;
  expires_in?: number;
  id_token?: string;
  refresh_token?: string;
  scope?: string;
}

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
}

const MAX_HOPS = 20;

/**
 * Signs `username` in through the provider's real authorization-code + PKCE (S256) flow, using
 * `fetch` only: GET /auth, follow redirects with a cookie jar, POST the login form (and the
 * consent form if the client is not first-party), read the code from the redirect, redeem it.
 */
export async function fetchTokens(options: FetchTokensOptions): Promise<TokenSet> {
  const issuer = options.issuer.replace(/\/+$/u, '');
  const resource = options.resource ?? DEFAULT_API_AUDIENCE;
  const redirectUri = options.redirectUri ?? LOOPBACK_REDIRECT_URI;
  const scope = options.scope ?? DEFAULT_USER_SCOPE;
  const discovery = await discover(issuer);

  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const authorizationUrl = new URL(discovery.authorization_endpoint);
  authorizationUrl.search = new URLSearchParams({
    client_id: options.clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    state,
    nonce: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    resource,
  }).toString();

  const callback = await driveToCallback(authorizationUrl.href, redirectUri, options);
  const code = readCode(callback, state, discovery.issuer);

  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    resource,
  });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (options.clientSecret === undefined) {
    body.set('client_id', options.clientId);
  } else {
    headers['authorization'] = basicAuthorization(options.clientId, options.clientSecret);
  }
  const response = await fetch(discovery.token_endpoint, { method: 'POST', headers, body });
  const payload = (await response.json().catch(() => ({}))) as Partial<TokenSet> & { error?: string; error_description?: string };
  if (!response.ok || typeof payload.access_token !== 'string') {
    throw new DevIdpError(
      'token_request_failed',
      `token request for client "${options.clientId}" failed (HTTP ${response.status}): ${payload.error ?? 'no error code'} ${payload.error_description ?? ''}`.trim(),
    );
  }
  return payload as TokenSet;
}

/** The access token of {@link fetchTokens}: what `tokenFor` and the `token` CLI print. */
export async function fetchAccessToken(options: FetchTokensOptions): Promise<string> {
  return (await fetchTokens(options)).access_token;
}

/** Client credentials grant (`client_secret_basic`) for workloads. */
export async function fetchClientCredentialsToken(options: {
  issuer: string;
  clientId: string;
  clientSecret: string;
  resource?: string;
  scope?: string;
}): Promise<string> {
  const discovery = await discover(options.issuer.replace(/\/+$/u, ''));
  const body = new URLSearchParams({ grant_type: 'client_credentials', resource: options.resource ?? DEFAULT_API_AUDIENCE });
  if (options.scope !== undefined) body.set('scope', options.scope);
  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      authorization: basicAuthorization(options.clientId, options.clientSecret),
    },
    body,
  });
  const payload = (await response.json().catch(() => ({}))) as { access_token?: unknown; error?: string; error_description?: string };
  if (!response.ok || typeof payload.access_token !== 'string') {
    throw new DevIdpError(
      'token_request_failed',
      `client_credentials for "${options.clientId}" failed (HTTP ${response.status}): ${payload.error ?? 'no error code'} ${payload.error_description ?? ''}`.trim(),
    );
  }
  return payload.access_token;
}

async function discover(issuer: string): Promise<Discovery> {
  const url = `${issuer}/.well-known/openid-configuration`;
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' } });
  } catch (cause) {
    throw new DevIdpError('discovery_failed', `cannot reach the dev IdP at ${url}: is it running?`, { cause });
  }
  if (!response.ok) {
    throw new DevIdpError('discovery_failed', `discovery at ${url} answered HTTP ${response.status}`);
  }
  const document = (await response.json()) as Partial<Discovery>;
  if (
    typeof document.issuer !== 'string' ||
    typeof document.authorization_endpoint !== 'string' ||
    typeof document.token_endpoint !== 'string'
  ) {
    throw new DevIdpError('discovery_failed', `discovery at ${url} lacks issuer, authorization_endpoint or token_endpoint`);
  }
  return document as Discovery;
}

/** Follows an authorization URL through the login form to the redirect URI; returns the callback URL (code and state). */
export async function driveToCallback(startUrl: string, redirectUri: string, options: FetchTokensOptions): Promise<URL> {
  const jar = new CookieJar();
  const target = new URL(redirectUri);
  let url = startUrl;
  let form: URLSearchParams | undefined;
  let loginSubmitted = false;

  for (let hop = 0; hop < MAX_HOPS; hop += 1) {
    const headers: Record<string, string> = { accept: 'text/html' };
    const cookie = jar.headerFor(url);
    if (cookie) headers['cookie'] = cookie;
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, { method: form ? 'POST' : 'GET', headers, redirect: 'manual', ...(form ? { body: form } : {}) });
    jar.store(url, response.headers.getSetCookie());

    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      const location = response.headers.get('location');
      if (!location) {
        throw new DevIdpError('authorization_failed', `redirect without a Location header from ${url}`);
      }
      const next = new URL(location, url);
      if (next.origin === target.origin && next.pathname === target.pathname) return next;
      url = next.href;
      form = undefined;
      continue;
    }

    const html = await response.text();
    const page = parseInteractionForm(html);
    if (page?.prompt === 'login') {
      if (loginSubmitted) {
        throw new DevIdpError('login_refused', `the dev IdP refused the sign-in of "${options.username}": unknown user or wrong password`);
      }
      loginSubmitted = true;
      form = new URLSearchParams({ prompt: 'login', login: options.username, password: options.password });
    } else if (page?.prompt === 'consent') {
      form = new URLSearchParams({ prompt: 'consent' });
    } else {
      throw new DevIdpError(
        'authorization_failed',
        `unexpected HTTP ${response.status} page from ${url} during sign-in: ${summarise(html)}`,
      );
    }
    url = new URL(page.action, url).href;
  }
  throw new DevIdpError('authorization_failed', `no redirect to ${redirectUri} after ${MAX_HOPS} steps`);
}

function readCode(callback: URL, state: string, issuer: string): string {
  const params = callback.searchParams;
  const error = params.get('error');
  if (error) {
    throw new DevIdpError('authorization_failed', `authorization failed: ${error} ${params.get('error_description') ?? ''}`.trim());
  }
  if (params.get('state') !== state) {
    throw new DevIdpError('authorization_failed', 'authorization response carries the wrong state');
  }
  const iss = params.get('iss');
  if (iss !== null && iss !== issuer) {
    throw new DevIdpError('authorization_failed', `authorization response comes from issuer ${iss}, expected ${issuer}`);
  }
  const code = params.get('code');
  if (!code) throw new DevIdpError('authorization_failed', 'authorization response has no code');
  return code;
}

interface InteractionForm {
  action: string;
  prompt: string;
}

function parseInteractionForm(html: string): InteractionForm | undefined {
  const action = /<form\b[^>]*\baction="([^"]*)"/iu.exec(html)?.[1];
  const prompt = /<input\b[^>]*\bname="prompt"[^>]*\bvalue="([^"]*)"/iu.exec(html)?.[1];
  if (action === undefined || prompt === undefined) return undefined;
  return { action: decodeEntities(action), prompt };
}

function decodeEntities(value: string): string {
  return value
    .replace(/&#x([0-9a-f]+);/giu, (_, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&#(\d+);/gu, (_, dec: string) => String.fromCodePoint(Number.parseInt(dec, 10)))
    .replace(/&quot;/gu, '"')
    .replace(/&lt;/gu, '<')
    .replace(/&gt;/gu, '>')
    .replace(/&amp;/gu, '&');
}

function summarise(html: string): string {
  const text = html
    .replace(/<style[\s\S]*?<\/style>/giu, ' ')
    .replace(/<[^>]+>/gu, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text || '(empty body)';
}

function basicAuthorization(clientId: string, clientSecret: string): string {
  // RFC 6749 §2.3.1: form-encode each part before base64.
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/gu, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/** Just enough of RFC 6265 for one origin: name, value, path and expiry. */
class CookieJar {
  readonly #cookies = new Map<string, { name: string; value: string; path: string }>();

  store(requestUrl: string, setCookies: string[]): void {
    for (const header of setCookies) {
      const [pair = '', ...attributes] = header.split(';');
      const separator = pair.indexOf('=');
      if (separator <= 0) continue;
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      let path = defaultPath(new URL(requestUrl).pathname);
      let expired = false;
      for (const attribute of attributes) {
        const [rawKey = '', ...rest] = attribute.split('=');
        const key = rawKey.trim().toLowerCase();
        const attributeValue = rest.join('=').trim();
        if (key === 'path' && attributeValue.startsWith('/')) path = attributeValue;
        if (key === 'max-age' && Number(attributeValue) <= 0) expired = true;
        if (key === 'expires' && Date.parse(attributeValue) <= Date.now()) expired = true;
      }
      const key = `${name};${path}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path });
    }
  }

  headerFor(requestUrl: string): string {
    const { pathname } = new URL(requestUrl);
    return [...this.#cookies.values()]
      .filter(({ path }) => pathname === path || pathname.startsWith(path.endsWith('/') ? path : `${path}/`))
      .map(({ name, value }) => `${name}=${value}`)
      .join('; ');
  }
}

function defaultPath(pathname: string): string {
  const lastSlash = pathname.lastIndexOf('/');
  return lastSlash <= 0 ? '/' : pathname.slice(0, lastSlash);
}
