import type { AuditCursor, AuditQuery } from '../domain/audit-query.ts';
import type { ChainLink, StoredBatch } from '../domain/audit-chain.ts';
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

/**
 * What one entitlement read finds for a caller: the grant, and the revocations that concern it, read together (one
 * consistent BatchGetItem in DynamoDB, no extra round trip).
 */
export interface GrantLookup {
  /** The entitlement if this principal (its subject or one of its groups) is granted it, revoked or not. */
  readonly entitlement: Entitlement | undefined;
  /** The stored entitlement of this id whether or not it is granted (explain tells the two apart); undefined when none. */
  readonly definition: Entitlement | undefined;
  /** Which of the principal's keys grant it: its subject, which of its groups (the adapter's order); empty: not granted. */
  readonly grantedBy: readonly GrantMatch[];
  /** A revocation in force of this person (its issuer and subject) or of this entitlement; undefined when none. */
  readonly revoked: { readonly kind: 'person' | 'entitlement'; readonly revocationId: string } | undefined;
  /**
   * The grant ids (audit eventIds, the sessions' `keyvend:grant` tag) revoked one by one for this person, of any
   * entitlement. A grant revocation does not refuse a new grant; it means that session must never be served again
   * (a credential cache keyed by grant id must drop these).
   */
  readonly revokedGrantIds: readonly string[];
}

/** Who may have what. Reads are strongly consistent, so a revocation takes effect on the next request. */
export interface EntitlementStore {
  /** The grant and the revocations concerning it, in one read (see GrantLookup). */
  lookupGrant(principal: Principal, entitlementId: string): Promise<GrantLookup>;
  /** The entitlement if granted and neither the person nor the entitlement is revoked; undefined otherwise. */
  findGranted(principal: Principal, entitlementId: string): Promise<Entitlement | undefined>;
  listGranted(principal: Principal): Promise<Entitlement[]>;
}

/** One grant that reaches a principal: to its subject, or to one of its groups (under its issuer). */
export type GrantMatch = { readonly subject: string } | { readonly group: string };

/** The revocations in force and a counter that every change increments (what the live-session rewrite checks). */
export interface RevocationState {
  readonly revocations: readonly Revocation[];
  readonly generation: number;
  /** The generation the member accounts' revocation policies were last written from (0 if never). */
  readonly enforcedGeneration: number;
}

/**
 * Revocations, stored beside the entitlements so that EntitlementStore.lookupGrant reads them with the grant.
 * Each change is one transaction: the revocation, the marks the entitlement read sees, and the generation.
 */
