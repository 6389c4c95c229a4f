import { constants, createHash, createPublicKey, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import {
  DescribeKeyCommand,
  GetPublicKeyCommand,
  KMSClient,
  KMSServiceException,
  SignCommand,
  type KMSClientConfig,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKmsEmulator, type KmsEmulator, type KmsKeyInfo } from '../../infra/local/kms/index.ts';
import { publicPoint } from '../../infra/local/kms/p256.ts';
import { signer } from './helpers.ts';

const ACCOUNT = '000000000000';
const SIGNING_ALIAS = 'alias/keyvend-local-signing';
const BROKER = {
  accessKeyId: 'AKIATESTKMSBROKER001',
  secretAccessKey: 'broker-kms-secret-key-for-tests-only-0000',
  arn: 'arn:aws:sts::000000000000:assumed-role/keyvend-broker/local',
  usableKeys: [SIGNING_ALIAS, 'alias/keyvend-local-ec'],
};
const ADMIN = {
  accessKeyId: 'AKIATESTKMSADMIN0001',
  secretAccessKey: 'admin-kms-secret-key-for-tests-only-00000',
  arn: 'arn:aws:iam::000000000000:user/kms-admin',
  usableKeys: ['*'],
  actions: ['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey'] as const,
};
const OUTSIDER = {
  accessKeyId: 'AKIATESTKMSOUTSIDER1',
  secretAccessKey: 'outsider-kms-secret-key-for-tests-only-00',
  arn: 'arn:aws:sts::000000000000:assumed-role/someone-else/local',
  usableKeys: ['alias/not-yours'],
};
const MESSAGE = Buffer.from('{"alg":"RS256","typ":"JWT"}.{"sub":"alice","aud":"urn:keyvend:api"}');
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

let emulator: KmsEmulator;
let rsa: KmsKeyInfo;
let ec: KmsKeyInfo;
let disabled: KmsKeyInfo;
const clients: KMSClient[] = [];
const client = (credentials: { accessKeyId: string; secretAccessKey: string }, config: Partial<KMSClientConfig> = {}) => {
  const c = new KMSClient({ endpoint: emulator.url, region: 'us-east-1', maxAttempts: 1, credentials, ...config });
  clients.push(c);
  return c;
};

async function failure(call: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof KMSServiceException) return { name: error.name, message: error.message };
    throw error;
  }
  throw new Error('expected the call to fail');
}

async function publicKeyOf(keyId: string): Promise<KeyObject> {
  const out = await client(BROKER).send(new GetPublicKeyCommand({ KeyId: keyId }));
  return createPublicKey({ key: Buffer.from(out.PublicKey ?? new Uint8Array()), format: 'der', type: 'spki' });
}

