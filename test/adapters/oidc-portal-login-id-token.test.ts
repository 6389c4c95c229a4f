import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DOCUMENT_BYTES } from '../../src/adapters/oidc/bounded-fetch.ts';
import type { OidcIssuerSettings } from '../../src/domain/identity-providers.ts';
import { idTokenVerifier } from '../../src/adapters/oidc/jose-identity-verifier.ts';
import { OidcPortalLogin } from '../../src/adapters/oidc/oidc-portal-login.ts';
import { StaticPortalSecrets } from '../../src/adapters/secrets/portal-secrets.ts';

const CLIENT_ID = 'portal-client';

/**
 * A hand-made OpenID Provider whose token endpoint answers with whatever ID token the test signs, to check
 * what the portal accepts as an ID token: `aud` must be the portal's client id and `typ` must not be at+jwt.
 */
describe('OidcPortalLogin ID token checks', () => {
  let server: Server;
  let issuer: string;
  let sign: (claims: JWTPayload, typ?: string) => Promise<string>;
  let nextIdToken = '';
  /** How the token endpoint pads its answer: none, a declared length, or chunks without one. */
  let tokenPadding: { bytes: number; chunked: boolean } | undefined;

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (path === '/.well-known/openid-configuration') {
        json({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` });
      } else if (path === '/jwks') json({ keys: [jwk] });
      else if (path === '/token' && tokenPadding?.chunked === true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(`{"id_token":"${nextIdToken}","pad":"`);
        for (let sent = 0; sent < tokenPadding.bytes; sent += 4096) res.write('x'.repeat(4096));
        res.end('"}');
      } else if (path === '/token') json({ id_token: nextIdToken, token_type: 'Bearer', pad: 'x'.repeat(tokenPadding?.bytes ?? 0) });
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    sign = async (claims, typ = 'JWT') => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: issuer, aud: CLIENT_ID, sub: 'alice', iat: now, exp: now + 300, ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ })
        .sign(privateKey);
    };
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const login = () => {
    const settings: OidcIssuerSettings = {
      id: 'corp',
      issuer,
      audiences: ['urn:keyvend:api'],
      algorithms: ['RS256'],
      tokenType: 'access',
      subjectClaim: 'sub',
      tagClaims: [],
      maxTokenLifetimeSeconds: 3600,
      clockToleranceSeconds: 0,
    };
    return new OidcPortalLogin({
      issuer: settings,
      clientId: CLIENT_ID,
      redirectUri: 'https://keyvend.example.com/portal/callback',
      secrets: new StaticPortalSecrets('secret', Buffer.alloc(32, 1).toString('base64url')),
      allowLoopbackHttp: true,
      idTokens: idTokenVerifier(settings, CLIENT_ID, true),
    });
  };

  async function completeWith(claims: JWTPayload, typ?: string) {
    const portal = login();
    const started = await portal.begin();
    nextIdToken = await sign({ nonce: started.nonce, ...claims }, typ);
    return portal.complete({ code: 'a-code', state: started.state }, started);
  }

  it('accepts an ID token for the portal client with the nonce it sent', async () => {
    await expect(completeWith({})).resolves.toMatchObject({ principal: { issuerId: 'corp', subject: 'alice' } });
  });

  it('takes a display name from name, preferred_username or email, only when it fits the display grammar, and never into the principal', async () => {
    // Act
    const named = await completeWith({ name: 'Alice Example', email: 'alice@example.com' });
    const byEmail = await completeWith({ name: 'bad\u202Ename', email: 'alice@example.com' });
    const none = await completeWith({ name: 'x'.repeat(65) });

    // Assess
    expect(named.displayName).toBe('Alice Example');
    expect(JSON.stringify(named.principal)).not.toContain('Alice Example');
    expect(byEmail.displayName).toBe('alice@example.com');
    expect(none).not.toHaveProperty('displayName');
  });

  it('refuses an access token (typ at+jwt) even with the right audience and nonce', async () => {
    // The verifier of an ID-token issuer already refuses RFC 9068 access tokens.
    await expect(completeWith({}, 'at+jwt')).rejects.toMatchObject({ code: 'invalid_token', reason: 'claim_typ' });
  });

  it('refuses another JWT of the same issuer (a logout token) even with the right audience and nonce', async () => {
    await expect(completeWith({}, 'logout+jwt')).rejects.toMatchObject({ code: 'invalid_token', reason: 'id_token_typ' });
  });

  it("refuses a token for the API's audience instead of the portal client", async () => {
    await expect(completeWith({ aud: 'urn:keyvend:api' })).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('refuses a token without the nonce, or from another issuer', async () => {
    await expect(completeWith({ nonce: undefined })).rejects.toMatchObject({ reason: 'nonce_mismatch' });
    await expect(completeWith({ iss: 'https://other.example.com' })).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'unknown_issuer',
    });
  });

  it('refuses an expired token', async () => {
    const past = Math.floor(Date.now() / 1000) - 1000;
    await expect(completeWith({ iat: past - 300, exp: past })).rejects.toMatchObject({ reason: 'token_expired' });
  });

  describe('a token response larger than the bounded fetch reads', () => {
    afterAll(() => {
      tokenPadding = undefined;
    });

    it('is refused when its declared length is too large', async () => {
      tokenPadding = { bytes: MAX_DOCUMENT_BYTES, chunked: false };
      await expect(completeWith({})).rejects.toMatchObject({ code: 'upstream_unavailable', reason: 'token_response_too_large' });
    });

    it('is refused when it streams past the limit without a length', async () => {
      tokenPadding = { bytes: MAX_DOCUMENT_BYTES, chunked: true };
      await expect(completeWith({})).rejects.toMatchObject({ code: 'upstream_unavailable', reason: 'token_response_too_large' });
    });

    it('is accepted just under the limit', async () => {
      tokenPadding = { bytes: MAX_DOCUMENT_BYTES - 2048, chunked: false };
      await expect(completeWith({})).resolves.toMatchObject({ principal: { subject: 'alice' } });
    });
  });
});