export interface RevocationStore {
  /**
   * Stores a revocation unless the same target is already revoked: then nothing is written and the one in force is
   * returned with `created: false`.
   */
  add(revocation: Revocation): Promise<{ readonly revocation: Revocation; readonly created: boolean }>;
  /** Removes a revocation by id; undefined (nothing written) when there is none. */
  remove(id: string): Promise<Revocation | undefined>;
  get(id: string): Promise<Revocation | undefined>;
  state(): Promise<RevocationState>;
  generation(): Promise<number>;
  /** Records that the policies now hold `generation` (only ever moves forward). */
  markEnforced(generation: number): Promise<void>;
  /** True when this subject of this issuer holds any grant of its own (not through a group). */
  hasSubjectGrants(issuerId: string, subject: string): Promise<boolean>;
  /** True when an entitlement of this id is defined. */
  entitlementExists(entitlementId: string): Promise<boolean>;
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

/**
 * A session minted for one caller and recorded as granted, kept to be served again to the same caller for the
 * same request (docs/adr/0013-credential-cache.md). `session` is the audit record's session part of the grant that
 * minted it (identifiers only); the secret halves stay in `credentials`' Secrets.
 */
export interface CachedSession {
  /** The grant (audit eventId) that minted the session: its `keyvend:grant` tag and what a reuse record names. */
  readonly grantId: string;
  /** Whose session it is; a lookup by another caller's key never returns it, even on a key collision. */
  readonly userKey: string;
  readonly credentials: IssuedCredentials;
  readonly session: NonNullable<AuditRecord['session']>;
}

/**
 * Sessions already minted, by a key that names the caller and everything that shapes the session
 * (app/session-reuse.ts). In memory, per container: never shared across containers or callers.
 */
export interface CredentialCache {
  /** The session kept under `key` for `userKey`, if it still has the configured minimum life left at `now`. */
  find(key: string, userKey: string, now: Date): CachedSession | undefined;
  keep(key: string, session: CachedSession): void;
  /** Forgets the sessions of these grants (revoked): they are never served again by this container. */
  forgetGrants(grantIds: readonly string[]): void;
  /** Forgets every session of this caller (refused: revoked, or no longer entitled). */
  forgetCaller(userKey: string): void;
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
 * The audit trail: one item per decision, written once (`record`: only if its event id is new, never
 * overwritten). A grant is recorded after STS and before anything is delivered; a denial when it is decided.
 * Throws when the write fails, and the caller must then deliver nothing. A failed condition throws an
 * AuditConflictError carrying the stored record, on which the caller decides (`writeAudit`: a lost response
 * whose retry finds its own item). A record still `pending` (undecided) is refused: it is never stored.
 */
export interface AuditLog {
  record(record: AuditRecord): Promise<void>;
  /**
   * Counts a refusal without a verified caller in the aggregate of its source and minute (`anon#<minute>#<source>`,
   * created by the first): never an item of its own. Throws when the count cannot be written; the refusal stands.
   */
  countAnonymous(refusal: AnonymousRefusal): Promise<void>;
}

/** One page of an audit query: the stored items, newest first, and where the next page starts (absent: no more). */
export interface AuditPage {
  readonly items: readonly Readonly<Record<string, unknown>>[];
  readonly next: AuditCursor | undefined;
}

/**
 * The audit trail's read side (the write side is AuditLog): queries over the audit table's indexes
 * (domain/audit-query.ts), items newest first from `cursor` on. Throws when the table cannot be read.
 */
export interface AuditReader {
  query(query: AuditQuery, cursor: AuditCursor | undefined): Promise<AuditPage>;
}

/** The narrow audit reads an admin action needs before it writes anything (DynamoDbAuditReader implements both). */
export interface AuditRecordLookup {
  /** The record with this eventId (a grant id is its record's eventId); undefined when there is none. One GetItem. */
  get(eventId: string): Promise<AuditRecord | undefined>;
  /** True when any record names this person as the caller (the `byUser` index). */
  hasRecordsFor(userKey: string): Promise<boolean>;
}

/**
 * The audit trail's long-term store: batch objects that cannot be overwritten or deleted before their retention
 * ends (S3 with Object Lock in compliance mode). `putBatch` writes only a new key: 'exists' when the key is taken.
 */
export interface AuditArchive {
  putBatch(key: string, bytes: Buffer): Promise<'written' | 'exists'>;
  getBatch(key: string): Promise<Buffer | undefined>;
  /** Every batch object, with how many versions each key holds (verify). */
  listBatches(): Promise<StoredBatch[]>;
}

/** The last batch of the export chain. `advance` moves it from `from` to `to`, and answers false when it had moved already. */
export interface ExportHead {
  read(): Promise<ChainLink | undefined>;
  advance(from: ChainLink | undefined, to: ChainLink): Promise<boolean>;
}

/** One structured line per decision, the secondary sink when the audit table cannot be written. */
export interface DecisionLog {
  decision(record: AuditRecord): void;
  /**
   * About to call STS: who, what and as which role, under the grant id that will be the minted session's `jti`
   * (keyvend-issuer) and the record's event id. If the invocation dies before the grant's record is written,
   * this line and CloudTrail are what is left.
   */
  attempt(record: AuditRecord): void;
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
  /** In role-wide-cutoff mode: every Keyvend session issued before this time (ISO 8601) is denied. */
  readonly cutoff?: string;
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
