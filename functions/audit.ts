import { explainAudited, logger, myGrants, queryAudit } from '../src/container.ts';
import { auditQueryParameters, explainBody } from '../src/http/explain-request.ts';
import { httpHandler } from '../src/http/handler.ts';
import { assertNoTokenInQuery, authorizationOf, requestContextOf } from '../src/http/request.ts';
import { jsonResponse } from '../src/http/responses.ts';

// At init: bad configuration stops the function before it serves.
const query = queryAudit();
const grants = myGrants();
const explain = explainAudited();

/** Who got what (GET /v1/admin/audit, GET /v1/me/grants) and explain for anyone (POST /v1/explain). */
export const handler = httpHandler(logger(), async (event, context) => {
  assertNoTokenInQuery(event);
  const requestContext = requestContextOf(event, context);
  if (event.requestContext.http.method === 'POST') {
    return jsonResponse(200, await explain({ ...explainBody(event), context: requestContext }));
  }
  if (event.rawPath === '/v1/me/grants') {
    return jsonResponse(200, { grants: await grants(authorizationOf(event)) });
  }
  const parameters = auditQueryParameters(event);
  return jsonResponse(200, await query({ authorization: authorizationOf(event), parameters, context: requestContext }));
});
