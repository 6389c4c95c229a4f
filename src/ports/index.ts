import type { AnonymousRefusal } from '../domain/anonymous-refusal.ts';
import type { AuditRecord } from '../domain/audit-record.ts';
import type { Entitlement } from '../domain/entitlement.ts';
import type { Principal } from '../domain/principal.ts';
import type { Revocation } from '../domain/revocation.ts';
import type { Secret } from '../domain/secret.ts';
import type { SessionTag } from '../domain/session-identity.ts';

/** Turns a caller's `Authorization` header into a Principal. SAML responses go to SamlVerifier instead. */
export interface IdentityVerifier {
  /** Throws InvalidTokenError (401) for anything untrusted and UpstreamUnavailableError when keys cannot be fetched. */
  verifyBearer(authorization: string | undefined): Promise<Principal>;
}

/** How a caller proves who they are: an `Authorization` header, or a signed SAML response it posts. */
export type CallerCredential =
  | { readonly kind: 'bearer'; readonly authorization: string | undefined }
  | { readonly kind: 'saml'; readonly samlResponse: Secret };

export interface SamlVerification {
  readonly principal: Principal;
}

/**
 * Whether the consumer asked for the response. `never-requested`: it never sends an AuthnRequest (the API's
 * POST /v1/credentials), so a response claiming to answer one (`InResponseTo`) is refused. `requested`: it signs in
 * only with answers to its own AuthnRequests (the portal), so the response must answer `request`, the one this
 * browser is waiting for (undefined when there is none: no, an expired, or a used request cookie).
 */
export type SamlSolicitation =
  | { readonly kind: 'never-requested' }
  | { readonly kind: 'requested'; readonly request: { readonly id: string; readonly idpId: string } | undefined };

/** Where a SAML response was posted: its Destination and Recipient must name this ACS, its InResponseTo fit `solicitation`. */
export interface SamlConsumer {
  readonly acsUrl: string;
  readonly solicitation: SamlSolicitation;
}

/** Verifies a base64 SAML response from a configured IdP and consumes its assertion id (single use). */
export interface SamlVerifier {
  /** Throws InvalidSamlResponseError (401) for anything untrusted or replayed, UpstreamUnavailableError when replay state is unknown. */
  verifySamlResponse(samlResponse: Secret, consumer: SamlConsumer): Promise<SamlVerification>;
}

/** SP-initiated SAML sign-in: where to send a browser with an AuthnRequest of a given id. */
export interface SamlAuthnRequests {
  /** The IdP's SSO URL carrying an AuthnRequest with this id, or undefined when that IdP has no SSO URL configured. */
  redirectUrl(idpId: string, requestId: string, issuedAt: Date): string | undefined;
}

/**
 * Remembers a one-time identifier until it expires. An expired claim may stay blocked until the store sweeps it
 * (DynamoDB's TTL): refusing a little longer is the safe side (test/contracts/replay-cache.contract.ts).
 */
export interface ReplayCache {
  /** True the first time `key` is seen before `expiresAt`, false afterwards; throws when it cannot tell. */
  claimOnce(key: string, expiresAt: Date): Promise<boolean>;
}

/** Who may have what. Reads are strongly consistent, so a revocation takes effect on the next request. */
export interface EntitlementStore {
  /** The entitlement if this principal (its subject or one of its groups) is granted it; undefined otherwise. */
  findGranted(principal: Principal, entitlementId: string): Promise<Entitlement | undefined>;
  listGranted(principal: Principal): Promise<Entitlement[]>;
}

export interface AssumeRoleParameters {
  readonly roleArn: string;
  readonly roleSessionName: string;
  readonly sourceIdentity: string;
  readonly durationSeconds: number;
  readonly policy: string | undefined;
  readonly policyArns: readonly string[];
  readonly tags: readonly SessionTag[];
  readonly transitiveTagKeys: readonly string[];
  readonly externalId: string | undefined;
}

