import { NodeSamlVerifier, type SamlVerifierOptions } from '../../src/adapters/saml/node-saml-verifier.ts';
import type { Secret } from '../../src/domain/secret.ts';
import type { SamlVerification } from '../../src/ports/index.ts';

export interface BoundSamlVerifier {
  verifySamlResponse(samlResponse: Secret): Promise<SamlVerification>;
}

/** A NodeSamlVerifier with the ACS its test responses are posted to, as the API's path uses it. */
export function boundSamlVerifier(options: SamlVerifierOptions & { readonly acsUrl: string }): BoundSamlVerifier {
  const { acsUrl, ...rest } = options;
  const verifier = new NodeSamlVerifier(rest);
  return { verifySamlResponse: (samlResponse) => verifier.verifySamlResponse(samlResponse, { acsUrl }) };
}
