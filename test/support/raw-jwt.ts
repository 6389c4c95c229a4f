import { createHmac, createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { JWK } from 'jose';
import { stack } from './e2e.ts';
import { TEST_CLIENT_ID } from './test-issuer.ts';

/**
 * Tokens built byte by byte, for attacks a JWT library refuses to produce: duplicate members, raw JSON
 * such as `1e309`, alg `none`, HMAC keyed with a public key. Header and payload are given as JSON text.
 */
export const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

export type RawKey = { kind: 'rsa' | 'ec'; key: KeyObject } | { kind: 'hmac'; secret: Buffer | string } | { kind: 'none' };

export function signCompact(headerText: string, payloadText: string, alg: string, key: RawKey): string {
  const input = `${b64url(headerText)}.${b64url(payloadText)}`;
  const bits = alg.slice(2);
  let signature: Buffer;
  if (key.kind === 'none') signature = Buffer.alloc(0);
  else if (key.kind === 'hmac') signature = createHmac(`sha${bits}`, key.secret).update(input).digest();
  else if (key.kind === 'ec') signature = sign(`sha${bits}`, Buffer.from(input), { key: key.key, dsaEncoding: 'ieee-p1363' });
  else signature = sign(`sha${bits}`, Buffer.from(input), key.key);
  return `${input}.${b64url(signature)}`;
}

export const privateKeyOf = (jwk: object): KeyObject => createPrivateKey({ key: jwk as JWK & { kty: string }, format: 'jwk' });

/** The tests' issuer RSA key, as the legitimate identity provider would sign with it. */
export const issuerRsa = (): RawKey => ({ kind: 'rsa', key: privateKeyOf(stack().testIssuer.rsa.privateJwk) });
export const issuerEc = (): RawKey => ({ kind: 'ec', key: privateKeyOf(stack().testIssuer.ec.privateJwk) });

/** Claims the tests' issuer would put in a valid token for the `test-uploads` entitlement. */
export function validClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: stack().testIssuer.issuer,
    aud: stack().testIssuer.audience,
    sub: 'tester-0001',
    client_id: TEST_CLIENT_ID,
    groups: ['testers'],
    department: 'research',
    iat: now,
    exp: now + 600,
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    ...overrides,
  };
}

export const rsaHeader = (overrides: Record<string, unknown> = {}) => ({
  alg: 'RS256',
  kid: stack().testIssuer.rsa.kid,
  typ: 'at+jwt',
  ...overrides,
});

/** A loopback server that must never be called: attacks that name it pass only if it counts zero requests. */
export async function startCanary(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server: Server = createServer((_req, res) => {
    count++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
