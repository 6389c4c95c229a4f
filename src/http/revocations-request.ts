import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { AdminInput } from '../app/revocations.ts';
import { asKeyvendError, InvalidRequestError } from '../domain/errors.ts';
import type { RequestContext } from '../domain/request-context.ts';
import { assertNoTokenInQuery, authorizationOf, bodyText, parseJsonObject } from './request.ts';

const REVOKE_FIELDS = ['kind', 'issuer', 'subject', 'grantId', 'entitlement', 'reason'] as const;
const MAX_ADMIN_BODY_BYTES = 4096;

/** The admin caller (bearer token) and the request's context; a problem found here is audited by the use case. */
function adminInput(event: APIGatewayProxyEventV2, context: RequestContext): AdminInput {
  const caller = { kind: 'bearer', authorization: authorizationOf(event) } as const;
  try {
    assertNoTokenInQuery(event);
    return { caller, context };
  } catch (error) {
    return { caller, context, requestProblem: asKeyvendError(error) };
  }
}

/** POST /v1/admin/revocations: JSON `{kind, issuer?, subject?, grantId?, entitlement?, reason}`. */
export function readRevokeRequest(event: APIGatewayProxyEventV2, context: RequestContext): AdminInput & { body: unknown } {
  const input = adminInput(event, context);
  if (input.requestProblem !== undefined) return { ...input, body: undefined };
  try {
    return { ...input, body: parseJsonObject(event, REVOKE_FIELDS, MAX_ADMIN_BODY_BYTES) };
  } catch (error) {
    return { ...input, body: undefined, requestProblem: asKeyvendError(error) };
  }
}

/** GET /v1/admin/revocations. */
export function readListRequest(event: APIGatewayProxyEventV2, context: RequestContext): AdminInput {
  const input = adminInput(event, context);
  const unknown = Object.keys(event.queryStringParameters ?? {});
  if (input.requestProblem === undefined && unknown.length > 0) {
    return { ...input, requestProblem: new InvalidRequestError('This route takes no query parameters.', { reason: 'unknown_fields' }) };
  }
  return input;
}

/** DELETE /v1/admin/revocations/{id}: the reason in a JSON body `{reason}` or, without a body, the query `?reason=`. */
export function readUnrevokeRequest(event: APIGatewayProxyEventV2, context: RequestContext): AdminInput & { id: unknown; reason: unknown } {
  const input = adminInput(event, context);
  const id = event.pathParameters?.['id'];
  if (input.requestProblem !== undefined) return { ...input, id, reason: undefined };
  try {
    const query = event.queryStringParameters ?? {};
    const unknown = Object.keys(query).filter((name) => name !== 'reason');
    if (unknown.length > 0) throw new InvalidRequestError('The query may contain only: reason.', { reason: 'unknown_fields' });
    if (bodyText(event) === '') return { ...input, id, reason: query['reason'] };
    if (query['reason'] !== undefined)
      throw new InvalidRequestError('Give the reason in the body or the query, not both.', { reason: 'unknown_fields' });
    return { ...input, id, reason: parseJsonObject(event, ['reason'], MAX_ADMIN_BODY_BYTES)['reason'] };
  } catch (error) {
    return { ...input, id, reason: undefined, requestProblem: asKeyvendError(error) };
  }
}
