import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { PowertoolsDecisionLog } from '../../src/adapters/logging/powertools-decision-log.ts';
import { InternalError, InvalidTokenError, NotEntitledError, UpstreamUnavailableError } from '../../src/domain/errors.ts';
import { errorHandler } from '../../src/http/error-handler.ts';
import { authorizationOf, requestContextOf } from '../../src/http/request.ts';

class RecordingLogger {
  readonly lines: { level: string; message: string; extra: unknown }[] = [];
  info(message: string, extra: unknown) {
    this.lines.push({ level: 'info', message, extra });
  }
  warn(message: string, extra: unknown) {
    this.lines.push({ level: 'warn', message, extra });
  }
  error(message: string, extra: unknown) {
    this.lines.push({ level: 'error', message, extra });
  }
}

async function respond(error: unknown) {
  const logger = new RecordingLogger();
  const request = { error, context: { awsRequestId: 'lambda-req-1' }, response: undefined as unknown } as never as Parameters<
    NonNullable<ReturnType<typeof errorHandler>['onError']>
  >[0];
  await errorHandler(logger as unknown as Logger).onError?.(request);
  const response = (request as { response: { statusCode: number; headers: Record<string, string>; body: string } }).response;
  return { response, body: JSON.parse(response.body) as Record<string, unknown>, logger };
}

describe('errorHandler', () => {
  it('shows a client error message with its code and the request id', async () => {
    // Act
    const { response, body } = await respond(new NotEntitledError('no_matching_entitlement'));

    // Assess
    expect(response.statusCode).toBe(403);
    expect(body).toEqual({ error: 'not_entitled', message: new NotEntitledError().message, requestId: 'lambda-req-1' });
    expect(JSON.stringify(body)).not.toContain('no_matching_entitlement');
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('adds WWW-Authenticate to invalid_token and Retry-After to 503', async () => {
    // Act
    const unauthorized = await respond(new InvalidTokenError('bad_signature'));
    const unavailable = await respond(new UpstreamUnavailableError('sts_throttled', { retryAfterSeconds: 5 }));

    // Assess
    expect(unauthorized.response.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(unavailable.response.headers['retry-after']).toBe('5');
    expect(unavailable.body['message']).toBe('A service the broker depends on is unavailable; retry later.');
  });

  it('names the failed dependency in the log line of a 503, and only there', async () => {
    // Prepare
    const dependency = { service: 'jwks', issuerId: 'corp', url: 'https://idp.example.com/keys' };

    // Act
    const { body, logger } = await respond(
      new UpstreamUnavailableError('jwks_unavailable', { cause: new TypeError('fetch failed'), dependency }),
    );

    // Assess
    expect(logger.lines).toEqual([
      {
        level: 'error',
        message: 'keyvend.request_failed',
        extra: {
          code: 'upstream_unavailable',
          reason: 'jwks_unavailable',
          dependency,
          failure: { name: 'TypeError', message: 'fetch failed' },
        },
      },
    ]);
    expect(JSON.stringify(body)).not.toMatch(/jwks|idp\.example/);
  });

  it('hides the detail of 500s and of anything unknown, logging only a bounded description', async () => {
    // Prepare
    const leaky = new Error(
      `AccessDenied for arn:aws:sts::111111111111:assumed-role/broker/x SessionToken=IQoJb3JpZ2luX2VjEsecret ${'x'.repeat(1000)}`,
    );

    // Act
    const known = await respond(new InternalError('sts_access_denied', { cause: leaky }));
    const unknown = await respond(leaky);

    // Assess
    for (const { response, body, logger } of [known, unknown]) {
      expect(response.statusCode).toBe(500);
      expect(body).toEqual({ error: 'internal_error', message: 'Internal error.', requestId: 'lambda-req-1' });
      const logged = JSON.stringify(logger.lines);
      expect(logged.length).toBeLessThan(1000);
      expect(logged).not.toContain('x'.repeat(400));
    }
  });
});

describe('request parsing', () => {
  it('takes the source IP from API Gateway, never from X-Forwarded-For', () => {
    // Prepare
    const event = {
      headers: { 'x-forwarded-for': '10.0.0.1', authorization: 'Bearer t' },
      requestContext: { requestId: 'api-1', http: { sourceIp: '203.0.113.9', userAgent: 'agent' } },
    } as unknown as APIGatewayProxyEventV2;

    // Act + Assess
    expect(requestContextOf(event, { awsRequestId: 'l-1' })).toEqual({
      requestId: 'l-1',
      apiRequestId: 'api-1',
      sourceIp: '203.0.113.9',
      userAgent: 'agent',
    });
    expect(authorizationOf(event)).toBe('Bearer t');
  });
});

describe('PowertoolsDecisionLog', () => {
  it('logs grants as info, denials as warn, and alarms with a bounded error description only', () => {
    // Prepare
    const logger = new RecordingLogger();
    const log = new PowertoolsDecisionLog(logger as unknown as Logger);
    const record = { eventId: 'e', time: 't', action: 'credentials', outcome: 'granted', request: { requestId: 'r' } } as const;
    const cause = Object.assign(new Error('y'.repeat(2000)), {
      code: 'ECONNREFUSED',
      config: { credentials: { secretAccessKey: 'SECRET' } },
    });

    // Act
    log.decision({ ...record });
    log.decision({ ...record, outcome: 'denied' });
    log.alarm('minted_not_delivered', { ...record, outcome: 'minted_not_delivered' }, cause);

    // Assess
    expect(logger.lines.map((l) => `${l.level}:${l.message}`)).toEqual([
      'info:keyvend.decision',
      'warn:keyvend.decision',
      'error:keyvend.alarm.minted_not_delivered',
    ]);
    const alarm = logger.lines[2]?.extra as { failure: { name: string; code: string; message: string } };
    expect(alarm.failure).toEqual({ name: 'Error', code: 'ECONNREFUSED', message: 'y'.repeat(300) });
    expect(JSON.stringify(logger.lines)).not.toContain('SECRET');
  });
});
