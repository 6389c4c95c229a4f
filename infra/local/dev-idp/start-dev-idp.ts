import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';

import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import Provider, { errors, interactionPolicy } from 'oidc-provider';
import type { Account, BaseTokenModel, ClientModel, GrantModel, KoaContextWithOIDC, ResourceServerInfo } from 'oidc-provider';

import {
  API_SCOPE,
  CLIENT_IDS,
  DEFAULT_API_AUDIENCE,
  DEFAULT_PORTAL_REDIRECT_URI,
  DEV_PORTAL_CLIENT_SECRET,
  DEV_WORKLOAD_CLIENT_SECRET,
  LOOPBACK_REDIRECT_URI,
} from './constants.ts';
import { findDemoUserBySub, findDemoUserByUsername } from './demo-users.ts';
import { DevIdpError } from './errors.ts';
import { fetchAccessToken, fetchClientCredentialsToken } from './fetch-access-token.ts';
import { createInteractionHandler } from './interactions.ts';
import { createMemoryAdapterFactory } from './memory-adapter.ts';
import { deviceCodeInputPage, deviceConfirmPage, logoutPage, messagePage } from './pages.ts';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Client metadata as oidc-provider takes it (snake_case, RFC 7591), plus `firstParty`. */
export interface ExtraClient {
  client_id: string;
  client_secret?: string;
  client_name?: string;
  application_type?: 'web' | 'native';
  token_endpoint_auth_method?: 'none' | 'client_secret_basic' | 'client_secret_post';
  grant_types?: string[];
  response_types?: string[];
  redirect_uris?: string[];
  post_logout_redirect_uris?: string[];
  /** Skip the consent step, as for Keyvend's own clients. Default false. */
  firstParty?: boolean;
}

export interface DevIdpOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** A loopback address; default 127.0.0.1. */
  host?: string;
  /** Default `http://<host>:<port>`. Must be reachable (tokens and discovery use it) and have no path. */
  issuer?: string;
  /** Resource indicator and `aud` of access tokens; default `urn:keyvend:api`. */
  apiAudience?: string;
  clients?: ExtraClient[];
  /** Access-token lifetime, default 900 s. */
  accessTokenTtlSeconds?: number;
  /** Private signing JWKS (with `kid`s); default: a fresh RSA 2048 key per start. */
  jwks?: { keys: JWK[] };
  /** Default `keyvend-portal-dev-secret`. */
  portalClientSecret?: string;
  /** Default `['http://127.0.0.1:3000/portal/callback']`. */
  portalRedirectUris?: string[];
  portalPostLogoutRedirectUris?: string[];
  /** Default `keyvend-workload-dev-secret`. */
  workloadClientSecret?: string;
}

/** Where the dev IdP serves its JWKS (set as oidc-provider's route, so the two cannot drift). */
export const DEV_IDP_JWKS_PATH = '/jwks';

export interface DevIdp {
  issuer: string;
  /** `<issuer>/jwks`: the broker's `jwksUri` for the dev issuer, so it needs no discovery (ADR 0017). */
  jwksUri: string;
  /** Where the server listens, e.g. `http://127.0.0.1:41234`. */
  url: string;
  apiAudience: string;
  close(): Promise<void>;
  /** An access token for a demo user, through the real authorization-code + PKCE flow. */
  tokenFor(username: string, opts?: { clientId?: string }): Promise<string>;
  clientCredentialsToken(clientId: string, clientSecret: string): Promise<string>;
}

