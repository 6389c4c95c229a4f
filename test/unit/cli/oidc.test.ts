import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserFlow, discover, type Prompter } from '../../../src/cli/oidc.ts';

describe('OIDC sign-in: the checks the CLI makes itself', () => {
  let server: Server;
  let base: string;
  let published: Record<string, unknown> = {};

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/.well-known/openid-configuration') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(published));
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

  it('redirects to 127.0.0.1 on a random port with PKCE S256, and refuses an answer with the wrong state', async () => {
    // Prepare
    const discovery = { issuer: base, tokenEndpoint: `${base}/token`, authorizationEndpoint: `${base}/auth`, deviceAuthorizationEndpoint: undefined };
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
