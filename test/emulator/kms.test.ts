import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { publicPoint } from '../../infra/local/kms/p256.ts';

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
