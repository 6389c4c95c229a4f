import type { AuditRecord } from '../domain/audit-record.ts';
import type { Entitlement } from '../domain/entitlement.ts';
import type { Principal } from '../domain/principal.ts';
import type { Secret } from '../domain/secret.ts';
import type { SessionTag } from '../domain/session-identity.ts';

/** Turns a caller's credential (an `Authorization` header today, a SAML response later) into a Principal. */
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
  /** The Audience the assertion was accepted for: ours, or `urn:amazon:webservices` where an IdP allows it. */
  readonly audience: string;
  /** The verified base64 response, kept for AssumeRoleWithSAML; never logged or stored. */
  readonly samlResponse: Secret;
}

/** Verifies a base64 SAML response from a configured IdP and consumes its assertion id (single use). */
export interface SamlVerifier {
  /** Throws InvalidSamlResponseError (401) for anything untrusted or replayed, UpstreamUnavailableError when replay state is unknown. */
  verifySamlResponse(samlResponse: Secret): Promise<SamlVerification>;
}

/** Remembers a one-time identifier until it expires. */
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

export interface IssuedCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: Secret;
  readonly sessionToken: Secret;
  readonly expiration: Date;
  readonly assumedRoleArn: string;
  readonly assumedRoleId: string;
  readonly packedPolicySize: number | undefined;
  readonly stsRequestId: string | undefined;
}

/** Vends temporary credentials. Adapters translate STS errors into KeyvendErrors. */
export interface CredentialIssuer {
  assumeRole(parameters: AssumeRoleParameters): Promise<IssuedCredentials>;
}

/**
 * The audit trail. `open` writes a pending record before any credential exists; `close` turns it into a
 * grant or a denial. `record` writes a finished denial in one step, for requests refused before the
 * caller is known. Each throws when the write fails, and the caller must then issue nothing.
 */
export interface AuditLog {
  open(record: AuditRecord): Promise<void>;
  close(record: AuditRecord): Promise<void>;
  record(record: AuditRecord): Promise<void>;
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
