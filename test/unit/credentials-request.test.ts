import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { parseCredentialsRequest, readCredentialsRequest, SAML_BODY_BYTES } from '../../src/http/credentials-request.ts';
import { readConsoleRequest } from '../../src/http/console-request.ts';

const event = (contentType: string, body: string): APIGatewayProxyEventV2 =>
  ({ headers: { 'content-type': contentType }, body, isBase64Encoded: false }) as unknown as APIGatewayProxyEventV2;
const form = (fields: [string, string][]) => event('application/x-www-form-urlencoded', new URLSearchParams(fields).toString());
const reasonOf = (fn: () => unknown) => {
  try {
    fn();
    return 'parsed';
  } catch (error) {
    return `${(error as { httpStatus: number }).httpStatus} ${(error as { reason: string }).reason}`;
  }
};

describe('parseCredentialsRequest', () => {
  it('reads the HTTP-POST binding form: SAMLResponse as a Secret, durationSeconds as a number, RelayState ignored', () => {
    // Act
    const request = parseCredentialsRequest(
      form([
        ['SAMLResponse', 'PHNhbWxwOlJlc3BvbnNlLz4='],
        ['entitlement', 'saml-uploads'],
        ['durationSeconds', '900'],
        ['RelayState', 'x'],
      ]),
      undefined,
    );

    // Assess
    expect(request.credential.kind).toBe('saml');
    expect(request.credential.kind === 'saml' && request.credential.samlResponse.reveal()).toBe('PHNhbWxwOlJlc3BvbnNlLz4=');
    expect(JSON.stringify(request)).not.toContain('PHNhbWxw');
    expect(request).toMatchObject({ entitlement: 'saml-uploads', durationSeconds: 900 });
  });

  it('reads JSON {samlResponse, entitlement}, and keeps the bearer path when there is no SAML response', () => {
    // Act
    const saml = parseCredentialsRequest(event('application/json', JSON.stringify({ samlResponse: 'AAAA', entitlement: 'e' })), undefined);
    const bearer = parseCredentialsRequest(event('application/json', JSON.stringify({ entitlement: 'e' })), 'Bearer t');

    // Assess
    expect(saml.credential.kind).toBe('saml');
    expect(bearer.credential).toEqual({ kind: 'bearer', authorization: 'Bearer t' });
  });

  it.each([
    [
      'a bearer token and a SAML response together',
      () =>
        parseCredentialsRequest(
          form([
            ['SAMLResponse', 'AAAA'],
            ['entitlement', 'e'],
          ]),
          'Bearer t',
        ),
      '400 ambiguous_credentials',
    ],
    [
      'a repeated form field',
      () =>
        parseCredentialsRequest(
          form([
            ['SAMLResponse', 'AAAA'],
            ['SAMLResponse', 'BBBB'],
          ]),
          undefined,
        ),
      '400 duplicate_fields',
    ],
    [
      'a JSON member named twice (JSON.parse would keep the last)',
      () => parseCredentialsRequest(event('application/json', '{"entitlement":"other","entitlement":"photo-uploads"}'), 'Bearer t'),
      '400 duplicate_json_member',
    ],
    [
      'a JSON member named twice, once escaped',
      () => parseCredentialsRequest(event('application/json', '{"samlResponse":"AAAA","saml\\u0052esponse":"BBBB"}'), undefined),
      '400 duplicate_json_member',
    ],
    [
      'an unknown form field',
      () =>
        parseCredentialsRequest(
          form([
            ['SAMLResponse', 'AAAA'],
            ['RoleArn', 'x'],
          ]),
          undefined,
        ),
      '400 unknown_fields',
    ],
    [
      'a non-string samlResponse',
      () => parseCredentialsRequest(event('application/json', '{"samlResponse":["a"]}'), undefined),
      '400 saml_not_a_string',
    ],
    [
      'a form above the SAML body limit',
      () => parseCredentialsRequest(form([['SAMLResponse', 'A'.repeat(SAML_BODY_BYTES)]]), undefined),
      '413 payload_too_large',
    ],
    [
      'a bearer JSON body above 16 KiB (unchanged limit)',
      () => parseCredentialsRequest(event('application/json', JSON.stringify({ entitlement: 'x'.repeat(17_000) })), 'Bearer t'),
      '413 payload_too_large',
    ],
    ['text/plain', () => parseCredentialsRequest(event('text/plain', 'SAMLResponse=AAAA'), undefined), '415 unsupported_media_type'],
  ])('refuses %s', (_name, parse, expected) => {
    expect(reasonOf(parse)).toBe(expected);
  });

  it.each([
    [
      'JSON labelled as a form (curl -d without a header)',
      event('application/x-www-form-urlencoded', '{"entitlement":"photo-uploads"}'),
      /looks like JSON.*Content-Type: application\/json/,
    ],
    [
      'JSON with no Content-Type',
      event('', '{"entitlement":"photo-uploads"}'),
      /has no Content-Type: send JSON with Content-Type: application\/json/,
    ],
    ['text/plain', event('text/plain', '{}'), /application\/json or application\/x-www-form-urlencoded, not text\/plain/],
  ])('answers %s with a 415 that says which header to send', (_name, request, message) => {
    // Act + Assess
    expect(() => parseCredentialsRequest(request, 'Bearer t')).toThrow(
      expect.objectContaining({ httpStatus: 415, code: 'unsupported_media_type', message: expect.stringMatching(message) }),
    );
  });
});

