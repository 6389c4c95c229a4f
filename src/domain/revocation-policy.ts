import type { Revocation, RevocationTarget } from './revocation.ts';

/**
 * The `keyvend-revocations` customer-managed policy that every Keyvend target role carries: one Deny per revocation
 * whose sessions may still be alive, matching the session's broker tag (`keyvend:user`, `keyvend:grant` or
 * `keyvend:entitlement`) and a token issued before the revocation. Pure: built as objects, serialised once.
 */
export const REVOCATION_POLICY_NAME = 'keyvend-revocations';
/** IAM's limit on a customer-managed policy, counted without whitespace (JSON.stringify writes none). */
export const MANAGED_POLICY_MAX_CHARS = 6144;
/** Above this the document switches to a role-wide cutoff, leaving room for what IAM counts differently. */
export const PER_SESSION_BUDGET_CHARS = 5632;

export type RevocationPolicyMode = 'per-session' | 'role-wide-cutoff';

export interface RevocationPolicy {
  /** The policy document, serialised once. */
  readonly document: string;
  readonly mode: RevocationPolicyMode;
  /** The revocations the document denies (still within their live-session horizon). */
  readonly revocationIds: readonly string[];
  /** Set in role-wide-cutoff mode: every Keyvend session issued before it is denied. */
  readonly cutoff?: string;
}

interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Deny';
  readonly Action: '*';
  readonly Resource: '*';
  readonly Condition: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** The session tag each kind of revocation matches; the broker sets all three on every session it issues. */
export function tagOf(target: RevocationTarget): { key: string; value: string } {
  switch (target.kind) {
    case 'person':
      return { key: 'keyvend:user', value: target.userKey };
    case 'grant':
      return { key: 'keyvend:grant', value: target.grantId };
    case 'entitlement':
      return { key: 'keyvend:entitlement', value: target.entitlementId };
  }
}

/** The revocations whose sessions may still be alive at `now`, oldest first (a stable order: same state, same document). */
export function liveRevocations(revocations: readonly Revocation[], now: Date): Revocation[] {
  return revocations
    .filter((r) => Date.parse(r.liveSessionsUntil) > now.getTime())
    .sort((a, b) => Date.parse(a.revokedAt) - Date.parse(b.revokedAt) || a.id.localeCompare(b.id));
}

/**
 * Renders the policy from the full set of revocations in force (so a rewrite never depends on the previous version).
 * A policy needs a statement even when nothing is revoked: then one Deny whose condition can never hold (no token
 * was issued before 1970). When the per-session document would come near IAM's size limit, the whole document
 * becomes one role-wide cutoff: every Keyvend session issued before the latest live revocation is denied. That
 * cuts more than asked (everyone's older sessions), never less; people simply fetch new credentials.
 */
export function renderRevocationPolicy(
  revocations: readonly Revocation[],
  now: Date,
  options: { readonly inFlightSeconds: number },
): RevocationPolicy {
  const live = liveRevocations(revocations, now);
  // A request that read the grant just before the revocation committed may still reach STS up to one function
  // timeout later: its session is denied too (re-issue is refused from the commit on, so nothing legitimate is lost).
  const denyBefore = (r: Revocation) => new Date(Date.parse(r.revokedAt) + options.inFlightSeconds * 1000).toISOString();
  const revocationIds = live.map((r) => r.id);
  if (live.length === 0) {
    return {
      document: serialise([
        denyIssuedBefore('KeyvendNothingRevoked', '1970-01-01T00:00:00Z', { Null: { 'aws:PrincipalTag/keyvend:grant': 'false' } }),
      ]),
      mode: 'per-session',
      revocationIds,
    };
  }
  const perSession = serialise(
    live.map((r) => {
      const tag = tagOf(r.target);
      return denyIssuedBefore(undefined, denyBefore(r), { StringEquals: { [`aws:PrincipalTag/${tag.key}`]: tag.value } });
    }),
  );
  if (perSession.length <= PER_SESSION_BUDGET_CHARS) return { document: perSession, mode: 'per-session', revocationIds };
  const cutoff = new Date(Math.max(...live.map((r) => Date.parse(denyBefore(r))))).toISOString();
  return {
    document: serialise([denyIssuedBefore('KeyvendRoleWideCutoff', cutoff, { Null: { 'aws:PrincipalTag/keyvend:grant': 'false' } })]),
    mode: 'role-wide-cutoff',
    revocationIds,
    cutoff,
  };
}

function denyIssuedBefore(
  sid: string | undefined,
  before: string,
  match: Readonly<Record<string, Readonly<Record<string, string>>>>,
): Statement {
  return {
    ...(sid === undefined ? {} : { Sid: sid }),
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: { ...match, DateLessThan: { 'aws:TokenIssueTime': before } },
  };
}

function serialise(statements: readonly Statement[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}
