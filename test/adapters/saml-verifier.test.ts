import { boundSamlVerifier } from '../support/bound-saml-verifier.ts';
import { describe, expect, it } from 'vitest';
import type { SamlIdpSettings } from '../../src/adapters/saml/node-saml-verifier.ts';
import { InvalidSamlResponseError, UpstreamUnavailableError } from '../../src/domain/errors.ts';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import { Secret } from '../../src/domain/secret.ts';
import type { ReplayCache } from '../../src/ports/index.ts';
import { generateSigningCert, samlifyIdp } from '../../infra/local/saml-idp.ts';

const ENTITY_ID = 'https://idp.example.test/saml';
const ACS = 'https://broker.example.test/v1/credentials';
const AUDIENCE = 'urn:keyvend:test';
const cert = generateSigningCert('verifier-test-idp');
const idp = samlifyIdp({ entityId: ENTITY_ID, cert, acsUrl: ACS, audience: AUDIENCE, defaultNameId: 'alice-1', defaultAttributes: { groups: ['engineers'], dept: ['research'] } });

function memoryReplayCache(): ReplayCache & { keys: Map<string, Date> } {
  const keys = new Map<string, Date>();
  return { keys, claimOnce: async (key, expiresAt) => !keys.has(key) && Boolean(keys.set(key, expiresAt)) };
}

function verifier(overrides: Partial<SamlIdpSettings> = {}, replayCache: ReplayCache = memoryReplayCache()) {
  return boundSamlVerifier({
    idps: [
      {
        id: 'corp',
        entityId: ENTITY_ID,
        certificates: [cert.certPem],
        audiences: [AUDIENCE],
        nameIdFormats: ['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
        groupsAttribute: 'groups',
        tagAttributes: { department: 'dept' },
        requireSignedResponse: false,
        maxAssertionLifetimeSeconds: 3600,
        clockSkewSeconds: 30,
        ...overrides,
      },
    ],
    acsUrl: ACS,
    replayCache,
  });
}

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (error instanceof InvalidSamlResponseError) return error.reason;
    throw error;
  }
}

