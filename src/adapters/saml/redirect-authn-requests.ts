import { deflateRawSync } from 'node:zlib';
import type { SamlAuthnRequests } from '../../ports/index.ts';

const HTTP_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

/** One IdP the portal can send an AuthnRequest to. */
export interface SamlSsoEndpoint {
  readonly idpId: string;
  /** The IdP's SingleSignOnService URL for the HTTP-Redirect binding (configuration only). */
  readonly ssoUrl: string;
  /** A NameIDPolicy Format to ask for; none when the subject is read from an attribute. */
  readonly nameIdFormat: string | undefined;
}

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/**
 * AuthnRequests for the portal's SP-initiated SAML sign-in, HTTP-Redirect binding (SAML Bindings §3.4): the XML,
 * raw-deflated and base64-encoded, in the `SAMLRequest` parameter of the IdP's SSO URL. Unsigned: the request
 * carries no secret and grants nothing; what it adds is an id the answer must repeat, bound to the browser by a
 * signed cookie. The XML is five fixed elements and attributes whose values come from configuration and our own
 * random id, all escaped, so it is written here rather than with node-saml's builder, whose xmlbuilder the
 * bundles stub out (build/esbuild-plugins.cjs) and whose request cache Keyvend does not use.
 */
export class RedirectSamlAuthnRequests implements SamlAuthnRequests {
  readonly #endpoints: ReadonlyMap<string, SamlSsoEndpoint>;
  readonly #spEntityId: string;
  readonly #acsUrl: string;

  constructor(options: { endpoints: readonly SamlSsoEndpoint[]; spEntityId: string; acsUrl: string }) {
    this.#endpoints = new Map(options.endpoints.map((endpoint) => [endpoint.idpId, endpoint]));
    this.#spEntityId = options.spEntityId;
    this.#acsUrl = options.acsUrl;
  }

  redirectUrl(idpId: string, requestId: string, issuedAt: Date): string | undefined {
    const endpoint = this.#endpoints.get(idpId);
    if (endpoint === undefined) return undefined;
    const policy =
      endpoint.nameIdFormat === undefined ? '' : `<samlp:NameIDPolicy Format="${escapeXml(endpoint.nameIdFormat)}" AllowCreate="true"/>`;
    const xml =
      `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
      ` ID="${escapeXml(requestId)}" Version="2.0" IssueInstant="${issuedAt.toISOString()}" Destination="${escapeXml(endpoint.ssoUrl)}"` +
      ` AssertionConsumerServiceURL="${escapeXml(this.#acsUrl)}" ProtocolBinding="${HTTP_POST}">` +
      `<saml:Issuer>${escapeXml(this.#spEntityId)}</saml:Issuer>${policy}</samlp:AuthnRequest>`;
    const url = new URL(endpoint.ssoUrl);
    url.searchParams.set('SAMLRequest', deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64'));
    return url.toString();
  }
}
