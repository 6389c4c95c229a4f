import type { GrantTarget } from '../../domain/entitlement.ts';
import type { Principal } from '../../domain/principal.ts';
import type { GrantMatch } from '../../ports/index.ts';

/**
 * Entitlements table layout (single table, pk/sk):
 *   definition: pk `ENT#<id>`                         sk `DEF`       { definition, grants }
 *   grant:      pk `P#<issuerId>#sub#<subject>`        sk `ENT#<id>`
 *               pk `P#<issuerId>#grp#<group>`          sk `ENT#<id>`
 *   revocation marks, read with the grants (one BatchGetItem):
 *               pk `P#<issuerId>#sub#<subject>`        sk `REV`       { person?: {id, revokedAt}, grants?: string set }
 *               pk `ENT#<id>`                          sk `REV`       { entitlement: {id, revokedAt} }
 *   revocation: pk `REVOCATIONS`                       sk `REV#<id>`  { revocation }
 *   generation: pk `REVOCATIONS`                       sk `STATE`     { generation, enforcedGeneration }
 *   granted groups of an issuer (a superset of the groups any grant names; docs/adr/0018-granted-groups-list.md):
 *               pk `GROUPS#<issuerId>`                 sk `GROUPS`    { issuer, groups?: string set }
 * Issuer ids are `[a-z0-9-]` and the kind marker is fixed, so no subject or group can forge another key; `REVOCATIONS`
 * has no `#` and a sort key `REV` is never an `ENT#` grant, so no definition, grant or revocation can collide; `GROUPS#`
 * begins no other partition key.
 */
export const DEFINITION_SK = 'DEF';
/** What every grant's sort key (and every definition's partition key) begins with; the rest is the entitlement id. */
export const ENTITLEMENT_KEY_PREFIX = 'ENT#';
export const definitionKey = (entitlementId: string) => ({ pk: `${ENTITLEMENT_KEY_PREFIX}${entitlementId}`, sk: DEFINITION_SK });
export const grantSortKey = (entitlementId: string) => `${ENTITLEMENT_KEY_PREFIX}${entitlementId}`;
/** The grant of `entitlementId` in one principal partition (a subject's or a group's). */
export const grantKey = (partitionKey: string, entitlementId: string) => ({ pk: partitionKey, sk: grantSortKey(entitlementId) });
/** The entitlement id in a definition's `pk` or a grant's `sk`. */
export const entitlementIdOf = (key: string): string => key.slice(ENTITLEMENT_KEY_PREFIX.length);

export function principalPartitionKeys(principal: Pick<Principal, 'issuerId' | 'subject' | 'groups'>): string[] {
  return [`P#${principal.issuerId}#sub#${principal.subject}`, ...principal.groups.map((group) => `P#${principal.issuerId}#grp#${group}`)];
}

/** What each of principalPartitionKeys(principal) stands for, in the same order. */
export function grantMatchesOf(principal: Pick<Principal, 'subject' | 'groups'>): GrantMatch[] {
  return [{ subject: principal.subject }, ...principal.groups.map((group) => ({ group }))];
}

export function grantPartitionKey(target: GrantTarget): string {
  return 'subject' in target ? `P#${target.issuer}#sub#${target.subject}` : `P#${target.issuer}#grp#${target.group}`;
}

/** The sort key of the revocation marks in a subject's partition and in a definition's. */
export const REVOCATION_MARK_SK = 'REV';
export const subjectPartitionKey = (issuerId: string, subject: string) => `P#${issuerId}#sub#${subject}`;
export const REVOCATIONS_PK = 'REVOCATIONS';

/**
 * The keys of one entitlement read (EntitlementStore.lookupGrant, one BatchGetItem): the definition, the grant in each
 * of the principal's partitions (its subject's, then each group's, in principalPartitionKeys' order), and the two
 * revocation marks (the person's, the entitlement's); `all` is the request's key list, in that order.
 */
export function grantLookupKeys(principal: Pick<Principal, 'issuerId' | 'subject' | 'groups'>, entitlementId: string) {
  const definition = definitionKey(entitlementId);
  const grants = principalPartitionKeys(principal).map((pk) => grantKey(pk, entitlementId));
  const personMark = { pk: subjectPartitionKey(principal.issuerId, principal.subject), sk: REVOCATION_MARK_SK };
  const entitlementMark = { pk: definition.pk, sk: REVOCATION_MARK_SK };
  return { definition, grants, personMark, entitlementMark, all: [definition, ...grants, personMark, entitlementMark] };
}
export const REVOCATION_SK_PREFIX = 'REV#';
export const revocationKey = (id: string) => ({ pk: REVOCATIONS_PK, sk: `${REVOCATION_SK_PREFIX}${id}` });
export const REVOCATION_STATE_KEY = { pk: REVOCATIONS_PK, sk: 'STATE' } as const;

/** The item listing the groups of `issuerId` that appear in any grant (written by the entitlements writer). */
export const GRANTED_GROUPS_SK = 'GROUPS';
export const grantedGroupsKey = (issuerId: string) => ({ pk: `GROUPS#${issuerId}`, sk: GRANTED_GROUPS_SK });

/** The issuer and the subject or group a grant item's partition key stands for; undefined for any other key. */
export function grantPartitionOf(pk: string): { issuerId: string; kind: 'sub' | 'grp'; name: string } | undefined {
  const match = /^P#([a-z0-9-]+)#(sub|grp)#(.*)$/s.exec(pk);
  if (match === null) return undefined;
  return { issuerId: match[1] ?? '', kind: match[2] === 'sub' ? 'sub' : 'grp', name: match[3] ?? '' };
}
