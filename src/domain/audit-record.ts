import type { SessionTag } from './session-identity.ts';

/** `pending` is the in-memory state of a record not yet decided; it is never stored (ADR 0011). */
export type AuditOutcome = 'pending' | 'granted' | 'denied' | 'minted_not_delivered';

/**
 * How many of the caller's groups a record keeps (the first ones, in the token's order), beside `groupCount`.
 * The full list was the largest part of an item and grows with the caller (issue 14); the token's hash
 * (`tokenRef`) identifies the token that carried the rest. They are context only: what granted is
 * `entitlement.grantedBy`, named whatever its place in the token. Also the most grants `grantedBy` keeps.
 */
export const AUDIT_GROUP_LIMIT = 5;

/** One grant that reached the caller: to its subject, or to one of its groups (under its issuer). */
export type AuditGrant = { readonly subject: string } | { readonly group: string };

/**
 * One record per decision. It holds identifiers and hashes only: never a secret key, session token, raw
 * token or sign-in URL. The AccessKeyId is kept on purpose: it is not a secret and it is what joins a
 * grant to the CloudTrail activity of the session.
 */
export interface AuditRecord {
  readonly eventId: string;
  readonly time: string;
  readonly action:
    | 'credentials'
    | 'console'
    | 'entitlements'
    | 'portal_login'
    | 'portal_logout'
    | 'explain'
    | 'audit_query'
    // Admin actions on revocations (docs/revocation.md): each allowed or refused call is one record.
    | 'revoke'
    | 'unrevoke'
    | 'revocations_list';
  outcome: AuditOutcome;
  reason?: string;
  errorCode?: string;
  readonly request: {
    readonly requestId: string;
    readonly apiRequestId?: string;
    readonly sourceIp?: string;
    readonly userAgent?: string;
  };
  caller?: {
    readonly idpType: string;
    readonly issuerId: string;
    readonly issuer: string;
    readonly subject: string;
    readonly userKey: string;
    /** The first AUDIT_GROUP_LIMIT groups of the caller. */
    readonly groups: readonly string[];
    /** How many groups the caller had. */
    readonly groupCount?: number;
    readonly keyId?: string;
    readonly tokenId?: string;
    readonly clientId?: string;
    readonly tokenIssuedAt: number;
    readonly tokenExpiresAt: number;
    readonly tokenRef: string;
  };
  /** SHA-256 of a SAML response that could not be verified: lets an operator match it without storing it. */
  credentialRef?: string;
  entitlement?: {
    readonly id: string;
    readonly requested?: string;
    readonly version?: number;
    /**
     * The grants that reached the caller (the subject's first, then groups in the token's order), at most
     * AUDIT_GROUP_LIMIT: any one of them grants. Set once the entitlement read found a grant.
     */
    readonly grantedBy?: readonly AuditGrant[];
  };
  session?: {
    /** The vending path: keyvend-issuer, assume-role or federation-token. */
    vending?: string;
    roleArn?: string;
    /** keyvend-issuer: the minted token's `sub` (what CloudTrail records) and the `kid` that signed it; never the token. */
    tokenSubject?: string;
    tokenKeyId?: string;
    roleSessionName?: string;
    sourceIdentity?: string;
    tags?: readonly SessionTag[];
    transitiveTagKeys?: readonly string[];
    policySha256?: string;
    policyArns?: readonly string[];
    externalIdSet?: boolean;
    durationSeconds?: number;
    packedPolicyEstimatePercent?: number;
    packedPolicySize?: number;
    accessKeyId?: string;
    assumedRoleArn?: string;
    expiration?: string;
    stsRequestId?: string;
    /**
     * Set when the request was served a session already minted for the same caller and request (the credential
     * cache): the grant (eventId) whose record minted it. Everything else in `session` is that session's, so its
     * `keyvend:grant` tag, session name and AccessKeyId are the original grant's.
     */
    reusedGrantId?: string;
  };
  delivery?: { readonly type: 'credentials' | 'console_url'; delivered: boolean };
  /** An admin read (explain for someone, an audit query): whom or what it asked about; identifiers only. */
  query?: Readonly<Record<string, string | number>>;
  /** Admin actions on revocations: what was revoked or un-revoked, why, and how live sessions were cut. */
  revocation?: {
    id?: string;
    kind?: 'person' | 'grant' | 'entitlement';
    /** The target's identifiers: issuer id and subject and userKey, grant id, entitlement id (never a secret). */
    target?: Readonly<Record<string, string>>;
    /** The admin's reason (for un-revoke, the reason given for lifting it). */
    reason?: string;
    /** False when the target was already revoked and that revocation was answered (nothing written). */
    created?: boolean;
    /** How the member accounts' revocation policy holds it, or `failed` when it could not be written (503). */
    liveSessions?: { mode: 'per-session' | 'role-wide-cutoff'; accounts: readonly string[]; cutoff?: string } | 'failed';
    /** For a list: how many revocations are in force. */
    count?: number;
  };
}

/**
 * The top-level attributes the audit table's query indexes read (byUser, byEntitlement, byDay, each sorted by
 * eventId): `userKey` only with a verified caller, `entitlementId` when one is known, `day` always.
 */
export function auditItemKeys(record: AuditRecord): { userKey?: string; entitlementId?: string; day: string } {
  return {
    ...(record.caller === undefined ? {} : { userKey: record.caller.userKey }),
    ...(record.entitlement === undefined ? {} : { entitlementId: record.entitlement.id }),
    day: record.time.slice(0, 10),
  };
}

/** A time-ordered id (UUIDv7 layout) so audit records sort by time within a user's history. */
export function newEventId(now: Date, random: Uint8Array): string {
  const bytes = new Uint8Array(16);
  const ms = BigInt(now.getTime());
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes.set(random.subarray(0, 10), 6);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A conditional audit write found the record already in another state ("only if pending", "only if
 * new"). That is a fact about the data, not an outage: `stored` is the record as a consistent read found
 * it (undefined if it is gone), and the caller decides. The usual cause is our own write: it committed,
 * its response was lost, and the SDK's retry of the same write failed the condition.
 */
export class AuditConflictError extends Error {
  override readonly name = 'AuditConflictError';

  constructor(
    readonly stored: AuditRecord | undefined,
    options: { cause?: unknown } = {},
  ) {
    super('the audit record is already in another state', options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * Whether `stored` is the write we were making: same decision, same reason, same request and caller and, for a
 * grant, what identifies it: the AccessKeyId of the session it minted, or for a portal sign-in or sign-out (which
 * mint nothing) the caller it names. Then a conflicting retry is our own committed write, and the write stands.
 */
export function isSameDecision(stored: AuditRecord | undefined, record: AuditRecord): boolean {
  return (
    stored !== undefined &&
    stored.eventId === record.eventId &&
    stored.action === record.action &&
    stored.request.requestId === record.request.requestId &&
    stored.outcome === record.outcome &&
    stored.reason === record.reason &&
    stored.caller?.userKey === record.caller?.userKey &&
    stored.caller?.tokenRef === record.caller?.tokenRef &&
    stored.session?.accessKeyId === record.session?.accessKeyId &&
    (record.outcome !== 'granted' || grantIsIdentified(record))
  );
}

function grantIsIdentified(record: AuditRecord): boolean {
  if (record.action === 'portal_login' || record.action === 'portal_logout') return record.caller !== undefined;
  if (record.action === 'revoke' || record.action === 'unrevoke' || record.action === 'revocations_list')
    return record.caller !== undefined;
  return record.session?.accessKeyId !== undefined;
}
