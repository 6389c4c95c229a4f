import { asKeyvendError } from '../src/app/audit-trail.ts';
import { samlPortal } from '../src/container.ts';
import { httpHandler } from '../src/http/handler.ts';
import { cookieNames, redirectResponse, setCookie } from '../src/http/portal-http.ts';
import { portalErrorResponse, safeForm } from '../src/http/portal-responses.ts';
import { requestContextOf } from '../src/http/request.ts';

const p = samlPortal(); // at init: bad configuration stops the function before it serves
const names = cookieNames(p.http.secure);
/** A SAMLResponse form: the verifier's own 64 KiB XML limit, base64-encoded and form-encoded, with room for RelayState. */
const MAX_SAML_FORM_BYTES = 128 * 1024;

/**
 * POST /portal/saml/acs: SAML sign-in to the portal. Its own function so that only it (and POST /v1/credentials)
 * carries the XML stack (docs/bundle-size.md). The IdP's page posts here cross-site: no CSRF token can exist, so
 * the signed assertion (naming this ACS and our audience, minutes long) and the replay cache (one session per
 * assertion) are what protect it.
 */
export const handler = httpHandler(async (event, lambdaContext) => {
  const context = requestContextOf(event, lambdaContext);
  try {
    const form = safeForm(event, ['SAMLResponse', 'RelayState'], MAX_SAML_FORM_BYTES);
    const { sessionCookie, session } = await p.app.completeSamlLogin({ samlResponse: form['SAMLResponse'], context });
    const maxAgeSeconds = session.expiresAt - Math.floor(Date.now() / 1000);
    return redirectResponse(p.http, '/portal', [setCookie(names.session, sessionCookie, { secure: p.http.secure, path: '/', maxAgeSeconds })]);
  } catch (error) {
    return portalErrorResponse(p.http, asKeyvendError(error), context, 'login', []);
  }
});
