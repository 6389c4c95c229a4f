import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { InvalidTokenError, UpstreamUnavailableError } from '../../domain/errors.ts';
import { DISPLAY_NAME_PATTERN } from '../../domain/identifiers.ts';
import { randomToken, tokensMatch } from '../../domain/portal-session.ts';
import type { IdentityVerifier, PortalLogin, PortalSecrets, PortalSignIn } from '../../ports/index.ts';
import { assertFetchableUrl, type BoundedFetch, DocumentTooLargeError, makeBoundedFetch } from './bounded-fetch.ts';
import { discover } from './discovery.ts';
import type { OidcIssuerSettings } from '../../domain/identity-providers.ts';
import { onceUntilFailure } from '../shared/once-until-failure.ts';

export interface OidcPortalLoginOptions {
  /** The configured issuer people sign in with (the same entry the API trusts, so grants match). */
  readonly issuer: OidcIssuerSettings;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly secrets: PortalSecrets;
  readonly allowLoopbackHttp: boolean;
  readonly scope?: string;
  /** Verifies the ID token: the issuer's settings turned to ID tokens for this client (`idTokenVerifier`). */
  readonly idTokens: IdentityVerifier;
}

interface ProviderEndpoints {
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  /** RP-initiated logout (`end_session_endpoint`), when the IdP publishes one that passes the transport rule. */
  readonly endSessionEndpoint?: string;
}

/**
 * OpenID Connect authorization code flow with PKCE (S256), `state` and `nonce`, for the portal. The ID
 * token is verified by the same jose verifier as API tokens, with the issuer's settings turned to ID
 * tokens: `aud` is the portal's client id, `typ` must be JWT (never `at+jwt`), and the nonce must be the
 * one this browser was given. Endpoints come from the configured issuer's discovery document only.
 */
export class OidcPortalLogin implements PortalLogin {
  readonly #options: OidcPortalLoginOptions;
  readonly #idTokens: IdentityVerifier;
  readonly #fetch: BoundedFetch;
  /** Once per container; a failed discovery is not cached. */
  readonly #discover = onceUntilFailure(() => this.#fetchDiscovery());

  constructor(options: OidcPortalLoginOptions) {
    this.#options = options;
    this.#fetch = makeBoundedFetch(options.allowLoopbackHttp);
    this.#idTokens = options.idTokens;
  }

  async begin(): Promise<{ redirectUrl: string; state: string; nonce: string; codeVerifier: string }> {
    const { authorizationEndpoint } = await this.#discover();
    const state = randomToken();
    const nonce = randomToken();
    const codeVerifier = randomToken();
    const url = new URL(authorizationEndpoint);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: this.#options.clientId,
      redirect_uri: this.#options.redirectUri,
      scope: this.#options.scope ?? 'openid profile email groups',
      state,
      nonce,
      code_challenge: createHash('sha256').update(codeVerifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    return { redirectUrl: url.toString(), state, nonce, codeVerifier };
  }

  async complete(
    response: Readonly<Record<string, string>>,
    kept: { state: string; nonce: string; codeVerifier: string },
  ): Promise<PortalSignIn> {
    if (!tokensMatch(kept.state, response['state'])) throw new InvalidTokenError('state_mismatch');
    if (response['error'] !== undefined) throw new InvalidTokenError('idp_returned_error');
    const code = response['code'];
    if (code === undefined || code === '' || code.length > 2048) throw new InvalidTokenError('code_missing');

    const idToken = await this.#exchange(code, kept.codeVerifier);
    const principal = await this.#idTokens.verifyBearer(`Bearer ${idToken}`);
    // Both reads follow a successful signature check, so they see verified content.
    const typ = decodeProtectedHeader(idToken).typ;
    if (typ !== undefined && typ.toUpperCase() !== 'JWT') throw new InvalidTokenError('id_token_typ');
    const claims = decodeJwt(idToken);
    if (!tokensMatch(kept.nonce, claims['nonce'])) throw new InvalidTokenError('nonce_mismatch');
    const displayName = displayNameOf(claims);
    return { principal, ...(displayName === undefined ? {} : { displayName }) };
  }

  async #exchange(code: string, codeVerifier: string): Promise<string> {
    const { tokenEndpoint } = await this.#discover();
    const { clientSecret } = await this.#options.secrets.load();
    const basic = Buffer.from(
      `${encodeURIComponent(this.#options.clientId)}:${encodeURIComponent(clientSecret.reveal())}`,
      'utf8',
    ).toString('base64');
    let response: Response;
    let text: string;
    try {
      // Bounded like discovery: a token response larger than MAX_DOCUMENT_BYTES is refused before it is all read.
      response = await this.#fetch(tokenEndpoint, {
        method: 'POST',
        redirect: 'manual',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: this.#options.redirectUri,
          code_verifier: codeVerifier,
        }),
        signal: AbortSignal.timeout(3000),
      });
      text = await response.text();
    } catch (error) {
      if (error instanceof DocumentTooLargeError) throw new UpstreamUnavailableError('token_response_too_large', { cause: error });
      throw new UpstreamUnavailableError('token_endpoint_unreachable', { cause: error });
    }
    // A refused code (replayed, expired, or for another verifier) is the browser's problem, not an outage.
    if (response.status === 400 || response.status === 401) throw new InvalidTokenError('code_refused');
    if (response.status !== 200) throw new UpstreamUnavailableError(`token_endpoint_http_${response.status}`);
    let idToken: unknown;
    try {
      idToken = (JSON.parse(text) as { id_token?: unknown }).id_token;
    } catch {
      throw new UpstreamUnavailableError('token_response_malformed');
    }
    if (typeof idToken !== 'string') throw new InvalidTokenError('id_token_missing');
    return idToken;
  }

  async #fetchDiscovery(): Promise<ProviderEndpoints> {
    const { issuer } = this.#options;
    const found = await discover(issuer.issuer, this.#fetch, ['authorization_endpoint', 'token_endpoint'], issuer.id, [
      'end_session_endpoint',
    ]);
    assertFetchableUrl(found.token_endpoint, this.#options.allowLoopbackHttp);
    assertFetchableUrl(found.authorization_endpoint, this.#options.allowLoopbackHttp);
    let endSessionEndpoint: string | undefined;
    try {
      if (found.end_session_endpoint !== undefined) {
        endSessionEndpoint = assertFetchableUrl(found.end_session_endpoint, this.#options.allowLoopbackHttp).toString();
      }
    } catch {
      // Optional: a logout endpoint that is not https only loses the link, not the sign-in.
    }
    return {
      authorizationEndpoint: found.authorization_endpoint,
      tokenEndpoint: found.token_endpoint,
      ...(endSessionEndpoint === undefined ? {} : { endSessionEndpoint }),
    };
  }

  async endSessionUrl(): Promise<string | undefined> {
    const { endSessionEndpoint } = await this.#discover();
    if (endSessionEndpoint === undefined) return undefined;
    const url = new URL(endSessionEndpoint);
    url.searchParams.set('client_id', this.#options.clientId);
    return url.toString();
  }
}

/** The first of `name`, `preferred_username`, `email` that fits the display grammar; none is required. */
function displayNameOf(claims: Readonly<Record<string, unknown>>): string | undefined {
  return ['name', 'preferred_username', 'email']
    .map((claim) => claims[claim])
    .find((value): value is string => typeof value === 'string' && DISPLAY_NAME_PATTERN.test(value.trim()))
    ?.trim();
}
