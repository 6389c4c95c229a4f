import { createServer } from 'node:net';

import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ALICE_SUB,
  BOB_SUB,
  CLIENT_IDS,
  DEMO_USERS,
  DEV_WORKLOAD_CLIENT_SECRET,
  DevIdpError,
  fetchAccessToken,
  fetchTokens,
  startDevIdp,
} from '../../infra/local/dev-idp/index.ts';
import type { DevIdp } from '../../infra/local/dev-idp/index.ts';

interface DiscoveryDocument {
  issuer: string;
  jwks_uri: string;
  token_endpoint: string;
  authorization_endpoint: string;
  device_authorization_endpoint: string;
  revocation_endpoint: string;
  grant_types_supported: string[];
  code_challenge_methods_supported: string[];
}

describe('dev IdP', () => {
  let idp: DevIdp;
  let discovery: DiscoveryDocument;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    idp = await startDevIdp({ port: 0 });
    discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as DiscoveryDocument;
    jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
  });

  afterAll(async () => {
    await idp.close();
  });

  const verifyAccessToken = (token: string) =>
    jwtVerify(token, jwks, { issuer: idp.issuer, audience: idp.apiAudience, typ: 'at+jwt', algorithms: ['RS256'] });

  it('listens on a random loopback port and publishes discovery', () => {
    // Prepare
    const { hostname, port } = new URL(idp.url);

    // Act
    const published = discovery;

    // Assess
    expect(hostname).toBe('127.0.0.1');
    expect(Number(port)).toBeGreaterThan(0);
    expect(idp.issuer).toBe(idp.url);
    expect(idp.apiAudience).toBe('urn:keyvend:api');
    expect(published.issuer).toBe(idp.issuer);
    expect(published.jwks_uri).toBe(`${idp.issuer}/jwks`);
    expect(idp.jwksUri).toBe(published.jwks_uri);
    expect(published.token_endpoint).toBe(`${idp.issuer}/token`);
    expect(published.device_authorization_endpoint).toBe(`${idp.issuer}/device/auth`);
    expect(published.revocation_endpoint).toBe(`${idp.issuer}/token/revocation`);
    expect(published.grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code']),
    );
    expect(published.code_challenge_methods_supported).toEqual(['S256']);
  });

  it('issues alice an RS256 at+jwt for the API through the real code + PKCE flow', async () => {
    // Prepare
    const alice = DEMO_USERS.find((user) => user.username === 'alice');

    // Act
    const token = await idp.tokenFor('alice');
    const { payload, protectedHeader } = await verifyAccessToken(token);

    // Assess
    expect(protectedHeader.alg).toBe('RS256');
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(protectedHeader.kid).toEqual(expect.any(String));
    expect(payload.sub).toBe(ALICE_SUB);
    expect(payload.sub).toBe(alice?.sub);
    expect(payload.aud).toBe('urn:keyvend:api');
    expect(payload.client_id).toBe(CLIENT_IDS.demoApp);
    expect(payload.jti).toEqual(expect.any(String));
    expect(payload['groups']).toEqual(['photo-uploaders', 'console-users']);
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(900);
  });

  it('gives bob a token with his own sub and groups', async () => {
    // Prepare
    const aliceToken = await idp.tokenFor('alice');

    // Act
    const bobToken = await idp.tokenFor('bob');
    const { payload } = await verifyAccessToken(bobToken);

    // Assess
    expect(payload.sub).toBe(BOB_SUB);
    expect(payload.sub).not.toBe(decodeJwt(aliceToken).sub);
    expect(payload['groups']).toEqual(['photo-uploaders']);
  });

  it('issues tokens for the CLI and the confidential portal client without a consent step', async () => {
    // Prepare
    const clients = [CLIENT_IDS.cli, CLIENT_IDS.portal];

    // Act
    const tokens = await Promise.all(clients.map((clientId) => idp.tokenFor('alice', { clientId })));

    // Assess
    for (const [index, token] of tokens.entries()) {
      const { payload } = await verifyAccessToken(token);
      expect(payload.client_id).toBe(clients[index]);
      expect(payload.sub).toBe(ALICE_SUB);
    }
  });

  it('returns an ID token with name, email and groups next to the access token', async () => {
    // Prepare
    const options = { issuer: idp.issuer, clientId: CLIENT_IDS.demoApp, username: 'alice', password: 'alice-password' };

    // Act
    const tokens = await fetchTokens({ ...options, scope: 'openid keyvend' });
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token ?? '', jwks, {
      issuer: idp.issuer,
      audience: CLIENT_IDS.demoApp,
      algorithms: ['RS256'],
    });

    // Assess
    expect(protectedHeader.typ).not.toBe('at+jwt');
    expect(payload.sub).toBe(ALICE_SUB);
    expect(payload['name']).toBe('Alice Example');
    expect(payload['email']).toBe('alice@example.com');
    expect(payload['groups']).toEqual(['photo-uploaders', 'console-users']);
    await expect(verifyAccessToken(tokens.id_token ?? '')).rejects.toThrow();
    expect((await verifyAccessToken(tokens.access_token)).payload.sub).toBe(ALICE_SUB);
  });

  it('refuses a wrong password at the login form', async () => {
    // Prepare
    const options = { issuer: idp.issuer, clientId: CLIENT_IDS.demoApp, username: 'bob', password: 'alice-password' };

    // Act
    const attempt = fetchAccessToken(options);

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(DevIdpError);
    await expect(attempt).rejects.toMatchObject({ code: 'login_refused', message: expect.stringContaining('wrong password') });
  });

  it('refuses an unknown user, both at the login form and in tokenFor', async () => {
    // Prepare
    const options = { issuer: idp.issuer, clientId: CLIENT_IDS.demoApp, username: 'mallory', password: 'mallory-password' };

    // Act
    const [atTheForm, throughTokenFor] = await Promise.allSettled([fetchAccessToken(options), idp.tokenFor('mallory')]);

    // Assess
    expect(atTheForm).toMatchObject({ status: 'rejected', reason: { code: 'login_refused' } });
    expect(throughTokenFor).toMatchObject({
      status: 'rejected',
      reason: { code: 'unknown_user', message: expect.stringContaining('mallory') },
    });
  });

  it('refuses an empty password even for a known user', async () => {
    // Prepare
    const options = { issuer: idp.issuer, clientId: CLIENT_IDS.demoApp, username: 'alice', password: '' };

    // Act
    const attempt = fetchAccessToken(options);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 'login_refused' });
  });

  it('gives the workload client an at+jwt for the API whose sub is its client id', async () => {
    // Prepare
    const clientId = CLIENT_IDS.workload;

    // Act
    const token = await idp.clientCredentialsToken(clientId, DEV_WORKLOAD_CLIENT_SECRET);
    const { payload, protectedHeader } = await verifyAccessToken(token);

    // Assess
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload.sub).toBe(clientId);
    expect(payload.client_id).toBe(clientId);
    expect(payload.aud).toBe('urn:keyvend:api');
    expect(payload['groups']).toBeUndefined();
  });

  it('refuses client_credentials with a wrong secret', async () => {
    // Prepare
    const clientId = CLIENT_IDS.workload;

    // Act
    const attempt = idp.clientCredentialsToken(clientId, 'not-the-secret');

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 'token_request_failed', message: expect.stringContaining('invalid_client') });
  });

  it('answers the device authorization request of keyvend-cli', async () => {
    // Prepare
    const body = new URLSearchParams({ client_id: CLIENT_IDS.cli, scope: 'openid keyvend' });

    // Act
    const response = await fetch(discovery.device_authorization_endpoint, { method: 'POST', body });
    const payload = (await response.json()) as Record<string, unknown>;

    // Assess
    expect(response.status).toBe(200);
    expect(payload['device_code']).toEqual(expect.any(String));
    expect(payload['user_code']).toMatch(/^[A-Z]{4}-[A-Z]{4}$/u);
    expect(payload['verification_uri']).toBe(`${idp.issuer}/device`);
    expect(payload['verification_uri_complete']).toBe(`${idp.issuer}/device?user_code=${String(payload['user_code'])}`);
    expect(payload['expires_in']).toBe(600);
  });
});

