import * as v from 'valibot';
import { STS_MAX_ROLE_DURATION_SECONDS } from './duration.ts';
import { ENTITLEMENT_ID_PATTERN, ISSUER_ID_PATTERN, SUBJECT_PATTERN } from './identifiers.ts';
import { plainIssues } from './plain-issues.ts';

/**
 * A revocation in force: a person (per identity provider), one grant (one issued session), or an entitlement,
 * cut off from `revokedAt`. Re-issue is refused at once (read with the entitlement); sessions issued before
 * `revokedAt` are denied by AWS itself through the member accounts' revocation policy (LiveSessionRevoker).
 * A grant revocation names the person it was issued to (from the grant's audit record), so that the caller's own
 * entitlement read sees it (`GrantLookup.revokedGrantIds`).
 */
export type RevocationTarget =
  | { readonly kind: 'person'; readonly issuerId: string; readonly subject: string; readonly userKey: string }
  | {
      readonly kind: 'grant';
      readonly grantId: string;
      readonly issuerId: string;
      readonly subject: string;
      readonly userKey: string;
      readonly entitlementId: string;
    }
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

/**
 * The longest a session matched by the revocation policy can live: a role session (12 h, keyvend-issuer and
 * assume-role; chained ones are shorter). Federation-token sessions are not role sessions: the policy attached to
 * roles does not reach them (security.md).
 */
export const LIVE_SESSION_HORIZON_SECONDS = STS_MAX_ROLE_DURATION_SECONDS;
/** Clock skew allowed between the broker and STS when deciding a session can no longer be alive. */
export const CLOCK_SKEW_SECONDS = 300;

/**
 * When every session a revocation could match has expired: `revokedAt` plus the requests still in flight
 * (`inFlightSeconds`, one function timeout), the longest session, and clock skew; or, for one grant whose expiry
 * the audit record holds, that expiry plus clock skew.
 */
export function liveSessionsUntil(revokedAt: Date, options: { inFlightSeconds: number; sessionExpiresAt?: Date }): string {
  const skew = CLOCK_SKEW_SECONDS * 1000;
  if (options.sessionExpiresAt !== undefined) return new Date(options.sessionExpiresAt.getTime() + skew).toISOString();
  return new Date(revokedAt.getTime() + (options.inFlightSeconds + LIVE_SESSION_HORIZON_SECONDS) * 1000 + skew).toISOString();
}

/** What an admin asks for: the target as named on the wire (a person is resolved to a userKey, a grant to its record). */
export type RevocationRequest =
  | { readonly kind: 'person'; readonly issuerId: string; readonly subject: string; readonly reason: string }
  | { readonly kind: 'grant'; readonly grantId: string; readonly reason: string }
  | { readonly kind: 'entitlement'; readonly entitlementId: string; readonly reason: string };

/** Ids are the audit trail's time-ordered UUIDs (grant ids) or this broker's own (revocation ids). */
export const REVOCATION_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ID = v.pipe(v.string(), v.regex(REVOCATION_ID_PATTERN, 'must be a Keyvend id (a UUIDv7 in lower case)'));
/** A reason people read in the audit trail and the list: one line, printable, 1-256 characters. */
export const REASON = v.pipe(
  v.string(),
  v.trim(),
  v.minLength(1, 'a reason is required'),
  v.maxLength(256, 'a reason is at most 256 characters'),
  v.regex(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u, 'a reason is one line of printable characters'),
);

const REQUEST_SCHEMA = v.variant('kind', [
  v.strictObject({
    kind: v.literal('person'),
    issuer: v.pipe(v.string(), v.regex(ISSUER_ID_PATTERN, 'issuer is a configured identity provider id')),
    subject: v.pipe(v.string(), v.regex(SUBJECT_PATTERN, 'subject is 1-128 of [A-Za-z0-9._:@|-]')),
    reason: REASON,
  }),
  v.strictObject({ kind: v.literal('grant'), grantId: ID, reason: REASON }),
  v.strictObject({
    kind: v.literal('entitlement'),
    entitlement: v.pipe(v.string(), v.regex(ENTITLEMENT_ID_PATTERN, 'entitlement is 1-63 of [a-z0-9-]')),
    reason: REASON,
  }),
]);

/** The body of `POST /v1/admin/revocations`, checked; problems are plain sentences for the 400. */
export function parseRevocationRequest(body: unknown): { ok: true; request: RevocationRequest } | { ok: false; problems: string[] } {
  const parsed = v.safeParse(REQUEST_SCHEMA, body);
  if (!parsed.success) return { ok: false, problems: plainIssues(REQUEST_SCHEMA, parsed.issues) };
  const b = parsed.output;
  switch (b.kind) {
    case 'person':
      return { ok: true, request: { kind: 'person', issuerId: b.issuer, subject: b.subject, reason: b.reason } };
    case 'grant':
      return { ok: true, request: { kind: 'grant', grantId: b.grantId, reason: b.reason } };
    case 'entitlement':
      return { ok: true, request: { kind: 'entitlement', entitlementId: b.entitlement, reason: b.reason } };
  }
}

const UNREVOKE_SCHEMA = v.strictObject({ id: ID, reason: REASON });

/** Un-revoke's reason, and a revocation id, checked. */
export function parseUnrevokeRequest(
  id: unknown,
  reason: unknown,
): { ok: true; id: string; reason: string } | { ok: false; problems: string[] } {
  const parsed = v.safeParse(UNREVOKE_SCHEMA, { id, reason });
  if (!parsed.success) return { ok: false, problems: plainIssues(UNREVOKE_SCHEMA, parsed.issues) };
  return { ok: true, id: parsed.output.id, reason: parsed.output.reason };
}

/** Two requests name the same target (a second revocation of it is the first one, not a new one). */
export function sameTarget(a: RevocationTarget, b: RevocationTarget): boolean {
  if (a.kind === 'person' && b.kind === 'person') return a.userKey === b.userKey;
  if (a.kind === 'grant' && b.kind === 'grant') return a.grantId === b.grantId;
  if (a.kind === 'entitlement' && b.kind === 'entitlement') return a.entitlementId === b.entitlementId;
  return false;
}

const STORED_TARGET = v.variant('kind', [
  v.strictObject({ kind: v.literal('person'), issuerId: v.string(), subject: v.string(), userKey: v.string() }),
  v.strictObject({
    kind: v.literal('grant'),
    grantId: v.string(),
    issuerId: v.string(),
    subject: v.string(),
    userKey: v.string(),
    entitlementId: v.string(),
  }),
  v.strictObject({ kind: v.literal('entitlement'), entitlementId: v.string() }),
]);
const ISO_TIME = v.pipe(v.string(), v.isoTimestamp());
const STORED_REVOCATION = v.strictObject({
  id: ID,
  target: STORED_TARGET,
  reason: v.string(),
  revokedAt: ISO_TIME,
  revokedBy: v.strictObject({ issuerId: v.string(), subject: v.string() }),
  liveSessionsUntil: ISO_TIME,
});

/** A revocation as read back from a store: checked, so that a hand-edited item fails closed instead of being guessed at. */
export function parseStoredRevocation(value: unknown): Revocation | undefined {
  const parsed = v.safeParse(STORED_REVOCATION, value);
  return parsed.success ? parsed.output : undefined;
}
