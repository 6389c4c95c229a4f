import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JoseIdentityVerifier } from '../../src/adapters/oidc/jose-identity-verifier.ts';

let server: Server;
let base: string;
let token: string;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  server = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const now = Math.floor(Date.now() / 1000);
  token = await new SignJWT({ iss: `${base}/issuer`, aud: 'keyvend', sub: 'alice', iat: now, exp: now + 300 })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' })
    .sign(privateKey);
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('JoseIdentityVerifier keeps nothing of the raw token', () => {
  it('the principal holds its hash only: no serialisation or inspection reveals the token', async () => {
    // Prepare
    const verifier = new JoseIdentityVerifier({
      allowLoopbackHttp: true,
      issuers: [
        {
          id: 'corp',
          issuer: `${base}/issuer`,
          audiences: ['keyvend'],
          algorithms: ['RS256'],
          jwksUri: `${base}/jwks`,
          tokenType: 'access',
          subjectClaim: 'sub',
          tagClaims: [],
          maxTokenLifetimeSeconds: 3600,
          clockToleranceSeconds: 0,
        },
      ],
    });

    // Act
    const principal = await verifier.verifyBearer(`Bearer ${token}`);

    // Assess
    expect(principal.subject).toBe('alice');
    expect(principal.auth.tokenRef).toMatch(/^sha256:[0-9a-f]{64}$/);
    const [, , signature] = token.split('.');
    expect(JSON.stringify(principal)).not.toContain(String(signature));
    expect(inspect(principal, { depth: 10 })).not.toContain(String(signature));
  });
});
