import { DOMParser } from '@xmldom/xmldom';
import { InvalidSamlResponseError } from '../../domain/errors.ts';

/** SAML responses from real IdPs are a few KiB; anything near this is an attack or a misconfiguration. */
export const MAX_SAML_XML_BYTES = 64 * 1024;
export const MAX_SAML_BASE64_CHARS = Math.ceil(MAX_SAML_XML_BYTES / 3) * 4;

export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
} as const;

const STRONG_SIGNATURES = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
]);
const STRONG_DIGESTS = new Set(['http://www.w3.org/2001/04/xmlenc#sha256', 'http://www.w3.org/2001/04/xmlenc#sha512']);
const SHA1_SIGNATURE = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const SHA1_DIGEST = 'http://www.w3.org/2000/09/xmldsig#sha1';
/**
 * Transforms and canonicalisations that SAML IdPs use. The "with comments" forms are harmless here
 * because a document with a comment never gets this far.
 */
const ALLOWED_TRANSFORMS = new Set([
  'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
  'http://www.w3.org/2001/10/xml-exc-c14n#',
  'http://www.w3.org/2001/10/xml-exc-c14n#WithComments',
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315',
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments',
]);

const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;
const XML_DECLARATION = /^<\?xml version=(["'])1\.0\1(?: encoding=(["'])UTF-8\2)?(?: standalone=(["'])(?:yes|no)\3)?\s*\?>/i;

export interface GuardOptions {
  /** Conformance profile only: the public corpus is signed with RSA-SHA1 in 2020. */
  readonly allowSha1: boolean;
  /** Conformance profile only: assertions nested in an assertion's <Advice>, as in the node-saml corpus. */
  readonly allowAdviceAssertions: boolean;
}

export interface GuardedResponse {
  readonly xml: string;
  readonly document: Document;
  readonly root: Element;
  readonly assertion: Element;
  /** The Response carries its own ds:Signature (which must then verify, whatever the IdP's settings). */
  readonly responseSigned: boolean;
  /** The Assertion carries its own ds:Signature. */
  readonly assertionSigned: boolean;
}

/**
 * Everything checked before node-saml sees the bytes (security catalog §2.0 step 1): size, strict base64,
 * UTF-8, no DOCTYPE, entity, CDATA, comment or processing instruction anywhere, a well-formed document
 * whose root is a protocol Response with exactly one Assertion child and no encrypted one, and only
 * SHA-256-or-stronger signature and digest algorithms. Rejects, never cleans.
 */
export function guardSamlResponse(posted: string, options: GuardOptions): GuardedResponse {
  if (posted.length === 0) throw new InvalidSamlResponseError('saml_missing');
  if (posted.length > MAX_SAML_BASE64_CHARS * 1.05) throw new InvalidSamlResponseError('saml_too_large');
  // Some IdPs (Shibboleth, AD FS) wrap the base64 at 64 or 76 columns; line breaks are the only slack allowed.
  const base64 = posted.replace(/\r?\n/g, '');
  if (base64.length > MAX_SAML_BASE64_CHARS) throw new InvalidSamlResponseError('saml_too_large');
  if (!BASE64_PATTERN.test(base64) || base64.length % 4 !== 0) throw new InvalidSamlResponseError('saml_not_base64');
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.toString('base64') !== base64) throw new InvalidSamlResponseError('saml_not_base64');
  if (bytes.length > MAX_SAML_XML_BYTES) throw new InvalidSamlResponseError('saml_too_large');
  let xml: string;
  try {
    xml = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new InvalidSamlResponseError('saml_not_utf8');
  }
  if (xml.charCodeAt(0) === 0xfeff) throw new InvalidSamlResponseError('saml_bom');
  const body = xml.replace(XML_DECLARATION, '');
  if (body.includes('<?')) throw new InvalidSamlResponseError('saml_processing_instruction');
  if (body.includes('<!--')) throw new InvalidSamlResponseError('saml_comment');
  if (/<!DOCTYPE/i.test(body) || /<!ENTITY/i.test(body)) throw new InvalidSamlResponseError('saml_doctype');
  if (body.includes('<!')) throw new InvalidSamlResponseError('saml_markup_declaration');
  if (/&(?!(?:amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});)/.test(body))
    throw new InvalidSamlResponseError('saml_entity_reference');

  const document = parseStrict(xml);
  const root = document.documentElement;
  if (root === null || root.namespaceURI !== NS.protocol || root.localName !== 'Response') {
    throw new InvalidSamlResponseError('saml_not_a_response');
  }
  if (document.getElementsByTagNameNS('*', 'EncryptedAssertion').length > 0) {
    throw new InvalidSamlResponseError('saml_encrypted_assertion');
  }
  const direct = childElements(root, NS.assertion, 'Assertion');
  if (direct.length !== 1) throw new InvalidSamlResponseError('saml_assertion_count');
  const assertion = direct[0] as Element;
  // Any namespace: node-saml finds assertions by local name, so an "Assertion" in a made-up namespace counts too.
  const all = Array.from(document.getElementsByTagNameNS('*', 'Assertion'));
  const others = all.filter((element) => element !== assertion);
  if (others.length > 0 && !(options.allowAdviceAssertions && others.every((element) => isInsideAdvice(element, assertion)))) {
    throw new InvalidSamlResponseError('saml_assertion_count');
  }
  checkAlgorithms(document, options.allowSha1);
  const signatureHomes = new Set<Node>([root, assertion, ...(options.allowAdviceAssertions ? others : [])]);
  // A signature anywhere else signs nothing node-saml verifies (it looks only at these two), so it is refused
  // rather than left unchecked: every signature in an accepted response has been verified.
  for (const signature of Array.from(document.getElementsByTagNameNS(NS.dsig, 'Signature'))) {
    if (signature.parentNode === null || !signatureHomes.has(signature.parentNode))
      throw new InvalidSamlResponseError('saml_signature_misplaced');
  }
  const responseSigned = childElements(root, NS.dsig, 'Signature').length > 0;
  const assertionSigned = childElements(assertion, NS.dsig, 'Signature').length > 0;
  return { xml, document, root, assertion, responseSigned, assertionSigned };
}