/**
 * AssumeRoleWithWebIdentity with a token the broker minted for this grant: unsigned (so not role
 * chaining); STS takes the session's tags and SourceIdentity from the token's claims.
 */
export interface WebIdentityParameters {
  readonly roleArn: string;
  readonly roleSessionName: string;
  readonly webIdentityToken: Secret;
  readonly durationSeconds: number;
  readonly policy: string | undefined;
  readonly policyArns: readonly string[];
}

/** GetFederationToken, signed with the IAM user's long-term keys. It has no SourceIdentity and no transitive tags. */
export interface FederationTokenParameters {
  /** Secrets Manager secret id of the IAM user's keys. */
  readonly federationUserSecretId: string;
  /** 2-32 of `[\w+=,.@-]`; becomes `federated-user/<name>`. */
  readonly name: string;
  readonly durationSeconds: number;
  readonly policy: string | undefined;
  readonly policyArns: readonly string[];
  readonly tags: readonly SessionTag[];
}

export interface IssuedCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: Secret;
  readonly sessionToken: Secret;
  readonly expiration: Date;
  readonly assumedRoleArn: string;
  readonly assumedRoleId: string;
  readonly packedPolicySize: number | undefined;
  readonly stsRequestId: string | undefined;
  /** As STS reports it (web identity sessions take it from the broker's token). */
  readonly sourceIdentity?: string;
}

/**
 * Vends temporary credentials. Adapters translate STS errors into KeyvendErrors, and refuse any call
 * without a session policy or managed policy ARNs (security rule: STS is never called without one).
 */
export interface CredentialIssuer {
  assumeRole(parameters: AssumeRoleParameters): Promise<IssuedCredentials>;
  assumeRoleWithWebIdentity(parameters: WebIdentityParameters): Promise<IssuedCredentials>;
  getFederationToken(parameters: FederationTokenParameters): Promise<IssuedCredentials>;
}

/** A compact JWS and the `kid` of the key that signed it. The token is a bearer secret until it expires. */
export interface SignedToken {
  readonly token: Secret;
  readonly keyId: string;
}

/**
 * Signs the broker's tokens with a key whose private half never leaves its store (KMS). Throws
 * UpstreamUnavailableError when signing is unavailable or throttled, InternalError when the key is unusable.
 */
export interface TokenSigner {
  sign(claims: Readonly<Record<string, unknown>>): Promise<SignedToken>;
}

/** A public JSON Web Key as published: never a private member. */
export interface PublicJwk {
  readonly kty: 'RSA' | 'EC';
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly use: 'sig';
  readonly n?: string;
  readonly e?: string;
  readonly crv?: 'P-256';
  readonly x?: string;
  readonly y?: string;
}

/** The keys relying parties (AWS) verify the broker's tokens with: the signing key and those being rotated in or out. */
export interface PublicKeySet {
  publicKeys(): Promise<readonly PublicJwk[]>;
}

/** An IAM user's long-term access key; the secret half never leaves a Secret. */
export interface LongTermKeys {
  readonly accessKeyId: string;
  readonly secretAccessKey: Secret;
}

/**
 * Where the federation IAM user's keys live (Secrets Manager in AWS). Throws UpstreamUnavailableError when the
 * store cannot be read, InternalError for a secret id that is not allow-listed or a secret that is malformed.
 */
export interface FederationKeyStore {
  keysFor(secretId: string): Promise<LongTermKeys>;
}

/**
 * The audit trail. `open` writes a pending record before any credential exists; `close` turns it into a
 * grant or a denial. `record` writes a finished record in one step: a denial of a request refused before any
 * pending record was opened, and the portal's sign-in and sign-out, which mint nothing. Each throws when the write fails, and the caller must then issue nothing. Writes are
 * conditional (open and record only if new, close only if pending); a failed condition throws an
 * AuditConflictError carrying the stored record, on which the caller decides (`writeAudit`).
 */
