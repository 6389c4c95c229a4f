import { brokerTokenClaims, type BrokerTokenSettings } from '../domain/broker-token.ts';
import type { Entitlement } from '../domain/entitlement.ts';
import { InternalError } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import type { SessionDecision } from '../domain/session-plan.ts';
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
 * One entitlement's STS call for one caller, built from the session decision (domain/session-plan.ts): what the
 * broker sets (session name, SourceIdentity, tags) was decided there; this adds only the call.
 */
export interface VendingPlan {
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
}

/**
 * keyvend-issuer mints a token for exactly this grant and exchanges it unsigned (no chaining: up to the
 * role's 12 h), STS reading tags and SourceIdentity from its claims. AssumeRole takes everything as
 * parameters. GetFederationToken takes tags but has neither SourceIdentity nor transitive keys, so who a
 * session belongs to is carried by its Name and the `keyvend:user` tag.
 */
export function planVending(
  entitlement: Entitlement,
  decision: SessionDecision,
  principal: Principal,
  grantId: string,
  deps: VendingDeps,
): VendingPlan {
  switch (decision.vending) {
    case 'keyvend-issuer': {
      const issuer = deps.brokerIssuer;
      if (issuer === undefined) throw new InternalError('broker_issuer_not_configured');
      const identity = {
        roleSessionName: decision.roleSessionName,
        sourceIdentity: decision.sourceIdentity ?? decision.roleSessionName,
        tags: decision.tags,
        transitiveTagKeys: decision.transitiveTagKeys,
      };
      const grant = { grantId, entitlementId: entitlement.id, userKey: principal.userKey, identity };
      return {
        issue: async (limits) => {
          const signed = await issuer.signer.sign(brokerTokenClaims(issuer.settings, grant, deps.clock.now()));
          const credentials = await deps.credentials.assumeRoleWithWebIdentity({
            ...limits,
            roleArn: decision.roleArn,
            roleSessionName: decision.roleSessionName,
            webIdentityToken: signed.token,
          });
          return { credentials, tokenKeyId: signed.keyId };
        },
      };
    }
    case 'assume-role':
      return {
        issue: async (limits) => ({
          credentials: await deps.credentials.assumeRole({
            ...limits,
            roleArn: decision.roleArn,
            roleSessionName: decision.roleSessionName,
            sourceIdentity: decision.sourceIdentity ?? decision.roleSessionName,
            tags: decision.tags,
            transitiveTagKeys: decision.transitiveTagKeys,
            externalId: entitlement.externalId,
          }),
        }),
      };
    case 'federation-token': {
      const secretId = entitlement.federationUser?.secretId;
      if (secretId === undefined) throw new InternalError('federation_user_missing');
      return {
        issue: async (limits) => ({
          credentials: await deps.credentials.getFederationToken({
            ...limits,
            federationUserSecretId: secretId,
            name: decision.roleSessionName,
            tags: decision.tags,
          }),
        }),
      };
    }
  }
}
