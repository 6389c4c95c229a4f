import type { Entitlement, Output } from '../domain/entitlement.ts';
import { KeyvendError, UpstreamUnavailableError } from '../domain/errors.ts';
import type { Principal } from '../domain/principal.ts';
import type { EntitlementStore, IdentityVerifier } from '../ports/index.ts';

export interface EntitlementSummary {
  readonly id: string;
  readonly description: string;
  readonly roleArn: string;
  readonly outputs: readonly Output[];
  readonly maxDurationSeconds: number;
}

/**
 * What `principal` is granted, as the caller may see it, sorted by id: the one listing of the broker (the API's
 * `GET /v1/entitlements` and the portal's console list). A store failure that is not already a KeyvendError is
 * an outage (503 `entitlements_unavailable`).
 */
export async function grantedSummaries(entitlements: EntitlementStore, principal: Principal): Promise<EntitlementSummary[]> {
  let granted: Entitlement[];
  try {
    granted = await entitlements.listGranted(principal);
  } catch (error) {
    if (error instanceof KeyvendError) throw error;
    throw new UpstreamUnavailableError('entitlements_unavailable', { cause: error });
  }
  return granted
    .map((e) => ({
      id: e.id,
      description: e.description,
      roleArn: e.roleArn,
      outputs: e.outputs,
      maxDurationSeconds: e.maxDurationSeconds,
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** Lists what the verified caller may ask for. It grants nothing, so it needs no audit record. */
export function makeListEntitlements(deps: { verifier: IdentityVerifier; entitlements: EntitlementStore }) {
  return async function listEntitlements(authorization: string | undefined): Promise<EntitlementSummary[]> {
    const principal = await deps.verifier.verifyBearer(authorization);
    return grantedSummaries(deps.entitlements, principal);
  };
}
