import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { RequestContext } from '../domain/request-context.ts';
import { InvalidRequestError, KeyvendError } from '../domain/errors.ts';
import { hasDuplicateMembers } from '../domain/strict-json.ts';

const MAX_BODY_BYTES = 16 * 1024;

export class PayloadTooLargeError extends KeyvendError {
  constructor(limit = MAX_BODY_BYTES) {
    super('payload_too_large', 413, `The request body is larger than ${limit} bytes.`);
  }
}

export class UnsupportedMediaTypeError extends KeyvendError {
  constructor(message = 'Send the request body as application/json.') {
    super('unsupported_media_type', 415, message);
  }
}

/**
 * The ids that join this request across API Gateway, Lambda and the audit table, and the source IP as
 * API Gateway saw the connection: never X-Forwarded-For, which the caller controls.
 */
export function requestContextOf(event: APIGatewayProxyEventV2, context: Pick<Context, 'awsRequestId'>): RequestContext {
  const http = event.requestContext?.http;
  return {
    requestId: context.awsRequestId,
    ...(event.requestContext?.requestId ? { apiRequestId: event.requestContext.requestId } : {}),
    ...(http?.sourceIp ? { sourceIp: http.sourceIp } : {}),
    ...(http?.userAgent ? { userAgent: http.userAgent } : {}),
  };
}

/**
 * Bearer tokens travel in the Authorization header only: one in the query string ends up in access logs
 * (RFC 6750 §2.3), and a second header would be joined with a comma and fail the token grammar.
 */
export function authorizationOf(event: APIGatewayProxyEventV2): string | undefined {
  return event.headers?.['authorization'];
}

export function assertNoTokenInQuery(event: APIGatewayProxyEventV2): void {
  const query = event.queryStringParameters ?? {};
  if ('access_token' in query || 'id_token' in query || 'token' in query) {
    throw new InvalidRequestError('Tokens are accepted in the Authorization header only.', { reason: 'token_in_query' });
  }
}

/**
 * A JSON object body with only the named fields, each at most once: anything else (a client-chosen Policy,
 * RoleArn, Tags or SourceIdentity) is refused rather than ignored, so a caller never believes it set an STS
 * parameter.
 */
export function parseJsonObject(
  event: APIGatewayProxyEventV2,
  allowedFields: readonly string[],
  maxBytes = MAX_BODY_BYTES,
): Record<string, unknown> {
  const text = bodyText(event);
  if (Buffer.byteLength(text, 'utf8') > maxBytes) throw new PayloadTooLargeError(maxBytes);
  const contentType = contentTypeOf(event);
  if (contentType !== 'application/json') {
    throw new UnsupportedMediaTypeError(
      contentType === ''
        ? 'The request has no Content-Type: send JSON with Content-Type: application/json.'
        : `Send the request body as application/json, not ${contentType}.`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidRequestError('The request body is not valid JSON.', { reason: 'malformed_json' });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequestError('The request body must be a JSON object.');
  }
  // JSON.parse keeps the last of two same-named members; a WAF, a gateway or a log reader may keep the
  // first, so `{"entitlement":"a","entitlement":"b"}` would be checked as one request and served as another.
  if (hasDuplicateMembers(text)) {
    throw new InvalidRequestError('The request body names a member more than once.', { reason: 'duplicate_json_member' });
  }
  const unknown = Object.keys(body).filter((key) => !allowedFields.includes(key));
  if (unknown.length > 0) {
    throw new InvalidRequestError(`The request body may contain only: ${allowedFields.join(', ')}.`, {
      reason: 'unknown_fields',
    });
  }
  return body as Record<string, unknown>;
}

/**
 * An `application/x-www-form-urlencoded` body's fields: only the allowed names, each once. A stranger or a repeat is
 * refused, never merged or ignored; the one form parser of the API and the portal.
 */
export function formFields(text: string, allowed: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of new URLSearchParams(text)) {
    if (!allowed.includes(name))
      throw new InvalidRequestError(`The form may contain only: ${allowed.join(', ')}.`, { reason: 'unknown_fields' });
    if (Object.hasOwn(fields, name))
      throw new InvalidRequestError(`The form field ${name} appears more than once.`, { reason: 'duplicate_fields' });
    fields[name] = value;
  }
  return fields;
}

export function bodyText(event: APIGatewayProxyEventV2): string {
  const raw = event.body ?? '';
  return event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
}

export function contentTypeOf(event: APIGatewayProxyEventV2): string | undefined {
  return (event.headers?.['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
}
