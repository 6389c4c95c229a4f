import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { describeError } from '../src/adapters/logging/powertools-decision-log.ts';
import { asKeyvendError } from '../src/app/audit-trail.ts';
import type { RequestContext } from '../src/app/request-context.ts';
import { logger, portal } from '../src/container.ts';
import type { KeyvendError } from '../src/domain/errors.ts';
import { httpHandler } from '../src/http/handler.ts';
import {
  clearCookie,
  cookieNames,
  htmlResponse,
  parseForm,
  queryOf,
  readCookie,
  redirectResponse,
  setCookie,
} from '../src/http/portal-http.ts';
import { errorPage, homePage, signInPage } from '../src/http/portal-pages.ts';
import { requestContextOf } from '../src/http/request.ts';

const p = portal(); // at init: bad configuration stops the function before it serves
const names = cookieNames(p.http.secure);
const LOGIN_COOKIE_PATH = '/portal/callback';
/** A SAMLResponse form: the verifier's own 64 KiB XML limit, base64-encoded and form-encoded, with room for RelayState. */
const MAX_SAML_FORM_BYTES = 128 * 1024;

type Route = (event: APIGatewayProxyEventV2, context: RequestContext) => Promise<APIGatewayProxyStructuredResultV2>;

const routes: Record<string, Route> = {
  'GET /portal': async (event) => {
    const session = await p.app.session(readCookie(event, names.session));
    if (session === undefined) return htmlResponse(p.http, 200, signInPage({ issuerName: p.issuerName, samlSignIns: p.samlSignIns }));
    const entitlements = await p.app.consoleEntitlements(session);
    return htmlResponse(
      p.http,
      200,
      homePage({
        subject: session.principal.subject,
        csrfToken: session.csrfToken,
        entitlements,
        expiresAt: new Date(session.expiresAt * 1000),
      }),
    );
  },

  'GET /portal/login': async () => {
    const { redirectUrl, transactionCookie } = await p.app.beginLogin();
    return redirectResponse(p.http, redirectUrl, [
      setCookie(names.login, transactionCookie, { secure: p.http.secure, path: LOGIN_COOKIE_PATH, maxAgeSeconds: 600 }),
    ]);
  },

  'GET /portal/callback': async (event, context) => {
    // The transaction cookie is single-use: it is cleared whatever the outcome, so a replayed callback finds none.
    const clearLogin = clearCookie(names.login, { secure: p.http.secure, path: LOGIN_COOKIE_PATH });
    try {
      const { sessionCookie, session } = await p.app.completeLogin({
        response: safeQuery(event),
        transactionCookie: readCookie(event, names.login),
        context,
      });
      const maxAgeSeconds = session.expiresAt - Math.floor(Date.now() / 1000);
      return redirectResponse(p.http, '/portal', [
        clearLogin,
        setCookie(names.session, sessionCookie, { secure: p.http.secure, path: '/', maxAgeSeconds }),
      ]);
    } catch (error) {
      return errorResponse(asKeyvendError(error), context, 'login', [clearLogin]);
    }
  },

  // The IdP's page posts here cross-site: no CSRF token can exist, so the signed assertion (naming this ACS and
  // our audience, minutes long) and the replay cache (one session per assertion) are what protect it.
  'POST /portal/saml/acs': async (event, context) => {
    try {
      const form = safeForm(event, ['SAMLResponse', 'RelayState'], MAX_SAML_FORM_BYTES);
      const { sessionCookie, session } = await p.app.completeSamlLogin({ samlResponse: form['SAMLResponse'], context });
      const maxAgeSeconds = session.expiresAt - Math.floor(Date.now() / 1000);
      return redirectResponse(p.http, '/portal', [setCookie(names.session, sessionCookie, { secure: p.http.secure, path: '/', maxAgeSeconds })]);
    } catch (error) {
      return errorResponse(asKeyvendError(error), context, 'login', []);
    }
  },

  'POST /portal/console': async (event, context) => {
    const grant = await p.app.openConsole({ sessionCookie: readCookie(event, names.session), form: safeForm(event, ['csrf', 'entitlement']), context });
    // The sign-in URL leaves only in this Location header, with no-store and no-referrer.
    return redirectResponse(p.http, grant.url.reveal());
  },

  'POST /portal/logout': async (event, context) => {
    await p.app.logout({ sessionCookie: readCookie(event, names.session), form: safeForm(event, ['csrf']), context });
    return redirectResponse(p.http, '/portal', [clearCookie(names.session, { secure: p.http.secure, path: '/' })]);
  },
};

/** GET /portal, /portal/login, /portal/callback; POST /portal/saml/acs, /portal/console, /portal/logout. */
export const handler = httpHandler(async (event, lambdaContext) => {
  const context = requestContextOf(event, lambdaContext);
  const path = (event.rawPath ?? '').replace(/\/+$/, '');
  const route = routes[`${event.requestContext?.http?.method ?? ''} ${path}`];
  if (route === undefined) {
    return htmlResponse(p.http, 404, errorPage({ title: 'Not found', message: 'There is no such page.', requestId: context.requestId, signInAgain: false }));
  }
  try {
    return await route(event, context);
  } catch (error) {
    return errorResponse(asKeyvendError(error), context, 'action', []);
  }
});

/** Malformed input is refused by the use case (audited), not here: an unreadable form is an empty one. */
function safeForm(event: APIGatewayProxyEventV2, fields: readonly string[], maxBytes?: number): Record<string, string> {
  try {
    return parseForm(event, fields, maxBytes);
  } catch {
    return {};
  }
}

function safeQuery(event: APIGatewayProxyEventV2): Record<string, string> {
  try {
    return queryOf(event);
  } catch {
    return {};
  }
}

function errorResponse(error: KeyvendError, context: RequestContext, during: 'login' | 'action', cookies: string[]) {
  if (error.httpStatus >= 500) {
    logger().error('keyvend.portal_failed', { code: error.code, reason: error.reason, failure: describeError(error.cause ?? error) });
  }
  const view = (() => {
    if (error.code === 'invalid_token') {
      return during === 'login'
        ? { title: 'Sign-in failed', message: 'The sign-in could not be completed. Please start again.' }
        : { title: 'Please sign in again', message: 'Your portal session is missing or has expired.' };
    }
    if (error.expose) return { title: 'Request refused', message: error.message };
    return { title: 'Something went wrong', message: 'The portal could not complete this request. Please try again later.' };
  })();
  const status = error.httpStatus;
  return htmlResponse(
    p.http,
    status,
    errorPage({ ...view, requestId: context.requestId, signInAgain: error.code === 'invalid_token' }),
    cookies,
  );
}
