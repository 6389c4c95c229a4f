import type { SessionIdentity } from './session-identity.ts';

/**
 * The token Keyvend mints for one grant and hands to AssumeRoleWithWebIdentity: the broker is the OIDC
 * issuer that target roles trust, so the caller never holds anything a role accepts (docs/adr/0001).
 * The claims are the whole contract with a member account's trust policy; see infra/member-account.yaml.
 */
export interface BrokerTokenSettings {
  /** The issuer URL, exactly as the IAM OIDC provider's Url (and as `iss`). */
  readonly issuer: string;
  /** The `aud` the IAM OIDC provider lists as a client id. */
  readonly audience: string;
  /** Minutes, not hours: STS reads the token once, at AssumeRoleWithWebIdentity. */
  readonly lifetimeSeconds: number;
}

export interface BrokerTokenGrant {
  /** The audit record's event id: `jti`, and the `keyvend:grant` tag, so a session names its grant. */
  readonly grantId: string;
  readonly entitlementId: string;
  readonly userKey: string;
  readonly identity: SessionIdentity;
}

export const SOURCE_IDENTITY_CLAIM = 'https://aws.amazon.com/source_identity';
export const SESSION_TAGS_CLAIM = 'https://aws.amazon.com/tags';
export const MIN_TOKEN_LIFETIME_SECONDS = 60;
export const MAX_TOKEN_LIFETIME_SECONDS = 900;

/**
 * `ent:<entitlement>:user:<userKey>`. Entitlement ids cannot hold `:`, so a trust policy's
 * `StringLike ent:photo-uploads:user:*` pins exactly one entitlement; the userKey is an opaque hash, so
 * CloudTrail (which records `sub`) gets no personal data. Both parts are from strict grammars.
 */
export function brokerTokenSubject(entitlementId: string, userKey: string): string {
  return `ent:${entitlementId}:user:${userKey}`;
}

export type BrokerTokenClaims = Readonly<Record<string, unknown>>;

/**
 * The payload: who (sub, SourceIdentity, tags), for which grant (jti, `keyvend:grant`), for whom (aud),
 * and for how short a time. STS takes tags and SourceIdentity only from these claims on this call.
 */
export function brokerTokenClaims(settings: BrokerTokenSettings, grant: BrokerTokenGrant, now: Date): BrokerTokenClaims {
  const issuedAt = Math.floor(now.getTime() / 1000);
  // fromEntries defines own properties: a tag key such as `__proto__` stays a tag and never becomes a prototype.
  const principalTags = Object.fromEntries(grant.identity.tags.map((tag) => [tag.Key, [tag.Value]]));
  return {
    iss: settings.issuer,
    aud: settings.audience,
    sub: brokerTokenSubject(grant.entitlementId, grant.userKey),
    jti: grant.grantId,
    iat: issuedAt,
    nbf: issuedAt,
    exp: issuedAt + settings.lifetimeSeconds,
    [SOURCE_IDENTITY_CLAIM]: grant.identity.sourceIdentity,
    [SESSION_TAGS_CLAIM]: {
      principal_tags: principalTags,
      ...(grant.identity.transitiveTagKeys.length > 0 ? { transitive_tag_keys: [...grant.identity.transitiveTagKeys] } : {}),
    },
  };
}

/**
 * The discovery document AWS reads (`<issuer>/.well-known/openid-configuration`): it needs `issuer` (equal
 * to the provider's Url) and `jwks_uri`; the rest says what a relying party may expect of the tokens.
 */
export function discoveryDocument(issuer: string, algorithms: readonly string[]): Readonly<Record<string, unknown>> {
  return {
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [...new Set(algorithms)],
    claims_supported: ['iss', 'aud', 'sub', 'jti', 'iat', 'nbf', 'exp', SOURCE_IDENTITY_CLAIM, SESSION_TAGS_CLAIM],
  };
}