describe('dev IdP lifecycle', () => {
  it('releases its port on close()', async () => {
    // Prepare
    const idp = await startDevIdp();
    const port = Number(new URL(idp.url).port);
    await idp.tokenFor('bob');

    // Act
    await idp.close();

    // Assess
    await expect(fetch(`${idp.url}/jwks`)).rejects.toThrow();
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
    });
  });

  it('uses the given port, issuer, audience, lifetime and secret', async () => {
    // Prepare
    const probe = createServer();
    const port = await new Promise<number>((resolve) => {
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });

    // Act
    const idp = await startDevIdp({
      port,
      issuer: `http://localhost:${port}/`,
      apiAudience: 'https://api.keyvend.test',
      accessTokenTtlSeconds: 120,
      workloadClientSecret: 'another-secret',
    });
    try {
      const userToken = decodeJwt(await idp.tokenFor('alice'));
      const workloadToken = decodeJwt(await idp.clientCredentialsToken(CLIENT_IDS.workload, 'another-secret'));

      // Assess
      expect(idp.url).toBe(`http://127.0.0.1:${port}`);
      expect(idp.issuer).toBe(`http://localhost:${port}`);
      expect(userToken.iss).toBe(idp.issuer);
      expect(userToken.aud).toBe('https://api.keyvend.test');
      expect((userToken.exp ?? 0) - (userToken.iat ?? 0)).toBe(120);
      expect(workloadToken.aud).toBe('https://api.keyvend.test');
    } finally {
      await idp.close();
    }
  });

  it('refuses to listen on a non-loopback address', async () => {
    // Prepare
    const options = { host: '0.0.0.0' };

    // Act
    const attempt = startDevIdp(options);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 'invalid_options' });
  });

  it('signs with a JWKS given in the options', async () => {
    // Prepare
    const donor = await startDevIdp();
    const donorJwks = (await (await fetch(`${donor.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    await donor.close();
    const { generateKeyPair, exportJWK } = await import('jose');
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'seeded-key-1', alg: 'RS256', use: 'sig' };

    // Act
    const idp = await startDevIdp({ jwks: { keys: [jwk] } });
    try {
      const token = await idp.tokenFor('bob');
      const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { kid: string };

      // Assess
      expect(header.kid).toBe('seeded-key-1');
      expect(donorJwks.keys[0]?.kid).not.toBe('seeded-key-1');
    } finally {
      await idp.close();
    }
  });
});
