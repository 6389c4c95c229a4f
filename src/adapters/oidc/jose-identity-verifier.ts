import { createRemoteJWKSet, customFetch, decodeProtectedHeader, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { type FailedDependency, InvalidTokenError, UpstreamUnavailableError } from '../../domain/errors.ts';
import { deriveUserKey, GROUP_PATTERN, SAFE_TAG_VALUE_PATTERN, sha256Hex, SUBJECT_PATTERN } from '../../domain/identifiers.ts';
import type { OidcIssuerSettings } from '../../domain/identity-providers.ts';
import type { Principal } from '../../domain/principal.ts';
import type { IdentityVerifier } from '../../ports/index.ts';
import { assertFetchableUrl, type BoundedFetch, makeBoundedFetch, UntrustedUrlError } from './bounded-fetch.ts';
import { isCanonicalCompactJws } from './compact-jws.ts';
import { discover, loggableUrl } from './discovery.ts';
import { withKeyPolicy } from './key-policy.ts';
import { onceUntilFailurePerKey } from '../shared/once-until-failure.ts';
import { hasDuplicateMembers, nestingDepth } from '../../domain/strict-json.ts';

/** One trusted issuer, from configuration only: nothing in a token can add or change one. */

export interface JoseVerifierOptions {
  readonly issuers: readonly OidcIssuerSettings[];
  /** Local mode only: plain http to loopback for the dev identity provider. */
  readonly allowLoopbackHttp: boolean;
  readonly now?: () => Date;
}

const MAX_TOKEN_CHARS = 8192;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}$/;
const MAX_GROUPS = 100;
const REFUSED_HEADERS = ['cty', 'jku', 'jwk', 'x5u', 'x5c'] as const;
const MAX_JSON_NESTING = 16;

/**
 * Verifies OIDC bearer tokens with jose, adding what jose leaves to the application (security catalog
 * §1.0): size and shape before any decoding, issuer from an allow-list before any fetch, required and
 * finite time claims with a lifetime cap, exact audiences, `typ`, `azp`, duplicate members, and a strict
 * grammar for every claim that is used. Only allow-listed claims are copied out.
 */
export class JoseIdentityVerifier implements IdentityVerifier {
  readonly #byIssuer: Map<string, OidcIssuerSettings>;
  /** One discovery per issuer and container even under concurrent cold-start requests; a failure is not cached. */
  readonly #keysFor = onceUntilFailurePerKey((settings: OidcIssuerSettings) => this.#resolveKeys(settings));
  /** Each issuer's JWKS URL once discovery found it: what a 503's log line names. */
  readonly #discoveredJwks = new Map<string, string>();
  readonly #allowLoopbackHttp: boolean;
  readonly #fetch: BoundedFetch;
  readonly #now: () => Date;

  constructor(options: JoseVerifierOptions) {
    this.#allowLoopbackHttp = options.allowLoopbackHttp;
    this.#fetch = makeBoundedFetch(options.allowLoopbackHttp);
    this.#now = options.now ?? (() => new Date());
    this.#byIssuer = new Map(options.issuers.map((settings) => [settings.issuer, settings]));
  }

  async verifyBearer(authorization: string | undefined): Promise<Principal> {
    const token = this.#extractToken(authorization);
    const { header, payload } = decodeSegments(token);
    for (const name of REFUSED_HEADERS) {
      if (Object.hasOwn(header, name)) throw new InvalidTokenError(`header_${name}_refused`);
    }
    const unverifiedIssuer = payload['iss'];
    const settings = typeof unverifiedIssuer === 'string' ? this.#byIssuer.get(unverifiedIssuer) : undefined;
    if (settings === undefined) throw new InvalidTokenError('unknown_issuer');

    const keys = await this.#keysFor(settings).catch((error: unknown) => {
      throw translateJoseError(error, this.#jwksDependency(settings));
    });
    let verified: { payload: JWTPayload; protectedHeader: { kid?: string; typ?: string } };
    try {
      verified = await jwtVerify(token, keys, {
        issuer: settings.issuer,
        audience: [...settings.audiences],
        algorithms: [...settings.algorithms],
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
        maxTokenAge: settings.maxTokenLifetimeSeconds,
        clockTolerance: settings.clockToleranceSeconds,
        currentDate: this.#now(),
        ...(settings.tokenType === 'access' ? { typ: 'at+jwt' } : {}),
      });
    } catch (error) {
      throw translateJoseError(error, this.#jwksDependency(settings));
    }
    if (settings.tokenType === 'id' && isAccessTokenType(verified.protectedHeader.typ)) {
      // An access token from the same issuer and key must not pass for an ID token (RFC 9068 §4, J-08).
      throw new InvalidTokenError('claim_typ');
    }
    return this.#principalFrom(settings, verified.payload, verified.protectedHeader.kid, token);
  }

