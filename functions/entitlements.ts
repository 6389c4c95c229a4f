import { explainOwn, listEntitlements, logger } from '../src/container.ts';
import { httpHandler } from '../src/http/handler.ts';
import { assertNoTokenInQuery, authorizationOf, requestContextOf } from '../src/http/request.ts';
import { jsonResponse } from '../src/http/responses.ts';
import { explainQuery } from '../src/http/explain-request.ts';

const list = listEntitlements(); // at init: bad configuration stops the function before it serves
const explain = explainOwn();

/** GET /v1/entitlements: what the caller may ask for; GET /v1/explain/{entitlement}: what they would get, and why. */
export const handler = httpHandler(logger(), async (event, context) => {
  assertNoTokenInQuery(event);
  if (event.pathParameters?.['entitlement'] !== undefined) {
    const explained = await explain({ ...explainQuery(event), context: requestContextOf(event, context) });
    return jsonResponse(200, explained);
  }
  const entitlements = await list(authorizationOf(event));
  return jsonResponse(200, { entitlements });
});