describe('readCredentialsRequest: which problems are audited with a verified caller', () => {
  const withHeaders = (base: APIGatewayProxyEventV2, authorization: string | undefined, query?: Record<string, string>) =>
    ({
      ...base,
      headers: { ...base.headers, ...(authorization === undefined ? {} : { authorization }) },
      ...(query === undefined ? {} : { queryStringParameters: query }),
    }) as APIGatewayProxyEventV2;

  it('passes a well-formed request on with its caller and no problem', () => {
    // Act
    const bearer = readCredentialsRequest(withHeaders(event('application/json', '{"entitlement":"e","durationSeconds":900}'), 'Bearer t'));
    const saml = readCredentialsRequest(
      form([
        ['SAMLResponse', 'AAAA'],
        ['entitlement', 'e'],
      ]),
    );

    // Assess
    expect(bearer).toEqual({ caller: { kind: 'bearer', authorization: 'Bearer t' }, entitlement: 'e', durationSeconds: 900 });
    expect(saml.caller.kind).toBe('saml');
    expect(saml.requestProblem).toBeUndefined();
  });

  it.each([
    [
      'a bad body with a bearer token',
      withHeaders(event('application/json', '{"entitlement":"e","RoleArn":"x"}'), 'Bearer t'),
      'unknown_fields',
      'with-verified-caller',
    ],
    [
      'a token in the query with a bearer token',
      withHeaders(event('application/json', '{}'), 'Bearer t', { access_token: 'x' }),
      'token_in_query',
      'with-verified-caller',
    ],
    ['a bad body without a bearer token', event('application/json', '{"samlResponse":["a"]}'), 'saml_not_a_string', 'without-caller'],
    [
      'a bad body with an empty Authorization header',
      withHeaders(event('text/plain', 'x'), ''),
      'unsupported_media_type',
      'without-caller',
    ],
    [
      'a bearer token and a SAML response together',
      withHeaders(form([['SAMLResponse', 'AAAA']]), 'Bearer t'),
      'ambiguous_credentials',
      'without-caller',
    ],
  ])('%s: the problem goes to the use case, audited %s', (_name, request, reason, audited) => {
    // Act
    const read = readCredentialsRequest(request);

    // Assess: the caller to verify is the bearer header alone, and nothing of the body survives a problem
    expect(read.requestProblem).toMatchObject({ error: { reason }, audited });
    expect(read.caller).toEqual({ kind: 'bearer', authorization: request.headers['authorization'] });
    expect(read.entitlement).toBeUndefined();
  });
});

describe('readConsoleRequest', () => {
  it('reads {entitlement, destination, durationSeconds} for the bearer caller', () => {
    // Act
    const read = readConsoleRequest({
      ...event('application/json', '{"entitlement":"e","destination":"https://console.aws.amazon.com/s3/","durationSeconds":900}'),
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
    } as APIGatewayProxyEventV2);

    // Assess
    expect(read).toEqual({
      caller: { kind: 'bearer', authorization: 'Bearer t' },
      entitlement: 'e',
      destination: 'https://console.aws.amazon.com/s3/',
      durationSeconds: 900,
    });
  });

  it('hands a problem to the use case with the bearer caller instead of answering it', () => {
    // Act
    const read = readConsoleRequest({
      ...event('application/json', '{"entitlement":"e","Policy":"{}"}'),
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
    } as APIGatewayProxyEventV2);

    // Assess
    expect(read.caller).toEqual({ kind: 'bearer', authorization: 'Bearer t' });
    expect(read.requestProblem).toMatchObject({ code: 'invalid_request', reason: 'unknown_fields' });
    expect(read.entitlement).toBeUndefined();
  });
});
