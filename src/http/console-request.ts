import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { IssueConsoleUrlInput } from '../app/issue-console-url.ts';
import { asKeyvendError } from '../domain/errors.ts';
import { assertNoTokenInQuery, authorizationOf, parseJsonObject } from './request.ts';

/**
 * What POST /v1/console asks for, as the use case takes it: JSON `{entitlement, destination, durationSeconds}`
 * with a bearer token. A problem found here goes to the use case, which audits it with the verified caller.
 */
export function readConsoleRequest(event: APIGatewayProxyEventV2): Omit<IssueConsoleUrlInput, 'context'> {
  const caller = { kind: 'bearer', authorization: authorizationOf(event) } as const;
  try {
    assertNoTokenInQuery(event);
    const body = parseJsonObject(event, ['entitlement', 'destination', 'durationSeconds']);
    return { caller, entitlement: body['entitlement'], destination: body['destination'], durationSeconds: body['durationSeconds'] };
  } catch (error) {
    return { caller, entitlement: undefined, destination: undefined, durationSeconds: undefined, requestProblem: asKeyvendError(error) };
  }
}
