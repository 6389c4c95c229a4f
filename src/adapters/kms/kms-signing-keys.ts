import { GetPublicKeyCommand, type KMSClient, SignCommand, type SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import { createHash, createPublicKey } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { InternalError, type KeyvendError, UpstreamUnavailableError } from '../../domain/errors.ts';
import { Secret } from '../../domain/secret.ts';
import type { PublicJwk, PublicKeySet, SignedToken, TokenSigner } from '../../ports/index.ts';
import { sendOptions } from '../deadline/request-deadline.ts';
import { onceUntilFailurePerKey } from '../shared/once-until-failure.ts';

export interface KmsSigningKeysOptions {
  /** The key that signs (id, ARN or alias). */
  readonly signingKeyId: string;
  /** Keys published beside it: the next one before a switch, the previous one until its tokens expire. */
  readonly publishedKeyIds: readonly string[];
}

interface KeyFacts {
  readonly jwk: PublicJwk;
  readonly signingAlgorithm: SigningAlgorithmSpec;
}

/** The JOSE algorithm each supported KMS key spec signs with (aws-facts 7.11). */
const BY_KEY_SPEC: Readonly<Record<string, { alg: PublicJwk['alg']; signingAlgorithm: SigningAlgorithmSpec }>> = {
  RSA_2048: { alg: 'RS256', signingAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' },
  RSA_3072: { alg: 'RS256', signingAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' },
  RSA_4096: { alg: 'RS256', signingAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' },
  ECC_NIST_P256: { alg: 'ES256', signingAlgorithm: 'ECDSA_SHA_256' },
};

/**
 * The broker's signing keys in AWS KMS: the private halves never leave KMS. Each key's public half and
 * algorithm come from GetPublicKey once per container (a failure is not cached, so the next request
 * tries again); `kid` is the RFC 7638 thumbprint, stable for a key and revealing nothing about it.
 * Tokens are signed as a SHA-256 DIGEST, so the 4,096-byte RAW limit never applies.
 */
export class KmsSigningKeys implements TokenSigner, PublicKeySet {
  readonly #factsOf = onceUntilFailurePerKey((keyId: string) => this.#fetchFacts(keyId));

  constructor(
    private readonly client: KMSClient,
    private readonly options: KmsSigningKeysOptions,
  ) {}

  async sign(claims: Readonly<Record<string, unknown>>): Promise<SignedToken> {
    const keyId = this.options.signingKeyId;
    const { jwk, signingAlgorithm } = await this.#factsOf(keyId);
    const signingInput = `${base64url(JSON.stringify({ alg: jwk.alg, kid: jwk.kid, typ: 'JWT' }))}.${base64url(JSON.stringify(claims))}`;
    let signature: Uint8Array | undefined;
    try {
      const output = await this.client.send(
        new SignCommand({
          KeyId: keyId,
          Message: createHash('sha256').update(signingInput).digest(),
          MessageType: 'DIGEST',
          SigningAlgorithm: signingAlgorithm,
        }),
        sendOptions(),
      );
      signature = output.Signature;
    } catch (error) {
      throw translateKmsError(error, 'sign');
    }
    if (signature === undefined) throw new UpstreamUnavailableError('kms_incomplete_response');
    const jose = jwk.alg === 'ES256' ? derToJoseEcdsa(signature, 32) : Buffer.from(signature);
    return { token: new Secret(`${signingInput}.${jose.toString('base64url')}`), keyId: jwk.kid };
  }

  /**
   * Fetches the signing key's facts now (the container calls it at init), so that the first request's `sign`
   * does not wait for GetPublicKey after the token check and the entitlement read. Same single-flight memo as
   * `sign`: one call, shared; a failure is forgotten, and `sign` asks again. Never rejects.
   */
  async warm(): Promise<void> {
    await this.#factsOf(this.options.signingKeyId).then(
      () => undefined,
      () => undefined,
    );
  }

  async publicKeys(): Promise<readonly PublicJwk[]> {
    const ids = [this.options.signingKeyId, ...this.options.publishedKeyIds];
    const facts = await Promise.all(ids.map((id) => this.#factsOf(id)));
    const byKid = new Map(facts.map((f) => [f.jwk.kid, f.jwk]));
    return [...byKid.values()];
  }

  async #fetchFacts(keyId: string): Promise<KeyFacts> {
    let output;
    try {
      output = await this.client.send(new GetPublicKeyCommand({ KeyId: keyId }), sendOptions());
    } catch (error) {
      throw translateKmsError(error, 'public_key');
    }
    const spec = BY_KEY_SPEC[output.KeySpec ?? ''];
    if (
      output.PublicKey === undefined ||
      spec === undefined ||
      output.KeyUsage !== 'SIGN_VERIFY' ||
      !output.SigningAlgorithms?.includes(spec.signingAlgorithm)
    ) {
      throw new InternalError('signing_key_unsuitable');
    }
    const exported = createPublicKey({ key: Buffer.from(output.PublicKey), format: 'der', type: 'spki' }).export({ format: 'jwk' });
    // Only the public members, named one by one: nothing else a key export might carry can reach the JWKS.
    const members =
      exported.kty === 'RSA'
        ? { kty: 'RSA' as const, n: String(exported.n), e: String(exported.e) }
        : { kty: 'EC' as const, crv: 'P-256' as const, x: String(exported.x), y: String(exported.y) };
    const kid = await calculateJwkThumbprint(members, 'sha256');
    return { jwk: { ...members, kid, alg: spec.alg, use: 'sig' }, signingAlgorithm: spec.signingAlgorithm };
  }
}

const base64url = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'LimitExceededException', 'TooManyRequestsException']);
const OUTAGE = new Set(['KMSInternalException', 'DependencyTimeoutException', 'ServiceUnavailableException', 'InternalFailure']);

/** KMS errors by name: throttling and outages are retryable 503s; anything about the key itself is ours to fix. */
export function translateKmsError(error: unknown, operation: 'sign' | 'public_key'): KeyvendError {
  const name = error instanceof Error ? error.name : 'Unknown';
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null | undefined)?.$metadata?.httpStatusCode;
  if (THROTTLING.has(name)) return new UpstreamUnavailableError('kms_throttled', { cause: error, retryAfterSeconds: 5 });
  if (OUTAGE.has(name) || status === undefined || status >= 500)
    return new UpstreamUnavailableError('kms_unavailable', { cause: error, retryAfterSeconds: 5 });
  return new InternalError(operation === 'sign' ? 'kms_sign_refused' : 'kms_public_key_refused', { cause: error });
}

/**
 * KMS returns ECDSA signatures DER-encoded (SEQUENCE of two INTEGERs); JOSE wants the two integers as
 * fixed-width big-endian halves (RFC 7518 §3.4). Strict: anything but exactly that shape is refused.
 */
export function derToJoseEcdsa(der: Uint8Array, size: number): Buffer {
  const bytes = Buffer.from(der);
  let offset = 0;
  const readLength = (): number => {
    const first = bytes[offset++];
    if (first === undefined) throw new InternalError('kms_signature_malformed');
    if (first < 0x80) return first;
    if (first !== 0x81) throw new InternalError('kms_signature_malformed');
    const length = bytes[offset++];
    if (length === undefined || length < 0x80) throw new InternalError('kms_signature_malformed');
    return length;
  };
  const readInteger = (): Buffer => {
    if (bytes[offset++] !== 0x02) throw new InternalError('kms_signature_malformed');
    const length = readLength();
    let value = bytes.subarray(offset, offset + length);
    if (value.length !== length || length === 0) throw new InternalError('kms_signature_malformed');
    offset += length;
    while (value.length > 1 && value[0] === 0) value = value.subarray(1);
    if (value.length > size) throw new InternalError('kms_signature_malformed');
    return Buffer.concat([Buffer.alloc(size - value.length), value]);
  };
  if (bytes[offset++] !== 0x30) throw new InternalError('kms_signature_malformed');
  const sequenceLength = readLength();
  if (offset + sequenceLength !== bytes.length) throw new InternalError('kms_signature_malformed');
  const r = readInteger();
  const s = readInteger();
  if (offset !== bytes.length) throw new InternalError('kms_signature_malformed');
  return Buffer.concat([r, s]);
}
