import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { asKeyvendError } from '../src/domain/errors.ts';
import type { RequestContext } from '../src/domain/request-context.ts';
import { logger, samlPortal } from '../src/container.ts';
import { SAML_REQUEST_SECONDS } from '../src/domain/portal-session.ts';
import { httpHandler } from '../src/http/handler.ts';
import { clearCookie, cookieNames, htmlResponse, readCookie, redirectResponse, setCookie } from '../src/http/portal-http.ts';
import { errorPage } from '../src/http/portal-pages.ts';
import { portalErrorResponse, safeForm, safeQuery, signedInResponse } from '../src/http/portal-responses.ts';
import { requestContextOf } from '../src/http/request.ts';

const p = samlPortal(); // at init: bad configuration stops the function before it serves
const names = cookieNames(p.http.secure);
/** A SAMLResponse form: the verifier's own 64 KiB XML limit, base64-encoded and form-encoded, with room for RelayState. */
const MAX_SAML_FORM_BYTES = 128 * 1024;
const ACS_PATH = '/portal/saml/acs';
const requestCookieOptions = { secure: p.http.secure, path: ACS_PATH, crossSitePost: true } as const;

type Route = (event: APIGatewayProxyEventV2, context: RequestContext) => Promise<APIGatewayProxyStructuredResultV2>;

const routes: Record<string, Route> = {
  /** SP-initiated sign-in: an AuthnRequest to the IdP, its id bound to this browser by the request cookie. */
  'GET /portal/saml/login': async (event) => {
    const begun = await p.app.beginSamlLogin({ idpId: safeQuery(event)['idp'], sessionCookie: readCookie(event, names.session) });
    if (begun.kind === 'signed-in') return redirectResponse(p.http, '/portal');
    return redirectResponse(p.http, begun.redirectUrl, [
      setCookie(names.samlRequest, begun.requestCookie, { ...requestCookieOptions, maxAgeSeconds: SAML_REQUEST_SECONDS }),
    ]);
  },

  /**
   * The IdP's page posts here cross-site, so no CSRF token can exist: the response must answer the AuthnRequest
   * whose id this browser's request cookie holds (login CSRF), then the signed assertion (naming this ACS and our
   * audience, minutes long) and the replay cache (one session per assertion) protect it as on the API.
   */
  'POST /portal/saml/acs': async (event, context) => {
    // The request cookie is single-use: cleared whatever the outcome, so the same request cannot be answered twice.
    const clearRequest = clearCookie(names.samlRequest, requestCookieOptions);
    try {
      const form = safeForm(event, ['SAMLResponse', 'RelayState'], MAX_SAML_FORM_BYTES);
      const started = await p.app.completeSamlLogin({
        samlResponse: form['SAMLResponse'],
        requestCookie: readCookie(event, names.samlRequest),
        sessionCookie: readCookie(event, names.session),
        context,
      });
      return signedInResponse(p.http, started, clearRequest);
    } catch (error) {
      return portalErrorResponse(p.http, asKeyvendError(error), context, 'login', [clearRequest], logger());
    }
  },
};

/**
 * GET /portal/saml/login and POST /portal/saml/acs: SAML sign-in to the portal. Its own function so that only it
 * (and POST /v1/credentials) carries the XML stack (docs/bundle-size.md).
 */
export const handler = httpHandler(logger(), async (event, lambdaContext) => {
  const context = requestContextOf(event, lambdaContext);
  const path = (event.rawPath ?? '').replace(/\/+$/, '');
  const route = routes[`${event.requestContext?.http?.method ?? ''} ${path}`];
  if (route === undefined) {
    return htmlResponse(
      p.http,
      404,
      errorPage({ title: 'Not found', message: 'There is no such page.', requestId: context.requestId, signInAgain: false }),
    );
  }
  try {
    return await route(event, context);
  } catch (error) {
    return portalErrorResponse(p.http, asKeyvendError(error), context, 'login', [], logger());
  }
});
