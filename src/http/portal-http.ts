import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { InvalidRequestError } from '../domain/errors.ts';
import { bodyText, contentTypeOf, formFields, PayloadTooLargeError, UnsupportedMediaTypeError } from './request.ts';
import { PORTAL_CSS_HASH, PORTAL_SCRIPT_HASH } from './portal-pages.ts';

const MAX_FORM_BYTES = 4096;

export interface PortalHttpSettings {
  /** Plain http is only ever the local stack on loopback: cookies lose `Secure` there, and only there. */
  readonly secure: boolean;
  /** Origins a portal form may end up at: the portal itself and the federation endpoint the console redirect goes to. */
  readonly formTargets: readonly string[];
}

export const cookieNames = (secure: boolean) => ({
  // `__Host-` pins the cookie to this host, path / and Secure; it cannot be used over plain http.
  session: secure ? '__Host-keyvend_session' : 'keyvend_session',
  login: secure ? '__Secure-keyvend_login' : 'keyvend_login',
  samlRequest: secure ? '__Secure-keyvend_saml_request' : 'keyvend_saml_request',
});

/** Cookies as API Gateway v2 passes them (`event.cookies`), with the Cookie header as a fallback. */
export function readCookie(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const pairs = event.cookies ?? (event.headers?.['cookie'] ?? '').split(';');
  let found: string | undefined;
  for (const pair of pairs) {
    const index = pair.indexOf('=');
    if (index < 0 || pair.slice(0, index).trim() !== name) continue;
    // Two cookies of one name (one planted on a parent domain) are refused rather than guessed between.
    if (found !== undefined) return undefined;
    found = pair.slice(index + 1).trim();
  }
  return found;
}

/**
 * `SameSite=Lax` unless `crossSitePost`: a cookie the IdP's cross-site form POST must carry back (the SAML request
 * cookie) is `SameSite=None`, which browsers accept only with `Secure`. Over plain http (the local stack on
 * loopback) it stays Lax: the dev IdP on another loopback port is the same site, so its POST carries it anyway.
 */
export function setCookie(
  name: string,
  value: string,
  options: { secure: boolean; path: string; maxAgeSeconds: number; crossSitePost?: boolean },
): string {
  return [
    `${name}=${value}`,
    `Path=${options.path}`,
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
    'HttpOnly',
    options.crossSitePost === true && options.secure ? 'SameSite=None' : 'SameSite=Lax',
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

export function clearCookie(name: string, options: { secure: boolean; path: string; crossSitePost?: boolean }): string {
  return setCookie(name, '', { ...options, maxAgeSeconds: 0 });
}

/** An `application/x-www-form-urlencoded` body with only the named fields, each once. */
export function parseForm(event: APIGatewayProxyEventV2, allowed: readonly string[], maxBytes = MAX_FORM_BYTES): Record<string, string> {
  const text = bodyText(event);
  if (Buffer.byteLength(text, 'utf8') > maxBytes) throw new PayloadTooLargeError();
  if (contentTypeOf(event) !== 'application/x-www-form-urlencoded') throw new UnsupportedMediaTypeError();
  return formFields(text, allowed);
}

export function queryOf(event: APIGatewayProxyEventV2): Record<string, string> {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of new URLSearchParams(event.rawQueryString ?? '')) {
    if (Object.hasOwn(params, key)) throw new InvalidRequestError('Repeated query parameter.', { reason: 'repeated_parameter' });
    params[key] = value;
  }
  return params;
}

export function portalHeaders(settings: PortalHttpSettings): Record<string, string> {
  return {
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'content-security-policy': [
      "default-src 'none'",
      `style-src '${PORTAL_CSS_HASH}'`,
      // The one inline script (times in the viewer's zone), by its hash: no other script can run.
      `script-src '${PORTAL_SCRIPT_HASH}'`,
      // data: for the inline favicon only: the pages have no other image, and images run no script.
      "img-src 'self' data:",
      // Chromium applies form-action to the redirect that follows a form POST: the console button's 302
      // goes to the federation endpoint, so its origin is listed, and nothing else.
      `form-action 'self' ${settings.formTargets.join(' ')}`.trim(),
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'cross-origin-opener-policy': 'same-origin',
    ...(settings.secure ? { 'strict-transport-security': 'max-age=63072000; includeSubDomains' } : {}),
  };
}

export function htmlResponse(
  settings: PortalHttpSettings,
  statusCode: number,
  html: string,
  cookies: string[] = [],
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { ...portalHeaders(settings), 'content-type': 'text/html; charset=utf-8' },
    body: html,
    ...(cookies.length > 0 ? { cookies } : {}),
  };
}

export function redirectResponse(
  settings: PortalHttpSettings,
  location: string,
  cookies: string[] = [],
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: 302,
    headers: { ...portalHeaders(settings), location },
    body: '',
    ...(cookies.length > 0 ? { cookies } : {}),
  };
}
