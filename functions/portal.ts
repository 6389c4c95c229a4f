import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { asKeyvendError, InvalidTokenError } from '../src/domain/errors.ts';
import type { RequestContext } from '../src/domain/request-context.ts';
import { logger, portal } from '../src/container.ts';
import { httpHandler } from '../src/http/handler.ts';
import { clearCookie, cookieNames, htmlResponse, readCookie, redirectResponse, setCookie } from '../src/http/portal-http.ts';
import { adminAuditPage, errorPage, explainPage, homePage, signedOutPage, signInPage } from '../src/http/portal-pages.ts';
import { portalErrorResponse, safeForm, safeQuery, signedInResponse } from '../src/http/portal-responses.ts';
import { portalAuditPageUrl, portalAuditQuery } from '../src/http/explain-request.ts';
import { requestContextOf } from '../src/http/request.ts';

const p = portal(); // at init: bad configuration stops the function before it serves
const names = cookieNames(p.http.secure);
const LOGIN_COOKIE_PATH = '/portal/callback';

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
        displayName: session.displayName,
        csrfToken: session.csrfToken,
        entitlements,
        isAdmin: p.app.isAdmin(session),
        expiresAt: new Date(session.expiresAt * 1000),
        now: new Date(),
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
      const started = await p.app.completeLogin({
        response: safeQuery(event),
        transactionCookie: readCookie(event, names.login),
        context,
      });
      return signedInResponse(p.http, started, clearLogin);
    } catch (error) {
      return portalErrorResponse(p.http, asKeyvendError(error), context, 'login', [clearLogin], logger());
    }
  },

  'POST /portal/console': async (event, context) => {
    const grant = await p.app.openConsole({
      sessionCookie: readCookie(event, names.session),
      form: safeForm(event, ['csrf', 'entitlement']),
      context,
    });
    // The sign-in URL leaves only in this Location header, with no-store and no-referrer.
    return redirectResponse(p.http, grant.url.reveal());
  },

  'POST /portal/logout': async (event, context) => {
    await p.app.logout({ sessionCookie: readCookie(event, names.session), form: safeForm(event, ['csrf']), context });
    return redirectResponse(p.http, '/portal/signed-out', [clearCookie(names.session, { secure: p.http.secure, path: '/' })]);
  },

  // "What does this allow?" for one of the signed-in person's entitlements (not audited: it grants nothing).
  'GET /portal/explain': async (event, context) => {
    const session = await p.app.session(readCookie(event, names.session));
    if (session === undefined) throw new InvalidTokenError('no_session');
    const query = safeQuery(event);
    const explanation = await p.app.explain(session, query['entitlement'], query['output'], context);
    return htmlResponse(p.http, 200, explainPage({ explanation, isAdmin: p.app.isAdmin(session) }));
  },

  // Who got what: admins only; every search, allowed or refused, is audited by the use case.
  'GET /portal/admin': async (event, context) => {
    const session = await p.app.session(readCookie(event, names.session));
    if (session === undefined) throw new InvalidTokenError('no_session');
    const { filters, parameters } = portalAuditQuery(safeQuery(event));
    const page = await p.app.auditTrail(session, parameters, context);
    const nextPageUrl = page.nextPageToken === undefined ? undefined : portalAuditPageUrl(filters, page.nextPageToken);
    return htmlResponse(p.http, 200, adminAuditPage({ filters, records: page.records, nextPageUrl }));
  },

  'GET /portal/signed-out': async () =>
    htmlResponse(p.http, 200, signedOutPage({ issuerName: p.issuerName, idpLogoutUrl: await p.app.idpLogoutUrl() })),
};

/**
 * GET /portal, /portal/login, /portal/callback, /portal/signed-out, /portal/explain, /portal/admin; POST /portal/console, /portal/logout; every other
 * GET under /portal (serverless.yml's /portal/{proxy+}) is the 404 page. SAML sign-in (/portal/saml/*) is functions/portal-saml.ts.
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
    return portalErrorResponse(p.http, asKeyvendError(error), context, 'action', [], logger());
  }
});
