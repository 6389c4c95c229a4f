import { DOMParser } from '@xmldom/xmldom';
import { inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { RedirectSamlAuthnRequests } from '../../src/adapters/saml/redirect-authn-requests.ts';

const ACS = 'https://keyvend.example.test/portal/saml/acs';

describe('RedirectSamlAuthnRequests', () => {
  const requests = new RedirectSamlAuthnRequests({
    spEntityId: 'urn:keyvend:test',
    acsUrl: ACS,
    endpoints: [
      {
        idpId: 'corp',
        ssoUrl: 'https://idp.example.test/sso?tenant=a&b="x"',
        nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
      },
      { idpId: 'attr', ssoUrl: 'https://other.example.test/sso', nameIdFormat: undefined },
    ],
  });

  it("sends an AuthnRequest with the given id to the IdP's SSO URL, HTTP-Redirect binding (deflated, base64)", () => {
    // Act
    const url = new URL(requests.redirectUrl('corp', '_0123456789abcdef0123456789abcdef01234567', new Date('2030-01-01T00:00:00Z')) ?? '');

    // Assess: the IdP's own query parameters kept, the request readable as XML with escaped values
    expect(url.origin + url.pathname).toBe('https://idp.example.test/sso');
    expect(url.searchParams.get('tenant')).toBe('a');
    const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
    const root = new DOMParser().parseFromString(xml, 'text/xml').documentElement;
    expect(root?.localName).toBe('AuthnRequest');
    expect(root?.getAttribute('ID')).toBe('_0123456789abcdef0123456789abcdef01234567');
    expect(root?.getAttribute('IssueInstant')).toBe('2030-01-01T00:00:00.000Z');
    expect(root?.getAttribute('Destination')).toBe('https://idp.example.test/sso?tenant=a&b="x"');
    expect(root?.getAttribute('AssertionConsumerServiceURL')).toBe(ACS);
    expect(root?.getAttribute('ProtocolBinding')).toBe('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    expect(root?.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Issuer')[0]?.textContent).toBe('urn:keyvend:test');
    expect(root?.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:protocol', 'NameIDPolicy')[0]?.getAttribute('Format')).toBe(
      'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    );
  });

  it('asks for no NameID format when the subject comes from an attribute, and knows no other IdP', () => {
    // Act
    const url = new URL(requests.redirectUrl('attr', '_0123456789abcdef0123456789abcdef01234567', new Date()) ?? '');
    const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');

    // Assess
    expect(xml).not.toContain('NameIDPolicy');
    expect(requests.redirectUrl('unknown', '_x', new Date())).toBeUndefined();
  });
});
