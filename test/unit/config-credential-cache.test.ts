import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';

const env = (overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
  KEYVEND_ISSUERS: JSON.stringify([
    { id: 'corp', issuer: 'https://idp.example.com', audiences: ['urn:keyvend'], authorizedParties: ['cli'] },
  ]),
  KEYVEND_ALLOWED_ROLE_ARNS: 'arn:aws:iam::111111111111:role/keyvend/*',
  KEYVEND_ENTITLEMENTS_TABLE: 'ents',
  KEYVEND_AUDIT_TABLE: 'audit',
  ...overrides,
});

describe('the credential cache settings (issue 14)', () => {
  it('is off by default, and keeps sessions with 15 minutes left, at most 1000 of them, when switched on', () => {
    // Act
    const off = loadConfig(env());
    const on = loadConfig(env({ KEYVEND_CREDENTIAL_CACHE: 'true' }));
    const tuned = loadConfig(
      env({
        KEYVEND_CREDENTIAL_CACHE: 'true',
        KEYVEND_CREDENTIAL_CACHE_MIN_REMAINING_SECONDS: '1200',
        KEYVEND_CREDENTIAL_CACHE_MAX_ENTRIES: '50',
      }),
    );

    // Assess
    expect(off.credentialCache).toEqual({ enabled: false, minRemainingSeconds: 900, maxEntries: 1000 });
    expect(on.credentialCache.enabled).toBe(true);
    expect(tuned.credentialCache).toEqual({ enabled: true, minRemainingSeconds: 1200, maxEntries: 50 });
  });

  it.each([
    ['a switch that is not true or false', { KEYVEND_CREDENTIAL_CACHE: 'yes' }, /KEYVEND_CREDENTIAL_CACHE must be true or false/],
    ['a minimum life under a minute', { KEYVEND_CREDENTIAL_CACHE_MIN_REMAINING_SECONDS: '59' }, /between 60 and 43200/],
    ['a minimum life that is not a whole number', { KEYVEND_CREDENTIAL_CACHE_MIN_REMAINING_SECONDS: '90.5' }, /between 60 and 43200/],
    ['no room for any session', { KEYVEND_CREDENTIAL_CACHE_MAX_ENTRIES: '0' }, /between 1 and 100000/],
  ])('refuses %s', (_name, overrides, message) => {
    // Act & Assess
    expect(() => loadConfig(env(overrides))).toThrow(message);
  });
});

describe('the granted-groups list setting (issue 14, ADR 0018)', () => {
  it('keeps the list a minute by default; 0 turns it off', () => {
    // Act
    const [byDefault, off, hour] = [
      {},
      { KEYVEND_GRANTED_GROUPS_CACHE_SECONDS: '0' },
      { KEYVEND_GRANTED_GROUPS_CACHE_SECONDS: '3600' },
    ].map((overrides) => loadConfig(env(overrides)).grantedGroupsCacheSeconds);

    // Assess
    expect([byDefault, off, hour]).toEqual([60, 0, 3600]);
  });

  it.each([
    ['over an hour', '3601'],
    ['negative', '-1'],
    ['not a whole number', '1.5'],
    ['not a number', 'soon'],
  ])('refuses a period %s', (_name, value) => {
    // Act & Assess
    expect(() => loadConfig(env({ KEYVEND_GRANTED_GROUPS_CACHE_SECONDS: value }))).toThrow(
      /KEYVEND_GRANTED_GROUPS_CACHE_SECONDS must be a whole number of seconds between 0 and 3600/,
    );
  });
});
