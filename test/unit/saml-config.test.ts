import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { generateSigningCert } from '../../infra/local/saml-idp.ts';

const cert = generateSigningCert('config-test-idp').certPem;
const weakCerts = {
  rsa1024: generateSigningCert('weak-rsa', { newKey: ['-newkey', 'rsa:1024'] }).certPem,
  ecP224: generateSigningCert('weak-ec', { newKey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp224r1'] }).certPem,
  ed25519: generateSigningCert('ed25519', { newKey: ['-newkey', 'ed25519'] }).certPem,
};
const p256 = generateSigningCert('p256', { newKey: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] }).certPem;
const BASE = {
  KEYVEND_ISSUERS: JSON.stringify([
    { id: 'dev', issuer: 'https://idp.example.test', audiences: ['urn:keyvend:api'], authorizedParties: ['keyvend-cli'] },
  ]),
  KEYVEND_ALLOWED_ROLE_ARNS: 'arn:aws:iam::111111111111:role/keyvend/*',
  KEYVEND_ENTITLEMENTS_TABLE: 'entitlements',
  KEYVEND_AUDIT_TABLE: 'audit',
};
const SAML = {
  KEYVEND_SAML_AUDIENCE: 'urn:keyvend:prod',
  KEYVEND_SAML_ACS_URL: 'https://keyvend.example.test/v1/credentials',
  KEYVEND_SAML_REPLAY_TABLE: 'saml-replay',
};
const idp = (overrides: Record<string, unknown> = {}) => ({
  id: 'corp',
  entityId: 'https://sts.corp.example.test/adfs',
  certificates: [cert],
  ...overrides,
});
const load = (env: Record<string, string>) => () => loadConfig({ ...BASE, ...env });

describe('SAML configuration', () => {
  it('is optional: without IdPs nothing else is required', () => {
    expect(loadConfig(BASE).saml.idps).toEqual([]);
  });

  it('parses an IdP with safe defaults: our audience, persistent NameIDs, 30 s skew, assertion signature', () => {
    // Act
    const { saml } = loadConfig({ ...BASE, ...SAML, KEYVEND_SAML_IDPS: JSON.stringify([idp({ groupsAttribute: 'groups' })]) });

    // Assess
    expect(saml.acsUrl).toBe(SAML.KEYVEND_SAML_ACS_URL);
    expect(saml.idps[0]).toMatchObject({
      id: 'corp',
      audiences: ['urn:keyvend:prod'],
      nameIdFormats: ['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
      clockSkewSeconds: 30,
      requireSignedResponse: false,
      groupsAttribute: 'groups',
      tagAttributes: {},
    });
  });

  it.each([
    ['an IdP without a certificate', { ...SAML, KEYVEND_SAML_IDPS: JSON.stringify([idp({ certificates: [] })]) }, /certificate/],
    [
      'an IdP whose certificate is not X.509',
      {
        ...SAML,
        KEYVEND_SAML_IDPS: JSON.stringify([idp({ certificates: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'] })]),
      },
      /X\.509/,
    ],
    [
      'IdPs without the broker audience',
      { ...SAML, KEYVEND_SAML_AUDIENCE: '', KEYVEND_SAML_IDPS: JSON.stringify([idp()]) },
      /KEYVEND_SAML_AUDIENCE/,
    ],
    ['IdPs without the ACS URL', { ...SAML, KEYVEND_SAML_ACS_URL: '', KEYVEND_SAML_IDPS: JSON.stringify([idp()]) }, /KEYVEND_SAML_ACS_URL/],
    [
      'IdPs without the replay table',
      { ...SAML, KEYVEND_SAML_REPLAY_TABLE: '', KEYVEND_SAML_IDPS: JSON.stringify([idp()]) },
      /KEYVEND_SAML_REPLAY_TABLE/,
    ],
    [
      'a plain-http ACS URL outside local mode',
      { ...SAML, KEYVEND_SAML_ACS_URL: 'http://keyvend.example.test/v1/credentials', KEYVEND_SAML_IDPS: JSON.stringify([idp()]) },
      /https/,
    ],
    [
      'an audience that is neither ours nor AWS',
      { ...SAML, KEYVEND_SAML_IDPS: JSON.stringify([idp({ audiences: ['urn:someone:else'] })]) },
      /audiences/,
    ],
    ['a clock skew above 30 s', { ...SAML, KEYVEND_SAML_IDPS: JSON.stringify([idp({ clockSkewSeconds: 300 })]) }, /KEYVEND_SAML_IDPS/],
    [
      'an unknown setting (a typo must not pass silently)',
      { ...SAML, KEYVEND_SAML_IDPS: JSON.stringify([idp({ wantAssertionsSigned: false })]) },
      /KEYVEND_SAML_IDPS/,
    ],
    ['an IdP id that is also an OIDC issuer id', { ...SAML, KEYVEND_SAML_IDPS: JSON.stringify([idp({ id: 'dev' })]) }, /differ/],
    ['two IdPs with one entity id', { ...SAML, KEYVEND_SAML_IDPS: JSON.stringify([idp(), idp({ id: 'corp2' })]) }, /unique/],
    ['IdPs that are not JSON', { ...SAML, KEYVEND_SAML_IDPS: '[{' }, /JSON/],
    [
      'the former portalSignInUrl (IdP-initiated sign-in, now refused by the portal)',
      { ...SAML, KEYVEND_SAML_IDPS: JSON.stringify([idp({ portalSignInUrl: 'https://idp.example.test/sso' })]) },
      /portalSignInUrl .* set ssoUrl/,
    ],
    [
      'a plain-http ssoUrl outside local mode',
      { ...SAML, KEYVEND_SAML_IDPS: JSON.stringify([idp({ ssoUrl: 'http://idp.example.test/sso' })]) },
      /ssoUrl must be https/,
    ],
    [
      'a pinned RSA-1024 certificate',
      { ...SAML, KEYVEND_SAML_IDPS: JSON.stringify([idp({ certificates: [cert, weakCerts.rsa1024] })]) },
      /corp: a pinned certificate holds an RSA key of 1024 bits/,
    ],
    [
      'a pinned EC certificate on a curve under P-256',
      { ...SAML, KEYVEND_SAML_IDPS: JSON.stringify([idp({ certificates: [weakCerts.ecP224] })]) },
      /holds an EC key on secp224r1/,
    ],
    [
      'a pinned Ed25519 certificate (no XML signature algorithm the broker allows)',
      { ...SAML, KEYVEND_SAML_IDPS: JSON.stringify([idp({ certificates: [weakCerts.ed25519] })]) },
      /holds an ed25519 key/,
    ],
  ])('refuses to start with %s', (_name, env, message) => {
    expect(load(env)).toThrow(ConfigError);
    expect(load(env)).toThrow(message);
  });

  it.each([
    [
      'a subject attribute (uid, mail: renamed or reused at the IdP)',
      { subjectAttribute: 'mail' },
      /subjectAttribute "mail" may be changed/,
    ],
    [
      'an email NameID format',
      { nameIdFormats: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'] },
      /NameID format other than persistent/,
    ],
    ['the opt-in with a persistent NameID', { allowMutableSubject: true }, /remove it/],
  ])('refuses a mutable subject unless opted in: %s (issue 10, item 4)', (_name, overrides, message) => {
    expect(load({ ...SAML, KEYVEND_SAML_IDPS: JSON.stringify([idp(overrides)]) })).toThrow(message);
  });

  it('accepts a subject attribute with allowMutableSubject, with a warning', () => {
    // Act
    const config = loadConfig({
      ...BASE,
      ...SAML,
      KEYVEND_SAML_IDPS: JSON.stringify([idp({ subjectAttribute: 'uid', allowMutableSubject: true })]),
    });

    // Assess
    expect(config.saml.idps[0]).toMatchObject({ subjectAttribute: 'uid' });
    expect(config.saml.idps[0]).not.toHaveProperty('allowMutableSubject');
    expect(config.warnings).toEqual([expect.stringMatching(/^SAML IdP corp: the subject is subjectAttribute "uid"/)]);
  });

  it('accepts plain http to loopback in local mode, and refuses the AWS audience (the pass-through path is gone)', () => {
    // Act
    const { saml } = loadConfig({
      ...BASE,
      ...SAML,
      KEYVEND_LOCAL_MODE: 'true',
      KEYVEND_SAML_ACS_URL: 'http://127.0.0.1:3000/v1/credentials',
      KEYVEND_SAML_IDPS: JSON.stringify([idp({ audiences: ['urn:keyvend:prod'] })]),
    });
    const forAws = () =>
      loadConfig({
        ...BASE,
        ...SAML,
        KEYVEND_SAML_IDPS: JSON.stringify([idp({ audiences: ['urn:keyvend:prod', 'urn:amazon:webservices'] })]),
      });

    // Assess
    expect(saml.idps[0]?.audiences).toEqual(['urn:keyvend:prod']);
    expect(forAws).toThrow(/audiences may be only urn:keyvend:prod, the broker's own/);
  });

  it('accepts pinned keys of RSA-2048 and more, and EC P-256', () => {
    // Act
    const { saml } = loadConfig({ ...BASE, ...SAML, KEYVEND_SAML_IDPS: JSON.stringify([idp({ certificates: [cert, p256] })]) });

    // Assess
    expect(saml.idps[0]?.certificates).toHaveLength(2);
  });
});
