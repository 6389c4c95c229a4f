import { describe, expect, it } from 'vitest';
import { brokerTokenClaims, brokerTokenSubject, discoveryDocument } from '../../../src/domain/broker-token.ts';
import { ENTITLEMENT_ID_PATTERN, USER_KEY_PATTERN } from '../../../src/domain/identifiers.ts';

const SETTINGS = { issuer: 'https://keyvend.example.com', audience: 'sts.amazonaws.com', lifetimeSeconds: 300 };
const USER_KEY = 'abcdefghijklmnopqrstuvwxyz';
const identity = (transitiveTagKeys: string[] = []) => ({
  roleSessionName: `alice.${USER_KEY}`,
  sourceIdentity: `alice.${USER_KEY}`,
  tags: [
    { Key: 'keyvend:user', Value: USER_KEY },
    { Key: 'keyvend:grant', Value: 'grant-1' },
  ],
  transitiveTagKeys,
});

describe('brokerTokenSubject', () => {
  it('names the entitlement and the opaque user key, so a trust policy can pin one entitlement with StringLike', () => {
    // Act
    const sub = brokerTokenSubject('photo-uploads', USER_KEY);

    // Assess
    expect(sub).toBe(`ent:photo-uploads:user:${USER_KEY}`);
    // ids cannot hold ':', so the pin of another entitlement can never match this subject
    expect(ENTITLEMENT_ID_PATTERN.test('photo-uploads:user')).toBe(false);
    expect(USER_KEY_PATTERN.test(USER_KEY)).toBe(true);
    expect(/^ent:photo:user:.*$/.test(sub)).toBe(false);
  });
});

describe('brokerTokenClaims', () => {
  it('sets the grant as jti, a lifetime of minutes, SourceIdentity and single-valued principal tags', () => {
    // Act
    const claims = brokerTokenClaims(
      SETTINGS,
      { grantId: 'grant-1', entitlementId: 'photo-uploads', userKey: USER_KEY, identity: identity() },
      new Date('2026-11-29T10:00:00.900Z'),
    );

    // Assess
    expect(claims).toEqual({
      iss: 'https://keyvend.example.com',
      aud: 'sts.amazonaws.com',
      sub: `ent:photo-uploads:user:${USER_KEY}`,
      jti: 'grant-1',
      iat: 1_795_946_400,
      nbf: 1_795_946_400,
      exp: 1_795_946_700,
      'https://aws.amazon.com/source_identity': `alice.${USER_KEY}`,
      'https://aws.amazon.com/tags': { principal_tags: { 'keyvend:user': [USER_KEY], 'keyvend:grant': ['grant-1'] } },
    });
  });

  it('lists transitive tag keys only when there are some', () => {
    // Act
    const claims = brokerTokenClaims(
      SETTINGS,
      { grantId: 'g', entitlementId: 'e', userKey: USER_KEY, identity: identity(['keyvend:user']) },
      new Date(0),
    );

    // Assess
    expect(claims['https://aws.amazon.com/tags']).toMatchObject({ transitive_tag_keys: ['keyvend:user'] });
  });

  it('keeps a tag named __proto__ a tag: it becomes an own property, never the prototype', () => {
    // Act
    const claims = brokerTokenClaims(
      SETTINGS,
      { grantId: 'g', entitlementId: 'e', userKey: USER_KEY, identity: { ...identity(), tags: [{ Key: '__proto__', Value: 'x' }] } },
      new Date(0),
    );
    const tags = (claims['https://aws.amazon.com/tags'] as { principal_tags: Record<string, unknown> }).principal_tags;

    // Assess
    expect(Object.getPrototypeOf(tags)).toBe(Object.prototype);
    expect(Object.hasOwn(tags, '__proto__')).toBe(true);
    expect(JSON.stringify(tags)).toContain('"__proto__":["x"]');
  });
});

describe('discoveryDocument', () => {
  it('names the issuer, its JWKS under it, and each signing algorithm once', () => {
    // Act
    const document = discoveryDocument('https://api.example.com/keyvend', ['RS256', 'ES256', 'RS256']);

    // Assess
    expect(document).toMatchObject({
      issuer: 'https://api.example.com/keyvend',
      jwks_uri: 'https://api.example.com/keyvend/.well-known/jwks.json',
      id_token_signing_alg_values_supported: ['RS256', 'ES256'],
    });
  });
});
