/**
 * KMS signing algorithms on node:crypto keys, for `MessageType` RAW (KMS hashes) and DIGEST (the caller hashed).
 * A DIGEST signature is byte-for-byte the signature of the RAW message it is the digest of (for the deterministic
 * RSASSA-PKCS1-v1_5), and verifies the same way for PSS and ECDSA, as with KMS.
 */
import { constants, createHash, privateEncrypt, randomBytes, sign, type KeyObject } from 'node:crypto';
import { signDigestP256 } from './p256.ts';

export type KeySpec = 'RSA_2048' | 'ECC_NIST_P256';
export const KEY_SPECS: readonly KeySpec[] = ['RSA_2048', 'ECC_NIST_P256'];

/** The `SigningAlgorithmSpec` enum of the KMS model, in model order (the order of validation messages here). */
export const SIGNING_ALGORITHM_SPECS = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
  'ECDSA_SHA_512',
  'SM2DSA',
  'ML_DSA_SHAKE_256',
  'ED25519_SHA_512',
  'ED25519_PH_SHA_512',
] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHM_SPECS)[number];

export const MESSAGE_TYPES = ['RAW', 'DIGEST', 'EXTERNAL_MU'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** What KMS lists in `SigningAlgorithms` for each key spec (DescribeKey / GetPublicKey), in the order it lists them. */
export const KEY_SPEC_ALGORITHMS: Readonly<Record<KeySpec, readonly SigningAlgorithm[]>> = {
  RSA_2048: [
    'RSASSA_PKCS1_V1_5_SHA_256',
    'RSASSA_PKCS1_V1_5_SHA_384',
    'RSASSA_PKCS1_V1_5_SHA_512',
    'RSASSA_PSS_SHA_256',
    'RSASSA_PSS_SHA_384',
    'RSASSA_PSS_SHA_512',
  ],
  ECC_NIST_P256: ['ECDSA_SHA_256'],
};

interface Hash {
  readonly name: 'sha256' | 'sha384' | 'sha512';
  readonly length: number;
  /** DER of `DigestInfo` up to the digest bytes (RFC 8017 §9.2, note 1). */
  readonly digestInfoPrefix: Buffer;
}

const HASHES: Readonly<Record<'SHA_256' | 'SHA_384' | 'SHA_512', Hash>> = {
  SHA_256: { name: 'sha256', length: 32, digestInfoPrefix: Buffer.from('3031300d060960864801650304020105000420', 'hex') },
  SHA_384: { name: 'sha384', length: 48, digestInfoPrefix: Buffer.from('3041300d060960864801650304020205000430', 'hex') },
  SHA_512: { name: 'sha512', length: 64, digestInfoPrefix: Buffer.from('3051300d060960864801650304020305000440', 'hex') },
};

/** The digest an algorithm signs, or undefined for the ones this emulator has no key spec for. */
export function hashOf(algorithm: SigningAlgorithm): Hash | undefined {
  const suffix = /(SHA_256|SHA_384|SHA_512)$/.exec(algorithm)?.[1] as keyof typeof HASHES | undefined;
  return suffix === undefined || algorithm.startsWith('ED25519') ? undefined : HASHES[suffix];
}

function mgf1(seed: Buffer, length: number, hash: Hash): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * hash.length < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    blocks.push(createHash(hash.name).update(seed).update(c).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with MGF1 over the same hash and a salt as long as the digest, as KMS uses. */
function emsaPssEncode(mHash: Buffer, hash: Hash, modBits: number): Buffer {
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(hash.length);
  const h = createHash(hash.name).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - salt.length - hash.length - 2), Buffer.from([1]), salt]);
  const mask = mgf1(h, db.length, hash);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] ?? 0) ^ (mask[i] ?? 0);
  db[0] = (db[0] ?? 0) & (0xff >> (8 * emLen - emBits));
  const em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  const k = Math.ceil(modBits / 8);
  return em.length === k ? em : Buffer.concat([Buffer.alloc(k - em.length), em]);
}

/**
 * Signs `message` (RAW) or the digest in `message` (DIGEST). The caller has checked that the algorithm suits the key
 * and that a digest has the algorithm's length.
 */
export function signWith(privateKey: KeyObject, algorithm: SigningAlgorithm, messageType: 'RAW' | 'DIGEST', message: Buffer): Buffer {
  const hash = hashOf(algorithm);
  if (hash === undefined) throw new Error(`no hash for ${algorithm}`);
  const pss = algorithm.startsWith('RSASSA_PSS');
  if (messageType === 'RAW') {
    if (algorithm.startsWith('ECDSA')) return sign(hash.name, message, { key: privateKey, dsaEncoding: 'der' });
    return sign(hash.name, message, {
      key: privateKey,
      padding: pss ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING,
      ...(pss ? { saltLength: hash.length } : {}),
    });
  }
  if (algorithm.startsWith('ECDSA')) {
    const d = privateKey.export({ format: 'jwk' }).d;
    if (d === undefined) throw new Error('EC key without a private scalar');
    return signDigestP256(Buffer.from(d, 'base64url'), message);
  }
  // node hashes whatever crypto.sign gets, so the padding is applied here and the raw RSA operation done by OpenSSL.
  if (!pss)
    return privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([hash.digestInfoPrefix, message]));
  const modBits = privateKey.asymmetricKeyDetails?.modulusLength;
  if (modBits === undefined) throw new Error('RSA key without a modulus length');
  return privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, emsaPssEncode(message, hash, modBits));
}
