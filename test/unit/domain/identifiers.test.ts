import { describe, expect, it } from 'vitest';
import {
  deriveUserKey,
  ENTITLEMENT_ID_PATTERN,
  GROUP_PATTERN,
  ISSUER_ID_PATTERN,
  POLICY_SAFE_PATTERN,
  SAFE_TAG_VALUE_PATTERN,
  sha256Hex,
  SUBJECT_PATTERN,
  TAG_KEY_PATTERN,
  USER_KEY_PATTERN,
} from '../../../src/domain/identifiers.ts';

describe('deriveUserKey', () => {
  it('is 26 characters of lower-case base32, stable for the same issuer and subject', () => {
    // Act
    const key = deriveUserKey('https://idp.example.com', 'alice');

    // Assess
    expect(key).toMatch(USER_KEY_PATTERN);
    expect(deriveUserKey('https://idp.example.com', 'alice')).toBe(key);
  });

  it('matches base32 of SHA-256(issuer LF subject), so operators can recompute it', () => {
    // Prepare: RFC 4648 base32 of the digest, computed independently of the implementation
    const digest = Buffer.from(sha256Hex('https://idp.example.com\nalice'), 'hex');
    let bits = '';
    for (const byte of digest) bits += byte.toString(2).padStart(8, '0');
    const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
    const expected = Array.from({ length: 26 }, (_, i) => alphabet[parseInt(bits.slice(i * 5, i * 5 + 5), 2)]).join('');

    // Act + Assess
    expect(deriveUserKey('https://idp.example.com', 'alice')).toBe(expected);
  });

  it('differs for the same subject at another issuer, and for case or look-alike variants (P-05, P-08e)', () => {
    // Act
    const keys = [
      deriveUserKey('https://idp.example.com', 'alice'),
      deriveUserKey('https://other.example.com', 'alice'),
      deriveUserKey('https://idp.example.com/', 'alice'),
      deriveUserKey('https://idp.example.com', 'Alice'),
      deriveUserKey('https://idp.example.com', 'аlice'),
      // The separator cannot be forged: "a" + "\nb" and "a\n" + "b" are different pairs.
      deriveUserKey('https://idp.example.com\nalice', ''),
    ];

    // Assess
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('identifier grammars reject rather than clean up', () => {
  it.each([
    [
      'subject',
      SUBJECT_PATTERN,
      ['alice', '7f3a9c1e-4b2d-4e6f-8a1b-2c3d4e5f6a7b', 'auth0|123', 'a@b.c', 'x'.repeat(128)],
      ['', 'a b', 'a/b', 'a*', '${aws:userid}', 'a"b', 'a\nb', 'a\u0000b', 'аdmin', 'ａdmin', 'x'.repeat(129), 'a#b'],
    ],
    [
      'group',
      GROUP_PATTERN,
      ['admins', 'Photo Uploaders', 'team/a', 'x'.repeat(128)],
      ['', ' admins', 'admins ', 'a*', 'a#b', 'a\tb', 'x'.repeat(129), '${x}'],
    ],
    ['issuer id', ISSUER_ID_PATTERN, ['dev', 'corp-idp'], ['', 'Dev', '-dev', 'a'.repeat(32), 'a_b']],
    ['entitlement id', ENTITLEMENT_ID_PATTERN, ['photo-uploads', 'a'], ['', 'Photo', '-a', 'a b', 'a'.repeat(64), 'a/b']],
    [
      'tag value',
      SAFE_TAG_VALUE_PATTERN,
      ['research', 'R&D'.replace('&', ' and '), 'a:b/c=d+e@f-g_h.i'],
      ['', 'résumé', 'аdmin', 'a\u200Db', 'x'.repeat(257), 'a*b'],
    ],
    ['tag key', TAG_KEY_PATTERN, ['department', 'cost:center'], ['', 'aws:x', 'AWS:x', 'a b', 'x'.repeat(129)]],
    ['policy-safe value', POLICY_SAFE_PATTERN, ['alice', 'a_b-c'], ['', 'a.b', 'a/b', '..', 'a*', 'a?', '$', '%2e', 'x'.repeat(65)]],
  ])('%s', (_name, pattern, valid, invalid) => {
    // Act + Assess
    for (const value of valid) expect(pattern.test(value), value).toBe(true);
    for (const value of invalid) expect(pattern.test(value), JSON.stringify(value)).toBe(false);
  });
});
