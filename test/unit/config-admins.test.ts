import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { isAdmin } from '../../src/domain/admins.ts';

const issuer = { id: 'corp', issuer: 'https://idp.example.com', audiences: ['urn:keyvend'], authorizedParties: ['keyvend-cli'] };
const env = (admins: string | undefined) => ({
  KEYVEND_ISSUERS: JSON.stringify([issuer]),
  KEYVEND_ALLOWED_ROLE_ARNS: 'arn:aws:iam::111111111111:role/keyvend/*',
  KEYVEND_ENTITLEMENTS_TABLE: 'ents',
  KEYVEND_AUDIT_TABLE: 'audit',
  KEYVEND_ADMINS: admins,
});

describe('KEYVEND_ADMINS names admin groups per identity provider', () => {
  it('has no admins unless configured', () => {
    expect(loadConfig(env(undefined)).admins).toEqual([]);
    expect(loadConfig(env(' ')).admins).toEqual([]);
  });

  it('parses groups per issuer', () => {
    // Act
    const { admins } = loadConfig(env(JSON.stringify([{ issuer: 'corp', groups: ['keyvend-admins', 'sec ops'] }])));

    // Assess
    expect(admins).toEqual([{ issuerId: 'corp', groups: ['keyvend-admins', 'sec ops'] }]);
  });

  it.each([
    ['not JSON', '{', /must be a JSON array/],
    ['an unknown issuer', JSON.stringify([{ issuer: 'other', groups: ['a'] }]), /other is not a configured issuer/],
    ['no groups', JSON.stringify([{ issuer: 'corp', groups: [] }]), /KEYVEND_ADMINS/],
    ['a group outside the grammar', JSON.stringify([{ issuer: 'corp', groups: ['a\nb'] }]), /group grammar/],
    ['an unknown member', JSON.stringify([{ issuer: 'corp', groups: ['a'], subjects: ['x'] }]), /KEYVEND_ADMINS/],
  ])('refuses %s', (_name, value, message) => {
    expect(() => loadConfig(env(value))).toThrow(ConfigError);
    expect(() => loadConfig(env(value))).toThrow(message);
  });
});

describe('isAdmin', () => {
  const rules = [{ issuerId: 'corp', groups: ['keyvend-admins'] }];

  it('is true for a member of an admin group of the same issuer', () => {
    expect(isAdmin({ issuerId: 'corp', groups: ['staff', 'keyvend-admins'] }, rules)).toBe(true);
  });

  it('is false for the same group name asserted by another issuer, and for non-members', () => {
    expect(isAdmin({ issuerId: 'partner', groups: ['keyvend-admins'] }, rules)).toBe(false);
    expect(isAdmin({ issuerId: 'corp', groups: ['staff'] }, rules)).toBe(false);
    expect(isAdmin({ issuerId: 'corp', groups: ['keyvend-admins'] }, [])).toBe(false);
  });
});
