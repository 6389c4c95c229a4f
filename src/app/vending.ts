import { brokerTokenClaims, brokerTokenSubject, type BrokerTokenSettings } from '../domain/broker-token.ts';
import type { Entitlement } from '../domain/entitlement.ts';
import type { VendingPath } from '../domain/vending-path.ts';
import { InternalError } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import { federationNameFor, sessionIdentityFor, type SessionTag } from '../domain/session-identity.ts';
import type { Clock, CredentialIssuer, IssuedCredentials, TokenSigner } from '../ports/index.ts';

/** What every path passes: decided by the use case after the plan (duration rules, rendered policy). */
export interface SessionLimits {
  readonly durationSeconds: number;
  readonly policy: string | undefined;
  readonly policyArns: readonly string[];
}

/** What the credentials came from, beyond the session itself: the broker's token on its own path. */
export interface IssuedGrant {
  readonly credentials: IssuedCredentials;
  /** The `kid` of the key that signed the broker's token (keyvend-issuer only). */
  readonly tokenKeyId?: string;
}

/**
 * One entitlement's STS call for one caller, decided before anything is called: what the broker sets
 * (session name, SourceIdentity, tags), and the call. Building it checks that the caller fits the path,
 * so a misfit is a denial before STS.
 */
export interface VendingPlan {
  readonly vending: VendingPath;
  readonly roleSessionName: string;
  /** Undefined for federation tokens (GetFederationToken has none). */
  readonly sourceIdentity: string | undefined;
  readonly tags: readonly SessionTag[];
  readonly transitiveTagKeys: readonly string[];
  /** keyvend-issuer: the token's `sub`, which the target role's trust policy pins and CloudTrail records. */
  readonly tokenSubject: string | undefined;
  readonly externalIdSet: boolean;
  issue(limits: SessionLimits): Promise<IssuedGrant>;
}

/** The broker as an OIDC issuer: what its tokens say and who signs them. Absent when not configured. */
export interface BrokerIssuer {
  readonly settings: BrokerTokenSettings;
  readonly signer: TokenSigner;
}

export interface VendingDeps {
  readonly credentials: CredentialIssuer;
  readonly brokerIssuer: BrokerIssuer | undefined;
  readonly clock: Clock;
  readonly settings: {
    readonly isAllowedRole: (roleArn: string) => boolean;
  };
}

/**
 * keyvend-issuer mints a token for exactly this grant and exchanges it unsigned (no chaining: up to the
 * role's 12 h), STS reading tags and SourceIdentity from its claims. AssumeRole takes everything as
 * parameters. GetFederationToken takes tags but has neither SourceIdentity nor transitive keys, so who a
 * session belongs to is carried by its Name and the `keyvend:user` tag.
 */
export function planVending(entitlement: Entitlement, principal: Principal, grantId: string, deps: VendingDeps): VendingPlan {
  const vending = entitlement.vending;
  if (vending !== 'federation-token' && !deps.settings.isAllowedRole(entitlement.roleArn)) {
    throw new InternalError('role_not_in_broker_allow_list');
  }
  const identity = sessionIdentityFor(principal, entitlement, grantId);
  switch (vending) {
    case 'keyvend-issuer': {
      const issuer = deps.brokerIssuer;
      if (issuer === undefined) throw new InternalError('broker_issuer_not_configured');
      const grant = { grantId, entitlementId: entitlement.id, userKey: principal.userKey, identity };
      return {
        ...identity,
        vending,
        tokenSubject: brokerTokenSubject(entitlement.id, principal.userKey),
        externalIdSet: false,
        issue: async (limits) => {
          const signed = await issuer.signer.sign(brokerTokenClaims(issuer.settings, grant, deps.clock.now()));
          const credentials = await deps.credentials.assumeRoleWithWebIdentity({
            ...limits,
            roleArn: entitlement.roleArn,
            roleSessionName: identity.roleSessionName,
            webIdentityToken: signed.token,
          });
          return { credentials, tokenKeyId: signed.keyId };
        },
      };
    }
    case 'assume-role':
      return {
        ...identity,
        vending,
        tokenSubject: undefined,
        externalIdSet: entitlement.externalId !== undefined,
        issue: async (limits) => ({
          credentials: await deps.credentials.assumeRole({
            ...limits,
            ...identity,
            roleArn: entitlement.roleArn,
            externalId: entitlement.externalId,
          }),
        }),
      };
    case 'federation-token': {
      const secretId = entitlement.federationUser?.secretId;
      if (secretId === undefined) throw new InternalError('federation_user_missing');
      const name = federationNameFor(principal);
      return {
        vending,
        roleSessionName: name,
        sourceIdentity: undefined,
        tags: identity.tags,
        transitiveTagKeys: [],
        tokenSubject: undefined,
        externalIdSet: false,
        issue: async (limits) => ({
          credentials: await deps.credentials.getFederationToken({
            ...limits,
            federationUserSecretId: secretId,
            name,
            tags: identity.tags,
          }),
        }),
      };
    }
  }
}
