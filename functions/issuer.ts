import { issuerDocuments, logger } from '../src/container.ts';
import { discoveryDocument } from '../src/domain/broker-token.ts';
import { httpHandler } from '../src/http/handler.ts';
import { publicJsonResponse } from '../src/http/responses.ts';

const issuer = issuerDocuments(); // at init: without an issuer and a signing key the function does not start

/** Five minutes: a rotation publishes the next key long before it signs (docs/vending-paths.md). */
const MAX_AGE_SECONDS = 300;

/** GET /.well-known/openid-configuration and GET /.well-known/jwks.json: what AWS verifies the broker's tokens with. */
export const handler = httpHandler(logger(), async (event) => {
  const keys = await issuer.keys.publicKeys();
  if (event.rawPath.endsWith('/jwks.json')) return publicJsonResponse({ keys }, MAX_AGE_SECONDS);
  return publicJsonResponse(
    discoveryDocument(
      issuer.issuer,
      keys.map((k) => k.alg),
    ),
    MAX_AGE_SECONDS,
  );
});