  #extractToken(authorization: string | undefined): string {
    if (authorization === undefined || authorization === '') throw new InvalidTokenError('missing_bearer');
    if (authorization.length > MAX_TOKEN_CHARS + 7) throw new InvalidTokenError('token_too_large');
    const match = /^Bearer ([^\s]+)$/i.exec(authorization);
    if (match === null) throw new InvalidTokenError('malformed_authorization');
    const token = match[1] ?? '';
    if (!TOKEN_PATTERN.test(token)) throw new InvalidTokenError('malformed_token');
    if (!isCanonicalCompactJws(token)) throw new InvalidTokenError('non_canonical_encoding');
    return token;
  }

  /** The issuer's JWKS as a failed dependency: its id and the configured (or discovered) URL, never the token. */
  #jwksDependency(settings: OidcIssuerSettings): FailedDependency {
    const url = settings.jwksUri ?? this.#discoveredJwks.get(settings.issuer);
    return { service: 'jwks', issuerId: settings.id, ...(url === undefined ? {} : { url: loggableUrl(url) }) };
  }

  async #resolveKeys(settings: OidcIssuerSettings): Promise<JWTVerifyGetKey> {
    const jwksUri = settings.jwksUri ?? (await discover(settings.issuer, this.#fetch, ['jwks_uri'], settings.id)).jwks_uri;
    this.#discoveredJwks.set(settings.issuer, jwksUri);
    const url = assertFetchableUrl(jwksUri, this.#allowLoopbackHttp);
    return withKeyPolicy(
      createRemoteJWKSet(url, {
        timeoutDuration: 2000,
        cooldownDuration: 30_000,
        cacheMaxAge: 300_000,
        [customFetch]: this.#fetch,
      }),
    );
  }

  #principalFrom(settings: OidcIssuerSettings, payload: JWTPayload, keyId: string | undefined, token: string): Principal {
    const { exp, iat } = payload;
    if (typeof exp !== 'number' || typeof iat !== 'number' || !Number.isFinite(exp) || !Number.isFinite(iat)) {
      throw new InvalidTokenError('time_claims_not_finite');
    }
    if (exp - iat > settings.maxTokenLifetimeSeconds) throw new InvalidTokenError('lifetime_too_long');
    // jose accepts nbf = -1e309 (-Infinity) as "valid since forever"; every time claim must be a real time.
    if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || !Number.isFinite(payload.nbf))) {
      throw new InvalidTokenError('time_claims_not_finite');
    }
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!audiences.every((aud) => typeof aud === 'string' && settings.audiences.includes(aud))) {
      throw new InvalidTokenError('untrusted_audience');
    }
    const authorizedParty = stringClaim(payload, 'azp') ?? stringClaim(payload, 'client_id');
    if (settings.authorizedParties !== undefined) {
      if (authorizedParty === undefined || !settings.authorizedParties.includes(authorizedParty)) {
        throw new InvalidTokenError('untrusted_authorized_party');
      }
    } else if (audiences.length > 1 && (authorizedParty === undefined || !settings.audiences.includes(authorizedParty))) {
      throw new InvalidTokenError('untrusted_authorized_party');
    }

    const subject = payload[settings.subjectClaim];
    if (typeof subject !== 'string' || !SUBJECT_PATTERN.test(subject)) throw new InvalidTokenError('subject_invalid');

    const groups = this.#groupsFrom(settings, payload);
    const attributes: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const claim of settings.tagClaims) {
      if (!Object.hasOwn(payload, claim)) continue;
      const value = payload[claim];
      if (typeof value !== 'string' || !SAFE_TAG_VALUE_PATTERN.test(value)) throw new InvalidTokenError(`claim_${claim}_invalid`);
      attributes[claim] = value;
    }

    const tokenId = stringClaim(payload, 'jti');
    return {
      idpType: 'oidc',
      issuerId: settings.id,
      issuer: settings.issuer,
      subject,
      userKey: deriveUserKey(settings.issuer, subject),
      groups,
      attributes: Object.freeze(attributes),
      auth: {
        ...(keyId === undefined ? {} : { keyId: keyId.slice(0, 128) }),
        ...(tokenId === undefined ? {} : { tokenId: tokenId.slice(0, 128) }),
        ...(authorizedParty === undefined ? {} : { clientId: authorizedParty.slice(0, 128) }),
        issuedAt: iat,
        expiresAt: exp,
        tokenRef: `sha256:${sha256Hex(token)}`,
      },
    };
  }

  #groupsFrom(settings: OidcIssuerSettings, payload: JWTPayload): string[] {
    if (settings.groupsClaim === undefined || !Object.hasOwn(payload, settings.groupsClaim)) return [];
    const raw = payload[settings.groupsClaim];
    if (!Array.isArray(raw) || raw.length > MAX_GROUPS) throw new InvalidTokenError('groups_claim_invalid');
    for (const group of raw) {
      if (typeof group !== 'string' || !GROUP_PATTERN.test(group)) throw new InvalidTokenError('groups_claim_invalid');
    }
    return [...new Set(raw as string[])];
  }
}

