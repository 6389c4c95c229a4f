import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

const env = (overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
  KEYVEND_ISSUERS: JSON.stringify([
    { id: 'corp', issuer: 'https://idp.example.com', audiences: ['urn:keyvend'], authorizedParties: ['keyvend-cli'] },
  ]),
  KEYVEND_ALLOWED_ROLE_ARNS: 'arn:aws:iam::111111111111:role/keyvend/*',
  KEYVEND_ENTITLEMENTS_TABLE: 'ents',
  KEYVEND_AUDIT_TABLE: 'audit',
  ...overrides,
});

describe('loadConfig: the per-caller rate limit (KEYVEND_RATE_LIMIT, KEYVEND_RATE_LIMIT_BURST)', () => {
  it('defaults to 60 a minute with bursts of 20', () => {
    // Act
    const config = loadConfig(env());

    // Assess
    expect(config.rateLimit).toEqual({ perMinute: 60, burst: 20 });
  });

  it('takes both settings', () => {
    // Act
    const config = loadConfig(env({ KEYVEND_RATE_LIMIT: '120', KEYVEND_RATE_LIMIT_BURST: '5' }));

    // Assess
    expect(config.rateLimit).toEqual({ perMinute: 120, burst: 5 });
  });

  it.each([
    ['KEYVEND_RATE_LIMIT', '0'],
    ['KEYVEND_RATE_LIMIT', '1.5'],
    ['KEYVEND_RATE_LIMIT', 'unlimited'],
    ['KEYVEND_RATE_LIMIT', '60001'],
    ['KEYVEND_RATE_LIMIT_BURST', '0'],
    ['KEYVEND_RATE_LIMIT_BURST', '-1'],
  ])('refuses %s=%s rather than run without a limit', (name, value) => {
    // Act and assess
    expect(() => loadConfig(env({ [name]: value }))).toThrow(ConfigError);
    expect(() => loadConfig(env({ [name]: value }))).toThrow(new RegExp(name));
  });
});
