import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { randomBytes, randomUUID } from 'node:crypto';
import type { HandlerRequest, LambdaSettings } from './protocol.ts';

const ACCOUNT_ID = '111111111111';
const API_ID = 'benchapi01';
const DOMAIN = `${API_ID}.execute-api.us-east-1.amazonaws.com`;
const USER_AGENT = 'keyvend-bench/1';

/**
 * An API Gateway HTTP API (payload 2.0) event as API Gateway builds it: lower-case headers, the route
 * key, and the source IP of the connection in requestContext.
 */
export function httpApiEvent(request: HandlerRequest): APIGatewayProxyEventV2 {
  const now = new Date();
  const routeKey = `${request.method} ${request.path}`;
  const headers: Record<string, string> = {
    accept: 'application/json',
    ...(request.authorization === undefined ? {} : { authorization: request.authorization }),
    host: DOMAIN,
    'user-agent': USER_AGENT,
    'x-amzn-trace-id': `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`,
    'x-forwarded-for': '127.0.0.1',
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
  };
  if (request.body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(request.body));
  }
  return {
    version: '2.0',
    routeKey,
    rawPath: request.path,
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: ACCOUNT_ID,
      apiId: API_ID,
      domainName: DOMAIN,
      domainPrefix: API_ID,
      http: { method: request.method, path: request.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: USER_AGENT },
      requestId: randomBytes(8).toString('base64url'),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(request.body === undefined ? {} : { body: request.body }),
    isBase64Encoded: false,
  };
}

/** A Lambda context for one invocation, with the function's configured timeout counting down. */
export function lambdaContext(settings: LambdaSettings): Context {
  const deadline = Date.now() + settings.timeoutSeconds * 1000;
  const name = settings.functionName;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT_ID}:function:${name}`,
    memoryLimitInMB: String(settings.memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: `${logStreamDate()}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

const logStreamDate = (): string => new Date().toISOString().slice(0, 10).replaceAll('-', '/');
