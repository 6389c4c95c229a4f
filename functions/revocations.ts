import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { logger, revocations, revocationsPortal } from '../src/container.ts';
import { asKeyvendError } from '../src/domain/errors.ts';
import type { RequestContext } from '../src/domain/request-context.ts';
import { httpHandler } from '../src/http/handler.ts';
import { cookieNames, htmlResponse, readCookie, redirectResponse } from '../src/http/portal-http.ts';
import { portalErrorResponse, safeForm } from '../src/http/portal-responses.ts';
import { requestContextOf } from '../src/http/request.ts';
import { REVOKE_FORM_FIELDS, revocationsPage, UNREVOKE_FORM_FIELDS } from '../src/http/revocations-page.ts';
import { jsonResponse } from '../src/http/responses.ts';
import { readListRequest, readRevokeRequest, readUnrevokeRequest } from '../src/http/revocations-request.ts';

const admin = revocations(); // at init: bad configuration stops the function before it serves
const page = revocationsPortal();

const PAGE = '/portal/admin/revocations';

/** The portal's admin page (HTML, the portal's session cookie and CSRF token); errors are the portal's error pages. */
async function portalRoute(event: APIGatewayProxyEventV2, context: RequestContext): Promise<APIGatewayProxyStructuredResultV2 | undefined> {
  if (page === undefined) return undefined;
  const path = (event.rawPath ?? '').replace(/\/+$/, '');
  const method = event.requestContext.http.method;
  const cookie = readCookie(event, cookieNames(page.http.secure).session);
  try {
    if (method === 'GET' && path === PAGE) {
      const shown = await page.app.page(cookie, context);
      if (shown === undefined) return redirectResponse(page.http, '/portal');
      const notice = new URLSearchParams(event.rawQueryString ?? '').get('done');
      const html = revocationsPage({
        subject: shown.session.principal.subject,
        csrfToken: shown.session.csrfToken,
        list: shown.list,
        ...(notice === 'revoked' ? { notice: 'Revoked.' } : notice === 'unrevoked' ? { notice: 'Revocation lifted.' } : {}),
      });
      return htmlResponse(page.http, 200, html);
    }
    if (method === 'POST' && path === PAGE) {
      await page.app.revoke(cookie, safeForm(event, REVOKE_FORM_FIELDS), context);
      return redirectResponse(page.http, `${PAGE}?done=revoked`);
    }
    if (method === 'POST' && path === '/portal/admin/unrevoke') {
      await page.app.unrevoke(cookie, safeForm(event, UNREVOKE_FORM_FIELDS), context);
      return redirectResponse(page.http, `${PAGE}?done=unrevoked`);
    }
  } catch (error) {
    return portalErrorResponse(page.http, asKeyvendError(error), context, 'action', [], logger());
  }
  return undefined;
}

/**
 * The admin revocation routes (docs/revocation.md): POST and GET /v1/admin/revocations, DELETE
 * /v1/admin/revocations/{id}. Every call, allowed or refused, is audited by the use case.
 */
const http = httpHandler(logger(), async (event, context) => {
  const requestContext = requestContextOf(event, context);
  if ((event.rawPath ?? '').startsWith('/portal/')) {
    const answer = await portalRoute(event, requestContext);
    if (answer !== undefined) return answer;
  }
  const method = event.requestContext.http.method;
  // API Gateway routes only the three method and path pairs of serverless.yml here.
  if (method === 'DELETE') return jsonResponse(200, await admin.unrevoke(readUnrevokeRequest(event, requestContext)));
  if (method === 'POST') {
    const result = await admin.revoke(readRevokeRequest(event, requestContext));
    return jsonResponse(result.created ? 201 : 200, result);
  }
  return jsonResponse(200, await admin.list(readListRequest(event, requestContext)));
});

/** The schedule (EventBridge): rewrites the member accounts' policies from the current state, pruning expired entries. */
async function reconcile(): Promise<void> {
  const liveSessions = await admin.reconcile();
  logger().info('keyvend.revocations.reconciled', { liveSessions });
}

const isScheduled = (event: unknown): boolean =>
  typeof event === 'object' && event !== null && (event as Record<string, unknown>)['source'] === 'aws.events';

/** One function, two callers: the HTTP API (admin routes) and the hourly schedule. */
export const handler = async (event: Parameters<typeof http>[0], context: Parameters<typeof http>[1]) =>
  isScheduled(event) ? reconcile() : http(event, context);
