/**
 * The identity providers the broker trusts, as configuration describes them (src/config.ts, src/config-saml.ts)
 * and the verifiers consume them: plain data, so the configuration never depends on an adapter.
 */

/** One trusted OIDC issuer. */
export interface OidcIssuerSettings {
  readonly id: string;
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly algorithms: readonly string[];
  /** Without it, the JWKS URL comes from the issuer's discovery document (whose `issuer` must match). */
  readonly jwksUri?: string;
  /** `access` requires RFC 9068 `typ: at+jwt`; `id` refuses it, so one kind can't pass for the other. */
  readonly tokenType: 'access' | 'id';
  readonly subjectClaim: string;
  readonly groupsClaim?: string;
  /** Claims that may feed session tags; each must fit the tag grammar when present. */
  readonly tagClaims: readonly string[];
  /** `azp` / `client_id` values accepted; when set, a token without one of them is refused. */
  readonly authorizedParties?: readonly string[];
  readonly maxTokenLifetimeSeconds: number;
  readonly clockToleranceSeconds: number;
  /** The portal's label for it (display only). */
  readonly displayName?: string;
}

/** One trusted SAML IdP, from configuration only: its certificates are bound to its entity id. */
export interface SamlIdpSettings {
  /** Our short id for it (the `issuer` of entitlement grants), unique across OIDC and SAML. */
  readonly id: string;
  readonly entityId: string;
  /** Pinned signing certificates (PEM); KeyInfo in a response is never trusted. */
  readonly certificates: readonly string[];
  /** Audiences accepted from this IdP: the broker's own (an assertion for AWS itself is never accepted). */
  readonly audiences: readonly string[];
  /** The attribute naming the subject; without it, the NameID (with one of `nameIdFormats`). */
  readonly subjectAttribute?: string;
  readonly nameIdFormats: readonly string[];
  readonly groupsAttribute?: string;
  /** Principal attribute name → SAML attribute name, for session tags. */
  readonly tagAttributes: Readonly<Record<string, string>>;
  /** Also require the Response itself to be signed (the Assertion always must be). */
  readonly requireSignedResponse: boolean;
  readonly maxAssertionLifetimeSeconds: number;
  readonly clockSkewSeconds: number;
  /**
   * The IdP's SingleSignOnService URL (HTTP-Redirect binding), where the portal's "Sign in with SAML" sends an
   * AuthnRequest; without it the portal offers no SAML sign-in for this IdP.
   */
  readonly ssoUrl?: string;
  /** The portal's label for it (display only). */
  readonly displayName?: string;
}
