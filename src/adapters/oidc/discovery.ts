import { UpstreamUnavailableError } from '../../domain/errors.ts';
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
export async function discover<M extends string>(issuer: string, fetch: BoundedFetch, members: readonly M[]): Promise<Record<M, string>> {
  let document: unknown;
  try {
    const response = await fetch(`${issuer.endsWith('/') ? issuer : `${issuer}/`}.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(2000),
    });
    if (response.status !== 200) throw new Error(`discovery answered ${response.status}`);
    document = await response.json();
  } catch (error) {
    throw new UpstreamUnavailableError('oidc_discovery_failed', { cause: error });
  }
  const fields = (typeof document === 'object' && document !== null ? document : {}) as Record<string, unknown>;
  if (fields['issuer'] !== issuer) throw new UpstreamUnavailableError('oidc_discovery_mismatch');
  const found = {} as Record<M, string>;
  for (const member of members) {
    const value = fields[member];
    if (typeof value !== 'string') throw new UpstreamUnavailableError('oidc_discovery_mismatch');
    found[member] = value;
  }
  return found;
}