describe('NodeSamlVerifier', () => {
  it('builds the same kind of principal as the OIDC verifier, and keeps the response as a Secret', async () => {
    // Prepare
    const replayCache = memoryReplayCache();
    const response = await idp.response({ assertionId: '_assertion-1' });

    // Act
    const result = await verifier({}, replayCache).verifySamlResponse(new Secret(response));

    // Assess
    expect(result.principal).toMatchObject({
      idpType: 'saml',
      issuerId: 'corp',
      issuer: ENTITY_ID,
      subject: 'alice-1',
      userKey: deriveUserKey(ENTITY_ID, 'alice-1'),
      groups: ['engineers'],
      attributes: { department: 'research' },
      auth: { tokenId: '_assertion-1' },
    });
    expect(JSON.stringify(result)).not.toContain(response.slice(0, 40));
    expect([...replayCache.keys.keys()]).toEqual(['saml#corp#_assertion-1']);
    expect(replayCache.keys.get('saml#corp#_assertion-1')!.getTime()).toBeGreaterThan(Date.now() + 250_000);
  });

  it('refuses an assertion issued for AWS itself (urn:amazon:webservices): the pass-through path is gone', async () => {
    // Prepare
    const forAws = await idp.response({
      audience: 'urn:amazon:webservices',
      destination: 'https://signin.aws.amazon.com/saml',
      recipient: 'https://signin.aws.amazon.com/saml',
    });

    // Act
    const reason = await reasonOf(verifier().verifySamlResponse(new Secret(forAws)));

    // Assess
    expect(reason).toBe('saml_untrusted_audience');
  });

  it('fails closed with 503 when the replay cache cannot be written', async () => {
    // Prepare
    const broken: ReplayCache = { claimOnce: async () => Promise.reject(new Error('ResourceNotFoundException')) };

    // Act
    const attempt = verifier({}, broken).verifySamlResponse(new Secret(await idp.response()));

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(UpstreamUnavailableError);
    await expect(attempt).rejects.toMatchObject({ httpStatus: 503, reason: 'saml_replay_cache_unavailable' });
  });

  it('requires a signed response as well when the IdP is configured so', async () => {
    // Prepare
    const assertionOnly = () => idp.response({ signResponse: false, signAssertion: true });

    // Act
    const lenient = await reasonOf(verifier().verifySamlResponse(new Secret(await assertionOnly())));
    const strict = await reasonOf(verifier({ requireSignedResponse: true }).verifySamlResponse(new Secret(await assertionOnly())));

    // Assess
    expect(lenient).toBe('accepted');
    expect(strict).toBe('saml_bad_signature');
  });

  it('allows at most the configured clock skew', async () => {
    // Prepare
    const at = (secondsAgo: number) =>
      idp.response({ issueInstant: new Date(Date.now() - 120_000), notOnOrAfter: new Date(Date.now() - secondsAgo * 1000) });

    // Act
    const withinSkew = await reasonOf(verifier().verifySamlResponse(new Secret(await at(15))));
    const beyondSkew = await reasonOf(verifier().verifySamlResponse(new Secret(await at(45))));

    // Assess
    expect(withinSkew).toBe('accepted');
    expect(beyondSkew).toBe('saml_expired');
  });

  it('refuses assertions that live longer than the configured maximum', async () => {
    // Act
    const reason = await reasonOf(
      verifier({ maxAssertionLifetimeSeconds: 600 }).verifySamlResponse(new Secret(await idp.response({ notOnOrAfter: new Date(Date.now() + 3_600_000) }))),
    );

    // Assess
    expect(reason).toBe('saml_lifetime_too_long');
  });

  it('reads the subject from an attribute when configured, with the same grammar', async () => {
    // Act
    const ok = await verifier({ subjectAttribute: 'uid' }).verifySamlResponse(
      new Secret(await idp.response({ nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient', attributes: { uid: ['carol'], groups: ['engineers'] } })),
    );
    const bad = await reasonOf(
      verifier({ subjectAttribute: 'uid' }).verifySamlResponse(new Secret(await idp.response({ attributes: { uid: ['carol', 'mallory'] } }))),
    );

    // Assess
    expect(ok.principal.subject).toBe('carol');
    expect(bad).toBe('saml_subject_invalid');
  });

  it('accepts base64 wrapped at 76 columns (as Shibboleth posts it), and nothing else outside the alphabet', async () => {
    // Prepare
    const wrapped = (await idp.response()).replace(/(.{76})/g, '$1\r\n');
    const spaced = (await idp.response()).replace(/(.{76})/g, '$1 ');

    // Act
    const accepted = await reasonOf(verifier().verifySamlResponse(new Secret(wrapped)));
    const refused = await reasonOf(verifier().verifySamlResponse(new Secret(spaced)));

    // Assess
    expect(accepted).toBe('accepted');
    expect(refused).toBe('saml_not_base64');
  });

  it('refuses an Assertion in a made-up namespace next to the signed one', async () => {
    // Prepare
    const xml = Buffer.from(await idp.response(), 'base64').toString('utf8');
    const evil = xml.replace('</samlp:Response>', '<x:Assertion xmlns:x="urn:evil"><x:Subject>admin</x:Subject></x:Assertion></samlp:Response>');

    // Act
    const reason = await reasonOf(verifier().verifySamlResponse(new Secret(Buffer.from(evil).toString('base64'))));

    // Assess
    expect(reason).toBe('saml_assertion_count');
  });

  it('ignores the content of attributes it does not use, but refuses a used one that is not plain text', async () => {
    // Prepare
    const targetedId = '<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">abc</saml:NameID>';

    // Act
    const unused = await reasonOf(verifier().verifySamlResponse(new Secret(await idp.response({ attributes: { groups: ['engineers'], eduPersonTargetedID: [targetedId] } }))));
    const used = await reasonOf(verifier().verifySamlResponse(new Secret(await idp.response({ attributes: { groups: [targetedId] } }))));

    // Assess
    expect(unused).toBe('accepted');
    expect(used).toBe('saml_attribute_invalid');
  });
});