function stringClaim(payload: JWTPayload, name: string): string | undefined {
  const value = Object.hasOwn(payload, name) ? payload[name] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** Decodes header and payload once, only to find the issuer and refuse duplicate members; jose verifies. */
function decodeSegments(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [headerPart = '', payloadPart = ''] = token.split('.');
  try {
    const headerText = Buffer.from(headerPart, 'base64url').toString('utf8');
    const payloadText = Buffer.from(payloadPart, 'base64url').toString('utf8');
    if (nestingDepth(headerText) > MAX_JSON_NESTING || nestingDepth(payloadText) > MAX_JSON_NESTING) {
      throw new InvalidTokenError('nesting_too_deep');
    }
    const header: unknown = JSON.parse(headerText);
    const payload: unknown = JSON.parse(payloadText);
    if (!isPlainObject(header) || !isPlainObject(payload)) throw new InvalidTokenError('malformed_token');
    if (hasDuplicateMembers(headerText) || hasDuplicateMembers(payloadText)) throw new InvalidTokenError('duplicate_members');
    decodeProtectedHeader(token);
    return { header, payload };
  } catch (error) {
    if (error instanceof InvalidTokenError) throw error;
    throw new InvalidTokenError('malformed_token', { cause: error });
  }
}

/** RFC 9068 `typ`, compared as jose does: case-insensitively, with or without the `application/` prefix. */
const isAccessTokenType = (typ: unknown): boolean =>
  typeof typ === 'string' && typ.toLowerCase().replace(/^application\//, '') === 'at+jwt';

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const UPSTREAM_CODES = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID']);

function translateJoseError(error: unknown, dependency: FailedDependency): Error {
  if (error instanceof InvalidTokenError || error instanceof UpstreamUnavailableError) return error;
  if (error instanceof UntrustedUrlError) return new UpstreamUnavailableError('jwks_unavailable', { cause: error, dependency });
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
  if (code === undefined) {
    // jose surfaces network failures of the JWKS fetch as plain errors (TypeError: fetch failed).
    return new UpstreamUnavailableError('jwks_unavailable', { cause: error, dependency });
  }
  if (UPSTREAM_CODES.has(code)) return new UpstreamUnavailableError('jwks_unavailable', { cause: error, dependency });
  if (code === 'ERR_JOSE_GENERIC' && error instanceof Error && /JSON Web Key Set/i.test(error.message)) {
    return new UpstreamUnavailableError('jwks_unavailable', { cause: error, dependency });
  }
  const reasons: Record<string, string> = {
    ERR_JWT_EXPIRED: 'token_expired',
    ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'bad_signature',
    ERR_JOSE_ALG_NOT_ALLOWED: 'alg_not_allowed',
    ERR_JOSE_NOT_SUPPORTED: 'alg_not_supported',
    ERR_JWKS_NO_MATCHING_KEY: 'unknown_key',
    ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'ambiguous_key',
    ERR_JWS_INVALID: 'malformed_token',
    ERR_JWT_INVALID: 'malformed_token',
  };
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    const claim = (error as { claim?: unknown }).claim;
    return new InvalidTokenError(`claim_${typeof claim === 'string' ? claim.replace(/[^a-z_]/gi, '') : 'invalid'}`, { cause: error });
  }
  return new InvalidTokenError(reasons[code] ?? 'verification_failed', { cause: error });
}

/**
 * The portal's ID-token verifier: the configured issuer's settings turned to ID tokens for the portal's client, so
 * `aud` is that client id, `typ` must be JWT (never `at+jwt`), and `azp` is the audience itself.
 */
export function idTokenVerifier(issuer: OidcIssuerSettings, clientId: string, allowLoopbackHttp: boolean): JoseIdentityVerifier {
  const { authorizedParties: _ignored, ...settings } = issuer;
  return new JoseIdentityVerifier({ issuers: [{ ...settings, audiences: [clientId], tokenType: 'id' }], allowLoopbackHttp });
}
