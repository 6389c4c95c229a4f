import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { RequestContext } from '../domain/request-context.ts';
import { describeError, type KeyvendError } from '../domain/errors.ts';
import { cookieNames, htmlResponse, parseForm, type PortalHttpSettings, queryOf, redirectResponse, setCookie } from './portal-http.ts';
import { errorPage } from './portal-pages.ts';

/** Malformed input is refused by the use case (audited), not here: an unreadable form is an empty one. */
export function safeForm(event: APIGatewayProxyEventV2, fields: readonly string[], maxBytes?: number): Record<string, string> {
  try {
    return parseForm(event, fields, maxBytes);
  } catch {
    return {};
  }
}

export function safeQuery(event: APIGatewayProxyEventV2): Record<string, string> {
  try {
    return queryOf(event);
  } catch {
    return {};
  }
}

/**
 * A sign-in that started a session (OIDC callback or SAML ACS): home, with the session cookie for as long as the
 * session lasts and the sign-in transaction's own cookie cleared.
 */
export function signedInResponse(
  http: PortalHttpSettings,
  started: { sessionCookie: string; session: { expiresAt: number } },
  clearTransaction: string,
): APIGatewayProxyStructuredResultV2 {
  const maxAgeSeconds = started.session.expiresAt - Math.floor(Date.now() / 1000);
  return redirectResponse(http, '/portal', [
    clearTransaction,
    setCookie(cookieNames(http.secure).session, started.sessionCookie, { secure: http.secure, path: '/', maxAgeSeconds }),
  ]);
}

/** SAML responses that answer no AuthnRequest of this browser: what a login-CSRF attempt looks like. */
const UNSOLICITED_SAML = new Set(['saml_unsolicited', 'saml_no_pending_request', 'saml_in_response_to_mismatch']);

/**
 * A portal error as a page: a refused sign-in asks to start again, an expired session to sign in again, an exposed
 * refusal says why, anything else says nothing of its cause (which is logged, for 5xx only).
 */
export function portalErrorResponse(
  http: PortalHttpSettings,
  error: KeyvendError,
  context: RequestContext,
  during: 'login' | 'action',
  cookies: string[],
  logger: Logger,
): APIGatewayProxyStructuredResultV2 {
  if (error.httpStatus >= 500) {
    logger.error('keyvend.portal_failed', { code: error.code, reason: error.reason, failure: describeError(error.cause ?? error) });
  }
  const view = (() => {
    if (error.code === 'invalid_token' && during === 'login' && UNSOLICITED_SAML.has(error.reason)) {
      return {
        title: 'Sign-in failed',
        message:
          'A SAML sign-in to the portal must start here, with its “Sign in with SAML” button. A sign-in started elsewhere (at the identity provider, on another site, or in another browser) is not accepted. Please start again.',
      };
    }
    if (error.code === 'invalid_token') {
      return during === 'login'
        ? { title: 'Sign-in failed', message: 'The sign-in could not be completed. Please start again.' }
        : { title: 'Please sign in again', message: 'Your portal session is missing or has expired.' };
    }
    if (error.expose) return { title: 'Request refused', message: error.message };
    return { title: 'Something went wrong', message: 'The portal could not complete this request. Please try again later.' };
  })();
  return htmlResponse(
    http,
    error.httpStatus,
    errorPage({ ...view, requestId: context.requestId, signInAgain: error.code === 'invalid_token' }),
    cookies,
  );
}
