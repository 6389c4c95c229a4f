import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { RequestContext } from '../../../src/domain/request-context.ts';
import { readListRequest, readRevokeRequest, readUnrevokeRequest } from '../../../src/http/revocations-request.ts';

const context: RequestContext = { requestId: 'req-1', sourceIp: '203.0.113.7' };
const event = (fields: Partial<APIGatewayProxyEventV2>): APIGatewayProxyEventV2 =>
  ({ headers: { authorization: 'Bearer admin' }, isBase64Encoded: false, ...fields }) as APIGatewayProxyEventV2;
const json = (body: unknown, fields: Partial<APIGatewayProxyEventV2> = {}): APIGatewayProxyEventV2 =>
  event({
    headers: { authorization: 'Bearer admin', 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...fields,
  });
const problemOf = (input: { requestProblem?: { httpStatus: number; code: string; reason: string } | undefined }): string =>
  input.requestProblem === undefined
    ? 'none'
    : `${input.requestProblem.httpStatus} ${input.requestProblem.code} ${input.requestProblem.reason}`;

describe('readRevokeRequest (POST /v1/admin/revocations)', () => {
  it('reads the bearer caller, the context and the JSON body', () => {
    // Prepare
    const body = { kind: 'user', issuer: 'corp', subject: 'alice', reason: 'left the company' };

    // Act
    const input = readRevokeRequest(json(body), context);

    // Assess
    expect(input).toEqual({ caller: { kind: 'bearer', authorization: 'Bearer admin' }, context, body });
    expect(problemOf(input)).toBe('none');
  });

  it('reads a grant revocation with every field', () => {
    // Prepare
    const body = { kind: 'grant', grantId: 'g-1', entitlement: 'photo-uploads', reason: 'incident 42' };

    // Act
    const input = readRevokeRequest(json(body), context);

    // Assess
    expect(input.body).toEqual(body);
  });

  it('hands a token in the query string to the use case as the problem, without reading the body', () => {
    // Act
    const input = readRevokeRequest(json({ kind: 'user', reason: 'r' }, { queryStringParameters: { access_token: 'abc' } }), context);

    // Assess: the caller is still named, so the use case can audit who tried
    expect(problemOf(input)).toBe('400 invalid_request token_in_query');
    expect(input.body).toBeUndefined();
    expect(input.caller).toEqual({ kind: 'bearer', authorization: 'Bearer admin' });
    expect(input.context).toBe(context);
  });

  it.each([
    ['an unknown field', { kind: 'user', reason: 'r', policy: '*' }, '400 invalid_request unknown_fields'],
    ['a member named twice', '{"kind":"user","kind":"grant","reason":"r"}', '400 invalid_request duplicate_json_member'],
    ['malformed JSON', '{"kind":', '400 invalid_request malformed_json'],
    ['a body over 4 KiB', { kind: 'user', reason: 'r'.repeat(4097) }, '413 payload_too_large payload_too_large'],
  ])('hands %s to the use case as the problem', (_name, body, expected) => {
    // Act
    const input = readRevokeRequest(json(body), context);

    // Assess
    expect(problemOf(input)).toBe(expected);
    expect(input.body).toBeUndefined();
  });

  it('hands a body that is not JSON to the use case as an unsupported media type', () => {
    // Act
    const input = readRevokeRequest(
      event({ headers: { authorization: 'Bearer admin', 'content-type': 'text/plain' }, body: 'kind=user' }),
      context,
    );

    // Assess
    expect(problemOf(input)).toBe('415 unsupported_media_type unsupported_media_type');
  });
});

describe('readListRequest (GET /v1/admin/revocations)', () => {
  it('reads the bearer caller and the context, with no problem', () => {
    // Act
    const input = readListRequest(event({}), context);

    // Assess
    expect(input).toEqual({ caller: { kind: 'bearer', authorization: 'Bearer admin' }, context });
  });

  it('refuses any query parameter', () => {
    // Act
    const input = readListRequest(event({ queryStringParameters: { limit: '10' } }), context);

    // Assess
    expect(problemOf(input)).toBe('400 invalid_request unknown_fields');
  });

  it('names a token in the query as that, not as an unknown parameter', () => {
    // Act
    const input = readListRequest(event({ queryStringParameters: { token: 'abc' } }), context);

    // Assess
    expect(problemOf(input)).toBe('400 invalid_request token_in_query');
  });

  it('keeps a missing Authorization header as an undefined caller token for the use case to refuse', () => {
    // Act
    const input = readListRequest(event({ headers: {} }), context);

    // Assess
    expect(input.caller).toEqual({ kind: 'bearer', authorization: undefined });
    expect(problemOf(input)).toBe('none');
  });
});

describe('readUnrevokeRequest (DELETE /v1/admin/revocations/{id})', () => {
  it('reads the reason from the query when there is no body', () => {
    // Act
    const input = readUnrevokeRequest(event({ pathParameters: { id: 'rev-1' }, queryStringParameters: { reason: 'rehired' } }), context);

    // Assess
    expect(input).toEqual({ caller: { kind: 'bearer', authorization: 'Bearer admin' }, context, id: 'rev-1', reason: 'rehired' });
  });

  it('reads the reason from a JSON body', () => {
    // Act
    const input = readUnrevokeRequest(json({ reason: 'rehired' }, { pathParameters: { id: 'rev-1' } }), context);

    // Assess
    expect(input).toMatchObject({ id: 'rev-1', reason: 'rehired' });
    expect(problemOf(input)).toBe('none');
  });

  it('passes on a missing id and a missing reason for the use case to refuse', () => {
    // Act
    const input = readUnrevokeRequest(event({}), context);

    // Assess
    expect(input).toEqual({ caller: { kind: 'bearer', authorization: 'Bearer admin' }, context, id: undefined, reason: undefined });
  });

  it('hands a token in the query to the use case as the problem, keeping the id for the audit', () => {
    // Act
    const input = readUnrevokeRequest(
      event({ pathParameters: { id: 'rev-1' }, queryStringParameters: { reason: 'r', id_token: 'x' } }),
      context,
    );

    // Assess
    expect(problemOf(input)).toBe('400 invalid_request token_in_query');
    expect(input.id).toBe('rev-1');
    expect(input.reason).toBeUndefined();
  });

  it.each([
    [
      'an unknown query parameter',
      event({ pathParameters: { id: 'rev-1' }, queryStringParameters: { force: 'true' } }),
      '400 invalid_request unknown_fields',
    ],
    [
      'a reason in both the body and the query',
      json({ reason: 'a' }, { pathParameters: { id: 'rev-1' }, queryStringParameters: { reason: 'b' } }),
      '400 invalid_request unknown_fields',
    ],
    [
      'an unknown body field',
      json({ reason: 'a', id: 'rev-2' }, { pathParameters: { id: 'rev-1' } }),
      '400 invalid_request unknown_fields',
    ],
    ['malformed JSON', json('{"reason"', { pathParameters: { id: 'rev-1' } }), '400 invalid_request malformed_json'],
    [
      'a body that is not JSON',
      event({ pathParameters: { id: 'rev-1' }, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'reason=a' }),
      '415 unsupported_media_type unsupported_media_type',
    ],
    [
      'a body over 4 KiB',
      json({ reason: 'r'.repeat(4097) }, { pathParameters: { id: 'rev-1' } }),
      '413 payload_too_large payload_too_large',
    ],
  ])('hands %s to the use case as the problem', (_name, request, expected) => {
    // Act
    const input = readUnrevokeRequest(request, context);

    // Assess
    expect(problemOf(input)).toBe(expected);
    expect(input.id).toBe('rev-1');
    expect(input.reason).toBeUndefined();
  });

  it('reads the message of a reason given twice', () => {
    // Act
    const input = readUnrevokeRequest(
      json({ reason: 'a' }, { pathParameters: { id: 'rev-1' }, queryStringParameters: { reason: 'b' } }),
      context,
    );

    // Assess
    expect(input.requestProblem?.message).toBe('Give the reason in the body or the query, not both.');
  });
});