export interface AuditLog {
  open(record: AuditRecord): Promise<void>;
  close(record: AuditRecord): Promise<void>;
  record(record: AuditRecord): Promise<void>;
  /**
   * Counts a refusal without a verified caller in the aggregate of its source and minute (`anon#<minute>#<source>`,
   * created by the first): never an item of its own. Throws when the count cannot be written; the refusal stands.
   */
  countAnonymous(refusal: AnonymousRefusal): Promise<void>;
}

/** One structured line per decision, the secondary sink when the audit table cannot be written. */
export interface DecisionLog {
  decision(record: AuditRecord): void;
  /** Credentials were minted but not delivered because the grant could not be recorded: page someone. */
  alarm(event: string, record: AuditRecord, cause: unknown): void;
}

export interface Clock {
  now(): Date;
}

export interface SigninTokenRequest {
  /** The federation endpoint of the role's partition (or the local emulator's). */
  readonly endpoint: string;
  readonly credentials: Pick<IssuedCredentials, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>;
  /** Omitted for chained and federation-token credentials (see domain/console-signin.ts). */
  readonly sessionDuration: number | undefined;
}

/**
 * Exchanges temporary credentials for a console sign-in token at the federation endpoint. Throws
 * UpstreamUnavailableError on any failure; never puts the credentials or the token in an error.
 */
export interface ConsoleSignin {
  getSigninToken(request: SigninTokenRequest): Promise<Secret>;
}

/**
 * How a person signs in to the portal with OIDC: the adapter sends the browser to the IdP's authorization
 * endpoint (code + PKCE) and verifies the ID token on return, so the portal sees only a verified Principal.
 * SAML sign-in does not use this port: it is SamlAuthnRequests plus SamlVerifier (the portalSaml function).
 */
export interface PortalLogin {
  /** Where to send the browser, with the state, nonce and PKCE verifier to keep in a signed cookie. */
  begin(): Promise<{ redirectUrl: string; state: string; nonce: string; codeVerifier: string }>;
  /**
   * Verifies the IdP's answer (the callback's query or form parameters) against what `begin` kept.
   * Throws InvalidTokenError (with a reason for the audit record) for anything untrusted.
   */
  complete(response: Readonly<Record<string, string>>, kept: { state: string; nonce: string; codeVerifier: string }): Promise<PortalSignIn>;
  /** The IdP's own sign-out (RP-initiated logout) for this client, when it publishes one; offered after signing out here. */
  endSessionUrl(): Promise<string | undefined>;
}

/**
 * Who signed in at the portal: the verified principal, and apart from it a name to greet them by (the ID token's
 * `name`, `preferred_username` or `email`, grammar-checked). The name is for display only: it is kept out of the
 * principal, so it never reaches a decision, a policy or the audit record's caller.
 */
export interface PortalSignIn {
  readonly principal: Principal;
  readonly displayName?: string;
}

/** Secrets the portal needs at run time, loaded once per container from a secret store, never from plain env in AWS. */
export interface PortalSecrets {
  load(): Promise<{ readonly clientSecret: Secret; readonly sessionKey: Buffer }>;
}

/** How the live-session deny was enforced: one statement per revocation, or (policy size limit near) a role-wide cutoff. */
export interface LiveSessionEnforcement {
  readonly mode: 'per-session' | 'role-wide-cutoff';
  /** The member accounts whose revocation policy now holds this state. */
  readonly accounts: readonly string[];
}

/**
 * Makes AWS itself deny sessions issued before a revocation: rewrites the `keyvend-revocations` managed policy
 * attached to every Keyvend target role, in each member account, from the full set of revocations in force
 * (idempotent). Throws UpstreamUnavailableError when a member account cannot be written.
 */
export interface LiveSessionRevoker {
  enforce(revocations: readonly Revocation[], now: Date): Promise<LiveSessionEnforcement>;
}

export type RateLimiterDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

/**
 * A request budget per authenticated caller (ADR 0015). `take` spends one request of `key`'s budget, or says how
 * long until one is available; it never throws for a refusal.
 */
export interface RateLimiter {
  take(key: string): Promise<RateLimiterDecision>;
}
