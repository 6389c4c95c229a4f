import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, roleArnMatcher } from '../../src/config.ts';

const issuer = { id: 'corp', issuer: 'https://idp.example.com', audiences: ['urn:keyvend'], authorizedParties: ['keyvend-cli'] };
const env = (overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
  KEYVEND_ISSUERS: JSON.stringify([issuer]),
  KEYVEND_ALLOWED_ROLE_ARNS: 'arn:aws:iam::111111111111:role/keyvend/*',
  KEYVEND_ENTITLEMENTS_TABLE: 'ents',
  KEYVEND_AUDIT_TABLE: 'audit',
  ...overrides,
});

describe('loadConfig refuses to start on missing or unsafe configuration (F-09)', () => {
  it('accepts a complete production configuration with safe defaults', () => {
    // Act
    const config = loadConfig(env());

    // Assess
    expect(config).toMatchObject({ localMode: false, roleChaining: true, auditRetentionDays: 30, stsEndpoint: undefined });
    expect(config.issuers[0]).toMatchObject({
      algorithms: ['RS256'],
      tokenType: 'access',
      clockToleranceSeconds: 60,
      maxTokenLifetimeSeconds: 3600,
    });
    expect(config.warnings).toEqual([]);
  });

  describe('identity hazards (issue 10, item 4)', () => {
    const { authorizedParties: _omitted, ...anyClient } = issuer;
    const load = (settings: Record<string, unknown>) => loadConfig(env({ KEYVEND_ISSUERS: JSON.stringify([settings]) }));

    it.each([
      ['no authorizedParties (any client of the IdP with the audience would pass)', anyClient, /authorizedParties is required/],
      ['both authorizedParties and the opt-out', { ...issuer, anyAuthorizedParty: true }, /exclude each other/],
      ['anyAuthorizedParty: false', { ...anyClient, anyAuthorizedParty: false }, /anyAuthorizedParty/],
      ['subjectClaim email without the opt-in', { ...issuer, subjectClaim: 'email' }, /subjectClaim "email" may be changed/],
      ['subjectClaim preferred_username without the opt-in', { ...issuer, subjectClaim: 'preferred_username' }, /allowMutableSubjectClaim/],
      ['the opt-in with sub', { ...issuer, allowMutableSubjectClaim: true }, /remove it/],
    ])('refuses %s', (_name, settings, message) => {
      // Act + Assess
      expect(() => load(settings)).toThrow(message);
    });

    it('accepts each explicit opt-out with a warning that names the issuer and no secret', () => {
      // Act
      const config = load({ ...anyClient, anyAuthorizedParty: true, subjectClaim: 'email', allowMutableSubjectClaim: true });

      // Assess
      expect(config.warnings).toEqual([
        expect.stringMatching(/^issuer corp: anyAuthorizedParty is set, so a token from any client of https:\/\/idp\.example\.com/),
        expect.stringMatching(/^issuer corp: subjectClaim "email" is not sub/),
      ]);
      expect(config.issuers[0]).not.toHaveProperty('anyAuthorizedParty');
      expect(config.issuers[0]).not.toHaveProperty('authorizedParties');
      expect(Object.isFrozen(config.warnings)).toBe(true);
    });
  });

  it.each(['KEYVEND_ISSUERS', 'KEYVEND_ALLOWED_ROLE_ARNS', 'KEYVEND_ENTITLEMENTS_TABLE', 'KEYVEND_AUDIT_TABLE'])(
    '%s unset or blank',
    (name) => {
      // Act + Assess
      expect(() => loadConfig(env({ [name]: undefined }))).toThrow(ConfigError);
      expect(() => loadConfig(env({ [name]: '  ' }))).toThrow(ConfigError);
    },
  );

  it.each([
    ['no issuers', []],
    ['an issuer without an audience (jose would skip the check)', [{ ...issuer, audiences: [] }]],
    ['an empty audience', [{ ...issuer, audiences: [''] }]],
    ['an HMAC algorithm', [{ ...issuer, algorithms: ['HS256'] }]],
    ['alg none', [{ ...issuer, algorithms: ['none'] }]],
    ['a clock tolerance over 60 s', [{ ...issuer, clockToleranceSeconds: 300 }]],
    ['a plain-http issuer outside local mode', [{ ...issuer, issuer: 'http://127.0.0.1:8080' }]],
    ['a plain-http JWKS outside local mode', [{ ...issuer, jwksUri: 'http://idp.example.com/jwks' }]],
    ['two issuers with the same id', [issuer, { ...issuer, issuer: 'https://other.example.com' }]],
    ['an unknown setting', [{ ...issuer, allowUnsigned: true }]],
  ])('KEYVEND_ISSUERS with %s', (_name, issuers) => {
    // Act + Assess
    expect(() => loadConfig(env({ KEYVEND_ISSUERS: JSON.stringify(issuers) }))).toThrow(ConfigError);
  });

  it('accepts plain http only to loopback and only in local mode', () => {
    // Prepare
    const local = { ...issuer, issuer: 'http://127.0.0.1:8080/issuer' };

    // Act + Assess
    expect(loadConfig(env({ KEYVEND_LOCAL_MODE: 'true', KEYVEND_ISSUERS: JSON.stringify([local]) })).localMode).toBe(true);
    expect(() =>
      loadConfig(env({ KEYVEND_LOCAL_MODE: 'true', KEYVEND_ISSUERS: JSON.stringify([{ ...issuer, issuer: 'http://10.0.0.5/issuer' }]) })),
    ).toThrow(ConfigError);
  });

  it.each([
    ['an endpoint override outside local mode', { KEYVEND_STS_ENDPOINT: 'http://127.0.0.1:4566' }],
    ['a malformed flag', { KEYVEND_ROLE_CHAINING: 'yes' }],
    ['a role pattern that is not a role ARN', { KEYVEND_ALLOWED_ROLE_ARNS: '*' }],
    ['a retention of zero days', { KEYVEND_AUDIT_RETENTION_DAYS: '0' }],
    ['issuers that are not JSON', { KEYVEND_ISSUERS: '[{' }],
  ])('%s', (_name, overrides) => {
    // Act + Assess
    expect(() => loadConfig(env(overrides))).toThrow(ConfigError);
  });
});

describe('roleArnMatcher', () => {
  it('matches a wildcard within the role name part only', () => {
    // Prepare
    const allowed = roleArnMatcher(['arn:aws:iam::111111111111:role/keyvend/*']);

    // Act + Assess
    expect(allowed('arn:aws:iam::111111111111:role/keyvend/photo-uploads')).toBe(true);
    expect(allowed('arn:aws:iam::222222222222:role/keyvend/photo-uploads')).toBe(false);
    expect(allowed('arn:aws:iam::111111111111:role/admin')).toBe(false);
    expect(allowed('arn:aws:iam::111111111111:role/keyvend/x:arn:aws:iam::222222222222:role/y')).toBe(false);
    expect(allowed('xarn:aws:iam::111111111111:role/keyvend/photo-uploads')).toBe(false);
  });
});
