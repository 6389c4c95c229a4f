/** Who the caller is, after verification. Only allow-listed, grammar-checked values live here. */
export interface Principal {
  readonly idpType: 'oidc' | 'saml';
  /** The configured id of the identity provider (short, ours), used in entitlement keys and tags. */
  readonly issuerId: string;
  /** The issuer as the identity provider names itself (`iss`). */
  readonly issuer: string;
  readonly subject: string;
  /** Opaque key derived from issuer and subject: the only per-user value that enters a policy by default. */
  readonly userKey: string;
  readonly groups: readonly string[];
  /** Claims the configuration names for session tags, already validated against the tag grammar. */
  readonly attributes: Readonly<Record<string, string>>;
  /** What the token said about itself, for the audit record. */
  readonly auth: {
    readonly keyId?: string;
    readonly tokenId?: string;
    readonly clientId?: string;
    readonly issuedAt: number;
    readonly expiresAt: number;
    /** SHA-256 of the raw token: lets an operator match a token they hold without storing the token. */
    readonly tokenRef: string;
  };
}
