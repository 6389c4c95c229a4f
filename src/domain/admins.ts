import type { Principal } from './principal.ts';

/**
 * Who may administer Keyvend: the members of named groups of one identity provider (an OIDC issuer or a SAML IdP,
 * by its configured id). Groups rather than subjects, so that the IdP stays where people join and leave; a rule
 * names its issuer because a group name means nothing outside the IdP that asserts it.
 */
export interface AdminRule {
  readonly issuerId: string;
  readonly groups: readonly string[];
}

/** True when the verified principal belongs to an admin group of its own identity provider. */
export function isAdmin(principal: Pick<Principal, 'issuerId' | 'groups'>, rules: readonly AdminRule[]): boolean {
  return rules.some((rule) => rule.issuerId === principal.issuerId && rule.groups.some((group) => principal.groups.includes(group)));
}
