/**
 * A revocation in force: a person (per identity provider), one grant (one issued session), or an entitlement,
 * cut off from `revokedAt`. Re-issue is refused at once (read with the entitlement); sessions issued before
 * `revokedAt` are denied by AWS itself through the member accounts' revocation policy (LiveSessionRevoker).
 */
export type RevocationTarget =
  | { readonly kind: 'person'; readonly issuerId: string; readonly subject: string; readonly userKey: string }
  | { readonly kind: 'grant'; readonly grantId: string; readonly userKey: string; readonly entitlementId: string }
  | { readonly kind: 'entitlement'; readonly entitlementId: string };

export interface Revocation {
  /** Stable id of this revocation (what un-revoke names). */
  readonly id: string;
  readonly target: RevocationTarget;
  readonly reason: string;
  /** ISO 8601; sessions whose token was issued before it are denied. */
  readonly revokedAt: string;
  readonly revokedBy: { readonly issuerId: string; readonly subject: string };
  /**
   * ISO 8601: when every session this revocation could match has expired (revokedAt + the longest session Keyvend
   * can issue). After it, the live-session deny is pruned; the re-issue refusal stays until un-revoked.
   */
  readonly liveSessionsUntil: string;
}
