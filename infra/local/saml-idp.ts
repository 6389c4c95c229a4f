import { execFileSync } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import samlify from 'samlify';
import { findDemoUserByUsername } from './dev-idp/demo-users.ts';

export interface SigningCert {
  readonly certPem: string;
  readonly keyPem: string;
}

/**
 * A fresh self-signed certificate from the openssl CLI, as an IdP operator would make one: RSA-2048 unless told
 * otherwise (tests make weaker ones, which the broker must refuse).
 */
export function generateSigningCert(commonName: string, options: { newKey?: readonly string[] } = {}): SigningCert {
  const dir = mkdtempSync(join(tmpdir(), 'keyvend-saml-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        ...(options.newKey ?? ['-newkey', 'rsa:2048']),
        '-nodes',
        '-sha256',
        '-days',
        '2',
        '-subj',
        `/CN=${commonName}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const SAML_NAMEID_PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
export const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';

export interface ResponseOptions {
  readonly issuer?: string;
  readonly responseIssuer?: string;
  readonly audience?: string;
  readonly destination?: string;
  readonly recipient?: string;
  readonly nameId?: string;
  readonly nameIdFormat?: string;
  /** Attribute name → values; values are inserted as given (already XML), so tests can inject markup. */
  readonly attributes?: Readonly<Record<string, readonly string[]>>;
  readonly issueInstant?: Date;
  readonly notBefore?: Date;
  readonly notOnOrAfter?: Date;
  readonly assertionId?: string;
  readonly signAssertion?: boolean;
  readonly signResponse?: boolean;
  readonly signatureAlgorithm?: string;
  readonly statusCode?: string;
  /** The AuthnRequest this answers (SP-initiated): set on the Response and on the bearer confirmation. */
  readonly inResponseTo?: string;
}

export interface SamlifyIdp {
  readonly entityId: string;
  readonly cert: SigningCert;
  /** A base64 SAMLResponse signed by samlify with this IdP's key. */
  response(options?: ResponseOptions): Promise<string>;
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * samlify 2.13.1 as an in-process IdP. The response is built from our own template (so a test can set any
 * field, including wrong ones), then samlify signs the assertion and/or the response with RSA-SHA256
 * (exclusive c14n), exactly as it does for a real SP.
 */
export function samlifyIdp(settings: {
  entityId: string;
  cert: SigningCert;
  acsUrl: string;
  audience: string;
  defaultNameId: string;
  defaultAttributes?: Readonly<Record<string, readonly string[]>>;
}): SamlifyIdp {
  return {
    entityId: settings.entityId,
    cert: settings.cert,
    async response(options: ResponseOptions = {}): Promise<string> {
      const now = options.issueInstant ?? new Date();
      const iso = (d: Date) => d.toISOString();
      const notBefore = options.notBefore ?? new Date(now.getTime() - 5_000);
      const notOnOrAfter = options.notOnOrAfter ?? new Date(now.getTime() + 300_000);
      const inResponseTo = options.inResponseTo === undefined ? '' : ` InResponseTo="${escapeXml(options.inResponseTo)}"`;
      const issuer = escapeXml(options.issuer ?? settings.entityId);
      const responseIssuer = escapeXml(options.responseIssuer ?? options.issuer ?? settings.entityId);
      const attributes = Object.entries(options.attributes ?? settings.defaultAttributes ?? {})
        .map(
          ([name, values]) =>
            `<saml:Attribute Name="${escapeXml(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">${values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${v}</saml:AttributeValue>`).join('')}</saml:Attribute>`,
        )
        .join('');
      const xml =
        `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r${randomUUID()}" Version="2.0" IssueInstant="${iso(now)}" Destination="${escapeXml(options.destination ?? settings.acsUrl)}"${inResponseTo}>` +
        `<saml:Issuer>${responseIssuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="${options.statusCode ?? 'urn:oasis:names:tc:SAML:2.0:status:Success'}"/></samlp:Status>` +
        `<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="${options.assertionId ?? `_a${randomUUID()}`}" Version="2.0" IssueInstant="${iso(now)}">` +
        `<saml:Issuer>${issuer}</saml:Issuer>` +
        `<saml:Subject><saml:NameID Format="${options.nameIdFormat ?? SAML_NAMEID_PERSISTENT}">${options.nameId ?? settings.defaultNameId}</saml:NameID>` +
        `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${iso(notOnOrAfter)}" Recipient="${escapeXml(options.recipient ?? settings.acsUrl)}"${inResponseTo}/></saml:SubjectConfirmation></saml:Subject>` +
        `<saml:Conditions NotBefore="${iso(notBefore)}" NotOnOrAfter="${iso(notOnOrAfter)}"><saml:AudienceRestriction><saml:Audience>${escapeXml(options.audience ?? settings.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
        `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="_s${randomUUID()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
        (attributes === '' ? '' : `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>`) +
        `</saml:Assertion></samlp:Response>`;

      const idp = samlify.IdentityProvider({
        entityID: settings.entityId,
        privateKey: settings.cert.keyPem,
        signingCert: settings.cert.certPem,
        requestSignatureAlgorithm: options.signatureAlgorithm ?? RSA_SHA256,
        isAssertionEncrypted: false,
        singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: `${settings.entityId}/sso` }],
        singleLogoutService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: `${settings.entityId}/slo` }],
      });
      const sp = samlify.ServiceProvider({
        entityID: settings.audience,
        wantAssertionsSigned: options.signAssertion ?? true,
        wantMessageSigned: options.signResponse ?? true,
        assertionConsumerService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: settings.acsUrl }],
      });
      const { context } = await idp.createLoginResponse(sp, { extract: { request: { id: '' } } }, 'post', { email: '' }, () => ({
        id: '',
        context: xml,
      }));
      return context;
    },
  };
}

