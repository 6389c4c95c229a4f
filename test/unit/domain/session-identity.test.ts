import { describe, expect, it } from 'vitest';
import { deriveUserKey } from '../../../src/domain/identifiers.ts';
import { assertPackedSizeFits, estimatePackedPercent, sessionIdentityFor, sessionNameFor } from '../../../src/domain/session-identity.ts';
import { entitlementFor, principalFor } from '../fakes.ts';

const STS_NAME = /^[\w+=,.@-]{2,64}$/;

describe('sessionNameFor', () => {
  it.each([
    ['a', 'https://idp.example.com'],
    ['7f3a9c1e-4b2d-4e6f-8a1b-2c3d4e5f6a7b', 'https://idp.example.com'],
    ['auth0|5f7c8ec7c33c6c004bbafe82', 'https://tenant.auth0.com/'],
    ['x'.repeat(128), 'https://idp.example.com'],
    ['user@example.com', 'https://idp.example.com'],
    ['a:b|c.d', 'https://idp.example.com'],
  ])('is a valid RoleSessionName for subject %s', (subject, issuer) => {
    // Act
    const name = sessionNameFor({ subject, userKey: deriveUserKey(issuer, subject) });

    // Assess
    expect(name).toMatch(STS_NAME);
    expect(name.endsWith(`.${deriveUserKey(issuer, subject)}`)).toBe(true);
  });

  it('is valid for every subject the grammar admits (property, 2,000 random subjects)', () => {
    // Prepare: a seeded generator over the subject alphabet, so a failure is reproducible
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@|-';
    let state = 42;
    const next = () => {
      state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
      return state / 4_294_967_296;
    };
    const names = new Set<string>();

    for (let i = 0; i < 2000; i++) {
      const subject = Array.from({ length: 1 + Math.floor(next() * 128) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');

      // Act
      const name = sessionNameFor({ subject, userKey: deriveUserKey('https://idp.example.com', subject) });

      // Assess
      expect(name).toMatch(STS_NAME);
      expect(name.startsWith('aws:')).toBe(false);
      names.add(`${subject}\n${name}`);
    }
    const bySubject = new Map([...names].map((pair) => pair.split('\n') as [string, string]));
    expect(new Set(bySubject.values()).size).toBe(bySubject.size);
  });

  it('is unique per (issuer, subject), even when readable parts collide (P-06, P-07)', () => {
    // Prepare: subjects whose readable parts are identical after cleaning or truncation
    const callers = [
      ['https://idp.example.com', 'alice'],
      ['https://other.example.com', 'alice'],
      ['https://idp.example.com', 'a|b'],
      ['https://idp.example.com', 'a:b'],
      ['https://idp.example.com', `${'x'.repeat(30)}1`],
      ['https://idp.example.com', `${'x'.repeat(30)}2`],
    ] as const;

    // Act
    const names = callers.map(([issuer, subject]) => sessionNameFor({ subject, userKey: deriveUserKey(issuer, subject) }));

    // Assess
    expect(new Set(names).size).toBe(names.length);
  });

  it('cannot be spoofed by a subject that looks like another caller session name (P-07)', () => {
    // Prepare: Mallory chooses her subject to be Alice's whole session name
    const alice = { subject: 'alice', userKey: deriveUserKey('https://idp.example.com', 'alice') };
    const aliceName = sessionNameFor(alice);
    const mallorySubject = aliceName;

    // Act
    const malloryName = sessionNameFor({ subject: mallorySubject, userKey: deriveUserKey('https://idp.example.com', mallorySubject) });

    // Assess: only the part after the last dot identifies, and it is the hash of Mallory's own subject
    expect(malloryName).not.toBe(aliceName);
    expect(malloryName.split('.').at(-1)).not.toBe(alice.userKey);
  });
});

describe('sessionIdentityFor', () => {
  it('sets SourceIdentity to the session name, the broker tags (with the grant) first, then the entitlement tags', () => {
    // Prepare
    const principal = principalFor();
    const entitlement = entitlementFor({
      sessionTags: [
        { key: 'department', claim: 'department' },
        { key: 'cost-center', value: 'cc-42' },
      ],
      transitiveTagKeys: ['department'],
    });

    // Act
    const identity = sessionIdentityFor(principal, entitlement, '0190a1b2-0000-7000-8000-000000000001');

    // Assess
    expect(identity.sourceIdentity).toBe(identity.roleSessionName);
    expect(identity.sourceIdentity.startsWith('aws:')).toBe(false);
    expect(identity.tags).toEqual([
      { Key: 'keyvend:user', Value: principal.userKey },
      { Key: 'keyvend:issuer', Value: 'corp' },
      { Key: 'keyvend:entitlement', Value: 'photo-uploads' },
      { Key: 'keyvend:grant', Value: '0190a1b2-0000-7000-8000-000000000001' },
      { Key: 'department', Value: 'research' },
      { Key: 'cost-center', Value: 'cc-42' },
    ]);
    expect(identity.transitiveTagKeys).toEqual(['department']);
  });

  it('refuses when a tag claim is missing, even if the name exists on Object.prototype', () => {
    // Prepare
    const missing = entitlementFor({ sessionTags: [{ key: 'team', claim: 'team' }] });
    const inherited = entitlementFor({ sessionTags: [{ key: 'x', claim: 'toString' }] });

    // Act + Assess
    expect(() => sessionIdentityFor(principalFor(), missing, 'grant-1')).toThrow(
      expect.objectContaining({ code: 'not_entitled', reason: 'tag_claim_missing' }),
    );
    expect(() => sessionIdentityFor(principalFor({ attributes: {} }), inherited, 'grant-1')).toThrow(
      expect.objectContaining({ reason: 'tag_claim_missing' }),
    );
  });
});

describe('packed-size estimate', () => {
  it('counts policy characters and every tag with overhead, pessimistically, rounding up', () => {
    // Act + Assess
    expect(estimatePackedPercent(0, [])).toBe(0);
    expect(estimatePackedPercent(1024, [])).toBe(50);
    expect(estimatePackedPercent(1017, [{ Key: 'a', Value: 'bc' }])).toBe(50);
    expect(estimatePackedPercent(1018, [{ Key: 'a', Value: 'bc' }])).toBe(51);
    expect(estimatePackedPercent(1, [])).toBe(1);
    expect(estimatePackedPercent(2048, [{ Key: 'k', Value: '' }])).toBe(101);
  });

  it('refuses more than 100 percent or more than 50 tags before STS is asked (P-11)', () => {
    // Prepare
    const tags = Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));

    // Act + Assess
    expect(assertPackedSizeFits(1000, [])).toBe(49);
    expect(() => assertPackedSizeFits(2000, [{ Key: 'department', Value: 'x'.repeat(100) }])).toThrow(
      expect.objectContaining({ code: 'policy_too_large', reason: 'packed_estimate_over_limit' }),
    );
    expect(() => assertPackedSizeFits(10, tags)).toThrow(expect.objectContaining({ reason: 'too_many_tags' }));
  });
});
