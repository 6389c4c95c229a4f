import { NotEntitledError, PolicyTooLargeError } from './errors.ts';
import type { Entitlement } from './entitlement.ts';
import { MAX_POLICY_CHARS } from './session-policy.ts';
import type { Principal } from './principal.ts';

export interface SessionTag {
  readonly Key: string;
  readonly Value: string;
}

export interface SessionIdentity {
  readonly roleSessionName: string;
  readonly sourceIdentity: string;
  readonly tags: readonly SessionTag[];
  readonly transitiveTagKeys: readonly string[];
}

const READABLE_LENGTH = 30;

/**
 * RoleSessionName and SourceIdentity: `<readable>.<userKey>`. The readable part is the subject cut to 30
 * characters of `[A-Za-z0-9_-]`, for people reading CloudTrail; the userKey, after the only dot, is what
 * makes the name unique and unspoofable: a resource policy that names a session ARN can only ever match
 * the one person whose issuer and subject hash to that key. At most 57 characters, within STS's 2-64.
 */
export function sessionNameFor(principal: Pick<Principal, 'subject' | 'userKey'>): string {
  const readable = principal.subject.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, READABLE_LENGTH);
  return `${readable || 'kv'}.${principal.userKey}`;
}

/**
 * GetFederationToken's `Name` (2-32 of `[\w+=,.@-]`): `kv.` and the userKey, 29 characters. The readable
 * subject does not fit, but the name is still unspoofable (only the issuer and subject that hash to the
 * key produce it) and unique enough: the key keeps 130 bits of SHA-256, so among a million users the
 * chance that any two share a name is about 10^12 / 2^131 ≈ 4·10^-28. The federated user's ARN is
 * `arn:aws:sts::<account>:federated-user/<Name>`.
 */
export function federationNameFor(principal: Pick<Principal, 'userKey'>): string {
  return `kv.${principal.userKey}`;
}

/**
 * The session tags: the broker's own (who, from which issuer, for which entitlement, in which grant),
 * then the entitlement's, each from a claim that was validated at verification time or from a static
 * value. A missing claim refuses the request: an ABAC policy that keys on a tag must never see it absent.
 */
export function sessionIdentityFor(principal: Principal, entitlement: Entitlement, grantId: string): SessionIdentity {
  const name = sessionNameFor(principal);
  const tags: SessionTag[] = [
    { Key: 'keyvend:user', Value: principal.userKey },
    { Key: 'keyvend:issuer', Value: principal.issuerId },
    { Key: 'keyvend:entitlement', Value: entitlement.id },
    { Key: 'keyvend:grant', Value: grantId },
  ];
  for (const source of entitlement.sessionTags) {
    if ('value' in source) {
      tags.push({ Key: source.key, Value: source.value });
      continue;
    }
    const value = Object.hasOwn(principal.attributes, source.claim) ? principal.attributes[source.claim] : undefined;
    if (value === undefined) throw new NotEntitledError('tag_claim_missing');
    tags.push({ Key: source.key, Value: value });
  }
  return { roleSessionName: name, sourceIdentity: name, tags, transitiveTagKeys: [...entitlement.transitiveTagKeys] };
}

/**
 * STS packs the session policy and tags into a binary form with its own limit and reports only a
 * percentage (`PackedPolicySize`). Its algorithm is not published, so this estimate is deliberately
 * pessimistic: it counts the policy and every tag key and value, uncompressed, with 4 characters of
 * overhead per tag, against the 2,048-character plaintext policy budget. Real packing compresses, so a
 * request under this estimate has always stayed under STS's limit; one over it may still have fitted.
 */
export function estimatePackedPercent(policyChars: number, tags: readonly SessionTag[]): number {
  const tagChars = tags.reduce((sum, tag) => sum + tag.Key.length + tag.Value.length + 4, 0);
  return Math.ceil(((policyChars + tagChars) / MAX_POLICY_CHARS) * 100);
}

/** Entitlements are refused at write time above this estimate, and requests at run time above 100. */
export const PACKED_ESTIMATE_WRITE_LIMIT_PERCENT = 90;

export function assertPackedSizeFits(policyChars: number, tags: readonly SessionTag[]): number {
  const percent = estimatePackedPercent(policyChars, tags);
  if (percent > 100) throw new PolicyTooLargeError('packed_estimate_over_limit');
  if (tags.length > 50) throw new PolicyTooLargeError('too_many_tags');
  return percent;
}
