import type { Logger } from '@aws-lambda-powertools/logger';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { describeError, InternalError, isKeyvendError, UpstreamUnavailableError } from '../domain/errors.ts';
import { jsonResponse } from './responses.ts';

/**
 * The one place that turns errors into responses: `{ error, message, requestId }`. Errors below 500 show
 * their message; everything else, including anything unknown, is an opaque `internal_error` or the
 * generic message of its code. The error object itself is never serialised.
 */
export function errorHandler(logger: Logger): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyResultV2> {
  return {
    onError: async (request) => {
      const error = isKeyvendError(request.error) ? request.error : new InternalError('unhandled', { cause: request.error });
      if (error.httpStatus >= 500) {
        logger.error('keyvend.request_failed', {
          code: error.code,
          reason: error.reason,
          // Which service failed (e.g. an issuer's JWKS and its URL), so a 503 can be investigated from the log.
          ...(error instanceof UpstreamUnavailableError && error.dependency !== undefined ? { dependency: error.dependency } : {}),
          failure: describeError(error.cause ?? error),
        });
      }
      const requestId = request.context.awsRequestId;
      const headers: Record<string, string> = {};
      if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
      if (error.code === 'invalid_token') headers['www-authenticate'] = 'Bearer error="invalid_token"';
      request.response = jsonResponse(
        error.httpStatus,
        { error: error.code, message: error.expose ? error.message : genericMessage(error.httpStatus), requestId },
        headers,
      );
    },
  };
}

function genericMessage(status: number): string {
  return status === 503 ? 'A service the broker depends on is unavailable; retry later.' : 'Internal error.';
}
