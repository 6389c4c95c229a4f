import { boundSamlVerifier } from '../support/bound-saml-verifier.ts';
import { describe, expect, it } from 'vitest';
import type { SamlIdpSettings } from '../../src/domain/identity-providers.ts';
import { InvalidSamlResponseError, UpstreamUnavailableError } from '../../src/domain/errors.ts';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import { Secret } from '../../src/domain/secret.ts';
import type { ReplayCache } from '../../src/ports/index.ts';
import { generateSigningCert, samlifyIdp } from '../../infra/local/saml-idp.ts';
import { alterSignedResponse, resignResponseWith } from '../support/saml-attacks.ts';
import { FakeReplayCache } from '../unit/fakes.ts';

const ENTITY_ID = 'https://idp.example.test/saml';
const ACS = 'https://broker.example.test/v1/credentials';
const AUDIENCE = 'urn:keyvend:test';
const cert = generateSigningCert('verifier-test-idp');
const idp = samlifyIdp({
  entityId: ENTITY_ID,
  cert,
  acsUrl: ACS,
  audience: AUDIENCE,
  defaultNameId: 'alice-1',
  defaultAttributes: { groups: ['engineers'], dept: ['research'] },
});

function verifier(overrides: Partial<SamlIdpSettings> = {}, replayCache: ReplayCache = new FakeReplayCache()) {
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
    const replayCache = new FakeReplayCache();
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
    expect([...replayCache.claims.keys()]).toEqual(['saml#corp#_assertion-1']);
    expect(replayCache.claims.get('saml#corp#_assertion-1')!.getTime()).toBeGreaterThan(Date.now() + 250_000);
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
      verifier({ maxAssertionLifetimeSeconds: 600 }).verifySamlResponse(
        new Secret(await idp.response({ notOnOrAfter: new Date(Date.now() + 3_600_000) })),
      ),
    );

    // Assess
    expect(reason).toBe('saml_lifetime_too_long');
  });

  it('reads the subject from an attribute when configured, with the same grammar', async () => {
    // Act
    const ok = await verifier({ subjectAttribute: 'uid' }).verifySamlResponse(
      new Secret(
        await idp.response({
          nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
          attributes: { uid: ['carol'], groups: ['engineers'] },
        }),
      ),
    );
    const bad = await reasonOf(
      verifier({ subjectAttribute: 'uid' }).verifySamlResponse(
        new Secret(await idp.response({ attributes: { uid: ['carol', 'mallory'] } })),
      ),
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
    const evil = xml.replace(
      '</samlp:Response>',
      '<x:Assertion xmlns:x="urn:evil"><x:Subject>admin</x:Subject></x:Assertion></samlp:Response>',
    );

    // Act
    const reason = await reasonOf(verifier().verifySamlResponse(new Secret(Buffer.from(evil).toString('base64'))));

    // Assess
    expect(reason).toBe('saml_assertion_count');
  });

  it('ignores the content of attributes it does not use, but refuses a used one that is not plain text', async () => {
    // Prepare
    const targetedId = '<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">abc</saml:NameID>';

    // Act
    const unused = await reasonOf(
      verifier().verifySamlResponse(
        new Secret(await idp.response({ attributes: { groups: ['engineers'], eduPersonTargetedID: [targetedId] } })),
      ),
    );
    const used = await reasonOf(verifier().verifySamlResponse(new Secret(await idp.response({ attributes: { groups: [targetedId] } }))));

    // Assess
    expect(unused).toBe('accepted');
    expect(used).toBe('saml_attribute_invalid');
  });

  describe('signatures and keys (issue 10, item 8)', () => {
    const attacker = generateSigningCert('attacker');

    it.each([
      ['altered after the IdP signed it (both signed)', async () => alterSignedResponse(await idp.response())],
      [
        're-signed by a foreign key with its certificate in KeyInfo (assertion signed by the IdP)',
        async () => resignResponseWith(await idp.response({ signResponse: false }), attacker),
      ],
      ['its IdP signature replaced by a foreign one (both signed)', async () => resignResponseWith(await idp.response(), attacker)],
    ])("refuses a Response whose own signature does not verify, although the assertion's does: %s", async (_name, make) => {
      // Prepare
      const response = await make();

      // Act: whether the IdP is configured to sign responses or not, a signature that is present must verify
      const lenient = await reasonOf(verifier().verifySamlResponse(new Secret(response)));
      const strict = await reasonOf(verifier({ requireSignedResponse: true }).verifySamlResponse(new Secret(response)));

      // Assess
      expect(lenient).toBe('saml_bad_signature');
      expect(strict).toBe('saml_bad_signature');
    });

    it('still accepts a Response without a signature of its own when only the assertion must be signed', async () => {
      expect(await reasonOf(verifier().verifySamlResponse(new Secret(await idp.response({ signResponse: false }))))).toBe('accepted');
    });

    it('refuses a Signature anywhere but on the Response or the Assertion (one nobody would verify)', async () => {
      // Prepare: the IdP's Response signature moved into the Status
      const xml = Buffer.from(await idp.response(), 'base64').toString('utf8');
      const signature = /<ds:Signature[\s\S]*?<\/ds:Signature>/.exec(xml)?.[0] ?? '';
      const moved = xml
        .replace(signature, '')
        .replace('</samlp:Status>', `<samlp:StatusDetail>${signature}</samlp:StatusDetail></samlp:Status>`);

      // Act
      const reason = await reasonOf(verifier().verifySamlResponse(new Secret(Buffer.from(moved).toString('base64'))));

      // Assess
      expect(reason).toBe('saml_signature_misplaced');
    });

    it.each([
      ['RSA-1024', 'rsa:1024'],
      ['RSA-1536', 'rsa:1536'],
    ])('refuses every response of an IdP whose pinned certificate holds a %s key', async (_name, key) => {
      // Prepare: an IdP signing with a weak key, pinned as it is
      const weak = generateSigningCert('weak-idp', { newKey: ['-newkey', key] });
      const weakIdp = samlifyIdp({ entityId: ENTITY_ID, cert: weak, acsUrl: ACS, audience: AUDIENCE, defaultNameId: 'alice-1' });

      // Act
      const reason = await reasonOf(verifier({ certificates: [weak.certPem] }).verifySamlResponse(new Secret(await weakIdp.response())));

      // Assess
      expect(reason).toBe('saml_weak_key');
    });

    it.each([['on the Response and the confirmation', { inResponseTo: '_req-1' }]])(
      'refuses a response carrying InResponseTo where no AuthnRequest was ever sent (the API): %s',
      async (_name, options) => {
        // Act
        const reason = await reasonOf(verifier().verifySamlResponse(new Secret(await idp.response(options))));

        // Assess
        expect(reason).toBe('saml_unsolicited_in_response_to');
      },
    );

    it('refuses InResponseTo on the Response alone where no AuthnRequest was sent', async () => {
      // Prepare: InResponseTo added to an assertion-signed response's unsigned root
      const xml = Buffer.from(await idp.response({ signResponse: false }), 'base64').toString('utf8');
      const withId = xml.replace('<samlp:Response ', '<samlp:Response InResponseTo="_req-1" ');

      // Act
      const reason = await reasonOf(verifier().verifySamlResponse(new Secret(Buffer.from(withId).toString('base64'))));

      // Assess
      expect(reason).toBe('saml_unsolicited_in_response_to');
    });

    it('at an ACS that sent an AuthnRequest, accepts only the answer to the pending request of that IdP', async () => {
      // Prepare
      const pending = { kind: 'requested', request: { id: '_req-pending', idpId: 'corp' } } as const;

      // Act
      const answered = await reasonOf(
        verifier().verifySamlResponse(new Secret(await idp.response({ inResponseTo: '_req-pending' })), pending),
      );
      const unsolicited = await reasonOf(verifier().verifySamlResponse(new Secret(await idp.response()), pending));
      const other = await reasonOf(verifier().verifySamlResponse(new Secret(await idp.response({ inResponseTo: '_req-other' })), pending));
      const nonePending = await reasonOf(
        verifier().verifySamlResponse(new Secret(await idp.response({ inResponseTo: '_req-pending' })), {
          kind: 'requested',
          request: undefined,
        }),
      );
      const otherIdp = await reasonOf(
        verifier().verifySamlResponse(new Secret(await idp.response({ inResponseTo: '_req-pending' })), {
          kind: 'requested',
          request: { id: '_req-pending', idpId: 'another' },
        }),
      );

      // Assess
      expect(answered).toBe('accepted');
      expect(unsolicited).toBe('saml_unsolicited');
      expect(other).toBe('saml_in_response_to_mismatch');
      expect(nonePending).toBe('saml_no_pending_request');
      expect(otherIdp).toBe('saml_in_response_to_mismatch');
    });

    it('names the caller on a refused unsolicited response, whose assertion verified', async () => {
      // Act
      const attempt = verifier().verifySamlResponse(new Secret(await idp.response()), { kind: 'requested', request: undefined });

      // Assess
      await expect(attempt).rejects.toMatchObject({ reason: 'saml_unsolicited', principal: { subject: 'alice-1', issuerId: 'corp' } });
    });
  });
});
