import type { Entitlement } from '../domain/entitlement.ts';
import { sha256Hex } from '../domain/identifiers.ts';
import type { Principal } from '../domain/principal.ts';
import type { VendingPlan } from './vending.ts';

/** The tag that names the grant which minted a session: it differs per request, so it is not part of what is asked for. */
const GRANT_TAG = 'keyvend:grant';

/** What shapes one session, besides the grant id: everything a request decided before STS. */
export interface SessionShape {
  readonly principal: Principal;
  readonly entitlement: Entitlement;
  readonly vending: VendingPlan;
  readonly durationSeconds: number;
  readonly policySha256: string | undefined;
  readonly policyArns: readonly string[];
}

/**
 * The credential cache's key (docs/adr/0013-credential-cache.md): SHA-256 of everything that names the caller and
 * shapes the session, so two requests share a session only when STS would have been asked for the same one. The
 * caller (issuer, subject, userKey), the entitlement as stored (id, version, role, path, external id), the session
 * identity (name, SourceIdentity, token subject, every tag but the grant's, transitive keys), the rendered
 * policy's hash, the managed policy ARNs and the exact duration. Hashed, so the key holds no readable value.
 */
export function sessionCacheKey(shape: SessionShape): string {
  const { principal, entitlement, vending } = shape;
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
      vending.vending,
      entitlement.externalId ?? null,
      entitlement.federationUser?.secretId ?? null,
      vending.roleSessionName,
      vending.sourceIdentity ?? null,
      vending.tokenSubject ?? null,
      vending.tags.filter((tag) => tag.Key !== GRANT_TAG).map((tag) => [tag.Key, tag.Value]),
      vending.transitiveTagKeys,
      shape.policySha256 ?? null,
      shape.policyArns,
      shape.durationSeconds,
    ]),
  );
}
