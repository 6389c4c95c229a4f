import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ExplainInput } from '../app/explain.ts';
import type { AuditQueryParameters } from '../domain/audit-query.ts';
import { InvalidRequestError } from '../domain/errors.ts';
import { authorizationOf, parseJsonObject } from './request.ts';

/** The query parameters a route accepts, each at most once (API Gateway joins a repeat with a comma, so a repeat is refused too). */
function queryOf(event: APIGatewayProxyEventV2, allowed: readonly string[]): Record<string, string> {
  const query = event.queryStringParameters ?? {};
  const unknown = Object.keys(query).filter((name) => !allowed.includes(name));
  if (unknown.length > 0) {
    throw new InvalidRequestError(`The query may contain only: ${allowed.join(', ')}.`, { reason: 'unknown_fields' });
  }
  const raw = event.rawQueryString ?? '';
  for (const name of allowed) {
    if (new URLSearchParams(raw).getAll(name).length > 1) {
      throw new InvalidRequestError(`The query parameter ${name} appears more than once.`, { reason: 'duplicate_fields' });
    }
  }
  return Object.fromEntries(Object.entries(query).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** GET /v1/explain/{entitlement}[?output=console]: the caller's own explanation. */
export function explainQuery(event: APIGatewayProxyEventV2): Omit<ExplainInput, 'context'> {
  const query = queryOf(event, ['output']);
  return {
    authorization: authorizationOf(event),
    entitlement: event.pathParameters?.['entitlement'],
    ...(query['output'] === undefined ? {} : { output: query['output'] }),
  };
}

/** POST /v1/explain: `{"entitlement", "output"?}`, and for an admin `"issuer", "subject", "groups"?, "attributes"?`. */
export function explainBody(event: APIGatewayProxyEventV2): Omit<ExplainInput, 'context'> {
  const body = parseJsonObject(event, ['entitlement', 'output', 'issuer', 'subject', 'groups', 'attributes']);
  const forSomeone = ['issuer', 'subject', 'groups', 'attributes'].some((name) => body[name] !== undefined);
  return {
    authorization: authorizationOf(event),
    entitlement: body['entitlement'],
    ...(body['output'] === undefined ? {} : { output: body['output'] }),
    ...(forSomeone
      ? { for: { issuer: body['issuer'], subject: body['subject'], groups: body['groups'] ?? [], attributes: body['attributes'] ?? {} } }
      : {}),
  };
}

const AUDIT_PARAMETERS = ['user', 'issuer', 'subject', 'entitlement', 'outcome', 'from', 'to', 'limit', 'pageToken'] as const;

/** GET /v1/admin/audit's filters. */
export function auditQueryParameters(event: APIGatewayProxyEventV2): AuditQueryParameters {
  return queryOf(event, AUDIT_PARAMETERS) as AuditQueryParameters;
}
