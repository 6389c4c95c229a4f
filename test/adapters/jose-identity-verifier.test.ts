import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertFetchableUrl, makeBoundedFetch, MAX_DOCUMENT_BYTES } from '../../src/adapters/oidc/bounded-fetch.ts';
import { JoseIdentityVerifier } from '../../src/adapters/oidc/jose-identity-verifier.ts';
import type { OidcIssuerSettings } from '../../src/domain/identity-providers.ts';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import { freePort } from '../../infra/local/dynamodb.ts';

type Route = (req: IncomingMessage, res: ServerResponse) => void;

/** A loopback identity provider whose every path can be told how to misbehave, counting requests. */
class LoopbackIdp {
  readonly routes = new Map<string, Route>();
  readonly hits: string[] = [];
  #server: Server | undefined;
  base = '';

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      this.hits.push(path);
      const route = this.routes.get(path);
      if (route === undefined) res.writeHead(404).end();
      else route(req, res);
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    this.base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

const json =
  (body: unknown): Route =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

const idp = new LoopbackIdp();
let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let publicJwk: JWK;
const KID = 'k1';
const AUDIENCE = 'urn:keyvend:test';

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  privateKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  await idp.start();
});
afterAll(() => idp.stop());
beforeEach(() => {
  idp.routes.clear();
  idp.hits.length = 0;
  idp.routes.set('/jwks', json({ keys: [publicJwk] }));
});

const issuerUrl = () => `${idp.base}/issuer`;
const settings = (overrides: Partial<OidcIssuerSettings> = {}): OidcIssuerSettings => ({
  id: 'test',
  issuer: issuerUrl(),
  audiences: [AUDIENCE],
  algorithms: ['RS256'],
  jwksUri: `${idp.base}/jwks`,
  tokenType: 'access',
  subjectClaim: 'sub',
  groupsClaim: 'groups',
  tagClaims: ['department'],
  maxTokenLifetimeSeconds: 3600,
  clockToleranceSeconds: 60,
  ...overrides,
});
const verifier = (overrides: Partial<OidcIssuerSettings> = {}, allowLoopbackHttp = true) =>
  new JoseIdentityVerifier({ issuers: [settings(overrides)], allowLoopbackHttp });

async function token(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: issuerUrl(),
    aud: AUDIENCE,
    sub: 'alice',
    groups: ['uploaders'],
    department: 'research',
    iat: now,
    exp: now + 600,
    jti: 'j1',
    ...claims,
  })
    .setProtectedHeader({ alg: 'RS256', kid: KID, typ: 'at+jwt', ...header })
    .sign(privateKey);
}

describe('JoseIdentityVerifier with a loopback JWKS', () => {
  it('returns only allow-listed, grammar-checked claims', async () => {
    // Prepare
    const raw = await token({ email: 'alice@example.com', __proto__: { isAdmin: true } });

    // Act
    const principal = await verifier().verifyBearer(`Bearer ${raw}`);

    // Assess
    expect(principal).toMatchObject({
      idpType: 'oidc',
      issuerId: 'test',
      issuer: issuerUrl(),
      subject: 'alice',
      userKey: deriveUserKey(issuerUrl(), 'alice'),
      groups: ['uploaders'],
      attributes: { department: 'research' },
      auth: { keyId: KID, tokenId: 'j1' },
    });
    expect(principal.auth.tokenRef).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(JSON.stringify(principal)).not.toContain(raw.split('.')[2]);
    expect(JSON.stringify(principal)).not.toContain('alice@example.com');
    expect(({} as Record<string, unknown>)['isAdmin']).toBeUndefined();
  });

  it('refuses a token whose signature segment is spelled non-canonically (J-16)', async () => {
    // Prepare: RS256 signatures are 256 bytes, so the last base64url character carries 4 unused bits
    const raw = await token();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = raw.at(-1) ?? 'A';
    const twin = `${raw.slice(0, -1)}${alphabet[alphabet.indexOf(last) ^ 1]}`;

    // Act + Assess: the twin decodes to the very same signature, yet is refused
    expect(Buffer.from(twin.split('.')[2] ?? '', 'base64url')).toEqual(Buffer.from(raw.split('.')[2] ?? '', 'base64url'));
    await expect(verifier().verifyBearer(`Bearer ${twin}`)).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'non_canonical_encoding',
    });
    await expect(verifier().verifyBearer(`Bearer ${raw}`)).resolves.toBeDefined();
  });

  it.each([['at+jwt'], ['application/at+jwt'], ['AT+JWT']])(
    'refuses an access token (typ %s) where ID tokens are expected (J-08)',
    async (typ) => {
      // Act + Assess
      await expect(verifier({ tokenType: 'id' }).verifyBearer(`Bearer ${await token({}, { typ })}`)).rejects.toMatchObject({
        code: 'invalid_token',
        reason: 'claim_typ',
      });
    },
  );

  it('accepts an ID token (typ JWT or none) where ID tokens are expected, and refuses it where access tokens are', async () => {
    // Prepare
    const idToken = await token({}, { typ: 'JWT' });

    // Act + Assess
    await expect(verifier({ tokenType: 'id' }).verifyBearer(`Bearer ${idToken}`)).resolves.toMatchObject({ subject: 'alice' });
    await expect(verifier({ tokenType: 'access' }).verifyBearer(`Bearer ${idToken}`)).rejects.toMatchObject({ reason: 'claim_typ' });
  });

  it('never fetches anything for an unknown issuer (J-06, J-10)', async () => {
    // Prepare
    const raw = await token({ iss: `${idp.base}/attacker` });

    // Act
    const result = verifier().verifyBearer(`Bearer ${raw}`);

    // Assess
    await expect(result).rejects.toMatchObject({ code: 'invalid_token', reason: 'unknown_issuer' });
    expect(idp.hits).toEqual([]);
  });

  it('fetches the JWKS once for many concurrent cold requests', async () => {
    // Prepare
    const v = verifier();
    const raw = await token();

    // Act
    await Promise.all(Array.from({ length: 20 }, () => v.verifyBearer(`Bearer ${raw}`)));

    // Assess
    expect(idp.hits.filter((p) => p === '/jwks')).toHaveLength(1);
  });

  it('finds the JWKS by discovery and refuses a discovery document naming another issuer', async () => {
    // Prepare
    idp.routes.set('/issuer/.well-known/openid-configuration', json({ issuer: issuerUrl(), jwks_uri: `${idp.base}/jwks` }));
    idp.routes.set('/mixup/.well-known/openid-configuration', json({ issuer: 'https://elsewhere.example', jwks_uri: `${idp.base}/jwks` }));
    const { jwksUri: _none, ...discovering } = settings();
    const mixedUp = new JoseIdentityVerifier({ issuers: [{ ...discovering, issuer: `${idp.base}/mixup` }], allowLoopbackHttp: true });

    // Act + Assess
    await expect(
      new JoseIdentityVerifier({ issuers: [discovering], allowLoopbackHttp: true }).verifyBearer(`Bearer ${await token()}`),
    ).resolves.toMatchObject({ subject: 'alice' });
    await expect(mixedUp.verifyBearer(`Bearer ${await token({ iss: `${idp.base}/mixup` })}`)).rejects.toMatchObject({
      httpStatus: 503,
      reason: 'oidc_discovery_mismatch',
    });
  });
});

