import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  auditQueryParameters,
  explainBody,
  explainQuery,
  PORTAL_AUDIT_LIMIT,
  portalAuditPageUrl,
  portalAuditQuery,
} from '../../../src/http/explain-request.ts';

const event = (fields: Partial<APIGatewayProxyEventV2>): APIGatewayProxyEventV2 =>
  ({ headers: { authorization: 'Bearer t' }, isBase64Encoded: false, ...fields }) as APIGatewayProxyEventV2;
const query = (rawQueryString: string, extra: Partial<APIGatewayProxyEventV2> = {}): APIGatewayProxyEventV2 => {
  // API Gateway joins a repeated parameter with a comma in queryStringParameters; rawQueryString keeps both
  const parameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    parameters[name] = parameters[name] === undefined ? value : `${parameters[name]},${value}`;
  }
  return event({ rawQueryString, ...(rawQueryString === '' ? {} : { queryStringParameters: parameters }), ...extra });
};
const json = (body: unknown, contentType = 'application/json'): APIGatewayProxyEventV2 =>
  event({
    headers: { authorization: 'Bearer t', 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const refusalOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'parsed';
  } catch (error) {
    const { httpStatus, code, reason } = error as { httpStatus: number; code: string; reason: string };
    return `${httpStatus} ${code} ${reason}`;
  }
};

describe('explainQuery (GET /v1/explain/{entitlement})', () => {
  it('reads the entitlement from the path and the bearer token from the Authorization header', () => {
    // Prepare
    const request = event({ pathParameters: { entitlement: 'photo-uploads' } });

    // Act
    const input = explainQuery(request);

    // Assess: no output asked, none passed on
    expect(input).toEqual({ authorization: 'Bearer t', entitlement: 'photo-uploads' });
    expect('output' in input).toBe(false);
  });

  it('passes on ?output=console for the use case to check', () => {
    // Act
    const input = explainQuery(query('output=console', { pathParameters: { entitlement: 'console-readonly' } }));

    // Assess
    expect(input).toEqual({ authorization: 'Bearer t', entitlement: 'console-readonly', output: 'console' });
  });

  it('passes on a bad output or a missing entitlement unchanged: the use case refuses them and audits the refusal', () => {
    // Act
    const badOutput = explainQuery(query('output=shell', { pathParameters: { entitlement: 'e' } }));
    const noEntitlement = explainQuery(event({ headers: {} }));

    // Assess
    expect(badOutput.output).toBe('shell');
    expect(noEntitlement).toEqual({ authorization: undefined, entitlement: undefined });
  });

  it.each([
    ['an unknown parameter', 'output=console&verbose=1', '400 invalid_request unknown_fields'],
    ['a bearer token in the query string', 'access_token=abc', '400 invalid_request unknown_fields'],
    ['a repeated output', 'output=console&output=credentials', '400 invalid_request duplicate_fields'],
  ])('refuses %s', (_name, raw, expected) => {
    // Act
    const refusal = refusalOf(() => explainQuery(query(raw, { pathParameters: { entitlement: 'e' } })));

    // Assess
    expect(refusal).toBe(expected);
  });

  it('names the accepted parameters in its refusal', () => {
    // Act
    const thrown = (() => {
      try {
        explainQuery(query('id_token=x'));
      } catch (error) {
        return error as Error;
      }
      return undefined;
    })();

    // Assess
    expect(thrown?.message).toBe('The query may contain only: output.');
  });
});

describe('explainBody (POST /v1/explain)', () => {
  it('reads the caller’s own explanation: entitlement and output, no one else named', () => {
    // Act
    const input = explainBody(json({ entitlement: 'photo-uploads', output: 'credentials' }));

    // Assess
    expect(input).toEqual({ authorization: 'Bearer t', entitlement: 'photo-uploads', output: 'credentials' });
    expect('for' in input).toBe(false);
  });

  it('leaves output out when the body does not name it', () => {
    // Act
    const input = explainBody(json({ entitlement: 'photo-uploads' }));

    // Assess
    expect(input).toEqual({ authorization: 'Bearer t', entitlement: 'photo-uploads' });
  });

  it('reads an admin’s question about someone else, with their groups and attributes', () => {
    // Act
    const input = explainBody(
      json({ entitlement: 'e', issuer: 'corp', subject: 'alice', groups: ['uploaders'], attributes: { dept: 'ops' } }),
    );

    // Assess
    expect(input.for).toEqual({ issuer: 'corp', subject: 'alice', groups: ['uploaders'], attributes: { dept: 'ops' } });
  });

  it('defaults the other person’s groups and attributes to none when only issuer and subject are named', () => {
    // Act
    const input = explainBody(json({ entitlement: 'e', issuer: 'corp', subject: 'alice' }));

    // Assess
    expect(input.for).toEqual({ issuer: 'corp', subject: 'alice', groups: [], attributes: {} });
  });

  it.each([
    ['only groups', { entitlement: 'e', groups: ['g'] }, { issuer: undefined, subject: undefined, groups: ['g'], attributes: {} }],
    [
      'only attributes',
      { entitlement: 'e', attributes: { a: 'b' } },
      { issuer: undefined, subject: undefined, groups: [], attributes: { a: 'b' } },
    ],
    ['a bad issuer and subject', { entitlement: 'e', issuer: 7, subject: '' }, { issuer: 7, subject: '', groups: [], attributes: {} }],
    [
      'groups that are not a list',
      { entitlement: 'e', subject: 'alice', groups: 'uploaders' },
      { issuer: undefined, subject: 'alice', groups: 'uploaders', attributes: {} },
    ],
  ])('treats %s as a question about someone else, passed on for the use case to check', (_name, body, expected) => {
    // Act
    const input = explainBody(json(body));

    // Assess: the use case validates issuer, subject and groups (and that the caller is an admin) and audits a refusal
    expect(input.for).toEqual(expected);
  });

  it.each([
    ['an unknown field', { entitlement: 'e', roleArn: 'arn:aws:iam::1:role/x' }, '400 invalid_request unknown_fields'],
    ['a member named twice', '{"entitlement":"a","entitlement":"b"}', '400 invalid_request duplicate_json_member'],
    ['malformed JSON', '{"entitlement":', '400 invalid_request malformed_json'],
    ['a JSON array', '["e"]', '400 invalid_request invalid_request'],
    ['JSON null', 'null', '400 invalid_request invalid_request'],
  ])('refuses %s', (_name, body, expected) => {
    // Act
    const refusal = refusalOf(() => explainBody(json(body)));

    // Assess
    expect(refusal).toBe(expected);
  });

  it('refuses a form body or a body without a Content-Type', () => {
    // Act
    const form = refusalOf(() => explainBody(json('entitlement=e', 'application/x-www-form-urlencoded')));
    const none = refusalOf(() => explainBody(event({ body: '{"entitlement":"e"}' })));

    // Assess
    expect(form).toBe('415 unsupported_media_type unsupported_media_type');
    expect(none).toBe('415 unsupported_media_type unsupported_media_type');
  });

  it('refuses a body over 16 KiB', () => {
    // Act
    const refusal = refusalOf(() => explainBody(json({ entitlement: 'e'.repeat(17 * 1024) })));

    // Assess
    expect(refusal).toBe('413 payload_too_large payload_too_large');
  });

  it('reads a base64-encoded body', () => {
    // Prepare
    const request = event({
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: Buffer.from('{"entitlement":"e","output":"console"}').toString('base64'),
      isBase64Encoded: true,
    });

    // Act
    const input = explainBody(request);

    // Assess
    expect(input).toEqual({ authorization: undefined, entitlement: 'e', output: 'console' });
  });
});

describe('auditQueryParameters (GET /v1/admin/audit)', () => {
  it('passes on every known filter', () => {
    // Act
    const parameters = auditQueryParameters(
      query('user=u1&issuer=corp&subject=alice&entitlement=e&outcome=denied&from=2026-01-01&to=2026-02-01&limit=10&pageToken=p'),
    );

    // Assess
    expect(parameters).toEqual({
      user: 'u1',
      issuer: 'corp',
      subject: 'alice',
      entitlement: 'e',
      outcome: 'denied',
      from: '2026-01-01',
      to: '2026-02-01',
      limit: '10',
      pageToken: 'p',
    });
  });

  it('reads no query as no filters, and drops a parameter without a value', () => {
    // Act
    const none = auditQueryParameters(event({}));
    const undefinedValue = auditQueryParameters(event({ queryStringParameters: { issuer: 'corp', subject: undefined } }));

    // Assess
    expect(none).toEqual({});
    expect(undefinedValue).toEqual({ issuer: 'corp' });
  });

  it.each([
    ['an unknown filter', 'issuer=corp&role=admin', '400 invalid_request unknown_fields'],
    ['a repeated filter', 'outcome=denied&outcome=issued', '400 invalid_request duplicate_fields'],
    ['a token in the query', 'token=abc', '400 invalid_request unknown_fields'],
  ])('refuses %s', (_name, raw, expected) => {
    // Act
    const refusal = refusalOf(() => auditQueryParameters(query(raw)));

    // Assess
    expect(refusal).toBe(expected);
  });
});

describe('portalAuditQuery (GET /portal/admin)', () => {
  it('maps the form to the audit query: idp is the issuer, empty fields are left out, 25 records a page', () => {
    // Act
    const { filters, parameters } = portalAuditQuery({
      idp: 'corp',
      subject: '',
      entitlement: 'e',
      outcome: 'denied',
      from: '2026-01-01',
      to: '',
      pageToken: 'next',
    });

    // Assess
    expect(filters).toEqual({ idp: 'corp', entitlement: 'e', outcome: 'denied', from: '2026-01-01' });
    expect(parameters).toEqual({
      limit: PORTAL_AUDIT_LIMIT,
      issuer: 'corp',
      entitlement: 'e',
      outcome: 'denied',
      from: '2026-01-01',
      pageToken: 'next',
    });
    expect(PORTAL_AUDIT_LIMIT).toBe('25');
  });

  it('asks for the first page with no filters when the form is empty, an empty page token included', () => {
    // Act
    const { filters, parameters } = portalAuditQuery({ pageToken: '' });

    // Assess
    expect(filters).toEqual({});
    expect(parameters).toEqual({ limit: '25' });
  });

  it('builds the next page’s link from the filters kept and the page token', () => {
    // Act
    const url = portalAuditPageUrl({ idp: 'corp', subject: undefined, outcome: 'denied', to: '2026-02-01T00:00' }, 'tok/+=');

    // Assess
    expect(url).toBe('/portal/admin?idp=corp&outcome=denied&to=2026-02-01T00%3A00&pageToken=tok%2F%2B%3D');
  });
});
