import { KMSClient } from '@aws-sdk/client-kms';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KmsEmulator, type KmsKeyInfo, startKmsEmulator } from '../../infra/local/kms/index.ts';
import { derToJoseEcdsa, KmsSigningKeys, translateKmsError } from '../../src/adapters/kms/kms-signing-keys.ts';
import { KeyvendError } from '../../src/domain/errors.ts';

const BROKER = {
  accessKeyId: 'AKIATESTKMSSIGNER001',
  secretAccessKey: 'kms-signer-secret-for-adapter-tests-00000',
  arn: 'arn:aws:sts::000000000000:assumed-role/keyvend-broker/local',
  usableKeys: ['*'],
};
const CLAIMS = {
  iss: 'https://keyvend.example.com',
  aud: 'sts.amazonaws.com',
  sub: 'ent:photo-uploads:user:abcdefghijklmnopqrstuvwxyz',
  exp: 4_102_444_800,
};

let kms: KmsEmulator;
let rsa: KmsKeyInfo;
let ec: KmsKeyInfo;
const clients: KMSClient[] = [];
const client = () => {
  const c = new KMSClient({ endpoint: kms.url, region: 'us-east-1', maxAttempts: 1, credentials: BROKER });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  kms = await startKmsEmulator({
    accountId: '000000000000',
    principals: [BROKER],
    keys: [{ keySpec: 'RSA_2048' }, { keySpec: 'ECC_NIST_P256' }],
  });
  [rsa, ec] = kms.keys as [KmsKeyInfo, KmsKeyInfo];
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await kms.close();
});

describe('KmsSigningKeys against the local KMS', () => {
  it.each([
    ['an RSA key', () => rsa, 'RS256'],
    ['a P-256 key', () => ec, 'ES256'],
  ] as const)('signs with %s as %s, verifiable with the JWKS it publishes', async (_, key, alg) => {
    // Prepare
    const keys = new KmsSigningKeys(client(), { signingKeyId: key().arn, publishedKeyIds: [] });

    // Act
    const signed = await keys.sign(CLAIMS);
    const jwks = await keys.publicKeys();
    const { payload, protectedHeader } = await jwtVerify(signed.token.reveal(), createLocalJWKSet({ keys: [...jwks] }), {
      algorithms: [alg],
    });

    // Assess
    expect(payload).toEqual(CLAIMS);
    expect(protectedHeader).toEqual({ alg, kid: signed.keyId, typ: 'JWT' });
    expect(jwks.map((k) => k.kid)).toEqual([signed.keyId]);
    expect(JSON.stringify(signed)).not.toContain(signed.token.reveal().slice(0, 20));
  });

  it('publishes the signing key and the published ones, public members only, one per kid', async () => {
    // Prepare
    const keys = new KmsSigningKeys(client(), { signingKeyId: rsa.arn, publishedKeyIds: [ec.arn, rsa.keyId] });

    // Act
    const jwks = await keys.publicKeys();

    // Assess
    expect(jwks.map((k) => [k.kty, k.alg, k.use])).toEqual([
      ['RSA', 'RS256', 'sig'],
      ['EC', 'ES256', 'sig'],
    ]);
    for (const key of jwks) {
      expect(Object.keys(key).sort()).toEqual(
        key.kty === 'RSA' ? ['alg', 'e', 'kid', 'kty', 'n', 'use'] : ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'],
      );
    }
  });

  it('asks KMS for a public key once, and asks again after a failure', async () => {
    // Prepare
    const keys = new KmsSigningKeys(client(), { signingKeyId: rsa.arn, publishedKeyIds: [] });
    const publicKeyCalls = () => kms.calls().filter((c) => c.operation === 'GetPublicKey').length;
    const before = publicKeyCalls();
    kms.injectFault({ operation: 'GetPublicKey', code: 'KMSInternalException', count: 1 });

    // Act
    const failed = await keys.sign(CLAIMS).catch((error: unknown) => error);
    await keys.sign(CLAIMS);
    await keys.sign(CLAIMS);
    await keys.publicKeys();

    // Assess
    expect(failed).toMatchObject({ code: 'upstream_unavailable', reason: 'kms_unavailable' });
    expect(publicKeyCalls() - before).toBe(2);
  });

  it('warm asks KMS for the public key before the first sign, which reuses it; a failed warm-up is asked again', async () => {
    // Prepare
    const keys = new KmsSigningKeys(client(), { signingKeyId: rsa.arn, publishedKeyIds: [] });
    const failing = new KmsSigningKeys(client(), { signingKeyId: rsa.arn, publishedKeyIds: [] });
    const publicKeyCalls = () => kms.calls().filter((c) => c.operation === 'GetPublicKey').length;
    const before = publicKeyCalls();

    // Act
    await keys.warm();
    const afterWarm = publicKeyCalls();
    await keys.sign(CLAIMS);
    const afterSign = publicKeyCalls();
    kms.injectFault({ operation: 'GetPublicKey', code: 'KMSInternalException', count: 1 });
    await failing.warm();
    const signed = await failing.sign(CLAIMS);

    // Assess
    expect(afterWarm - before).toBe(1);
    expect(afterSign - before).toBe(1);
    expect(publicKeyCalls() - before).toBe(3);
    expect(decodeProtectedHeader(signed.token.reveal()).kid).toBe(signed.keyId);
  });

  it.each([
    ['ThrottlingException', 400, 'upstream_unavailable', 'kms_throttled'],
    ['KMSInternalException', 500, 'upstream_unavailable', 'kms_unavailable'],
    ['DisabledException', 400, 'internal_error', 'kms_sign_refused'],
    ['AccessDeniedException', 400, 'internal_error', 'kms_sign_refused'],
  ])('maps a %s from Sign to %s/%s, with no token', async (code, httpStatus, errorCode, reason) => {
    // Prepare
    const keys = new KmsSigningKeys(client(), { signingKeyId: rsa.arn, publishedKeyIds: [] });
    await keys.publicKeys();
    kms.injectFault({ operation: 'Sign', code, httpStatus, count: 1 });

    // Act
    const error = await keys.sign(CLAIMS).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(KeyvendError);
    expect(error).toMatchObject({ code: errorCode, reason });
  });

  it('refuses a key that cannot sign JWTs (a disabled key: no public key, no token)', async () => {
    // Prepare
    const disabled = kms.createKey({ keySpec: 'RSA_2048' });
    kms.disableKey(disabled.arn);
    const keys = new KmsSigningKeys(client(), { signingKeyId: disabled.arn, publishedKeyIds: [] });

    // Act
    const error = await keys.sign(CLAIMS).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ code: 'internal_error', reason: 'kms_public_key_refused' });
  });
});