describe('JWKS fetch is bounded and fails closed with 503 (J-09, J-10, J-11, F-08)', () => {
  it.each([
    ['answers 500', ((_req, res) => res.writeHead(500).end('oops')) as Route],
    ['answers invalid JSON', ((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":')) as Route],
    [
      'declares a body over the cap',
      ((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(MAX_DOCUMENT_BYTES + 1) });
        res.end(JSON.stringify({ keys: [publicJwk], pad: 'x'.repeat(MAX_DOCUMENT_BYTES) }).slice(0, MAX_DOCUMENT_BYTES + 1));
      }) as Route,
    ],
    [
      'streams a body over the cap without declaring it',
      ((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(`{"keys":[${JSON.stringify(publicJwk)}],"pad":"`);
        res.write('x'.repeat(MAX_DOCUMENT_BYTES));
        res.end('"}');
      }) as Route,
    ],
    ['redirects elsewhere', ((_req, res) => res.writeHead(302, { location: '/redirect-target' }).end()) as Route],
    [
      'stalls after a few bytes',
      ((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"keys":');
      }) as Route,
    ],
  ])('when the JWKS endpoint %s', async (_name, route) => {
    // Prepare
    idp.routes.set('/jwks', route);
    idp.routes.set('/redirect-target', json({ keys: [publicJwk] }));

    // Act
    const result = verifier().verifyBearer(`Bearer ${await token()}`);

    // Assess
    await expect(result).rejects.toMatchObject({
      code: 'upstream_unavailable',
      httpStatus: 503,
      dependency: { service: 'jwks', issuerId: 'test', url: `${idp.base}/jwks` },
    });
    expect(idp.hits).not.toContain('/redirect-target');
  });

  it('names the unreachable JWKS, without its query string, when nothing listens', async () => {
    // Prepare
    const dead = `http://127.0.0.1:${await freePort()}/jwks?key=secret`;

    // Act
    const result = verifier({ jwksUri: dead }).verifyBearer(`Bearer ${await token()}`);

    // Assess
    await expect(result).rejects.toMatchObject({
      reason: 'jwks_unavailable',
      dependency: { service: 'jwks', issuerId: 'test', url: dead.replace('?key=secret', '') },
    });
  });

  it('names the discovery document when discovery fails', async () => {
    // Prepare
    idp.routes.set('/issuer/.well-known/openid-configuration', (_req, res) => res.writeHead(500).end());
    const { jwksUri: _none, ...discovering } = settings();

    // Act
    const result = new JoseIdentityVerifier({ issuers: [discovering], allowLoopbackHttp: true }).verifyBearer(`Bearer ${await token()}`);

    // Assess
    await expect(result).rejects.toMatchObject({
      reason: 'oidc_discovery_failed',
      dependency: { service: 'oidc_discovery', issuerId: 'test', url: `${issuerUrl()}/.well-known/openid-configuration` },
    });
  });

  it('refuses plain http outside local mode, without a request', async () => {
    // Act
    const result = verifier({}, false).verifyBearer(`Bearer ${await token()}`);

    // Assess
    await expect(result).rejects.toMatchObject({ httpStatus: 503, reason: 'jwks_unavailable' });
    expect(idp.hits).toEqual([]);
  });

  it('refuses an http jwks_uri from discovery outside local mode, without fetching it', async () => {
    // Prepare: discovery itself over https cannot be served here, so check the rule on the URL it names
    // Act + Assess
    expect(() => assertFetchableUrl('http://127.0.0.1:1/jwks', false)).toThrow(/https is required/);
    expect(() => assertFetchableUrl('https://idp.example.com/jwks', false)).not.toThrow();
  });

  it.each([
    ['file:///etc/passwd'],
    ['data:application/json,{}'],
    ['http://169.254.169.254/latest/meta-data/'],
    ['http://10.0.0.1/jwks'],
    ['ftp://127.0.0.1/jwks'],
  ])('never fetches %s, even in local mode', async (url) => {
    // Act + Assess
    await expect(makeBoundedFetch(true)(url, {})).rejects.toThrow(/https is required/);
  });
});
