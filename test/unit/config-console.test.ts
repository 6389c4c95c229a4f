import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

const base = {
  KEYVEND_ISSUERS: JSON.stringify([
    { id: 'corp', issuer: 'https://idp.example.com', audiences: ['api://keyvend'], authorizedParties: ['keyvend-cli'] },
  ]),
  KEYVEND_ALLOWED_ROLE_ARNS: 'arn:aws:iam::*:role/keyvend/*',
  KEYVEND_ENTITLEMENTS_TABLE: 'e',
  KEYVEND_AUDIT_TABLE: 'a',
};
const key = Buffer.alloc(32, 3).toString('base64url');

describe('console and portal configuration', () => {
  it('derives the sign-in Issuer from the portal URL and reads the secret reference', () => {
    // Act
    const config = loadConfig({
      ...base,
      KEYVEND_PORTAL_URL: 'https://keyvend.example.com/',
      KEYVEND_PORTAL_CLIENT_ID: 'portal',
      KEYVEND_PORTAL_SECRET_ID: 'keyvend/prod/portal',
    });

    // Assess
    expect(config.console.issuerUrl).toBe('https://keyvend.example.com/portal');
    expect(config.portal).toMatchObject({
      publicUrl: 'https://keyvend.example.com',
      issuerId: 'corp',
      clientId: 'portal',
      secretId: 'keyvend/prod/portal',
      sessionSeconds: 1800,
    });
  });

  it('leaves the portal off without a portal URL', () => {
    expect(loadConfig(base).portal).toBeUndefined();
    expect(loadConfig(base).console.issuerUrl).toBeUndefined();
  });

  it.each([
    [
      'a plain session key outside local mode',
      {
        KEYVEND_PORTAL_URL: 'https://k.example.com',
        KEYVEND_PORTAL_CLIENT_ID: 'p',
        KEYVEND_PORTAL_CLIENT_SECRET: 's',
        KEYVEND_PORTAL_SESSION_KEY: key,
      },
    ],
    ['a portal without any secret', { KEYVEND_PORTAL_URL: 'https://k.example.com', KEYVEND_PORTAL_CLIENT_ID: 'p' }],
    ['a portal without a client id', { KEYVEND_PORTAL_URL: 'https://k.example.com', KEYVEND_PORTAL_SECRET_ID: 'x' }],
    ['a plain-http portal', { KEYVEND_PORTAL_URL: 'http://k.example.com', KEYVEND_PORTAL_CLIENT_ID: 'p', KEYVEND_PORTAL_SECRET_ID: 'x' }],
    [
      'an unknown portal issuer',
      {
        KEYVEND_PORTAL_URL: 'https://k.example.com',
        KEYVEND_PORTAL_CLIENT_ID: 'p',
        KEYVEND_PORTAL_SECRET_ID: 'x',
        KEYVEND_PORTAL_ISSUER_ID: 'other',
      },
    ],
    ['a federation endpoint outside local mode', { KEYVEND_FEDERATION_ENDPOINT: 'https://evil.example/federation' }],
    ['a destination rule off the console', { KEYVEND_CONSOLE_DESTINATIONS: 'https://evil.example/' }],
    [
      'a short session key in local mode',
      {
        KEYVEND_LOCAL_MODE: 'true',
        KEYVEND_PORTAL_URL: 'http://127.0.0.1:3000',
        KEYVEND_PORTAL_CLIENT_ID: 'p',
        KEYVEND_PORTAL_CLIENT_SECRET: 's',
        KEYVEND_PORTAL_SESSION_KEY: 'short',
      },
    ],
  ])('refuses %s', (_label, extra) => {
    expect(() => loadConfig({ ...base, ...extra })).toThrow(ConfigError);
  });

  it('accepts the local stack settings in local mode', () => {
    // Act
    const config = loadConfig({
      ...base,
      KEYVEND_LOCAL_MODE: 'true',
      KEYVEND_FEDERATION_ENDPOINT: 'http://127.0.0.1:4020/federation',
      KEYVEND_PORTAL_URL: 'http://127.0.0.1:3000',
      KEYVEND_PORTAL_CLIENT_ID: 'keyvend-portal',
      KEYVEND_PORTAL_CLIENT_SECRET: 'dev',
      KEYVEND_PORTAL_SESSION_KEY: key,
    });

    // Assess
    expect(config.console.federationEndpoint).toBe('http://127.0.0.1:4020/federation');
    expect(config.portal?.sessionKey).toBe(key);
  });
});
