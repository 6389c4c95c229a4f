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
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:keyvend/keyvend-federation-AbCdEf';

describe('configuration for the vending paths', () => {
  it('reads no federation secrets by default, and the configured ones when set', () => {
    // Act
    const none = loadConfig(base);
    const some = loadConfig({
      ...base,
      KEYVEND_FEDERATION_USER_SECRETS: ` ${SECRET_ARN} , keyvend/other `,
      KEYVEND_FEDERATION_KEYS_CACHE_SECONDS: '60',
    });

    // Assess
    expect(none.federationUserSecrets).toEqual([]);
    expect(none.federationKeysCacheSeconds).toBe(300);
    expect(some.federationUserSecrets).toEqual([SECRET_ARN, 'keyvend/other']);
    expect(some.federationKeysCacheSeconds).toBe(60);
  });

  it.each([
    ['a Secrets Manager endpoint outside local mode', { KEYVEND_SECRETS_MANAGER_ENDPOINT: 'http://127.0.0.1:4566' }, /local mode only/],
    ['a secret id outside the grammar', { KEYVEND_FEDERATION_USER_SECRETS: 'not a secret' }, /not a secret name or ARN/],
    ['a cache period over an hour', { KEYVEND_FEDERATION_KEYS_CACHE_SECONDS: '3601' }, /between 0 and 3600/],
  ])('refuses %s', (_, env, message) => {
    // Act + Assess
    expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  });

  it('takes the Secrets Manager endpoint in local mode', () => {
    // Act
    const config = loadConfig({ ...base, KEYVEND_LOCAL_MODE: 'true', KEYVEND_SECRETS_MANAGER_ENDPOINT: 'http://127.0.0.1:4566' });

    // Assess
    expect(config.secretsManagerEndpoint).toBe('http://127.0.0.1:4566/');
  });
});
