import type { APIGatewayProxyResultV2 } from 'aws-lambda';

/**
 * Headers on every API response. Credentials must never be cached by a browser, proxy or gateway stage
 * cache (RFC 6749 §5.1, security catalog C-02), and no response is ever rendered as a page.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
});

export function jsonResponse(
  statusCode: number,
  body: unknown,
  extraHeaders: Record<string, string> = {},
): APIGatewayProxyResultV2 & { statusCode: number; headers: Record<string, string>; body: string } {
  return { statusCode, headers: { ...SECURITY_HEADERS, ...extraHeaders }, body: JSON.stringify(body) };
}

/** A public document anyone may cache (the issuer's discovery document and JWKS): never credentials. */
export function publicJsonResponse(
  body: unknown,
  maxAgeSeconds: number,
): APIGatewayProxyResultV2 & { statusCode: number; headers: Record<string, string>; body: string } {
  const { pragma: _pragma, ...headers } = SECURITY_HEADERS;
  return { statusCode: 200, headers: { ...headers, 'cache-control': `public, max-age=${maxAgeSeconds}` }, body: JSON.stringify(body) };
}
