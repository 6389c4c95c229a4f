import { NodeSamlVerifier, type SamlVerifierOptions } from '../../src/adapters/saml/node-saml-verifier.ts';
import type { Secret } from '../../src/domain/secret.ts';
import type { SamlSolicitation, SamlVerification } from '../../src/ports/index.ts';

export interface BoundSamlVerifier {
  verifySamlResponse(samlResponse: Secret, solicitation?: SamlSolicitation): Promise<SamlVerification>;
}

/**
 * A NodeSamlVerifier with the ACS its test responses are posted to, as the API's path uses it (it never sends an
 * AuthnRequest) unless a test passes the portal's solicitation.
 */
export function boundSamlVerifier(options: SamlVerifierOptions & { readonly acsUrl: string }): BoundSamlVerifier {
  const { acsUrl, ...rest } = options;
  const verifier = new NodeSamlVerifier(rest);
  return {
    verifySamlResponse: (samlResponse, solicitation = { kind: 'never-requested' }) =>
      verifier.verifySamlResponse(samlResponse, { acsUrl, solicitation }),
  };
}
