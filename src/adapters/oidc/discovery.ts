import { type FailedDependency, UpstreamUnavailableError } from '../../domain/errors.ts';
import type { BoundedFetch } from './bounded-fetch.ts';

/**
 * The configured issuer's OpenID Connect discovery document, read through the bounded fetch, and the `members`
 * the caller needs from it (each a string). The one discovery client of the broker: the API's verifier asks for
 * `jwks_uri`, the portal for its authorization and token endpoints.
 *
 * Unreachable, not 200, or not JSON: `oidc_discovery_failed`. A document that names another issuer (a mix-up,
 * not an outage) or lacks a member: `oidc_discovery_mismatch`. Whether the URLs it names may be fetched is for
 * the caller to check, with the same rule as the issuer's own.
 */
export async function discover<M extends string, O extends string = never>(
  issuer: string,
  fetch: BoundedFetch,
  members: readonly M[],
  issuerId?: string,
  optionalMembers: readonly O[] = [],
): Promise<Record<M, string> & Partial<Record<O, string>>> {
  const discoveryUrl = `${issuer.endsWith('/') ? issuer : `${issuer}/`}.well-known/openid-configuration`;
  // Named in the log line of the 503, so an operator sees which dependency failed.
  const dependency: FailedDependency = {
    service: 'oidc_discovery',
    ...(issuerId === undefined ? {} : { issuerId }),
    url: loggableUrl(discoveryUrl),
  };
  let document: unknown;
  try {
    const response = await fetch(discoveryUrl, {
      signal: AbortSignal.timeout(2000),
    });
    if (response.status !== 200) throw new Error(`discovery answered ${response.status}`);
    document = await response.json();
  } catch (error) {
    throw new UpstreamUnavailableError('oidc_discovery_failed', { cause: error, dependency });
  }
  const fields = (typeof document === 'object' && document !== null ? document : {}) as Record<string, unknown>;
  if (fields['issuer'] !== issuer) throw new UpstreamUnavailableError('oidc_discovery_mismatch', { dependency });
  const found = {} as Record<M, string> & Partial<Record<O, string>>;
  for (const member of members) {
    const value = fields[member];
    if (typeof value !== 'string') throw new UpstreamUnavailableError('oidc_discovery_mismatch', { dependency });
    found[member] = value as (typeof found)[M];
  }
  for (const member of optionalMembers) {
    const value = fields[member];
    if (typeof value === 'string') found[member] = value as (typeof found)[O];
  }
  return found;
}

/** A URL for a log line: origin and path only, so user info or a query string never reaches the log. */
export function loggableUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return 'unparseable URL';
  }
}
