import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import { auditedDecision, emulatorSessions, postCredentials, stack, stsCallCount, testToken } from '../support/e2e.ts';
import { b64url, issuerEc, issuerRsa, type RawKey, rsaHeader, signCompact, startCanary, validClaims } from '../support/raw-jwt.ts';

/**
 * Security catalog §1 through HTTP: every JWT attack that applies to a bearer-token broker, each refused
 * with 401 invalid_token, no STS call, and a denial audit record with its reason.
 */

let canary: Awaited<ReturnType<typeof startCanary>>;
beforeAll(async () => {
  canary = await startCanary();
});
afterAll(() => canary.close());

const signed = (payload: Record<string, unknown>, header: Record<string, unknown> = rsaHeader(), key: RawKey = issuerRsa()) =>
  signCompact(JSON.stringify(header), JSON.stringify(payload), String(header['alg']), key);
const bearer = (token: string) => `Bearer ${token}`;
const attacker = (): RawKey => ({ kind: 'rsa', key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey });
const issuerPublic = () => createPublicKey((issuerRsa() as { key: import('node:crypto').KeyObject }).key);

/** The claims JSON with one member spelled twice, which JSON.stringify cannot produce. */
const withDuplicate = (name: string, first: unknown, last: unknown) => {
  const { [name]: _dropped, ...rest } = validClaims();
  return `{${JSON.stringify(name)}:${JSON.stringify(first)},${JSON.stringify(rest).slice(1, -1)},${JSON.stringify(name)}:${JSON.stringify(last)}}`;
};
const rawPayload = (text: string, key: RawKey = issuerRsa()) => bearer(signCompact(JSON.stringify(rsaHeader()), text, 'RS256', key));
const now = () => Math.floor(Date.now() / 1000);
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

type Attack = [id: string, authorization: () => Promise<string> | string, reason: string | RegExp];

