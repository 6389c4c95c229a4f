import { type BoundSamlVerifier, boundSamlVerifier } from '../support/bound-saml-verifier.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SamlIdpSettings } from '../../src/domain/identity-providers.ts';
import { signingKeyProblem } from '../../src/domain/saml-key-policy.ts';
import { InvalidSamlResponseError } from '../../src/domain/errors.ts';
import { Secret } from '../../src/domain/secret.ts';
import type { SamlSolicitation } from '../../src/ports/index.ts';
import { FakeReplayCache } from '../unit/fakes.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/public');
const idp = (overrides: Partial<SamlIdpSettings>): SamlIdpSettings => ({
  id: 'corpus',
  entityId: '',
  certificates: [],
  audiences: [],
  nameIdFormats: [],
  tagAttributes: {},
  requireSignedResponse: false,
  maxAssertionLifetimeSeconds: 3600,
  clockSkewSeconds: 30,
  ...overrides,
});

async function outcome(verifier: BoundSamlVerifier, file: string, solicitation?: SamlSolicitation): Promise<string> {
  const base64 = Buffer.from(readFileSync(file)).toString('base64');
  try {
    const result = await verifier.verifySamlResponse(new Secret(base64), solicitation);
    return `accepted:${result.principal.subject}`;
  } catch (error) {
    if (error instanceof InvalidSamlResponseError) return error.reason;
    throw error;
  }
}

afterEach(() => vi.useRealTimers());

/** The identifier grammar is the last check before replay: after signature, Issuer, Destination, Recipient and times. */
const PASSED_EVERY_SIGNATURE_CHECK = 'saml_subject_invalid';

describe('node-saml signature corpus (S-05)', () => {
  const dir = join(FIXTURES, 'saml-signatures');
  const verifier = (conformanceProfile: boolean) =>
    boundSamlVerifier({
      idps: [
        idp({
          entityId: 'https://evil-corp.com',
          certificates: [readFileSync(join(dir, 'cert.pem'), 'utf8')],
          audiences: ['https://evil-corp.madness.com'],
          nameIdFormats: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
        }),
      ],
      acsUrl: 'https://evil-corp.madness.com/sso/callback',
      replayCache: new FakeReplayCache(),
      conformanceProfile,
    });
  const frozen = () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2020-09-25T16:59:00Z'));
  };
  const valid = readdirSync(join(dir, 'valid')).filter((f) => !f.includes('encrypted'));

  it.each(readdirSync(join(dir, 'invalid')))('the conformance profile rejects invalid/%s before the identity is read', async (file) => {
    // Prepare
    frozen();

    // Act
    const result = await outcome(verifier(true), join(dir, 'invalid', file));

    // Assess
    expect(result).toMatch(/^saml_/);
    expect(result).not.toBe(PASSED_EVERY_SIGNATURE_CHECK);
  });

  it.each(valid)('the conformance profile (frozen clock, SHA-1) verifies valid/%s up to the identifier grammar', async (file) => {
    // Prepare
    frozen();

    // Act
    const result = await outcome(verifier(true), join(dir, 'valid', file));

    // Assess: every signature and binding check passed; the NameID "vincent.vega@evil-corp.com\n   " is
    // then refused by the grammar (S-12: reject, never trim), which is the only thing between it and a principal.
    expect(result).toBe(PASSED_EVERY_SIGNATURE_CHECK);
  });

  it.each(valid)('the production profile rejects valid/%s (RSA-SHA1, Advice assertions)', async (file) => {
    // Prepare
    frozen();

    // Act
    const result = await outcome(verifier(false), join(dir, 'valid', file));

    // Assess
    expect(result).toMatch(/^saml_(weak_signature_algorithm|assertion_count)$/);
  });

  it('leaves out the encrypted-assertion file, which needs a decryption key: refused as encrypted', async () => {
    frozen();
    expect(await outcome(verifier(true), join(dir, 'valid/response.root-signed.assertion-unsigned-encrypted.xml'))).toBe(
      'saml_encrypted_assertion',
    );
  });
});

