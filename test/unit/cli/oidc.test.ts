import { chmodSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserFlow, discover, type Prompter } from '../../../src/cli/oidc.ts';
import { isolatedEnv, runInProcess, storeLogin } from '../../support/cli-harness.ts';

describe('OIDC sign-in: the checks the CLI makes itself', () => {
  let server: Server;
  let base: string;
  let published: Record<string, unknown> = {};
  const seen: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const url = new URL(req.url ?? '/', base);
      if (url.pathname === '/auth') {
        // An identity provider whose user declines: straight back to the loopback redirect with an error.
        const back = new URL(url.searchParams.get('redirect_uri') ?? '');
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('state', url.searchParams.get('state') ?? '');
        res.writeHead(302, { location: back.href }).end();
      } else if (req.url === '/.well-known/openid-configuration')
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(published));
      else res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.close();
  });

  it('trusts a discovery document only when it names the issuer it was fetched from', async () => {
    // Prepare
    published = { issuer: 'https://attacker.example.com', token_endpoint: `${base}/token` };

    // Act
    const attempt = discover(base);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 'discovery_failed', exitCode: 1 });
  });

  it('refuses a discovery document that sends codes, refresh tokens or secrets to a plain-http endpoint off this machine', async () => {
    // Prepare
    const endpoints = {
      token_endpoint: `${base}/token`,
      authorization_endpoint: `${base}/auth`,
      device_authorization_endpoint: `${base}/device`,
    };
    const attempts: unknown[] = [];

    // Act
    for (const name of Object.keys(endpoints)) {
      published = { issuer: base, ...endpoints, [name]: 'http://idp.example.com/oauth' };
      attempts.push(await discover(base).catch((error: unknown) => error));
    }
    published = { issuer: base, ...endpoints, token_endpoint: 'http://127.0.0.2:8080/token' };
    const loopback = await discover(base);

    // Assess
    for (const [index, name] of Object.keys(endpoints).entries()) {
      expect(attempts[index]).toMatchObject({
        code: 'discovery_failed',
        exitCode: 1,
        message: expect.stringContaining(`${name} that is neither https nor loopback (http://idp.example.com)`),
      });
    }
    expect(loopback.tokenEndpoint).toBe('http://127.0.0.2:8080/token');
  });

  it('keyvend login stops at such a document, and a saved login with such a token endpoint is not refreshed there', async () => {
    // Prepare
    published = { issuer: base, token_endpoint: 'http://idp.example.com/token', authorization_endpoint: `${base}/auth` };
    const env = isolatedEnv({ KEYVEND_ISSUER: base, KEYVEND_URL: base });
    const saved = isolatedEnv({ KEYVEND_ISSUER: base, KEYVEND_URL: base });
    storeLogin(saved, {
      issuer: base,
      tokenEndpoint: 'http://idp.example.com/token',
      accessToken: 'a.b.c',
      refreshToken: 'refresh-1',
      accessTokenExpiresAt: Date.now() - 1000,
    });
    seen.length = 0;

    // Act
    const login = await runInProcess(['login', '--no-open'], env);
    const refresh = await runInProcess(['ls'], saved);

    // Assess
    expect(login).toMatchObject({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(/^keyvend: discovery_failed: .*token_endpoint that is neither https nor loopback/u),
    });
    expect(refresh).toMatchObject({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(/^keyvend: discovery_failed: the saved login names a token_endpoint/u),
    });
    expect(seen).toEqual(['GET /.well-known/openid-configuration']);
  });

  it('keyvend login uses the browser flow by default, even when the identity provider offers the device flow', async () => {
    // Prepare
    published = {
      issuer: base,
      token_endpoint: `${base}/token`,
      authorization_endpoint: `${base}/auth`,
      device_authorization_endpoint: `${base}/device`,
    };
    const env = isolatedEnv({ KEYVEND_ISSUER: base, KEYVEND_URL: base });
    const browser = join(env['HOME'] ?? '', 'browser.mjs');
    writeFileSync(browser, `#!${process.execPath}\nawait fetch(process.argv[2]);\n`);
    chmodSync(browser, 0o755);
    seen.length = 0;

    // Act
    const login = await runInProcess(['login'], { ...env, KEYVEND_BROWSER: browser });
    const device = await runInProcess(['login', '--device'], env);

    // Assess
    expect(login).toMatchObject({
      code: 3,
      stderr: expect.stringContaining('login_failed: the identity provider refused the sign-in: access_denied'),
    });
    expect(login.stderr).toMatch(/visit:\n\s+http:\/\/127\.0\.0\.1:\d+\/auth\?.*code_challenge_method=S256/u);
    expect(device).toMatchObject({ code: 1, stderr: expect.stringContaining('idp_invalid_grant') });
    expect(seen.map((line) => line.replace(/\?.*$/u, ''))).toEqual([
      'GET /.well-known/openid-configuration',
      'GET /auth',
      'GET /.well-known/openid-configuration',
      'POST /device',
    ]);
  });

  it('redirects to 127.0.0.1 on a random port with PKCE S256, and refuses an answer with the wrong state', async () => {
    // Prepare
    const discovery = {
      issuer: base,
      tokenEndpoint: `${base}/token`,
      authorizationEndpoint: `${base}/auth`,
      deviceAuthorizationEndpoint: undefined,
    };
    let authorizationUrl: URL | undefined;
    const prompter: Prompter = {
      say: () => {},
      now: Date.now,
      sleep: async () => {},
      open: async (url) => {
        authorizationUrl = new URL(url);
        const redirect = new URL(authorizationUrl.searchParams.get('redirect_uri') ?? '');
        redirect.searchParams.set('code', 'stolen-code');
        redirect.searchParams.set('state', 'forged-state');
        void fetch(redirect);
        return true;
      },
    };

    // Act
    const attempt = browserFlow(discovery, { clientId: 'keyvend-cli', scope: 'openid', resource: 'urn:keyvend:api' }, prompter);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 'login_failed', message: expect.stringContaining('wrong state'), exitCode: 3 });
    const params = authorizationUrl?.searchParams;
    expect(params?.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/u);
    expect(params?.get('code_challenge_method')).toBe('S256');
    expect(params?.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/u);
    expect(params?.get('state')).toMatch(/^[A-Za-z0-9_-]{22}$/u);
    expect(params?.get('resource')).toBe('urn:keyvend:api');
  });
});