describe('derToJoseEcdsa', () => {
  const der = (r: number[], s: number[]) => Uint8Array.from([0x30, r.length + s.length + 4, 0x02, r.length, ...r, 0x02, s.length, ...s]);

  it('left-pads short integers and drops the sign byte of long ones', () => {
    // Act
    const jose = derToJoseEcdsa(der([0x01], [0x00, 0xff, ...Array<number>(31).fill(0x11)]), 32);

    // Assess
    expect(jose.length).toBe(64);
    expect(jose.subarray(0, 32)).toEqual(Buffer.concat([Buffer.alloc(31), Buffer.from([0x01])]));
    expect(jose.subarray(32)).toEqual(Buffer.from([0xff, ...Array<number>(31).fill(0x11)]));
  });

  it.each([
    ['not a SEQUENCE', Uint8Array.from([0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])],
    ['a length beyond the data', Uint8Array.from([0x30, 0x08, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])],
    ['trailing bytes', Uint8Array.from([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00])],
    ['an integer wider than the curve', der(Array<number>(33).fill(0x7f), [0x01])],
    ['an empty integer', Uint8Array.from([0x30, 0x05, 0x02, 0x00, 0x02, 0x01, 0x01])],
  ])('refuses %s', (_, bytes) => {
    // Act + Assess
    expect(() => derToJoseEcdsa(bytes, 32)).toThrow(expect.objectContaining({ reason: 'kms_signature_malformed' }));
  });
});

describe('translateKmsError', () => {
  it('treats an error without an HTTP status (network) as an outage and anything else about the key as ours', () => {
    // Act + Assess
    expect(translateKmsError(Object.assign(new Error('connect ECONNREFUSED'), { name: 'Error' }), 'sign')).toMatchObject({
      reason: 'kms_unavailable',
      retryAfterSeconds: 5,
    });
    expect(
      translateKmsError(Object.assign(new Error('x'), { name: 'NotFoundException', $metadata: { httpStatusCode: 400 } }), 'public_key'),
    ).toMatchObject({
      code: 'internal_error',
      reason: 'kms_public_key_refused',
    });
    expect(translateKmsError(null, 'sign')).toMatchObject({ reason: 'kms_unavailable' });
  });
});

it("the header kid is the key's RFC 7638 thumbprint, stable across instances", async () => {
  // Act
  const first = await new KmsSigningKeys(client(), { signingKeyId: ec.arn, publishedKeyIds: [] }).sign(CLAIMS);
  const second = await new KmsSigningKeys(client(), { signingKeyId: ec.keyId, publishedKeyIds: [] }).sign(CLAIMS);

  // Assess
  expect(decodeProtectedHeader(first.token.reveal()).kid).toBe(decodeProtectedHeader(second.token.reveal()).kid);
});