export async function startDevIdp(opts: DevIdpOptions = {}): Promise<DevIdp> {
  const host = opts.host ?? '127.0.0.1';
  assertLoopback(host);
  const apiAudience = opts.apiAudience ?? DEFAULT_API_AUDIENCE;
  const accessTokenTtl = opts.accessTokenTtlSeconds ?? 900;
  if (!Number.isInteger(accessTokenTtl) || accessTokenTtl <= 0) {
    throw new DevIdpError('invalid_options', `accessTokenTtlSeconds must be a positive integer, got ${accessTokenTtl}`);
  }
  const jwks = opts.jwks ?? (await generateSigningJwks());
  const clients = buildClients(opts);

  let listener: RequestListener = (_req, res) => {
    res.writeHead(503).end();
  };
  const server = createServer((req, res) => listener(req, res));
  await listen(server, opts.port ?? 0, host);
  const { port } = server.address() as AddressInfo;
  const url = `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;

  try {
    const issuer = normaliseIssuer(opts.issuer ?? url);
    const provider = new Provider(issuer, providerConfiguration({ apiAudience, accessTokenTtl, jwks, clients }));
    const providerCallback = provider.callback();
    const labels = new Map(clients.map((client) => [client.client_id, client.client_name ?? client.client_id]));
    const interactions = createInteractionHandler(provider, (clientId) => labels.get(clientId) ?? clientId);
    listener = (req: IncomingMessage, res: ServerResponse) => {
      const pathname = pathnameOf(req.url);
      if (pathname.startsWith('/interaction/')) void interactions(req, res, pathname);
      else void providerCallback(req, res);
    };

    let closing: Promise<void> | undefined;
    return {
      issuer,
      jwksUri: `${issuer}${DEV_IDP_JWKS_PATH}`,
      url,
      apiAudience,
      close() {
        closing ??= new Promise<void>((resolve, reject) => {
          server.close((error) => (error ? reject(error) : resolve()));
          server.closeAllConnections();
        });
        return closing;
      },
      async tokenFor(username, tokenOpts = {}) {
        const user = findDemoUserByUsername(username);
        if (!user) {
          throw new DevIdpError('unknown_user', `no demo user "${username}"; the demo users are alice and bob`);
        }
        const clientId = tokenOpts.clientId ?? CLIENT_IDS.demoApp;
        const client = clients.find((candidate) => candidate.client_id === clientId);
        const redirectUri = client?.redirect_uris?.[0];
        return fetchAccessToken({
          issuer,
          clientId,
          username,
          password: user.password,
          resource: apiAudience,
          ...(client?.client_secret === undefined ? {} : { clientSecret: client.client_secret }),
          ...(redirectUri === undefined ? {} : { redirectUri }),
        });
      },
      clientCredentialsToken(clientId, clientSecret) {
        return fetchClientCredentialsToken({ issuer, clientId, clientSecret, resource: apiAudience });
      },
    };
  } catch (error) {
    server.close();
    throw error;
  }
}

interface ProviderInputs {
  apiAudience: string;
  accessTokenTtl: number;
  jwks: { keys: JWK[] };
  clients: ExtraClient[];
}

function providerConfiguration({ apiAudience, accessTokenTtl, jwks, clients }: ProviderInputs): Record<string, unknown> {
  const firstParty = new Set(clients.filter((client) => client.firstParty).map((client) => client.client_id));
  const resourceServer: ResourceServerInfo = {
    scope: API_SCOPE,
    audience: apiAudience,
    accessTokenTTL: accessTokenTtl,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  };
  const userClaims = ['sub', 'name', 'preferred_username', 'email', 'email_verified', 'groups'];
  const tokenTtl = (_ctx: unknown, token: BaseTokenModel) => token.resourceServer?.accessTokenTTL ?? accessTokenTtl;
  const sessionTtl = 12 * 60 * 60;

  return {
    adapter: createMemoryAdapterFactory(),
    jwks,
    routes: { jwks: DEV_IDP_JWKS_PATH },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    clients: clients.map(({ firstParty: _firstParty, ...metadata }) => metadata),
    // The ID token carries the profile with `openid` alone; the usual scopes are accepted too.
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    claims: {
      openid: userClaims,
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx: unknown, client: ClientModel, token: BaseTokenModel) => token.clientId === client.clientId,
      },
      deviceFlow: {
        enabled: true,
        userCodeInputSource(ctx: KoaContextWithOIDC, form: string, _out: unknown, err?: { name?: string; userCode?: string }) {
          let message = 'Enter the code displayed on your device.';
          if (err?.userCode !== undefined || err?.name === 'NoCodeError') message = 'The code you entered is incorrect. Try again.';
          else if (err?.name === 'AbortedError') message = 'The sign-in request was interrupted.';
          else if (err) message = 'There was an error processing your request.';
          ctx.type = 'html';
          ctx.body = deviceCodeInputPage(form, message, err !== undefined);
        },
        userCodeConfirmSource(ctx: KoaContextWithOIDC, form: string, client: ClientModel, _deviceInfo: unknown, userCode: string) {
          ctx.type = 'html';
          ctx.body = deviceConfirmPage(form, client.clientName ?? client.clientId, userCode);
        },
        successSource(ctx: KoaContextWithOIDC) {
          ctx.type = 'html';
          ctx.body = messagePage('Signed in', 'Your device is signed in. You can close this page.');
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource(ctx: KoaContextWithOIDC & { host: string }, form: string) {
          ctx.type = 'html';
          ctx.body = logoutPage(form, ctx.host);
        },
        postLogoutSuccessSource(ctx: KoaContextWithOIDC) {
          ctx.type = 'html';
          ctx.body = messagePage('Signed out', 'You are signed out.');
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx: unknown, _client: unknown, oneOf?: string[]) =>
          oneOf === undefined ? apiAudience : oneOf.includes(apiAudience) ? apiAudience : oneOf[0],
        // Authorization-code and refresh grants get an access token for the API even when the
        // token request repeats no `resource` and `openid` was asked for.
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx: unknown, resourceIndicator: string) {
          if (resourceIndicator !== apiAudience) throw new errors.InvalidTarget();
          return resourceServer;
        },
      },
    },
    async findAccount(_ctx: unknown, sub: string): Promise<Account | undefined> {
      const user = findDemoUserBySub(sub);
      if (!user) return undefined;
      return {
        accountId: user.sub,
        claims: () => ({
          sub: user.sub,
          name: user.name,
          preferred_username: user.username,
          email: user.email,
          email_verified: true,
          groups: [...user.groups],
        }),
      };
    },
    // Keyvend's own clients that registered the refresh_token grant get one without having to
    // ask for offline_access (which oidc-provider only honours together with prompt=consent).
    issueRefreshToken(_ctx: unknown, client: ClientModel & { grantTypeAllowed(type: string): boolean }, source: { scopes: Set<string> }) {
      return client.grantTypeAllowed('refresh_token') && (firstParty.has(client.clientId) || source.scopes.has('offline_access'));
    },
    async extraTokenClaims(_ctx: unknown, token: BaseTokenModel) {
      if (token.kind !== 'AccessToken' || token.accountId === undefined) return undefined;
      const user = findDemoUserBySub(token.accountId);
      return user ? { groups: [...user.groups] } : undefined;
    },
    async loadExistingGrant(ctx: KoaContextWithOIDC): Promise<GrantModel | undefined> {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId ?? oidc.session.grantIdFor(oidc.client.clientId);
      let grant = grantId === undefined ? undefined : await oidc.provider.Grant.find(grantId);
      if (!firstParty.has(oidc.client.clientId)) return grant;

      // First-party clients get whatever they ask for, so no consent page is ever shown to them.
      const { accountId } = oidc.session;
      if (grant === undefined || grant.accountId !== accountId) {
        grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, ...(accountId === undefined ? {} : { accountId }) });
      }
      const oidcScopes = [...oidc.requestParamOIDCScopes];
      if (oidcScopes.length > 0) grant.addOIDCScope(oidcScopes.join(' '));
      const claims = [...oidc.requestParamClaims];
      if (claims.length > 0) grant.addOIDCClaims(claims);
      for (const [indicator, server] of Object.entries(oidc.resourceServers)) {
        const scopes = [...oidc.requestParamScopes].filter((scope) => server.scopes.has(scope));
        if (scopes.length > 0) grant.addResourceScope(indicator, scopes.join(' '));
      }
      await grant.save();
      return grant;
    },
    interactions: {
      policy: interactionPolicyFor(firstParty),
      url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
    },
    clientBasedCORS(_ctx: unknown, origin: string, client: ClientModel) {
      return origin !== 'null' && client.redirectUris.some((uri) => originOf(uri) === origin);
    },
    ttl: {
      AccessToken: tokenTtl,
      ClientCredentials: tokenTtl,
      AuthorizationCode: 60,
      DeviceCode: 10 * 60,
      IdToken: 60 * 60,
      Interaction: 60 * 60,
      RefreshToken: sessionTtl,
      Session: sessionTtl,
      Grant: sessionTtl,
    },
  };
}

/**
 * oidc-provider always asks the user to confirm for native clients (a loopback redirect can be
 * claimed by any local program). The CLI is ours, so that check is kept for other clients only.
 */
function interactionPolicyFor(firstParty: ReadonlySet<string>) {
  const policy = interactionPolicy.base();
  const consent = policy.get('consent');
  if (!consent) throw new Error('oidc-provider has no consent prompt');
  const index = consent.checks.findIndex((check) => check.reason === 'native_client_prompt');
  if (index === -1) throw new Error('oidc-provider has no native_client_prompt check');
  consent.checks.remove('native_client_prompt');
  consent.checks.add(
    new interactionPolicy.Check('native_client_prompt', 'native clients require End-User interaction', 'interaction_required', (ctx) => {
      const { oidc } = ctx;
      return (
        !firstParty.has(oidc.client.clientId) &&
        oidc.client.applicationType === 'native' &&
        oidc.params['response_type'] !== 'none' &&
        !oidc.result?.consent
      );
    }),
    index,
  );
  return policy;
}

function buildClients(opts: DevIdpOptions): ExtraClient[] {
  const builtIn: ExtraClient[] = [
    {
      client_id: CLIENT_IDS.cli,
      client_name: 'Keyvend CLI',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
      response_types: ['code'],
      // Native client: oidc-provider accepts this URI with any port (RFC 8252 §7.3).
      redirect_uris: [LOOPBACK_REDIRECT_URI],
      firstParty: true,
    },
    {
      client_id: CLIENT_IDS.portal,
      client_name: 'Keyvend portal',
      application_type: 'web',
      client_secret: opts.portalClientSecret ?? DEV_PORTAL_CLIENT_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: opts.portalRedirectUris ?? [DEFAULT_PORTAL_REDIRECT_URI],
      ...(opts.portalPostLogoutRedirectUris === undefined ? {} : { post_logout_redirect_uris: opts.portalPostLogoutRedirectUris }),
      firstParty: true,
    },
    {
      client_id: CLIENT_IDS.demoApp,
      client_name: 'Keyvend demo app',
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [LOOPBACK_REDIRECT_URI],
      firstParty: true,
    },
    {
      client_id: CLIENT_IDS.workload,
      client_name: 'Keyvend demo workload',
      client_secret: opts.workloadClientSecret ?? DEV_WORKLOAD_CLIENT_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      firstParty: true,
    },
  ];
  const all = [...builtIn, ...(opts.clients ?? [])];
  const ids = all.map((client) => client.client_id);
  const duplicate = ids.find((id, index) => ids.indexOf(id) !== index);
  if (duplicate !== undefined) throw new DevIdpError('invalid_options', `client_id "${duplicate}" is defined twice`);
  return all;
}

async function generateSigningJwks(): Promise<{ keys: JWK[] }> {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' }] };
}

function assertLoopback(host: string): void {
  const loopback = host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  if (!loopback) {
    throw new DevIdpError('invalid_options', `the dev IdP listens on loopback only; "${host}" is not a loopback address`);
  }
}

function normaliseIssuer(value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch (cause) {
    throw new DevIdpError('invalid_options', `issuer "${value}" is not a URL`, { cause });
  }
  if (!['http:', 'https:'].includes(parsed.protocol) || parsed.search || parsed.hash || parsed.pathname !== '/') {
    throw new DevIdpError('invalid_options', `issuer "${value}" must be an http(s) origin without path, query or fragment`);
  }
  return parsed.origin;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function pathnameOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://dev-idp.invalid').pathname;
  } catch {
    return '/';
  }
}

function originOf(uri: string): string | undefined {
  try {
    return new URL(uri).origin;
  } catch {
    return undefined;
  }
}
