import type { GrantTarget } from '../../domain/entitlement.ts';
import type { Principal } from '../../domain/principal.ts';

/**
 * Entitlements table layout (single table, pk/sk):
 *   definition: pk `ENT#<id>`                         sk `DEF`       { definition, grants }
 *   grant:      pk `P#<issuerId>#sub#<subject>`        sk `ENT#<id>`
 *               pk `P#<issuerId>#grp#<group>`          sk `ENT#<id>`
 * Issuer ids are `[a-z0-9-]` and the kind marker is fixed, so no subject or group can forge another key.
 */
export const DEFINITION_SK = 'DEF';
export const definitionKey = (entitlementId: string) => ({ pk: `ENT#${entitlementId}`, sk: DEFINITION_SK });
export const grantSortKey = (entitlementId: string) => `ENT#${entitlementId}`;

export function principalPartitionKeys(principal: Pick<Principal, 'issuerId' | 'subject' | 'groups'>): string[] {
  return [
    `P#${principal.issuerId}#sub#${principal.subject}`,
    ...principal.groups.map((group) => `P#${principal.issuerId}#grp#${group}`),
  ];
}

export function grantPartitionKey(target: GrantTarget): string {
  return 'subject' in target ? `P#${target.issuer}#sub#${target.subject}` : `P#${target.issuer}#grp#${target.group}`;
}
