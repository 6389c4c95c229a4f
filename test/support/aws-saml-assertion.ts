import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignedXml } from 'xml-crypto';
import { ROOT } from '../../infra/local/stack.ts';

/** A test-only IdP key pair (self-signed, generated for these tests; never trusted outside them). */
export const TEST_SAML_IDP = {
  privateKey: readFileSync(join(ROOT, 'test/fixtures/saml-idp/key.pem'), 'utf8'),
  certificate: readFileSync(join(ROOT, 'test/fixtures/saml-idp/cert.pem'), 'utf8'),
  entityId: 'https://idp.keyvend.test/saml',
};

export interface AwsAssertionOptions {
  readonly roles: readonly string[];
  readonly roleSessionName?: string;
  readonly sourceIdentity?: string;
  readonly principalTags?: Readonly<Record<string, string>>;
  readonly transitiveTagKeys?: readonly string[];
  readonly nameId?: string;
  readonly audience?: string;
  readonly recipient?: string;
  readonly notOnOrAfter?: Date;
  readonly privateKey?: string;
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function attribute(name: string, values: readonly string[]): string {
  return `<saml:Attribute Name="${escapeXml(name)}">${values
    .map(
      (v) =>
        `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${escapeXml(v)}</saml:AttributeValue>`,
    )
    .join('')}</saml:Attribute>`;
}

/**
 * A SAML 2.0 Response as an IdP issues it for AWS (audience `urn:amazon:webservices`, Recipient
 * `https://signin.aws.amazon.com/saml`, the Role attribute), with the assertion signed by xml-crypto using
 * RSA-SHA256 and exclusive canonicalisation. Returns the base64 SAMLResponse.
 */
export function awsSamlResponse(options: AwsAssertionOptions): string {
  const now = new Date();
  const notOnOrAfter = (options.notOnOrAfter ?? new Date(now.getTime() + 5 * 60_000)).toISOString();
  const issueInstant = now.toISOString();
  const notBefore = new Date(now.getTime() - 60_000).toISOString();
  const recipient = options.recipient ?? 'https://signin.aws.amazon.com/saml';
  const assertionId = `_${randomUUID()}`;
  const attributes = [
    attribute('https://aws.amazon.com/SAML/Attributes/Role', options.roles),
    ...(options.roleSessionName === undefined
      ? []
      : [attribute('https://aws.amazon.com/SAML/Attributes/RoleSessionName', [options.roleSessionName])]),
    ...(options.sourceIdentity === undefined
      ? []
      : [attribute('https://aws.amazon.com/SAML/Attributes/SourceIdentity', [options.sourceIdentity])]),
    ...Object.entries(options.principalTags ?? {}).map(([k, v]) =>
      attribute(`https://aws.amazon.com/SAML/Attributes/PrincipalTag:${k}`, [v]),
    ),
    ...(options.transitiveTagKeys === undefined
      ? []
      : [attribute('https://aws.amazon.com/SAML/Attributes/TransitiveTagKeys', options.transitiveTagKeys)]),
  ].join('');
  const assertion =
    `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${assertionId}" Version="2.0" IssueInstant="${issueInstant}">` +
    `<saml:Issuer>${TEST_SAML_IDP.entityId}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">${escapeXml(options.nameId ?? 'alice-0001')}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${notOnOrAfter}" Recipient="${escapeXml(recipient)}"/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}"><saml:AudienceRestriction><saml:Audience>${escapeXml(options.audience ?? 'urn:amazon:webservices')}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${issueInstant}" SessionIndex="${assertionId}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` +
    `</saml:Assertion>`;
  const response =
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_${randomUUID()}" Version="2.0" IssueInstant="${issueInstant}" Destination="${escapeXml(recipient)}">` +
    `<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">${TEST_SAML_IDP.entityId}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    assertion +
    `</samlp:Response>`;

  const signer = new SignedXml({
    privateKey: options.privateKey ?? TEST_SAML_IDP.privateKey,
    publicCert: TEST_SAML_IDP.certificate,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  signer.addReference({
    xpath: `//*[local-name(.)='Assertion']`,
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
  });
  signer.computeSignature(response, {
    location: { reference: `//*[local-name(.)='Assertion']/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return Buffer.from(signer.getSignedXml(), 'utf8').toString('base64');
}