async function signature(keyId: string, algorithm: SigningAlgorithmSpec, messageType: 'RAW' | 'DIGEST', message: Buffer): Promise<Buffer> {
  const out = await client(BROKER).send(
    new SignCommand({ KeyId: keyId, Message: message, MessageType: messageType, SigningAlgorithm: algorithm }),
  );
  return Buffer.from(out.Signature ?? new Uint8Array());
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();

/** Strict DER `SEQUENCE { INTEGER r, INTEGER s }` with minimal positive integers, as X9.62 / RFC 3279 define it. */
function parseEcdsaDer(der: Buffer): { r: bigint; s: bigint } {
  let at = 0;
  const byte = () => {
    const b = der[at++];
    if (b === undefined) throw new Error('truncated DER');
    return b;
  };
  const integer = () => {
    if (byte() !== 0x02) throw new Error('expected INTEGER');
    const length = byte();
    const bytes = der.subarray(at, at + length);
    at += length;
    if (bytes.length !== length || length === 0) throw new Error('bad INTEGER length');
    if (((bytes[0] ?? 0) & 0x80) !== 0) throw new Error('negative INTEGER');
    if (length > 1 && bytes[0] === 0 && ((bytes[1] ?? 0) & 0x80) === 0) throw new Error('non-minimal INTEGER');
    return BigInt(`0x${bytes.toString('hex')}`);
  };
  if (byte() !== 0x30) throw new Error('expected SEQUENCE');
  if (byte() !== der.length - 2) throw new Error('SEQUENCE length does not match');
  const r = integer();
  const s = integer();
  if (at !== der.length) throw new Error('trailing bytes');
  return { r, s };
}

beforeAll(async () => {
  emulator = await startKmsEmulator({
    accountId: ACCOUNT,
    principals: [BROKER, ADMIN, OUTSIDER],
    keys: [
      { alias: SIGNING_ALIAS, keySpec: 'RSA_2048' },
      { alias: 'alias/keyvend-local-ec', keySpec: 'ECC_NIST_P256' },
      { alias: 'alias/retired', keySpec: 'RSA_2048' },
    ],
  });
  [rsa, ec, disabled] = emulator.keys as [KmsKeyInfo, KmsKeyInfo, KmsKeyInfo];
  emulator.disableKey(disabled.arn);
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await emulator.close();
});

describe('local KMS: Sign and GetPublicKey', () => {
  it('signs RSASSA_PKCS1_V1_5_SHA_256 RAW and DIGEST to the same signature, which verifies against the public key', async () => {
    // Arrange
    const publicKey = await publicKeyOf(SIGNING_ALIAS);

    // Act
    const raw = await signature(SIGNING_ALIAS, 'RSASSA_PKCS1_V1_5_SHA_256', 'RAW', MESSAGE);
    const digest = await signature(SIGNING_ALIAS, 'RSASSA_PKCS1_V1_5_SHA_256', 'DIGEST', sha256(MESSAGE));

    // Assess
    expect(verify('sha256', MESSAGE, publicKey, raw)).toBe(true);
    expect(verify('sha256', MESSAGE, publicKey, digest)).toBe(true);
    expect(digest.equals(raw)).toBe(true);
    expect(raw).toHaveLength(256);
  });

  it('signs RSASSA_PSS_SHA_256 RAW and DIGEST with a salt as long as the digest', async () => {
    // Arrange
    const publicKey = await publicKeyOf(rsa.keyId);
    const pss = { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };

    // Act
    const raw = await signature(rsa.keyId, 'RSASSA_PSS_SHA_256', 'RAW', MESSAGE);
    const digest = await signature(rsa.keyId, 'RSASSA_PSS_SHA_256', 'DIGEST', sha256(MESSAGE));

    // Assess
    expect(verify('sha256', MESSAGE, pss, raw)).toBe(true);
    expect(verify('sha256', MESSAGE, pss, digest)).toBe(true);
    expect(verify('sha256', Buffer.from('another message'), pss, digest)).toBe(false);
  });

  it('signs ECDSA_SHA_256 RAW and DIGEST as DER that parses and verifies against the public key', async () => {
    // Arrange
    const publicKey = await publicKeyOf(ec.arn);

    // Act
    const raw = await signature(ec.arn, 'ECDSA_SHA_256', 'RAW', MESSAGE);
    const digest = await signature(ec.arn, 'ECDSA_SHA_256', 'DIGEST', sha256(MESSAGE));

    // Assess
    for (const sig of [raw, digest]) {
      const { r, s } = parseEcdsaDer(sig);
      expect(r > 0n && r < P256_ORDER && s > 0n && s < P256_ORDER).toBe(true);
      expect(verify('sha256', MESSAGE, { key: publicKey, dsaEncoding: 'der' }, sig)).toBe(true);
    }
    expect(verify('sha256', Buffer.from('another message'), publicKey, digest)).toBe(false);
  });

  it('answers GetPublicKey and Sign with the key ARN for a key id, key ARN, alias name and alias ARN', async () => {
    // Arrange
    const ids = [rsa.keyId, rsa.arn, SIGNING_ALIAS, `arn:aws:kms:us-east-1:${ACCOUNT}:${SIGNING_ALIAS}`];

    // Act
    const answers = await Promise.all(ids.map((KeyId) => client(BROKER).send(new GetPublicKeyCommand({ KeyId }))));
    const signed = await client(BROKER).send(
      new SignCommand({ KeyId: ids[3], Message: MESSAGE, SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_512' }),
    );

    // Assess
    expect(new Set(answers.map((a) => a.KeyId))).toEqual(new Set([rsa.arn]));
    expect(rsa.arn).toMatch(/^arn:aws:kms:us-east-1:000000000000:key\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(answers[0]).toMatchObject({
      KeySpec: 'RSA_2048',
      CustomerMasterKeySpec: 'RSA_2048',
      KeyUsage: 'SIGN_VERIFY',
      SigningAlgorithms: expect.arrayContaining(['RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PSS_SHA_512']),
    });
    expect(signed).toMatchObject({ KeyId: rsa.arn, SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_512' });
    expect(verify('sha512', MESSAGE, await publicKeyOf(rsa.arn), Buffer.from(signed.Signature ?? new Uint8Array()))).toBe(true);
  });

  it('describes a key, enabled or disabled, to a principal allowed kms:DescribeKey', async () => {
    // Act
    const described = await client(ADMIN).send(new DescribeKeyCommand({ KeyId: 'alias/keyvend-local-ec' }));
    const retired = await client(ADMIN).send(new DescribeKeyCommand({ KeyId: disabled.keyId }));

    // Assess
    expect(described.KeyMetadata).toMatchObject({
      AWSAccountId: ACCOUNT,
      KeyId: ec.keyId,
      Arn: ec.arn,
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      KeyState: 'Enabled',
      Enabled: true,
      SigningAlgorithms: ['ECDSA_SHA_256'],
    });
    expect(described.KeyMetadata?.CreationDate).toBeInstanceOf(Date);
    expect(retired.KeyMetadata).toMatchObject({ KeyState: 'Disabled', Enabled: false });
  });
});

describe('local KMS: refusals', () => {
  const unknownKey = `arn:aws:kms:us-east-1:${ACCOUNT}:key/00000000-0000-4000-8000-000000000000`;

  it.each([
    ['an unknown key ARN', BROKER, unknownKey, 'NotFoundException', `Key '${unknownKey}' does not exist`],
    ['an unknown alias', BROKER, 'alias/nope', 'NotFoundException', `Alias arn:aws:kms:us-east-1:${ACCOUNT}:alias/nope is not found.`],
    ['a key id that is not a key id', BROKER, 'not-a-key', 'NotFoundException', "Invalid keyId 'not-a-key'"],
    ['a disabled key', ADMIN, 'alias/retired', 'DisabledException', 'is disabled.'],
    [
      "a key outside the principal's policy",
      OUTSIDER,
      SIGNING_ALIAS,
      'AccessDeniedException',
      'because no identity-based policy allows the kms:Sign action',
    ],
    [
      'a wrong secret key',
      { ...BROKER, secretAccessKey: 'wrong-secret-key-000000000000000000000000' },
      SIGNING_ALIAS,
      'InvalidSignatureException',
      '',
    ],
    ['an unknown access key', { ...BROKER, accessKeyId: 'AKIATESTKMSUNKNOWN01' }, SIGNING_ALIAS, 'UnrecognizedClientException', ''],
  ] as const)('refuses Sign with %s', async (_, credentials, keyId, code, message) => {
    // Act
    const error = await failure(
      client(credentials).send(new SignCommand({ KeyId: keyId, Message: MESSAGE, SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' })),
    );

    // Assess
    expect(error.name).toBe(code);
    expect(error.message).toContain(message);
  });

  it('names the caller, the action and the key ARN in AccessDeniedException, as IAM does', async () => {
    // Act
    const error = await failure(client(OUTSIDER).send(new GetPublicKeyCommand({ KeyId: SIGNING_ALIAS })));

    // Assess
    expect(error).toEqual({
      name: 'AccessDeniedException',
      message: `User: ${OUTSIDER.arn} is not authorized to perform: kms:GetPublicKey on resource: ${rsa.arn} because no identity-based policy allows the kms:GetPublicKey action`,
    });
  });

  it('refuses DescribeKey to a principal whose statement lists only kms:Sign and kms:GetPublicKey', async () => {
    // Act
    const error = await failure(client(BROKER).send(new DescribeKeyCommand({ KeyId: SIGNING_ALIAS })));

    // Assess
    expect(error.name).toBe('AccessDeniedException');
  });

  it.each([
    [
      'a RAW message over 4096 bytes',
      { Message: Buffer.alloc(4097, 1) },
      'ValidationException',
      "Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096",
    ],
    [
      'an ECDSA algorithm on an RSA key',
      { SigningAlgorithm: 'ECDSA_SHA_256' },
      'InvalidKeyUsageException',
      'Algorithm ECDSA_SHA_256 is incompatible with key spec RSA_2048.',
    ],
    [
      'a DIGEST of the wrong length',
      { MessageType: 'DIGEST', Message: createHash('sha384').update(MESSAGE).digest() },
      'ValidationException',
      'Digest is invalid length for algorithm RSASSA_PKCS1_V1_5_SHA_256.',
    ],
    [
      'an algorithm KMS does not know',
      { SigningAlgorithm: 'RS256' },
      'ValidationException',
      "Value 'RS256' at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set",
    ],
    ['DryRun', { DryRun: true }, 'DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.'],
  ] as const)('refuses Sign with %s', async (_, change, code, message) => {
    // Arrange
    const input = {
      KeyId: SIGNING_ALIAS,
      Message: MESSAGE,
      SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
      ...change,
    } as ConstructorParameters<typeof SignCommand>[0];

    // Act
    const error = await failure(client(BROKER).send(new SignCommand(input)));

    // Assess
    expect(error.name).toBe(code);
    expect(error.message).toContain(message);
  });

  it('accepts a RAW message of exactly 4096 bytes', async () => {
    // Act
    const signed = await client(BROKER).send(
      new SignCommand({ KeyId: SIGNING_ALIAS, Message: Buffer.alloc(4096, 1), SigningAlgorithm: 'RSASSA_PSS_SHA_256' }),
    );

    // Assess
    expect(signed.Signature).toHaveLength(256);
  });

  it('answers malformed JSON with SerializationException and an unknown target with UnknownOperationException', async () => {
    // Arrange
    const post = async (target: string, body: string) => {
      const u = new URL(emulator.url);
      const signed = await signer(BROKER, 'us-east-1', 'kms').sign({
        method: 'POST',
        protocol: u.protocol,
        hostname: u.hostname,
        port: Number(u.port),
        path: '/',
        query: {},
        headers: { host: u.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
        body,
      });
      const res = await fetch(emulator.url, { method: 'POST', headers: signed.headers, body });
      return { status: res.status, body: (await res.json()) as { __type: string } };
    };

    // Act
    const malformed = await post('TrentService.Sign', '{"KeyId": ');
    const unknown = await post('TrentService.Encrypt', '{}');

    // Assess
    expect(malformed).toMatchObject({ status: 400, body: { __type: 'SerializationException' } });
    expect(unknown).toMatchObject({ status: 400, body: { __type: 'UnknownOperationException' } });
  });
});

describe('local KMS: faults, records and new keys', () => {
  it('answers ThrottlingException on every SDK attempt while the fault lasts, and records each attempt', async () => {
    // Arrange
    const kms = client(BROKER, { maxAttempts: 3 });
    emulator.injectFault({ operation: 'Sign', code: 'ThrottlingException', count: 3 });
    const before = emulator.calls().length;

    // Act
    const error = await failure(
      kms.send(new SignCommand({ KeyId: SIGNING_ALIAS, Message: MESSAGE, SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' })),
    );
    const after = await kms.send(
      new SignCommand({ KeyId: SIGNING_ALIAS, Message: MESSAGE, SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }),
    );

    // Assess
    expect(error.name).toBe('ThrottlingException');
    expect(after.Signature).toBeDefined();
    expect(
      emulator
        .calls()
        .slice(before)
        .map((c) => [c.operation, c.errorCode ?? c.outcome]),
    ).toEqual([
      ['Sign', 'ThrottlingException'],
      ['Sign', 'ThrottlingException'],
      ['Sign', 'ThrottlingException'],
      ['Sign', 'ok'],
    ]);
  });

  it('reports its calls on /_emulator/calls without key material, messages, signatures or secrets', async () => {
    // Arrange
    const publicKey = (await client(BROKER).send(new GetPublicKeyCommand({ KeyId: SIGNING_ALIAS }))).PublicKey ?? new Uint8Array();
    const sig = await signature(SIGNING_ALIAS, 'RSASSA_PKCS1_V1_5_SHA_256', 'RAW', MESSAGE);

    // Act
    const calls = (await (await fetch(`${emulator.url}/_emulator/calls`)).json()) as Array<Record<string, unknown>>;
    const text = JSON.stringify(calls);

    // Assess
    expect(calls.some((c) => c['operation'] === 'Sign' && c['keyArn'] === rsa.arn && c['callerArn'] === BROKER.arn)).toBe(true);
    for (const call of calls) {
      expect(
        Object.keys(call).every((k) => ['time', 'operation', 'keyId', 'keyArn', 'callerArn', 'outcome', 'errorCode'].includes(k)),
      ).toBe(true);
    }
    for (const secret of [
      Buffer.from(publicKey).toString('base64'),
      sig.toString('base64'),
      MESSAGE.toString('base64'),
      BROKER.secretAccessKey,
      'PRIVATE KEY',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(JSON.stringify(emulator.keys) + inspect(emulator, { depth: 5 })).not.toMatch(/PRIVATE|privateKey|"d"/);
  });

  it('creates a second key with a different public key; its alias moves to it and the old key still signs by ARN', async () => {
    // Arrange
    const rotation = await startKmsEmulator({
      accountId: ACCOUNT,
      principals: [{ ...BROKER, usableKeys: ['*'] }],
      keys: [{ alias: 'alias/rotating', keySpec: 'ECC_NIST_P256' }],
    });
    const kms = new KMSClient({ endpoint: rotation.url, region: 'us-east-1', maxAttempts: 1, credentials: BROKER });
    const first = rotation.keys[0] as KmsKeyInfo;
    const firstKey = (await kms.send(new GetPublicKeyCommand({ KeyId: first.arn }))).PublicKey ?? new Uint8Array();

    try {
      // Act
      const second = rotation.createKey({ alias: 'alias/rotating', keySpec: 'ECC_NIST_P256' });
      const viaAlias = await kms.send(new GetPublicKeyCommand({ KeyId: 'alias/rotating' }));
      const oldSig = await kms.send(new SignCommand({ KeyId: first.arn, Message: MESSAGE, SigningAlgorithm: 'ECDSA_SHA_256' }));

      // Assess
      expect(second.keyId).not.toBe(first.keyId);
      expect(viaAlias.KeyId).toBe(second.arn);
      expect(Buffer.from(viaAlias.PublicKey ?? new Uint8Array()).equals(Buffer.from(firstKey))).toBe(false);
      expect(rotation.keys.map((k) => k.alias)).toEqual([undefined, 'alias/rotating']);
      const oldPublic = createPublicKey({ key: Buffer.from(firstKey), format: 'der', type: 'spki' });
      expect(verify('sha256', MESSAGE, oldPublic, Buffer.from(oldSig.Signature ?? new Uint8Array()))).toBe(true);
    } finally {
      kms.destroy();
      await rotation.close();
    }
  });
});

describe('local KMS: P-256 arithmetic for DIGEST signing', () => {
  it('derives the same public point from a private scalar as node:crypto does', () => {
    // Arrange
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

    // Act
    const point = publicPoint(Buffer.from(jwk.d ?? '', 'base64url'));

    // Assess
    expect({ x: point.x.toString('base64url'), y: point.y.toString('base64url') }).toEqual({ x: jwk.x, y: jwk.y });
  });
});
