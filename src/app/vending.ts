import { accountOfArn, type Entitlement, partitionOfArn, type VendingPath } from '../domain/entitlement.ts';
import { InternalError, NotEntitledError } from '../domain/errors.ts';
import type { AwsRoleAttribute, Principal } from '../domain/principal.ts';
import { SAML_PROVIDER_ARN_PATTERN } from '../domain/saml.ts';
import type { Secret } from '../domain/secret.ts';
import { federationNameFor, sessionIdentityFor, type SessionTag } from '../domain/session-identity.ts';
import type { CredentialIssuer, IssuedCredentials } from '../ports/index.ts';

/** What every path passes: decided by the use case after the plan (duration rules, rendered policy). */
export interface SessionLimits {
  readonly durationSeconds: number;
  readonly policy: string | undefined;
  readonly policyArns: readonly string[];
}

/**
 * One entitlement's STS call for one caller, decided before anything is called: what the broker itself sets
 * (session name, SourceIdentity, tags; undefined where the API takes them from the token or assertion), and
 * the call. Building it checks that the caller fits the path, so a misfit is a denial before STS.
 */
export interface VendingPlan {
  readonly vending: VendingPath;
  /** Undefined for SAML, whose assertion names the session. */
  readonly roleSessionName: string | undefined;
  /** Undefined where the API takes none from the broker (web identity, SAML, federation tokens). */
  readonly sourceIdentity: string | undefined;
  readonly tags: readonly SessionTag[];
  readonly transitiveTagKeys: readonly string[];
  readonly samlProviderArn: string | undefined;
  readonly externalIdSet: boolean;
  issue(issuer: CredentialIssuer, limits: SessionLimits): Promise<IssuedCredentials>;
}

export interface VendingSettings {
  readonly isAllowedRole: (roleArn: string) => boolean;
}

/**
 * AssumeRole takes everything the broker sets. The unsigned calls take no tags or SourceIdentity (STS reads
 * them from the token's or assertion's claims), and SAML takes no session name either. GetFederationToken
 * takes tags but has neither SourceIdentity nor transitive keys, so who a session belongs to is carried by
 * its Name and the `keyvend:user` tag.
 */
export function planVending(
  entitlement: Entitlement,
  principal: Principal,
  samlAssertion: Secret | undefined,
  settings: VendingSettings,
): VendingPlan {
  const vending = entitlement.vending;
  if (vending !== 'federation-token' && !settings.isAllowedRole(entitlement.roleArn)) {
    throw new InternalError('role_not_in_broker_allow_list');
  }
  const full = sessionIdentityFor(principal, entitlement);
  const unsigned = { vending, sourceIdentity: undefined, tags: [], transitiveTagKeys: [], externalIdSet: false } as const;
  switch (vending) {
    case 'assume-role':
      return {
        ...full,
        vending,
        samlProviderArn: undefined,
        externalIdSet: entitlement.externalId !== undefined,
        issue: (issuer, limits) =>
          issuer.assumeRole({ ...limits, ...full, roleArn: entitlement.roleArn, externalId: entitlement.externalId }),
      };
    case 'web-identity': {
      const token = principal.bearerToken;
      if (principal.idpType !== 'oidc' || token === undefined) throw new NotEntitledError('web_identity_needs_oidc_caller');
      return {
        ...unsigned,
        roleSessionName: full.roleSessionName,
        samlProviderArn: undefined,
        issue: (issuer, limits) =>
          issuer.assumeRoleWithWebIdentity({ ...limits, roleArn: entitlement.roleArn, roleSessionName: full.roleSessionName, webIdentityToken: token }),
      };
    }
    case 'saml': {
      if (principal.idpType !== 'saml' || samlAssertion === undefined) throw new NotEntitledError('saml_needs_saml_caller');
      const { principalArn } = samlRoleFor(principal, entitlement);
      return {
        ...unsigned,
        roleSessionName: undefined,
        samlProviderArn: principalArn,
        issue: (issuer, limits) =>
          issuer.assumeRoleWithSaml({ ...limits, roleArn: entitlement.roleArn, principalArn, samlAssertion }),
      };
    }
    case 'federation-token': {
      const secretId = entitlement.federationUser?.secretId;
      if (secretId === undefined) throw new InternalError('federation_user_missing');
      const name = federationNameFor(principal);
      return {
        ...unsigned,
        roleSessionName: name,
        tags: full.tags,
        samlProviderArn: undefined,
        issue: (issuer, limits) => issuer.getFederationToken({ ...limits, federationUserSecretId: secretId, name, tags: full.tags }),
      };
    }
  }
}

/**
 * The Role attribute pair that names this entitlement's role, with a SAML provider in the role's account and
 * partition: an assertion cannot point the broker at a role the entitlement does not name.
 */
function samlRoleFor(principal: Principal, entitlement: Entitlement): AwsRoleAttribute {
  const match = (principal.awsRoles ?? []).find(
    (pair) =>
      pair.roleArn === entitlement.roleArn &&
      SAML_PROVIDER_ARN_PATTERN.test(pair.principalArn) &&
      accountOfArn(pair.principalArn) === accountOfArn(entitlement.roleArn) &&
      partitionOfArn(pair.principalArn) === partitionOfArn(entitlement.roleArn),
  );
  if (match === undefined) throw new NotEntitledError('saml_role_attribute_mismatch');
  return match;
}
