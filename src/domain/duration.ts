import type { VendingPath } from './vending-path.ts';
import { InvalidRequestError } from './errors.ts';

export const STS_MIN_DURATION_SECONDS = 900;
export const STS_MAX_ROLE_DURATION_SECONDS = 43_200;
/** STS refuses more than an hour when the caller is itself a role session (role chaining). */
export const ROLE_CHAINING_MAX_DURATION_SECONDS = 3600;
/** GetFederationToken: 15 min to 36 h, independent of any role. */
export const FEDERATION_TOKEN_MAX_DURATION_SECONDS = 129_600;

export interface DurationLimits {
  readonly maxDurationSeconds: number;
  readonly defaultDurationSeconds?: number | undefined;
  readonly roleChaining: boolean;
  /** Only `assume-role` is signed by the broker's role session, hence chained. */
  readonly vending: VendingPath;
}

/**
 * The longest session each STS API grants here: AssumeRole from the broker's role session is role
 * chaining (1 h); AssumeRoleWithWebIdentity with the broker's token is unsigned, so never chained, up to
 * the 12 h role maximum; GetFederationToken is signed with an IAM user's keys and allows 36 h.
 */
export function apiMaxDuration(vending: VendingPath, roleChaining: boolean): number {
  switch (vending) {
    case 'assume-role':
      return roleChaining ? ROLE_CHAINING_MAX_DURATION_SECONDS : STS_MAX_ROLE_DURATION_SECONDS;
    case 'keyvend-issuer':
      return STS_MAX_ROLE_DURATION_SECONDS;
    case 'federation-token':
      return FEDERATION_TOKEN_MAX_DURATION_SECONDS;
  }
}

/**
 * The duration to ask STS for: the request's, clamped to the entitlement's maximum and to STS's rules, so
 * the caller gets the longest session they may have rather than an error. Below STS's minimum is an error:
 * we never hand out longer than was asked without the caller knowing it could be shorter.
 */
export function resolveDuration(requested: unknown, limits: DurationLimits): number {
  const ceiling = durationCeiling(limits).seconds;
  if (requested === undefined) {
    return Math.max(STS_MIN_DURATION_SECONDS, Math.min(limits.defaultDurationSeconds ?? 3600, ceiling));
  }
  if (typeof requested !== 'number' || !Number.isSafeInteger(requested)) {
    throw new InvalidRequestError('durationSeconds must be a whole number of seconds.');
  }
  if (requested < STS_MIN_DURATION_SECONDS) {
    throw new InvalidRequestError(`durationSeconds must be at least ${STS_MIN_DURATION_SECONDS}.`);
  }
  return Math.min(requested, ceiling);
}

/**
 * The longest session a request can get, and what sets it: the entitlement's own maximum, role chaining's hour
 * (assume-role from the broker's role session), or the vending path's API maximum (12 h for a role, 36 h for a
 * federation token). When several are equal, the entitlement's own maximum is named first: it is the one an
 * operator can change.
 */
export interface DurationCeiling {
  readonly seconds: number;
  readonly limitedBy: 'entitlement_max' | 'role_chaining' | 'vending_path';
  readonly entitlementMaxSeconds: number;
  readonly vendingPathMaxSeconds: number;
}

export function durationCeiling(limits: DurationLimits): DurationCeiling {
  const pathMax = apiMaxDuration(limits.vending, limits.roleChaining);
  const chained = limits.vending === 'assume-role' && limits.roleChaining;
  const limitedBy = limits.maxDurationSeconds <= pathMax ? 'entitlement_max' : chained ? 'role_chaining' : 'vending_path';
  return {
    seconds: Math.min(limits.maxDurationSeconds, pathMax),
    limitedBy,
    entitlementMaxSeconds: limits.maxDurationSeconds,
    vendingPathMaxSeconds: pathMax,
  };
}
