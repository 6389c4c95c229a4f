import { inspect } from 'node:util';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/domain/secret.ts';
import type { PublicKeySet, TokenSigner } from '../../src/ports/index.ts';

/** A signer and the key set it publishes, as the container wires them (one object in KMS's case). */
export interface TokenSignerSubject {
  readonly signer: TokenSigner;
  readonly keys: PublicKeySet;
}

export interface TokenSignerImplementation {
  make(): Promise<TokenSignerSubject> | TokenSignerSubject;
  /** A signer whose key store is unavailable for the next signature (an outage, throttling). */
  unavailable(): Promise<TokenSigner> | TokenSigner;
}

const CLAIMS = {
  iss: 'https://keyvend.example.com',
  aud: 'sts.amazonaws.com',
  sub: 'ent:photo-uploads:user:abcdefghijklmnopqrstuvwxyz',
  iat: 1_800_000_000,
  exp: 4_102_444_800,
  jti: 'grant-0001',
  'https://aws.amazon.com/tags': { principal_tags: { department: ['research'] }, transitive_tag_keys: [] },
};
const PUBLIC_MEMBERS = { RSA: ['alg', 'e', 'kid', 'kty', 'n', 'use'], EC: ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'] };

/**
 * The TokenSigner and PublicKeySet ports' contract (ports/index.ts): what the signer signs verifies against
 * what the key set publishes, under the `kid` it reports; the published keys carry public members only; the
 * token is a Secret that no serialisation reveals; an unavailable key store is a 503, never a token.
 */
export function tokenSignerContract(name: string, implementation: TokenSignerImplementation): void {
  describe(`TokenSigner and PublicKeySet contract: ${name}`, () => {
    it('signs a token that verifies with the published keys, carrying the claims and the reported kid', async () => {
      // Prepare
      const { signer, keys } = await implementation.make();

      // Act
      const signed = await signer.sign(CLAIMS);

      // Assess
      const published = await keys.publicKeys();
      const { payload, protectedHeader } = await jwtVerify(signed.token.reveal(), createLocalJWKSet({ keys: [...published] }), {
        algorithms: ['RS256', 'ES256'],
      });
      expect(payload).toEqual(CLAIMS);
      expect(protectedHeader).toMatchObject({ kid: signed.keyId, typ: 'JWT' });
      expect(published.find((key) => key.kid === signed.keyId)?.alg).toBe(protectedHeader.alg);
    });

    it('signs so that a changed payload no longer verifies', async () => {
      // Prepare
      const { signer, keys } = await implementation.make();
      const [header, , signature] = (await signer.sign(CLAIMS)).token.reveal().split('.');
      const forged = `${header}.${Buffer.from(JSON.stringify({ ...CLAIMS, sub: 'ent:admin:user:abcdefghijklmnopqrstuvwxyz' })).toString('base64url')}.${signature}`;

      // Act
      const verified = jwtVerify(forged, createLocalJWKSet({ keys: [...(await keys.publicKeys())] }));

      // Assess
      await expect(verified).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    });

    it('publishes public members only, for signatures, one key per kid', async () => {
      // Prepare
      const { keys } = await implementation.make();

      // Act
      const published = await keys.publicKeys();

      // Assess
      expect(published.length).toBeGreaterThan(0);
      for (const key of published) {
        expect(Object.keys(key).sort()).toEqual(PUBLIC_MEMBERS[key.kty]);
        expect(key.use).toBe('sig');
      }
      expect(new Set(published.map((key) => key.kid)).size).toBe(published.length);
    });

    it('returns the token as a Secret that no serialisation reveals', async () => {
      // Prepare
      const { signer } = await implementation.make();

      // Act
      const signed = await signer.sign(CLAIMS);

      // Assess
      const token = signed.token.reveal();
      expect(signed.token).toBeInstanceOf(Secret);
      expect(decodeProtectedHeader(token).kid).toBe(signed.keyId);
      for (const shown of [JSON.stringify(signed), String(signed.token), `${signed.token}`, inspect(signed, { depth: 5 })]) {
        expect(shown).not.toContain(token.split('.')[0]);
        expect(shown).not.toContain(token.split('.')[2]);
      }
    });

    it('throws a retryable 503, and no token, when the key store is unavailable', async () => {
      // Prepare
      const signer = await implementation.unavailable();

      // Act
      const outcome = await signer.sign(CLAIMS).catch((error: unknown) => error);

      // Assess
      expect(outcome).toMatchObject({ code: 'upstream_unavailable', httpStatus: 503 });
    });
  });
}
