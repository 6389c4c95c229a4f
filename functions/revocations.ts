import { logger, revocations } from '../src/container.ts';
import { httpHandler } from '../src/http/handler.ts';
import { requestContextOf } from '../src/http/request.ts';
import { jsonResponse } from '../src/http/responses.ts';
import { readListRequest, readRevokeRequest, readUnrevokeRequest } from '../src/http/revocations-request.ts';

const admin = revocations(); // at init: bad configuration stops the function before it serves

/**
 * The admin revocation routes (docs/revocation.md): POST and GET /v1/admin/revocations, DELETE
 * /v1/admin/revocations/{id}. Every call, allowed or refused, is audited by the use case.
 */
const http = httpHandler(logger(), async (event, context) => {
  const requestContext = requestContextOf(event, context);
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
