import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

const base = {
  KEYVEND_ISSUERS: JSON.stringify([
    { id: 'corp', issuer: 'https://idp.example', audiences: ['keyvend'], authorizedParties: ['keyvend-cli'] },
  ]),
  KEYVEND_ALLOWED_ROLE_ARNS: 'arn:aws:iam::*:role/keyvend/*',
  KEYVEND_ENTITLEMENTS_TABLE: 'e',
  KEYVEND_AUDIT_TABLE: 'a',
};
const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const NEXT_KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/0f0f0f0f-12ab-34cd-56ef-1234567890ab';
const issuer = { KEYVEND_TOKEN_ISSUER: 'https://keyvend.example.com', KEYVEND_SIGNING_KEY_ID: KEY_ARN };

describe('configuration of the broker as an OIDC issuer', () => {
  it('is off without KEYVEND_TOKEN_ISSUER', () => {
    // Act + Assess
    expect(loadConfig(base).brokerIssuer).toBeUndefined();
  });

  it('defaults the audience to sts.amazonaws.com and the token lifetime to five minutes, and drops the signing key from the published ones', () => {
    // Act
    const config = loadConfig({ ...base, ...issuer, KEYVEND_PUBLISHED_KEY_IDS: ` ${NEXT_KEY_ARN}, ${KEY_ARN} ` });

    // Assess
    expect(config.brokerIssuer).toEqual({
      token: { issuer: 'https://keyvend.example.com', audience: 'sts.amazonaws.com', lifetimeSeconds: 300 },
      signingKeyId: KEY_ARN,
      publishedKeyIds: [NEXT_KEY_ARN],
    });
  });

  it('accepts a path under an https issuer, alias names, and loopback http in local mode with a local KMS endpoint', () => {
    // Act
    const withPath = loadConfig({
      ...base,
      ...issuer,
      KEYVEND_TOKEN_ISSUER: 'https://api.example.com/keyvend',
      KEYVEND_SIGNING_KEY_ID: 'alias/keyvend-prod-signing',
    });
    const local = loadConfig({
      ...base,
      KEYVEND_LOCAL_MODE: 'true',
      KEYVEND_TOKEN_ISSUER: 'http://127.0.0.1:3000',
      KEYVEND_SIGNING_KEY_ID: 'alias/keyvend-local-signing',
      KEYVEND_KMS_ENDPOINT: 'http://127.0.0.1:4030',
      KEYVEND_TOKEN_LIFETIME_SECONDS: '60',
    });

    // Assess
    expect(withPath.brokerIssuer?.token.issuer).toBe('https://api.example.com/keyvend');
    expect(local.brokerIssuer?.token).toEqual({ issuer: 'http://127.0.0.1:3000', audience: 'sts.amazonaws.com', lifetimeSeconds: 60 });
    expect(local.kmsEndpoint).toBe('http://127.0.0.1:4030/');
  });

  it.each([
    ['plain http outside local mode', { KEYVEND_TOKEN_ISSUER: 'http://keyvend.example.com' }, /must be https/],
    [
      'plain http to another host in local mode',
      { KEYVEND_LOCAL_MODE: 'true', KEYVEND_TOKEN_ISSUER: 'http://keyvend.example.com' },
      /must be https/,
    ],
    ['a trailing slash (IAM compares the issuer exactly)', { KEYVEND_TOKEN_ISSUER: 'https://keyvend.example.com/' }, /trailing slash/],
    ['a query', { KEYVEND_TOKEN_ISSUER: 'https://keyvend.example.com?x=1' }, /without query/],
    ['a fragment', { KEYVEND_TOKEN_ISSUER: 'https://keyvend.example.com#x' }, /without query, fragment/],
    ['credentials in the URL', { KEYVEND_TOKEN_ISSUER: 'https://user:pass@keyvend.example.com' }, /plain https URL/],
    ['no signing key', { KEYVEND_SIGNING_KEY_ID: '' }, /KEYVEND_SIGNING_KEY_ID is required/],
    ['a signing key that is not a KMS key id', { KEYVEND_SIGNING_KEY_ID: 'my key' }, /not a KMS key id/],
    ['a published key that is not a KMS key id', { KEYVEND_PUBLISHED_KEY_IDS: 'arn:aws:iam::123456789012:role/x' }, /not a KMS key id/],
    ['more than three published keys', { KEYVEND_PUBLISHED_KEY_IDS: ['alias/a', 'alias/b', 'alias/c', 'alias/d'].join(',') }, /at most 3/],
    ['an audience with a wildcard', { KEYVEND_TOKEN_AUDIENCE: 'sts.*' }, /KEYVEND_TOKEN_AUDIENCE/],
    ['a token lifetime over 15 minutes', { KEYVEND_TOKEN_LIFETIME_SECONDS: '901' }, /between 60 and 900/],
    ['a token lifetime under a minute', { KEYVEND_TOKEN_LIFETIME_SECONDS: '59' }, /between 60 and 900/],
    ['a KMS endpoint outside local mode', { KEYVEND_KMS_ENDPOINT: 'http://127.0.0.1:4030' }, /local mode only/],
  ])('refuses %s', (_, env, message) => {
    // Act + Assess
    expect(() => loadConfig({ ...base, ...issuer, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, ...issuer, ...env })).toThrow(message);
  });
});

describe('an issuer display name', () => {
  const withName = (displayName: unknown) =>
    ({ ...base, KEYVEND_ISSUERS: JSON.stringify([{ ...JSON.parse(base.KEYVEND_ISSUERS)[0], displayName }]) }) as Record<string, string>;

  it('labels the portal button when it is 1-64 printable characters, trimmed', () => {
    // Act + Assess
    expect(loadConfig(withName('  Corp SSO ')).issuers[0]?.displayName).toBe('Corp SSO');
    expect(loadConfig(base).issuers[0]).not.toHaveProperty('displayName');
  });

  it.each([[''], ['x'.repeat(65)], ['Corp\u202ESSO'], ['Corp\nSSO'], [42]])('stops the functions for %j', (name) => {
    // Act + Assess
    expect(() => loadConfig(withName(name))).toThrow(ConfigError);
  });
});
