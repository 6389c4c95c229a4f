import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { errorHandler } from './error-handler.ts';

export type Route = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;

/**
 * Every HTTP function: the Lambda context on every log line (function name, request id, cold start), lower-cased
 * headers, then the route, with one error model on the way out. The logger is the function's own (from the
 * composition), so this layer never reaches into the container.
 */
export const httpHandler = (logger: Logger, route: Route) =>
  middy<APIGatewayProxyEventV2, APIGatewayProxyResultV2>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpHeaderNormalizer())
    .use(errorHandler(logger))
    .handler(route);
