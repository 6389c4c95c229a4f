import { listEntitlements, logger } from '../src/container.ts';
import { httpHandler } from '../src/http/handler.ts';
import { assertNoTokenInQuery, authorizationOf } from '../src/http/request.ts';
import { jsonResponse } from '../src/http/responses.ts';

const list = listEntitlements(); // at init: bad configuration stops the function before it serves

/** GET /v1/entitlements: what the caller may ask for. */
export const handler = httpHandler(logger(), async (event) => {
  assertNoTokenInQuery(event);
  const entitlements = await list(authorizationOf(event));
  return jsonResponse(200, { entitlements });
});
