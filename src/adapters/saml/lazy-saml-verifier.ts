import type { Secret } from '../../domain/secret.ts';
import type { SamlConsumer, SamlVerification, SamlVerifier } from '../../ports/index.ts';
import { onceUntilFailure } from '../shared/once-until-failure.ts';
import type { SamlVerifierOptions } from './node-saml-verifier.ts';

/**
 * A SamlVerifier whose implementation (NodeSamlVerifier with node-saml and the XML stack, about 450 KiB) is loaded on
 * the first SAML response, not at cold start: the dynamic `import()` becomes a chunk of its own (esbuild splitting,
 * docs/bundle-size.md), so a bearer-token request never loads it. A failed load is retried on the next response.
 * The import lives here, not in the composition, so a function that never builds a SAML verifier carries no chunk.
 */
export function lazyNodeSamlVerifier(options: SamlVerifierOptions): SamlVerifier {
  const verifier = onceUntilFailure(async (): Promise<SamlVerifier> => {
    const { NodeSamlVerifier } = await import('./node-saml-verifier.ts');
    return new NodeSamlVerifier(options);
  });
  return {
    async verifySamlResponse(samlResponse: Secret, consumer: SamlConsumer): Promise<SamlVerification> {
      return (await verifier()).verifySamlResponse(samlResponse, consumer);
    },
  };
}
