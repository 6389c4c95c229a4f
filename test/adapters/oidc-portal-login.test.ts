import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_IDS, DEV_PORTAL_CLIENT_SECRET, startDevIdp, type DevIdp } from '../../infra/local/dev-idp/index.ts';
import { driveToCallback } from '../../infra/local/dev-idp/fetch-access-token.ts';
import type { OidcIssuerSettings } from '../../src/domain/identity-providers.ts';
import { idTokenVerifier } from '../../src/adapters/oidc/jose-identity-verifier.ts';
import { OidcPortalLogin } from '../../src/adapters/oidc/oidc-portal-login.ts';
import { StaticPortalSecrets } from '../../src/adapters/secrets/portal-secrets.ts';

const REDIRECT_URI = 'http://127.0.0.1:9/portal/callback';
const SESSION_KEY = Buffer.alloc(32, 7).toString('base64url');

/** The portal's OIDC login against the real dev IdP (oidc-provider), in process. */
describe('OidcPortalLogin', () => {
  let idp: DevIdp;
  let login: OidcPortalLogin;

  beforeAll(async () => {
    idp = await startDevIdp({ portalRedirectUris: [REDIRECT_URI] });
    login = portalLogin(DEV_PORTAL_CLIENT_SECRET);
  });

  afterAll(async () => {
    await idp.close();
  });

  function portalLogin(clientSecret: string): OidcPortalLogin {
    const issuer: OidcIssuerSettings = {
      id: 'dev',
      issuer: idp.issuer,
      audiences: ['urn:keyvend:api'],
      algorithms: ['RS256'],
      tokenType: 'access',
      subjectClaim: 'sub',
      groupsClaim: 'groups',
      tagClaims: [],
      maxTokenLifetimeSeconds: 3600,
      clockToleranceSeconds: 60,
    };
    return new OidcPortalLogin({
      issuer,
      clientId: CLIENT_IDS.portal,
      redirectUri: REDIRECT_URI,
      secrets: new StaticPortalSecrets(clientSecret, SESSION_KEY),
      allowLoopbackHttp: true,
      idTokens: idTokenVerifier(issuer, CLIENT_IDS.portal, true),
    });
  }

  async function signInAs(username: 'alice' | 'bob') {
    const started = await login.begin();
    const callback = await driveToCallback(started.redirectUrl, REDIRECT_URI, {
      issuer: idp.issuer,
      clientId: CLIENT_IDS.portal,
      username,
      password: `${username}-password`,
    });
    return { started, response: Object.fromEntries(callback.searchParams) };
  }

  it('asks for code + PKCE S256 with state and nonce, and verifies the ID token into a principal', async () => {
    // Prepare
    const { started, response } = await signInAs('alice');
    const authorize = new URL(started.redirectUrl);

    // Act
    const { principal, displayName } = await login.complete(response, started);

    // Assess
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('state')).toBe(started.state);
    expect(authorize.searchParams.get('nonce')).toBe(started.nonce);
    expect(authorize.searchParams.get('code_challenge')).not.toBe(started.codeVerifier);
    expect(principal).toMatchObject({
      issuerId: 'dev',
      subject: '7f3a9c1e-4b2d-4e6f-8a1b-2c3d4e5f6a7b',
      groups: ['photo-uploaders', 'console-users'],
    });
    expect(displayName).toBe('Alice Example');
  });

  it("offers the IdP's own sign-out (RP-initiated logout) for the portal client, from discovery", async () => {
    // Act
    const url = new URL((await login.endSessionUrl()) ?? '');

    // Assess
    expect(url.origin).toBe(new URL(idp.issuer).origin);
    expect(url.searchParams.get('client_id')).toBe('keyvend-portal');
  });

  it('refuses a state that is not the one it gave out', async () => {
    // Prepare
    const { started, response } = await signInAs('alice');

    // Act + Assess
    await expect(login.complete({ ...response, state: 'forged' }, started)).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'state_mismatch',
    });
  });

  it('refuses an ID token whose nonce belongs to another sign-in', async () => {
    // Prepare
    const { started, response } = await signInAs('alice');

    // Act + Assess
    await expect(login.complete(response, { ...started, nonce: 'another-nonce' })).rejects.toMatchObject({ reason: 'nonce_mismatch' });
  });

  it('cannot redeem the code without the PKCE verifier, nor twice', async () => {
    // Prepare
    const first = await signInAs('bob');
    const second = await signInAs('bob');

    // Act + Assess
    await expect(login.complete(first.response, { ...first.started, codeVerifier: 'x'.repeat(43) })).rejects.toMatchObject({
      reason: 'code_refused',
    });
    await login.complete(second.response, second.started);
    await expect(login.complete(second.response, second.started)).rejects.toMatchObject({ reason: 'code_refused' });
  });

  it('refuses the code when the client secret is wrong', async () => {
    // Prepare
    const { started, response } = await signInAs('alice');

    // Act + Assess
    await expect(portalLogin('wrong-secret').complete(response, started)).rejects.toMatchObject({ reason: 'code_refused' });
  });
});