const ATTACKS: Attack[] = [
  // J-01 alg none
  ...['none', 'None', 'NONE', 'nOnE'].map(
    (alg): Attack => [
      `J-01 alg ${alg}, no signature`,
      () => bearer(signed(validClaims(), rsaHeader({ alg }), { kind: 'none' })),
      'malformed_token',
    ],
  ),
  [
    'J-01 alg none with a junk signature',
    () => `${bearer(signed(validClaims(), rsaHeader({ alg: 'none' }), { kind: 'none' }))}${'A'.repeat(43)}`,
    /alg_not_(allowed|supported)/,
  ],
  [
    'J-01 duplicate alg in the header',
    () =>
      bearer(
        signCompact(
          `{"alg":"RS256","kid":"${stack().testIssuer.rsa.kid}","typ":"at+jwt","alg":"none"}`,
          JSON.stringify(validClaims()),
          'RS256',
          issuerRsa(),
        ),
      ),
    'duplicate_members',
  ],
  // J-02 RS -> HS confusion, the public key as the HMAC secret
  [
    'J-02 HS256 keyed with the SPKI PEM',
    () =>
      bearer(
        signed(validClaims(), rsaHeader({ alg: 'HS256' }), {
          kind: 'hmac',
          secret: issuerPublic().export({ type: 'spki', format: 'pem' }),
        }),
      ),
    'alg_not_allowed',
  ],
  [
    'J-02 HS256 keyed with the SPKI PEM without its newline',
    () =>
      bearer(
        signed(validClaims(), rsaHeader({ alg: 'HS256' }), {
          kind: 'hmac',
          secret: String(issuerPublic().export({ type: 'spki', format: 'pem' })).trimEnd(),
        }),
      ),
    'alg_not_allowed',
  ],
  [
    'J-02 HS256 keyed with the PKCS#1 PEM',
    () =>
      bearer(
        signed(validClaims(), rsaHeader({ alg: 'HS256' }), {
          kind: 'hmac',
          secret: issuerPublic().export({ type: 'pkcs1', format: 'pem' }),
        }),
      ),
    'alg_not_allowed',
  ],
  [
    'J-02 HS256 keyed with the DER bytes',
    () =>
      bearer(
        signed(validClaims(), rsaHeader({ alg: 'HS256' }), {
          kind: 'hmac',
          secret: issuerPublic().export({ type: 'spki', format: 'der' }),
        }),
      ),
    'alg_not_allowed',
  ],
  [
    'J-02 HS256 keyed with the JWK JSON',
    () =>
      bearer(
        signed(validClaims(), rsaHeader({ alg: 'HS256' }), {
          kind: 'hmac',
          secret: JSON.stringify(issuerPublic().export({ format: 'jwk' })),
        }),
      ),
    'alg_not_allowed',
  ],
  [
    'J-02 HS256 keyed with the raw modulus',
    () =>
      bearer(
        signed(validClaims(), rsaHeader({ alg: 'HS256' }), {
          kind: 'hmac',
          secret: Buffer.from(String(issuerPublic().export({ format: 'jwk' }).n), 'base64url'),
        }),
      ),
    'alg_not_allowed',
  ],
  [
    'J-02 HS384 keyed with the SPKI PEM',
    () =>
      bearer(
        signed(validClaims(), rsaHeader({ alg: 'HS384' }), {
          kind: 'hmac',
          secret: issuerPublic().export({ type: 'spki', format: 'pem' }),
        }),
      ),
    'alg_not_allowed',
  ],
  [
    'J-02 HS512 keyed with the SPKI PEM',
    () =>
      bearer(
        signed(validClaims(), rsaHeader({ alg: 'HS512' }), {
          kind: 'hmac',
          secret: issuerPublic().export({ type: 'spki', format: 'pem' }),
        }),
      ),
    'alg_not_allowed',
  ],
  // J-03 header-supplied keys, signed by the attacker
  [
    'J-03 embedded jwk',
    () => {
      const key = attacker();
      return bearer(
        signed(
          validClaims(),
          rsaHeader({ jwk: createPublicKey((key as { key: import('node:crypto').KeyObject }).key).export({ format: 'jwk' }) }),
          key,
        ),
      );
    },
    'header_jwk_refused',
  ],
  [
    'J-03 jku to the canary',
    () => bearer(signed(validClaims(), rsaHeader({ jku: `${canary.url}/jwks.json`, kid: 'attacker' }), attacker())),
    'header_jku_refused',
  ],
  [
    'J-03 x5u to the canary',
    () => bearer(signed(validClaims(), rsaHeader({ x5u: `${canary.url}/cert.pem` }), attacker())),
    'header_x5u_refused',
  ],
  [
    'J-03 x5c self-signed chain',
    () =>
      bearer(
        signed(
          validClaims(),
          rsaHeader({ x5c: [b64url('not really a certificate but shaped like one').replace(/[-_]/g, 'A')] }),
          attacker(),
        ),
      ),
    'header_x5c_refused',
  ],
  ['J-03 attacker key under the real kid', () => bearer(signed(validClaims(), rsaHeader(), attacker())), 'bad_signature'],
  // J-04 kid abuse
  [
    'J-04 kid path traversal with an empty HMAC secret',
    () => bearer(signed(validClaims(), rsaHeader({ alg: 'HS256', kid: '../../../../dev/null' }), { kind: 'hmac', secret: '' })),
    'alg_not_allowed',
  ],
  ['J-04 kid path traversal', () => bearer(signed(validClaims(), rsaHeader({ kid: '../../../../dev/null' }))), 'unknown_key'],
  ['J-04 kid SQL injection', () => bearer(signed(validClaims(), rsaHeader({ kid: "' OR '1'='1" }))), 'unknown_key'],
  ['J-04 kid NoSQL object', () => bearer(signed(validClaims(), rsaHeader({ kid: { $ne: null } }))), 'unknown_key'],
  ['J-04 numeric kid', () => bearer(signed(validClaims(), rsaHeader({ kid: 1 }))), 'unknown_key'],
  ['J-04 10,000-character kid', () => bearer(signed(validClaims(), rsaHeader({ kid: 'k'.repeat(10_000) }))), 'token_too_large'],
  // J-05 time claims
  [
    'J-05 exp missing',
    () => {
      const { exp: _exp, ...claims } = validClaims();
      return bearer(signed(claims));
    },
    'claim_exp',
  ],
  ['J-05 expired beyond the tolerance', () => bearer(signed(validClaims({ iat: now() - 600, exp: now() - 61 }))), 'token_expired'],
  ['J-05 exp ten years ahead', () => bearer(signed(validClaims({ exp: now() + 10 * 365 * 86_400 }))), 'lifetime_too_long'],
  [
    'J-05 exp 1e309 (Infinity)',
    () => rawPayload(JSON.stringify(validClaims({ exp: 0 })).replace(/"exp":0/, '"exp":1e309')),
    'time_claims_not_finite',
  ],
  ['J-05 exp as a string', () => bearer(signed(validClaims({ exp: String(now() + 600) }))), 'claim_exp'],
  ['J-05 nbf an hour ahead', () => bearer(signed(validClaims({ nbf: now() + 3600 }))), 'claim_nbf'],
  ['J-05 iat an hour ahead', () => bearer(signed(validClaims({ iat: now() + 3600, exp: now() + 4000 }))), 'claim_iat'],
  [
    'J-05 iat a day old with a valid exp',
    () => bearer(signed(validClaims({ iat: now() - 86_400 }))),
    /claim_iat|lifetime_too_long|token_expired/,
  ],
  [
    'J-05 iat -1e309',
    () => rawPayload(JSON.stringify(validClaims({ iat: 0 })).replace(/"iat":0/, '"iat":-1e309')),
    /claim_iat|time_claims_not_finite|token_expired/,
  ],
  [
    'J-05 nbf -1e309',
    () => rawPayload(JSON.stringify(validClaims({ nbf: 0 })).replace(/"nbf":0/, '"nbf":-1e309')),
    'time_claims_not_finite',
  ],
  // J-06 issuer
  [
    'J-06 another issuer signed by the real key',
    () => bearer(signed(validClaims({ iss: 'https://other-tenant.example.com/' }))),
    'unknown_issuer',
  ],
  ['J-06 issuer with a trailing slash', () => bearer(signed(validClaims({ iss: `${stack().testIssuer.issuer}/` }))), 'unknown_issuer'],
  ['J-06 issuer in another case', () => bearer(signed(validClaims({ iss: stack().testIssuer.issuer.toUpperCase() }))), 'unknown_issuer'],
  [
    'J-06 issuer over https',
    () => bearer(signed(validClaims({ iss: stack().testIssuer.issuer.replace('http:', 'https:') }))),
    'unknown_issuer',
  ],
  [
    'J-06 issuer missing',
    () => {
      const { iss: _iss, ...claims } = validClaims();
      return bearer(signed(claims));
    },
    'unknown_issuer',
  ],
  // J-07 audience
  ['J-07 wrong audience', () => bearer(signed(validClaims({ aud: 'other-api' }))), 'claim_aud'],
  [
    'J-07 extra untrusted audience without azp',
    () => bearer(signed(validClaims({ aud: ['other-api', stack().testIssuer.audience] }))),
    'untrusted_audience',
  ],
  [
    'J-07 extra untrusted audience with a foreign azp',
    () => bearer(signed(validClaims({ aud: ['other-api', stack().testIssuer.audience], azp: 'other-client' }))),
    'untrusted_audience',
  ],
  // Issue 10, item 4: another client of the same IdP that can get the broker's audience
  [
    'J-07 a token for another client of the issuer (client_id)',
    () => bearer(signed(validClaims({ client_id: 'some-other-app' }))),
    'untrusted_authorized_party',
  ],
  [
    'J-07 a token for another client of the issuer (azp)',
    () => bearer(signed(validClaims({ azp: 'some-other-app' }))),
    'untrusted_authorized_party',
  ],
  [
    'J-07 a token naming no client',
    () => {
      const { client_id: _c, ...claims } = validClaims();
      return bearer(signed(claims));
    },
    'untrusted_authorized_party',
  ],
  [
    'J-07 audience missing',
    () => {
      const { aud: _aud, ...claims } = validClaims();
      return bearer(signed(claims));
    },
    'claim_aud',
  ],
  // J-08 token type
  [
    'J-08 no typ (an ID token shape)',
    () => {
      const { typ: _typ, ...header } = rsaHeader();
      return bearer(signed(validClaims(), header));
    },
    'claim_typ',
  ],
  ['J-08 typ JWT', () => bearer(signed(validClaims(), rsaHeader({ typ: 'JWT' }))), 'claim_typ'],
  [
    'J-08 logout token',
    () =>
      bearer(
        signed(validClaims({ events: { 'http://schemas.openid.net/event/backchannel-logout': {} } }), rsaHeader({ typ: 'logout+jwt' })),
      ),
    'claim_typ',
  ],
  // J-10 SSRF: tokens that name URLs
  ['J-10 iss naming the canary', () => bearer(signed(validClaims({ iss: canary.url }), rsaHeader(), attacker())), 'unknown_issuer'],
  [
    'J-10 iss naming the Lambda runtime API',
    () => bearer(signed(validClaims({ iss: 'http://127.0.0.1:9001/2018-06-01/runtime/invocation/next' }), rsaHeader(), attacker())),
    'unknown_issuer',
  ],
  [
    'J-10 iss naming instance metadata',
    () => bearer(signed(validClaims({ iss: 'http://169.254.169.254/latest/meta-data/' }), rsaHeader(), attacker())),
    'unknown_issuer',
  ],
  ['J-10 iss naming a file', () => bearer(signed(validClaims({ iss: 'file:///etc/passwd' }), rsaHeader(), attacker())), 'unknown_issuer'],
  // J-11 size and nesting
  ['J-11 a token of 8 KiB + 1', () => bearer(signed(validClaims({ pad: 'x'.repeat(6200) })).padEnd(8192 + 8, 'A')), 'token_too_large'],
  [
    'J-11 deeply nested JSON in the payload',
    () => rawPayload(JSON.stringify(validClaims({ deep: 0 })).replace('"deep":0', `"deep":${nested(2000)}`)),
    'nesting_too_deep',
  ],
  // J-12 structure
  ['J-12 four segments', async () => `${bearer(await testToken())}.AAAAAAAAAAAAAAAAAAAAAAAA`, 'malformed_token'],
  ['J-12 two segments', async () => bearer((await testToken()).split('.').slice(0, 2).join('.')), 'malformed_token'],
  [
    'J-12 JSON serialization',
    async () => {
      const [p, q, s] = (await testToken()).split('.');
      return bearer(JSON.stringify({ protected: p, payload: q, signature: s }));
    },
    'malformed_token',
  ],
  [
    'J-12 a five-part JWE',
    () =>
      bearer(['eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ', 'A'.repeat(40), 'B'.repeat(16), 'C'.repeat(40), 'D'.repeat(22)].join('.')),
    'malformed_token',
  ],
  ['J-12 leading whitespace', async () => `Bearer  ${await testToken()}`, 'malformed_authorization'],
  [
    'J-12 a tab inside the token',
    async () => {
      const t = await testToken();
      return bearer(`${t.slice(0, 30)}\t${t.slice(30)}`);
    },
    'malformed_authorization',
  ],
  ['J-12 polyglot: a token inside a JSON object', async () => bearer(`{"token":"${await testToken()}"}`), 'malformed_token'],
  // J-13 duplicate members
  ['J-13 duplicate sub', () => rawPayload(withDuplicate('sub', 'tester-0001', 'admin')), 'duplicate_members'],
  ['J-13 duplicate aud', () => rawPayload(withDuplicate('aud', 'other-api', stack().testIssuer.audience)), 'duplicate_members'],
  ['J-13 duplicate exp', () => rawPayload(withDuplicate('exp', now() - 3600, now() + 600)), 'duplicate_members'],
  [
    'J-13 duplicate member spelled with an escape',
    () => rawPayload(withDuplicate('sub', 'tester-0001', 'admin').replace('"sub":"admin"', '"s\\u0075b":"admin"')),
    'duplicate_members',
  ],
  // J-14 nested JWT
  [
    'J-14 cty JWT with an unsigned inner token',
    () =>
      bearer(signed({ ...validClaims(), inner: `${b64url('{"alg":"none"}')}.${b64url('{"sub":"admin"}')}.` }, rsaHeader({ cty: 'JWT' }))),
    'header_cty_refused',
  ],
  // J-16 non-canonical encodings
  [
    'J-16 a space in the signature',
    async () => {
      const t = await testToken();
      return bearer(`${t.slice(0, -10)} ${t.slice(-10)}`);
    },
    'malformed_authorization',
  ],
  ['J-16 padding on the signature', async () => bearer(`${await testToken()}==`), 'malformed_token'],
  [
    'J-16 modified unused bits in the signature',
    async () => {
      const t = await testToken();
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      return bearer(`${t.slice(0, -1)}${alphabet[alphabet.indexOf(t.at(-1) ?? 'A') ^ 1]}`);
    },
    'non_canonical_encoding',
  ],
  // J-17 ECDSA signature edge cases
  [
    'J-17 ES256 with an all-zero signature (r = s = 0)',
    () => {
      const t = signed(validClaims(), { alg: 'ES256', kid: stack().testIssuer.ec.kid, typ: 'at+jwt' }, issuerEc());
      return bearer(`${t.split('.').slice(0, 2).join('.')}.${b64url(Buffer.alloc(64))}`);
    },
    'bad_signature',
  ],
  [
    'J-17 ES256 with a DER-encoded signature',
    async () => {
      const { sign } = await import('node:crypto');
      const input = `${b64url(JSON.stringify({ alg: 'ES256', kid: stack().testIssuer.ec.kid, typ: 'at+jwt' }))}.${b64url(JSON.stringify(validClaims()))}`;
      return bearer(
        `${input}.${b64url(sign('sha256', Buffer.from(input), { key: (issuerEc() as { key: import('node:crypto').KeyObject }).key, dsaEncoding: 'der' }))}`,
      );
    },
    'bad_signature',
  ],
  // J-18 claim content
  ['J-18 sub as an array', () => bearer(signed(validClaims({ sub: ['tester-0001', 'admin'] }))), /claim_sub|subject_invalid/],
  ['J-18 sub as an object', () => bearer(signed(validClaims({ sub: { a: 1 } }))), /claim_sub|subject_invalid/],
  ['J-18 empty sub', () => bearer(signed(validClaims({ sub: '' }))), /claim_sub|subject_invalid/],
  ['J-18 sub with NUL and newline', () => bearer(signed(validClaims({ sub: 'alice\u0000\nadmin' }))), 'subject_invalid'],
  [
    'J-18 sub with a lone surrogate',
    () => rawPayload(JSON.stringify(validClaims({ sub: 'X' })).replace('"sub":"X"', '"sub":"\\ud800"')),
    'subject_invalid',
  ],
  ['J-18 sub of 2,000 characters', () => bearer(signed(validClaims({ sub: 'a'.repeat(2000) }))), 'subject_invalid'],
  [
    'J-18 email instead of sub',
    () => {
      const { sub: _sub, ...claims } = validClaims({ email: 'tester@example.com', email_verified: false });
      return bearer(signed(claims));
    },
    'claim_sub',
  ],
  ['J-18 tag claim outside the tag grammar', () => bearer(signed(validClaims({ department: 'rеsearch' }))), 'claim_department_invalid'],
  ['J-18 groups claim not an array of names', () => bearer(signed(validClaims({ groups: 'testers' }))), 'groups_claim_invalid'],
  // J-20 transport
  [
    'J-20 two tokens, as API Gateway joins repeated headers',
    async () => `${bearer(await testToken())}, ${bearer(await testToken())}`,
    'malformed_authorization',
  ],
  ['J-20 another scheme', async () => `Basic ${await testToken()}`, 'malformed_authorization'],
  ['J-20 no credentials at all', () => '', 'missing_bearer'],
];

