import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ALICE_SUB, BOB_SUB, CLIENT_IDS, fetchTokens, startDevIdp } from '../../infra/local/dev-idp/index.ts';
import type { DevIdp } from '../../infra/local/dev-idp/index.ts';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** A browser stand-in: one cookie jar, manual redirects, hidden form fields. */
class Browser {
  readonly #cookies = new Map<string, string>();

  constructor(private readonly base: string) {}

  async request(url: string, form?: URLSearchParams): Promise<{ status: number; location: string | null; html: string; url: string }> {
    const absolute = new URL(url, this.base).href;
    const headers: Record<string, string> = { cookie: [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(absolute, { method: form ? 'POST' : 'GET', headers, redirect: 'manual', ...(form ? { body: form } : {}) });
    for (const cookie of response.headers.getSetCookie()) {
      const pair = cookie.split(';')[0] ?? '';
      const separator = pair.indexOf('=');
      this.#cookies.set(pair.slice(0, separator), pair.slice(separator + 1));
    }
    return { status: response.status, location: response.headers.get('location'), html: await response.text(), url: absolute };
  }

  async follow(url: string, form?: URLSearchParams) {
    let page = await this.request(url, form);
    while (page.status >= 300 && page.status < 400 && page.location) page = await this.request(new URL(page.location, page.url).href);
    return page;
  }

  static form(html: string): { action: string; fields: URLSearchParams } {
    const action = /<form\b[^>]*\baction="([^"]*)"/u.exec(html)?.[1];
    if (action === undefined) throw new Error(`no form in page: ${html.slice(0, 200)}`);
    const fields = new URLSearchParams();
    for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\s*\/?>/gu)) {
      fields.set(match[1] ?? '', match[2] ?? '');
    }
    return { action, fields };
  }
}

describe('dev IdP flows for the CLI and other clients', () => {
  let idp: DevIdp;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    idp = await startDevIdp({
      clients: [
        {
          client_id: 'third-party-app',
          client_name: 'Third-party app',
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code'],
          response_types: ['code'],
          redirect_uris: ['http://127.0.0.1:9999/cb'],
        },
      ],
    });
    jwks = createRemoteJWKSet(new URL(`${idp.issuer}/jwks`));
  });

  afterAll(async () => {
    await idp.close();
  });

  const verifyAccessToken = (token: string) =>
    jwtVerify(token, jwks, { issuer: idp.issuer, audience: idp.apiAudience, typ: 'at+jwt', algorithms: ['RS256'] });

  it('accepts any port on the CLI loopback redirect and issues a working refresh token', async () => {
    // Prepare
    const options = {
      issuer: idp.issuer,
      clientId: CLIENT_IDS.cli,
      username: 'bob',
      password: 'bob-password',
      redirectUri: 'http://127.0.0.1:53123/callback',
    };
    const tokens = await fetchTokens(options);

    // Act
    const response = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token ?? '', client_id: CLIENT_IDS.cli }),
    });
    const refreshed = (await response.json()) as { access_token: string };

    // Assess
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(response.status).toBe(200);
    const { payload } = await verifyAccessToken(refreshed.access_token);
    expect(payload.sub).toBe(BOB_SUB);
    expect(payload['groups']).toEqual(['photo-uploaders']);
  });

  it('rejects a CLI redirect URI that is not the registered loopback one', async () => {
    // Prepare
    const options = {
      issuer: idp.issuer,
      clientId: CLIENT_IDS.cli,
      username: 'bob',
      password: 'bob-password',
      redirectUri: 'http://127.0.0.1:53123/elsewhere',
    };

    // Act
    const attempt = fetchTokens(options);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 'authorization_failed', message: expect.stringContaining('redirect_uri') });
  });

  it('runs the whole device authorization grant for keyvend-cli', async () => {
    // Prepare
    const started = await fetch(`${idp.issuer}/device/auth`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: CLIENT_IDS.cli, scope: 'openid keyvend' }),
    });
    const device = (await started.json()) as { device_code: string; verification_uri_complete: string };
    const browser = new Browser(idp.issuer);
    const pending = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: DEVICE_CODE_GRANT, device_code: device.device_code, client_id: CLIENT_IDS.cli }),
    });

    // Act
    const autoSubmit = await browser.follow(device.verification_uri_complete);
    const codeForm = Browser.form(autoSubmit.html);
    const confirmPage = await browser.follow(codeForm.action, codeForm.fields);
    const confirmForm = Browser.form(confirmPage.html);
    const loginPage = await browser.follow(confirmForm.action, confirmForm.fields);
    const loginForm = Browser.form(loginPage.html);
    const done = await browser.follow(
      loginForm.action,
      new URLSearchParams({ prompt: 'login', login: 'alice', password: 'alice-password' }),
    );
    const polled = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: DEVICE_CODE_GRANT, device_code: device.device_code, client_id: CLIENT_IDS.cli }),
    });
    const tokens = (await polled.json()) as { access_token: string; refresh_token?: string };

    // Assess
    expect(((await pending.json()) as { error: string }).error).toBe('authorization_pending');
    expect(confirmPage.html).toContain('Keyvend CLI');
    expect(loginPage.html).toContain('name="password"');
    expect(done.status).toBe(200);
    expect(done.html).toContain('Signed in');
    expect(polled.status).toBe(200);
    const { payload } = await verifyAccessToken(tokens.access_token);
    expect(payload.sub).toBe(ALICE_SUB);
    expect(payload.client_id).toBe(CLIENT_IDS.cli);
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it('shows a consent page to a client that is not first-party, and the flow driver confirms it', async () => {
    // Prepare
    const options = {
      issuer: idp.issuer,
      clientId: 'third-party-app',
      username: 'alice',
      password: 'alice-password',
      redirectUri: 'http://127.0.0.1:9999/cb',
    };
    const browser = new Browser(idp.issuer);
    const authorize = new URL(`${idp.issuer}/auth`);
    authorize.search = new URLSearchParams({
      client_id: 'third-party-app',
      response_type: 'code',
      redirect_uri: 'http://127.0.0.1:9999/cb',
      scope: 'openid keyvend',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    }).toString();

    // Act
    const loginPage = await browser.follow(authorize.href);
    const consentPage = await browser.follow(
      Browser.form(loginPage.html).action,
      new URLSearchParams({ prompt: 'login', login: 'alice', password: 'alice-password' }),
    );
    const tokens = await fetchTokens(options);

    // Assess
    expect(consentPage.html).toContain('name="prompt" value="consent"');
    expect(consentPage.html).toContain('urn:keyvend:api: keyvend');
    expect((await verifyAccessToken(tokens.access_token)).payload.client_id).toBe('third-party-app');
  });

  it('rejects an authorization request without PKCE', async () => {
    // Prepare
    const authorize = new URL(`${idp.issuer}/auth`);
    authorize.search = new URLSearchParams({
      client_id: CLIENT_IDS.demoApp,
      response_type: 'code',
      redirect_uri: 'http://127.0.0.1/callback',
      scope: 'openid keyvend',
      state: 'xyz',
    }).toString();

    // Act
    const response = await fetch(authorize, { redirect: 'manual' });
    const location = new URL(response.headers.get('location') ?? '', idp.issuer);

    // Assess
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toContain('PKCE');
  });
});
