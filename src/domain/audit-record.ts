import type { SessionTag } from './session-identity.ts';

export type AuditOutcome = 'pending' | 'granted' | 'denied' | 'minted_not_delivered';

/**
 * One record per decision. It holds identifiers and hashes only: never a secret key, session token, raw
 * token or sign-in URL. The AccessKeyId is kept on purpose: it is not a secret and it is what joins a
 * grant to the CloudTrail activity of the session.
 */
export interface AuditRecord {
  readonly eventId: string;
  readonly time: string;
  readonly action: 'credentials' | 'console' | 'entitlements' | 'portal_login' | 'portal_logout';
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
    readonly groups: readonly string[];
    readonly keyId?: string;
    readonly tokenId?: string;
    readonly clientId?: string;
    readonly tokenIssuedAt: number;
    readonly tokenExpiresAt: number;
    readonly tokenRef: string;
  };
  /** SHA-256 of a SAML response that could not be verified: lets an operator match it without storing it. */
  credentialRef?: string;
  entitlement?: { readonly id: string; readonly requested?: string; readonly version?: number };
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
  return record.session?.accessKeyId !== undefined;
}