function parseStrict(xml: string): Document {
  const problems: string[] = [];
  const record = (message: string) => problems.push(message);
  let document: Document;
  try {
    document = new DOMParser({ errorHandler: { warning: record, error: record, fatalError: record } }).parseFromString(xml, 'text/xml');
  } catch (error) {
    throw new InvalidSamlResponseError('saml_malformed_xml', { cause: error });
  }
  if (problems.length > 0) throw new InvalidSamlResponseError('saml_malformed_xml');
  return document;
}

function checkAlgorithms(document: Document, allowSha1: boolean): void {
  const signatures = Array.from(document.getElementsByTagNameNS(NS.dsig, 'Signature'));
  for (const signature of signatures) {
    const methods = Array.from(signature.getElementsByTagNameNS(NS.dsig, 'SignatureMethod'));
    if (methods.length !== 1) throw new InvalidSamlResponseError('saml_signature_malformed');
    for (const method of methods) {
      const algorithm = method.getAttribute('Algorithm') ?? '';
      if (!STRONG_SIGNATURES.has(algorithm) && !(allowSha1 && algorithm === SHA1_SIGNATURE)) {
        throw new InvalidSamlResponseError('saml_weak_signature_algorithm');
      }
    }
  }
  for (const digest of Array.from(document.getElementsByTagNameNS(NS.dsig, 'DigestMethod'))) {
    const algorithm = digest.getAttribute('Algorithm') ?? '';
    if (!STRONG_DIGESTS.has(algorithm) && !(allowSha1 && algorithm === SHA1_DIGEST)) {
      throw new InvalidSamlResponseError('saml_weak_digest_algorithm');
    }
  }
  const transforms = [
    ...Array.from(document.getElementsByTagNameNS(NS.dsig, 'Transform')),
    ...Array.from(document.getElementsByTagNameNS(NS.dsig, 'CanonicalizationMethod')),
  ];
  for (const transform of transforms) {
    if (!ALLOWED_TRANSFORMS.has(transform.getAttribute('Algorithm') ?? '')) throw new InvalidSamlResponseError('saml_transform_refused');
  }
}

export function childElements(parent: Element, namespace: string, localName: string): Element[] {
  const found: Element[] = [];
  for (let node = parent.firstChild; node !== null; node = node.nextSibling) {
    if (node.nodeType === 1) {
      const element = node as Element;
      if (element.namespaceURI === namespace && element.localName === localName) found.push(element);
    }
  }
  return found;
}

function isInsideAdvice(element: Element, assertion: Element): boolean {
  let sawAdvice = false;
  for (let node: Node | null = element.parentNode; node !== null; node = node.parentNode) {
    if (node === assertion) return sawAdvice;
    const parent = node as Element;
    if (parent.namespaceURI === NS.assertion && parent.localName === 'Advice') sawAdvice = true;
  }
  return false;
}
