import type { Entitlement, Output } from '../domain/entitlement.ts';
import { KeyvendError, UpstreamUnavailableError } from '../domain/errors.ts';
import type { EntitlementStore, IdentityVerifier } from '../ports/index.ts';

export interface EntitlementSummary {
  readonly id: string;
  readonly description: string;
  readonly roleArn: string;
  readonly outputs: readonly Output[];
  readonly maxDurationSeconds: number;
}

/** Lists what the verified caller may ask for. It grants nothing, so it needs no audit record. */
export function makeListEntitlements(deps: { verifier: IdentityVerifier; entitlements: EntitlementStore }) {
  return async function listEntitlements(authorization: string | undefined): Promise<EntitlementSummary[]> {
    const principal = await deps.verifier.verifyBearer(authorization);
    let granted: Entitlement[];
    try {
      granted = await deps.entitlements.listGranted(principal);
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
  };
}