describe('xml-crypto corpus (S-02, CVE-2025-29774/29775)', () => {
  const dir = join(FIXTURES, 'xml-crypto');
  const feide = () =>
    boundSamlVerifier({
      idps: [
        idp({
          entityId: 'https://openidp.feide.no',
          certificates: [readFileSync(join(dir, 'feide_public.pem'), 'utf8')],
          audiences: ['passport-saml'],
          nameIdFormats: ['urn:oasis:names:tc:SAML:2.0:nameid-format:transient'],
        }),
      ],
      acsUrl: 'http://localhost:3000/login/callback',
      replayCache: new FakeReplayCache(),
      conformanceProfile: true,
    });
  const onelogin = () =>
    boundSamlVerifier({
      idps: [
        idp({
          entityId: 'https://app.onelogin.com/saml/metadata/164679',
          certificates: [readFileSync(join(dir, 'saml_external_ns.pem'), 'utf8')],
          audiences: ['ForNodeJS'],
          nameIdFormats: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
          maxAssertionLifetimeSeconds: 86_400,
        }),
      ],
      acsUrl: 'ForNodeJS',
      replayCache: new FakeReplayCache(),
      conformanceProfile: true,
    });

  /** The AuthnRequest passport-saml sent for these files: the feide responses answer it (InResponseTo). */
  const answeringFeideRequest: SamlSolicitation = { kind: 'requested', request: { id: '_d766d16611ac0d14121b', idpId: 'corpus' } };

  it('accepts valid_saml.xml in the conformance profile, as the answer to its AuthnRequest (clock frozen at its validity)', async () => {
    // Prepare
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2012-07-03T11:35:00Z'));

    // Act
    const result = await outcome(feide(), join(dir, 'valid_saml.xml'), answeringFeideRequest);

    // Assess
    expect(result).toBe('accepted:_6c5dcaa3053321ff4d63785fbc3f67c59a129cde82');
  });

  it('refuses valid_saml_withcomments.xml: its Response signature does not verify, and a signature present must (issue 10, item 8 a)', async () => {
    // Prepare: the file is valid_saml.xml with the Response's SignedInfo changed to exc-c14n#WithComments after
    // signing, so that signature fails (xml-crypto says "the signature value … is incorrect") while the assertion's
    // still verifies. It used to be accepted here, because node-saml ignores a failing Response signature unless it
    // is required; xml-crypto's own test only uses it for its canonicalisation.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2012-07-03T11:35:00Z'));

    // Act
    const result = await outcome(feide(), join(dir, 'valid_saml_withcomments.xml'), answeringFeideRequest);

    // Assess
    expect(result).toBe('saml_bad_signature');
  });

  it.each(['valid_saml.xml'])(
    "refuses %s where no AuthnRequest was sent (the API): it answers passport-saml's request, so it was made for another consumer",
    async (file) => {
      // Prepare
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2012-07-03T11:35:00Z'));

      // Act
      const result = await outcome(feide(), join(dir, file));

      // Assess: item 8 (c) of issue 10; it used to be accepted here
      expect(result).toBe('saml_unsolicited_in_response_to');
    },
  );

  it.each([
    ['saml_multiple_signed_info_nodes.xml', onelogin, '2013-06-10T06:25:00Z'],
    ['saml_wrapped_signed_info_node.xml', onelogin, '2013-06-10T06:25:00Z'],
    ['invalid_saml_no_signed_info.xml', feide, '2012-07-03T11:35:00Z'],
    ['valid_saml_signature_wrapping.xml', feide, '2012-07-03T11:35:00Z'],
    ['valid_saml_with_digest_comment.xml', feide, '2012-07-03T11:35:00Z'],
  ] as const)('rejects %s', async (file, verifier, now) => {
    // Prepare
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date(now));

    // Act
    const result = await outcome(verifier(), join(dir, file));

    // Assess
    expect(result).toMatch(/^saml_/);
  });

  it('accepts nothing from the corpus in the production profile (SHA-1, and the feide key is RSA-1024)', async () => {
    // Prepare
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2012-07-03T11:35:00Z'));
    const production = boundSamlVerifier({
      idps: [
        idp({
          entityId: 'https://openidp.feide.no',
          certificates: [readFileSync(join(dir, 'feide_public.pem'), 'utf8')],
          audiences: ['passport-saml'],
          nameIdFormats: ['urn:oasis:names:tc:SAML:2.0:nameid-format:transient'],
        }),
      ],
      acsUrl: 'http://localhost:3000/login/callback',
      replayCache: new FakeReplayCache(),
    });

    // Act
    const result = await outcome(production, join(dir, 'valid_saml.xml'));

    // Assess: refused at the algorithm guard, before the key; the key would be refused too (and is at start-up)
    expect(result).toBe('saml_weak_signature_algorithm');
    expect(signingKeyProblem(readFileSync(join(dir, 'feide_public.pem'), 'utf8'))).toBe(
      'holds an RSA key of 1024 bits (at least 2048 are required)',
    );
  });
});
