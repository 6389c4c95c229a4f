import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { parseCredentialsRequest, SAML_BODY_BYTES } from '../../src/http/credentials-request.ts';

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
      form([['SAMLResponse', 'PHNhbWxwOlJlc3BvbnNlLz4='], ['entitlement', 'saml-uploads'], ['durationSeconds', '900'], ['RelayState', 'x']]),
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
    ['a bearer token and a SAML response together', () => parseCredentialsRequest(form([['SAMLResponse', 'AAAA'], ['entitlement', 'e']]), 'Bearer t'), '400 ambiguous_credentials'],
    ['a repeated form field', () => parseCredentialsRequest(form([['SAMLResponse', 'AAAA'], ['SAMLResponse', 'BBBB']]), undefined), '400 duplicate_fields'],
    ['a JSON member named twice (JSON.parse would keep the last)', () => parseCredentialsRequest(event('application/json', '{"entitlement":"other","entitlement":"photo-uploads"}'), 'Bearer t'), '400 duplicate_json_member'],
    ['a JSON member named twice, once escaped', () => parseCredentialsRequest(event('application/json', '{"samlResponse":"AAAA","saml\\u0052esponse":"BBBB"}'), undefined), '400 duplicate_json_member'],
    ['an unknown form field', () => parseCredentialsRequest(form([['SAMLResponse', 'AAAA'], ['RoleArn', 'x']]), undefined), '400 unknown_fields'],
    ['a non-string samlResponse', () => parseCredentialsRequest(event('application/json', '{"samlResponse":["a"]}'), undefined), '400 saml_not_a_string'],
    ['a form above the SAML body limit', () => parseCredentialsRequest(form([['SAMLResponse', 'A'.repeat(SAML_BODY_BYTES)]]), undefined), '413 payload_too_large'],
    ['a bearer JSON body above 16 KiB (unchanged limit)', () => parseCredentialsRequest(event('application/json', JSON.stringify({ entitlement: 'x'.repeat(17_000) })), 'Bearer t'), '413 payload_too_large'],
    ['text/plain', () => parseCredentialsRequest(event('text/plain', 'SAMLResponse=AAAA'), undefined), '415 unsupported_media_type'],
  ])('refuses %s', (_name, parse, expected) => {
    expect(reasonOf(parse)).toBe(expected);
  });
});
