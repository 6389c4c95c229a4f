import { asKeyvendError, type KeyvendError } from '../src/domain/errors.ts';
import { issueConsoleUrl, logger } from '../src/container.ts';
import { httpHandler } from '../src/http/handler.ts';
import { assertNoTokenInQuery, authorizationOf, parseJsonObject, requestContextOf } from '../src/http/request.ts';
import { jsonResponse } from '../src/http/responses.ts';

const issue = issueConsoleUrl(); // at init: bad configuration stops the function before it serves

/** POST /v1/console: a console sign-in URL for one entitlement. The URL is a bearer secret for 15 minutes. */
export const handler = httpHandler(logger(), async (event, context) => {
  let body: Record<string, unknown> = {};
  let rejection: KeyvendError | undefined;
  try {
    assertNoTokenInQuery(event);
    body = parseJsonObject(event, ['entitlement', 'destination', 'durationSeconds']);
  } catch (error) {
    rejection = asKeyvendError(error);
  }
  const grant = await issue({
    authorization: authorizationOf(event),
    entitlement: body['entitlement'],
    destination: body['destination'],
    durationSeconds: body['durationSeconds'],
    context: requestContextOf(event, context),
    ...(rejection === undefined ? {} : { rejection }),
  });
  return jsonResponse(200, {
    url: grant.url.reveal(),
    expiresAt: grant.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    grantId: grant.grantId,
    entitlement: grant.entitlementId,
  });
});
