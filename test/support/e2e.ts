import { readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { scanAll } from './dynamodb.ts';
import { importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';
import { inject } from 'vitest';
import { fetchAccessToken } from '../../infra/local/dev-idp/index.ts';
import { TEST_CLIENT_ID } from './test-issuer.ts';

export const stack = () => inject('stack');

/** A token from the tests' own issuer, valid unless the caller overrides claims or header fields. */
export async function testToken(
  claims: JWTPayload = {},
  options: { alg?: 'RS256' | 'ES256'; header?: Record<string, unknown>; lifetimeSeconds?: number } = {},
): Promise<string> {
  const { testIssuer } = stack();
  const alg = options.alg ?? 'RS256';
  const key = alg === 'RS256' ? testIssuer.rsa : testIssuer.ec;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: testIssuer.issuer,
    aud: testIssuer.audience,
    sub: 'tester-0001',
    client_id: TEST_CLIENT_ID,
    groups: ['testers'],
    department: 'research',
    iat: now,
    exp: now + (options.lifetimeSeconds ?? 600),
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    ...claims,
  })
    .setProtectedHeader({ alg, kid: key.kid, typ: 'at+jwt', ...options.header })
    .sign(await importJWK(key.privateJwk as JWK, alg));
}

/** An access token of one of the dev IdP's demo users for the broker's API, as the demo app gets it. */
export function devIdpToken(username: 'alice' | 'bob' | 'carol'): Promise<string> {
  return fetchAccessToken({
    issuer: stack().idpIssuer,
    clientId: 'keyvend-demo-app',
    username,
    password: `${username}-password`,
    resource: 'urn:keyvend:api',
  });
}

export async function postCredentials(
  token: string | undefined,
  body: unknown,
  init: { headers?: Record<string, string>; query?: string; apiUrl?: string } = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown>; text: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...init.headers };
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  const response = await fetch(`${init.apiUrl ?? stack().apiUrl}/v1/credentials${init.query ?? ''}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON; the test looks at text
  }
  return { status: response.status, headers: response.headers, json, text };
}

export interface IssuedSessionView {
  accessKeyId: string;
  roleArn: string;
  assumedRoleArn: string;
  roleSessionName: string;
  sourceIdentity?: string;
  tags: { Key: string; Value: string }[];
  transitiveTagKeys: string[];
  policy?: string;
  durationSeconds: number;
  expiration: string;
}

export async function emulatorSessions(): Promise<IssuedSessionView[]> {
  return (await (await fetch(`${stack().stsUrl}/_emulator/sessions`)).json()) as IssuedSessionView[];
}

export async function emulatorCalls(): Promise<{ action: string; outcome: string; errorCode?: string; roleSessionName?: string }[]> {
  return (await (await fetch(`${stack().stsUrl}/_emulator/calls`)).json()) as never;
}

let documentClient: DynamoDBDocumentClient | undefined;
export function dynamo(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: stack().dynamoEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
  return documentClient;
}

export async function auditRecords(): Promise<Record<string, any>[]> {
  return scanAll(dynamo(), stack().brokerEnv['KEYVEND_AUDIT_TABLE']);
}

/** The audit record of one API response, found by the request id the broker returned or logged. */
export async function auditRecordsSince(startedAt: string): Promise<Record<string, any>[]> {
  return (await auditRecords())
    .filter((r) => String(r['time']) >= startedAt)
    .sort((a, b) => String(a['time']).localeCompare(String(b['time'])));
}

/** Snapshot of STS activity, to assert that a request made no STS call at all. */
export async function stsCallCount(): Promise<number> {
  return (await emulatorCalls()).length;
}

/**
 * A broker log's text once it contains `expected`, or as it is after 5 s: serverless-offline passes the handler's
 * lines on through its own process, so they reach the file a moment after the response.
 */
export async function brokerLogOnceItHas(logFile: string, expected: string): Promise<string> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const text = readFileSync(logFile, 'utf8');
    if (text.includes(expected) || Date.now() > deadline) return text;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The JSON lines of a broker log (serverless-offline's own lines are skipped). */
export function brokerLogLines(logFile: string = stack().brokerLogFile): Record<string, any>[] {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, any>];
      } catch {
        return [];
      }
    });
}

/**
 * How one request's decision was audited. A decision that names a verified caller is its own audit item; a refusal
 * before anyone was verified has none (it is counted in the aggregate `anon#<minute>#<source>`): its record is the
 * broker's `keyvend.decision` line, which the log may write a moment after the response.
 */
export async function auditedDecision(requestId: unknown, logFile?: string): Promise<Record<string, any> | undefined> {
  const item = (await auditRecords()).find((r) => r['request']?.['requestId'] === requestId);
  if (item !== undefined) return item;
  const deadline = Date.now() + 5_000;
  for (;;) {
    const line = brokerLogLines(logFile).find(
      (l) => l['message'] === 'keyvend.decision' && l['audit']?.['request']?.['requestId'] === requestId,
    );
    if (line !== undefined || Date.now() > deadline) return line?.['audit'];
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The decisions a broker logged (`keyvend.decision` lines) since `startedAt`, in order: every decision, those
 * without a caller included, whose audit is the aggregate of their source and minute rather than an item.
 */
export async function loggedDecisionsSince(startedAt: string, logFile?: string): Promise<Record<string, any>[]> {
  // The log line follows the response by a moment.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return brokerLogLines(logFile)
    .filter((l) => l['message'] === 'keyvend.decision' && String(l['audit']?.['time']) >= startedAt)
    .map((l) => l['audit'] as Record<string, any>)
    .sort((a, b) => String(a['time']).localeCompare(String(b['time'])));
}