describe('every applicable JWT attack of security catalog §1 is refused with 401, no STS call, and an audited reason', () => {
  it.each(ATTACKS)('%s', async (_id, build, reason) => {
    // Prepare
    const authorization = await build();
    const stsBefore = await stsCallCount();

    // Act
    const response = await postCredentials(
      undefined,
      { entitlement: 'test-uploads' },
      { headers: authorization === '' ? {} : { authorization } },
    );

    // Assess
    expect(response.status).toBe(401);
    expect(response.json).toMatchObject({
      error: 'invalid_token',
      message: 'The bearer token is missing, malformed, expired or not trusted.',
    });
    expect(typeof response.json['requestId']).toBe('string');
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(response.json['AccessKeyId']).toBeUndefined();
    expect(await stsCallCount()).toBe(stsBefore);
    const record = await auditedDecision(response.json['requestId']);
    expect(record).toMatchObject({ outcome: 'denied', errorCode: 'invalid_token' });
    expect(record?.['reason']).toEqual(typeof reason === 'string' ? reason : expect.stringMatching(reason));
    expect(record?.['caller']).toBeUndefined();
  });

  it('made no request to the canary named by jku, x5u or iss (J-03, J-10)', () => {
    // Assess
    expect(canary.requests()).toBe(0);
  });
});

