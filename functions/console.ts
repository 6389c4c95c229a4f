import { issueConsoleUrl, logger, warmSigningKey } from '../src/container.ts';
import { readConsoleRequest } from '../src/http/console-request.ts';
import { httpHandler } from '../src/http/handler.ts';
import { requestContextOf } from '../src/http/request.ts';
import { jsonResponse } from '../src/http/responses.ts';

const issue = issueConsoleUrl(); // at init: bad configuration stops the function before it serves
warmSigningKey(); // at init, not awaited: the first Sign finds the key's kid and algorithm (ADR 0017)

/** POST /v1/console: a console sign-in URL for one entitlement. The URL is a bearer secret for 15 minutes. */
export const handler = httpHandler(logger(), async (event, context) => {
  const grant = await issue({ ...readConsoleRequest(event), context: requestContextOf(event, context) });
  return jsonResponse(200, {
    url: grant.url.reveal(),
    expiresAt: grant.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    grantId: grant.grantId,
    entitlement: grant.entitlementId,
  });
});