export interface DevSamlIdp {
  readonly url: string;
  readonly entityId: string;
  /** The KEYVEND_SAML_IDPS entry that trusts it. */
  readonly settings: Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * The dev SAML IdP of `npm start`: the demo users of the dev OIDC IdP, signing with a key made at start.
 * `POST /sso` with the form fields `username` and `password` answers the base64 SAMLResponse (text/plain),
 * ready to post to the broker; a wrong password is a 401. Persistent NameID = the user's `sub`.
 * With `portalAcsUrl`, it also has the portal as a second SP: `GET /portal-sso?SAMLRequest=…` (its SSO URL,
 * HTTP-Redirect binding) takes the portal's AuthnRequest and shows a sign-in form; posting it answers a page that
 * posts the signed SAMLResponse (Destination and Recipient = the portal ACS, InResponseTo = the request's ID)
 * there. Without a SAMLRequest it signs in IdP-initiated (no InResponseTo), which the portal refuses: kept so the
 * tests can show that refusal.
 */
export async function startDevSamlIdp(options: {
  port: number;
  acsUrl: string;
  audience: string;
  portalAcsUrl?: string;
}): Promise<DevSamlIdp> {
  const url = `http://127.0.0.1:${options.port}`;
  const entityId = `${url}/metadata`;
  const idp = samlifyIdp({
    entityId,
    cert: generateSigningCert('keyvend-dev-saml-idp'),
    acsUrl: options.acsUrl,
    audience: options.audience,
    defaultNameId: '',
  });
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const reply = (status: number, text: string) => {
        response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        response.end(text);
      };
      const target = new URL(request.url ?? '/', url);
      if (options.portalAcsUrl !== undefined && target.pathname === '/portal-sso') {
        return portalSignIn(
          request.method ?? '',
          target.searchParams,
          Buffer.concat(chunks).toString('utf8'),
          { acsUrl: options.portalAcsUrl, audience: options.audience },
          idp,
          response,
        );
      }
      if (request.method !== 'POST' || request.url !== '/sso') return reply(404, 'POST /sso with username and password\n');
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const user = findDemoUserByUsername(form.get('username') ?? '');
      if (user === undefined || user.password !== form.get('password')) return reply(401, 'wrong username or password\n');
      idp.response({ nameId: user.sub, attributes: { groups: user.groups } }).then(
        (samlResponse) => reply(200, samlResponse),
        () => reply(500, 'signing failed\n'),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  return {
    url,
    entityId,
    settings: {
      id: 'dev-saml',
      entityId,
      certificates: [idp.cert.certPem],
      groupsAttribute: 'groups',
      ...(options.portalAcsUrl === undefined ? {} : { ssoUrl: `${url}/portal-sso` }),
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const devIdpPage = (title: string, body: string) => `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem}label{display:block;margin:.75rem 0 .25rem;font-weight:600}input{font:inherit;width:100%;padding:.5rem}button{font:inherit;margin-top:1rem;padding:.6rem 1rem}</style>
</head><body>${body}</body></html>`;

/** The ID of a portal AuthnRequest (HTTP-Redirect binding: raw-deflated, base64), if it is one for this SP and ACS. */
function authnRequestId(samlRequest: string, sp: { acsUrl: string; audience: string }): string | undefined {
  try {
    const xml = inflateRawSync(Buffer.from(samlRequest, 'base64')).toString('utf8');
    const root = new DOMParser().parseFromString(xml, 'text/xml').documentElement;
    if (root === null || root.localName !== 'AuthnRequest' || root.namespaceURI !== 'urn:oasis:names:tc:SAML:2.0:protocol')
      return undefined;
    const issuer = root.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Issuer')[0]?.textContent;
    const acs = root.getAttribute('AssertionConsumerServiceURL');
    const id = root.getAttribute('ID') ?? '';
    if (issuer !== sp.audience || (acs !== null && acs !== '' && acs !== sp.acsUrl) || !/^[A-Za-z_][A-Za-z0-9_.-]{0,255}$/.test(id))
      return undefined;
    return id;
  } catch {
    return undefined;
  }
}

/**
 * The dev IdP's sign-in for the portal: a form, then (for a demo user) a page whose form posts the SAMLResponse to
 * the portal's ACS, submitted by a one-line script or by the button when scripts are off. With the portal's
 * AuthnRequest the response answers it (InResponseTo); without, it is IdP-initiated, which the portal refuses.
 */
function portalSignIn(
  method: string,
  query: URLSearchParams,
  body: string,
  sp: { acsUrl: string; audience: string },
  idp: SamlifyIdp,
  response: ServerResponse,
): void {
  const html = (status: number, page: string) => {
    response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    response.end(page);
  };
  const fields = method === 'POST' ? new URLSearchParams(body) : query;
  const samlRequest = fields.get('SAMLRequest') ?? undefined;
  const requestId = samlRequest === undefined ? undefined : authnRequestId(samlRequest, sp);
  if (samlRequest !== undefined && requestId === undefined)
    return html(400, devIdpPage('Dev SAML IdP', '<p>That is not an AuthnRequest from the Keyvend portal.</p>'));
  const form = (message: string) =>
    devIdpPage(
      'Dev SAML IdP · Sign in',
      `<h1>Dev SAML IdP</h1><p>Sign in to the Keyvend portal. Demo users: alice / alice-password, bob / bob-password.</p>${
        requestId === undefined ? '<p>IdP-initiated: the portal refuses an unsolicited response; start at the portal instead.</p>' : ''
      }${message}
<form method="post" action="/portal-sso">${samlRequest === undefined ? '' : `<input type="hidden" name="SAMLRequest" value="${escapeXml(samlRequest)}">`}<label for="username">Username</label><input id="username" name="username" autocomplete="username">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit">Sign in</button></form>`,
    );
  if (method === 'GET') return html(200, form(''));
  if (method !== 'POST') return html(405, form(''));
  const user = findDemoUserByUsername(fields.get('username') ?? '');
  if (user === undefined || user.password !== fields.get('password'))
    return html(401, form('<p role="alert">Wrong username or password.</p>'));
  idp
    .response({
      nameId: user.sub,
      attributes: { groups: user.groups },
      destination: sp.acsUrl,
      recipient: sp.acsUrl,
      ...(requestId === undefined ? {} : { inResponseTo: requestId }),
    })
    .then(
      (samlResponse) =>
        html(
          200,
          devIdpPage(
            'Dev SAML IdP · Continue',
            `<p>Signed in as ${escapeXml(user.username)}. Continuing to Keyvend…</p>
<form id="to-sp" method="post" action="${escapeXml(sp.acsUrl)}"><input type="hidden" name="SAMLResponse" value="${samlResponse}"><button type="submit">Continue</button></form>
<script>document.getElementById('to-sp').submit()</script>`,
          ),
        ),
      () => html(500, devIdpPage('Dev SAML IdP', '<p>Signing failed.</p>')),
    );
}