describe('GET /v1/entitlements uses the same verifier', () => {
  it.each(ATTACKS.filter(([id]) => /^J-0[1-7] /.test(id)).filter((_attack, index) => index % 4 === 0))('%s → 401', async (_id, build) => {
    // Prepare
    const authorization = await build();

    // Act
    const response = await fetch(`${stack().apiUrl}/v1/entitlements`, { headers: authorization === '' ? {} : { authorization } });

    // Assess
    expect(response.status).toBe(401);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body['error']).toBe('invalid_token');
    expect(body['entitlements']).toBeUndefined();
  });
});

describe('JWT attacks that are not a 401', () => {
  it('J-04: a flood of unknown kids triggers at most one JWKS refetch', async () => {
    // Prepare
    const stats = `${new URL(stack().testIssuer.jwksUri).origin}/_stats`;
    const fetchesBefore = ((await (await fetch(stats)).json()) as Record<string, number>)['/jwks'] ?? 0;
    const stsBefore = await stsCallCount();

    // Act
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await postCredentials(signed(validClaims(), rsaHeader({ kid: `random-${i}-${Math.random()}` })), {
        entitlement: 'test-uploads',
      });
      statuses.push(response.status);
    }

    // Assess
    expect(new Set(statuses)).toEqual(new Set([401]));
    const fetchesAfter = ((await (await fetch(stats)).json()) as Record<string, number>)['/jwks'] ?? 0;
    expect(fetchesAfter - fetchesBefore).toBeLessThanOrEqual(1);
    expect(await stsCallCount()).toBe(stsBefore);
  });

  it('J-11: a 64 KiB token is refused by the transport or the broker, never served', async () => {
    // Prepare
    const stsBefore = await stsCallCount();

    // Act: Node's HTTP server refuses headers over 16 KiB before the handler runs, as API Gateway does over 10 KiB
    const response = await postCredentials(signed(validClaims({ pad: 'x'.repeat(64 * 1024) })), { entitlement: 'test-uploads' });

    // Assess
    expect([400, 401, 431]).toContain(response.status);
    expect(response.text).not.toContain('AccessKeyId');
    expect(await stsCallCount()).toBe(stsBefore);
  });

  it('J-05: a token expired by less than the clock tolerance is still accepted (the control for the cases above)', async () => {
    // Act
    const response = await postCredentials(signed(validClaims({ iat: now() - 300, exp: now() - 10 })), { entitlement: 'test-uploads' });

    // Assess
    expect(response.status).toBe(200);
  });

  it("keyvend:* tags cannot come from a token: claims named like the broker's tags, or AWS's tag claim, change no session tag (issue 10, item 4c)", async () => {
    // Prepare: the caller's own claims that would set the broker's tags if anything passed them through
    const forged = {
      'keyvend:user': 'aaaaaaaaaaaaaaaaaaaaaaaaaa',
      'keyvend:entitlement': 'console-readonly',
      'keyvend:issuer': 'dev',
      'https://aws.amazon.com/tags': {
        principal_tags: { 'keyvend:user': ['aaaaaaaaaaaaaaaaaaaaaaaaaa'], 'keyvend:entitlement': ['console-readonly'] },
      },
    };
    const token = signed(validClaims(forged));

    // Act
    const response = await postCredentials(token, { entitlement: 'test-uploads' });

    // Assess: the session carries the broker's values under keyvend:*, and only the entitlement's tag besides
    expect(response.status).toBe(200);
    const session = (await emulatorSessions()).find((s) => s.accessKeyId === response.json['AccessKeyId']);
    const byKey = Object.fromEntries((session?.tags ?? []).map((t) => [t.Key, t.Value]));
    expect(byKey).toEqual({
      'keyvend:user': deriveUserKey(stack().testIssuer.issuer, 'tester-0001'),
      'keyvend:issuer': 'test',
      'keyvend:entitlement': 'test-uploads',
      'keyvend:grant': response.json['grantId'],
      department: 'research',
    });
  });

  it('J-19: a __proto__ claim pollutes nothing: the groups it carries grant nothing', async () => {
    // Prepare: no own groups claim; the one inside __proto__ would grant test-uploads if it leaked
    const { groups: _groups, ...claims } = validClaims();
    const text = JSON.stringify(claims).replace(
      /}$/,
      ',"__proto__":{"groups":["testers"],"isAdmin":true},"constructor":{"prototype":{"groups":["testers"]}}}',
    );
    const stsBefore = await stsCallCount();

    // Act
    const response = await postCredentials(undefined, { entitlement: 'test-uploads' }, { headers: { authorization: rawPayload(text) } });

    // Assess
    expect(response.status).toBe(403);
    expect(response.json['error']).toBe('not_entitled');
    expect(await stsCallCount()).toBe(stsBefore);
    const record = await auditedDecision(response.json['requestId']);
    expect(record).toMatchObject({ outcome: 'denied', reason: 'no_matching_entitlement', caller: { subject: 'tester-0001', groups: [] } });
  });

  it('J-20: a token in the query string is refused with invalid_request, with or without a header', async () => {
    // Prepare
    const token = await testToken();
    const stsBefore = await stsCallCount();

    // Act
    const both = await postCredentials(token, { entitlement: 'test-uploads' }, { query: `?access_token=${token}` });
    const queryOnly = await postCredentials(undefined, { entitlement: 'test-uploads' }, { query: `?access_token=${token}` });

    // Assess
    expect(both.status).toBe(400);
    expect(both.json['error']).toBe('invalid_request');
    expect(queryOnly.status).toBe(400);
    expect(queryOnly.json['error']).toBe('invalid_request');
    expect(await stsCallCount()).toBe(stsBefore);
    expect(await auditedDecision(both.json['requestId'])).toMatchObject({
      outcome: 'denied',
      reason: 'token_in_query',
    });
    expect(await auditedDecision(queryOnly.json['requestId'])).toMatchObject({
      outcome: 'denied',
      reason: 'token_in_query',
    });
  });
});
