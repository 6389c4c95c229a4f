import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidRequestError, InvalidTokenError, KeyvendError } from '../../../src/domain/errors.ts';
import type { RequestContext } from '../../../src/domain/request-context.ts';
import type { PortalHttpSettings } from '../../../src/http/portal-http.ts';
import { portalErrorResponse, safeForm, safeQuery, signedInResponse } from '../../../src/http/portal-responses.ts';

const event = (fields: Partial<APIGatewayProxyEventV2>): APIGatewayProxyEventV2 =>
  ({ headers: {}, isBase64Encoded: false, ...fields }) as APIGatewayProxyEventV2;
const form = (body: string, contentType = 'application/x-www-form-urlencoded') => event({ body, headers: { 'content-type': contentType } });
const http: PortalHttpSettings = { secure: true, formTargets: ['https://signin.aws.amazon.com'] };
const context: RequestContext = { requestId: 'req-42' };

class RecordingLogger {
  readonly errors: { message: string; details: Record<string, unknown> }[] = [];
  error(message: string, details: Record<string, unknown>): void {
    this.errors.push({ message, details });
  }
}
const render = (error: KeyvendError, during: 'login' | 'action', cookies: string[] = []) => {
  const logger = new RecordingLogger();
  const response = portalErrorResponse(http, error, context, during, cookies, logger as unknown as Logger);
  return { response, body: String(response.body), logger };
};

describe('safeForm', () => {
  it('reads the named fields of a form', () => {
    // Act
    const fields = safeForm(form('csrf=abc&entitlement=e'), ['csrf', 'entitlement']);

    // Assess
    expect(fields).toEqual({ csrf: 'abc', entitlement: 'e' });
  });

  it.each([
    ['an unknown field', form('csrf=a&roleArn=x')],
    ['a repeated field', form('csrf=a&csrf=b')],
    ['a JSON body', form('{"csrf":"a"}', 'application/json')],
    ['a body over the limit', form(`csrf=${'a'.repeat(100)}`)],
  ])('reads %s as an empty form, for the use case to refuse', (_name, request) => {
    // Act
    const fields = safeForm(request, ['csrf'], 64);

    // Assess
    expect(fields).toEqual({});
  });
});

describe('safeQuery', () => {
  it('reads the query string', () => {
    // Act
    const query = safeQuery(event({ rawQueryString: 'idp=corp&outcome=denied' }));

    // Assess
    expect(query).toEqual({ idp: 'corp', outcome: 'denied' });
  });

  it('reads a repeated parameter as an empty query', () => {
    // Act
    const query = safeQuery(event({ rawQueryString: 'idp=corp&idp=other' }));

    // Assess
    expect(query).toEqual({});
  });
});

describe('signedInResponse', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-11-23T09:30:00.000Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('redirects home with the transaction cookie cleared and a session cookie that lasts as long as the session', () => {
    // Prepare
    const now = Math.floor(Date.now() / 1000);

    // Act
    const response = signedInResponse(http, { sessionCookie: 'sid.sig', session: { expiresAt: now + 1800 } }, 'clear-me=; Max-Age=0');

    // Assess
    expect(response.statusCode).toBe(302);
    expect(response.headers?.['location']).toBe('/portal');
    expect(response.cookies).toEqual([
      'clear-me=; Max-Age=0',
      '__Host-keyvend_session=sid.sig; Path=/; Max-Age=1800; HttpOnly; SameSite=Lax; Secure',
    ]);
  });

  it('uses the plain cookie name on plain-http loopback', () => {
    // Prepare
    const now = Math.floor(Date.now() / 1000);

    // Act
    const response = signedInResponse({ secure: false, formTargets: [] }, { sessionCookie: 's', session: { expiresAt: now + 600 } }, 'x=');

    // Assess
    expect(response.cookies?.[1]).toMatch(/^keyvend_session=s; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax$/);
  });
});

describe('portalErrorResponse', () => {
  it.each(['saml_unsolicited', 'saml_no_pending_request', 'saml_in_response_to_mismatch'])(
    'tells a sign-in refused as unsolicited SAML (%s) to start at the portal',
    (reason) => {
      // Act
      const { response, body, logger } = render(new InvalidTokenError(reason), 'login');

      // Assess
      expect(response.statusCode).toBe(401);
      expect(body).toContain('Sign-in failed');
      expect(body).toContain('must start here');
      expect(body).toContain('/portal/login');
      expect(logger.errors).toEqual([]);
    },
  );

  it('asks to start again after any other refused sign-in', () => {
    // Act
    const { response, body } = render(new InvalidTokenError('token_expired'), 'login');

    // Assess
    expect(response.statusCode).toBe(401);
    expect(body).toContain('The sign-in could not be completed. Please start again.');
    expect(body).not.toContain('must start here');
  });

  it('asks to sign in again when the session of an action is missing or expired, even for a SAML reason', () => {
    // Act
    const { response, body } = render(new InvalidTokenError('saml_unsolicited'), 'action', ['clear=; Max-Age=0']);

    // Assess
    expect(response.statusCode).toBe(401);
    expect(body).toContain('Please sign in again');
    expect(body).toContain('Your portal session is missing or has expired.');
    expect(body).toContain('href="/portal/login"');
    expect(response.cookies).toEqual(['clear=; Max-Age=0']);
  });

  it('says why an exposed refusal was refused, with a link back and the request id', () => {
    // Act
    const { response, body, logger } = render(new InvalidRequestError('The entitlement is not one of yours.'), 'action');

    // Assess
    expect(response.statusCode).toBe(400);
    expect(response.headers?.['content-type']).toBe('text/html; charset=utf-8');
    expect(body).toContain('Request refused');
    expect(body).toContain('The entitlement is not one of yours.');
    expect(body).toContain('href="/portal"');
    expect(body).not.toContain('href="/portal/login"');
    expect(body).toContain('req-42');
    expect(response.cookies).toBeUndefined();
    expect(logger.errors).toEqual([]);
  });

  it('says nothing of an internal failure’s cause, and logs it', () => {
    // Prepare
    const error = new KeyvendError('upstream_unavailable', 503, 'STS said arn:aws:iam::123:role/secret', {
      reason: 'sts_failed',
      cause: new Error('socket hang up'),
    });

    // Act
    const { response, body, logger } = render(error, 'action');

    // Assess
    expect(response.statusCode).toBe(503);
    expect(body).toContain('Something went wrong');
    expect(body).not.toContain('arn:aws:iam');
    expect(logger.errors).toHaveLength(1);
    expect(logger.errors[0]?.message).toBe('keyvend.portal_failed');
    expect(logger.errors[0]?.details).toMatchObject({ code: 'upstream_unavailable', reason: 'sts_failed' });
    expect(JSON.stringify(logger.errors[0]?.details['failure'])).toContain('socket hang up');
  });

  it('logs the error itself when it has no cause', () => {
    // Act
    const { logger } = render(new KeyvendError('internal_error', 500, 'boom'), 'login');

    // Assess
    expect(logger.errors[0]?.details).toMatchObject({ code: 'internal_error', reason: 'internal_error' });
    expect(JSON.stringify(logger.errors[0]?.details['failure'])).toContain('boom');
  });
});
