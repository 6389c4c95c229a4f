import type { Entitlement } from '../domain/entitlement.ts';
import { sha256Hex } from '../domain/identifiers.ts';
import type { Principal } from '../domain/principal.ts';
import type { SessionDecision } from '../domain/session-plan.ts';

/** The tag that names the grant which minted a session: it differs per request, so it is not part of what is asked for. */
const GRANT_TAG = 'keyvend:grant';

/** What shapes one session, besides the grant id: everything a request decided before STS. */
export interface SessionShape {
  readonly principal: Principal;
  readonly entitlement: Entitlement;
  /** The grant's own decision (decideSession): path, session identity, tags, policy, duration. */
  readonly decision: SessionDecision;
}

/**
 * The credential cache's key (docs/adr/0013-credential-cache.md): SHA-256 of everything that names the caller and
 * shapes the session, so two requests share a session only when STS would have been asked for the same one. The
 * caller (issuer, subject, userKey), the entitlement as stored (id, version, role, path, external id), the session
 * identity (name, SourceIdentity, token subject, every tag but the grant's, transitive keys), the rendered
 * policy's hash, the managed policy ARNs and the exact duration. Hashed, so the key holds no readable value.
 */
export function sessionCacheKey(shape: SessionShape): string {
  const { principal, entitlement, decision } = shape;
  return sha256Hex(
    JSON.stringify([
      'keyvend-session-v1',
      principal.idpType,
      principal.issuerId,
      principal.issuer,
      principal.subject,
      principal.userKey,
      entitlement.id,
      entitlement.version,
      entitlement.roleArn,
      decision.vending,
      entitlement.externalId ?? null,
      entitlement.federationUser?.secretId ?? null,
      decision.roleSessionName,
      decision.sourceIdentity ?? null,
      decision.tokenSubject ?? null,
      decision.tags.filter((tag) => tag.Key !== GRANT_TAG).map((tag) => [tag.Key, tag.Value]),
      decision.transitiveTagKeys,
      decision.policy?.sha256 ?? null,
      decision.policyArns,
      decision.durationSeconds,
    ]),
  );
}
