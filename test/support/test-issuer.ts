import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { createServer, type Server } from 'node:http';

/** The client the tests' tokens are issued to (`client_id`, RFC 9068); the broker accepts only it (authorizedParties). */
export const TEST_CLIENT_ID = 'keyvend-tests';

export interface TestIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly audience: string;
  readonly rsa: { readonly kid: string; readonly privateJwk: JWK; readonly publicJwk: JWK };
  readonly ec: { readonly kid: string; readonly privateJwk: JWK; readonly publicJwk: JWK };
  /** Settings for KEYVEND_ISSUERS. */
  readonly settings: Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * An identity provider of the tests' own: keys generated at start-up, a JWKS on loopback, and a request
 * counter at `/_stats` that tests in other processes can read (how many JWKS fetches a broker made).
 */
export async function startTestIssuer(): Promise<TestIssuer> {
  const rsaPair = await generateKeyPair('RS256', { extractable: true });
  const ecPair = await generateKeyPair('ES256', { extractable: true });
  const rsa = { kid: 'test-rsa-1', privateJwk: await exportJWK(rsaPair.privateKey), publicJwk: await exportJWK(rsaPair.publicKey) };
  const ec = { kid: 'test-ec-1', privateJwk: await exportJWK(ecPair.privateKey), publicJwk: await exportJWK(ecPair.publicKey) };
  const counts: Record<string, number> = {};
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    counts[path] = (counts[path] ?? 0) + 1;
    if (path === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          keys: [
            { ...rsa.publicJwk, kid: rsa.kid, alg: 'RS256', use: 'sig' },
            { ...ec.publicJwk, kid: ec.kid, alg: 'ES256', use: 'sig' },
          ],
        }),
      );
    } else if (path === '/_stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(counts));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const base = `http://127.0.0.1:${port}`;
  const issuer = `${base}/test-issuer`;
  const audience = 'urn:keyvend:test';
  return {
    issuer,
    jwksUri: `${base}/jwks`,
    audience,
    rsa,
    ec,
    settings: {
      id: 'test',
      issuer,
      audiences: [audience],
      authorizedParties: [TEST_CLIENT_ID],
      algorithms: ['RS256', 'ES256'],
      jwksUri: `${base}/jwks`,
      tokenType: 'access',
      groupsClaim: 'groups',
      tagClaims: ['department'],
      maxTokenLifetimeSeconds: 3600,
      clockToleranceSeconds: 60,
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
