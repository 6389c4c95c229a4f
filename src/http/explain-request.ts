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

/** The admin page's filter form (GET /portal/admin), each field's value or undefined when left empty. */
export interface PortalAuditFilters {
  readonly idp?: string | undefined;
  readonly subject?: string | undefined;
  readonly entitlement?: string | undefined;
  readonly outcome?: string | undefined;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
}

const PORTAL_FILTERS = {
  idp: 'issuer',
  subject: 'subject',
  entitlement: 'entitlement',
  outcome: 'outcome',
  from: 'from',
  to: 'to',
} as const;
/** The admin page's page size. */
export const PORTAL_AUDIT_LIMIT = '25';

/** The admin page's form as the audit query's parameters (its `idp` is the query's `issuer`), 25 records a page. */
export function portalAuditQuery(query: Readonly<Record<string, string>>): {
  filters: PortalAuditFilters;
  parameters: AuditQueryParameters;
} {
  const filters: Record<string, string> = {};
  const parameters: Record<string, string> = { limit: PORTAL_AUDIT_LIMIT };
  for (const [field, parameter] of Object.entries(PORTAL_FILTERS)) {
    const value = query[field];
    if (value === undefined || value === '') continue;
    filters[field] = value;
    parameters[parameter] = value;
  }
  if (query['pageToken']) parameters['pageToken'] = query['pageToken'];
  return { filters, parameters };
}

/** The next page of the admin page: the same filters and the page token. */
export function portalAuditPageUrl(filters: PortalAuditFilters, pageToken: string): string {
  const kept = Object.entries(filters).filter((entry): entry is [string, string] => entry[1] !== undefined);
  return `/portal/admin?${new URLSearchParams([...kept, ['pageToken', pageToken]]).toString()}`;
}
