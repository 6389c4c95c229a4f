import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createHash, randomUUID } from 'node:crypto';
import { ATTEMPTS, DYNAMODB_ATTEMPTS } from '../src/adapters/shared/client-attempts.ts';
import type { FloorPlan } from './protocol.ts';

/**
 * The cold-start floor (issue 14, item 3): a handler that only creates the SDK clients the credentials function needs
 * and makes the calls no implementation of its keyvend-issuer path can avoid, with what it must know given to it
 * (the JWKS URI, the signing key's kid, the grant's keys and session): verify the bearer token (fetching the JWKS
 * once), read the entitlement, have KMS sign the broker's token, exchange it with STS, and write the audit item.
 * Bundled with the project's own esbuild options (bench/bundle.ts), it is what "1.00" means in bench/results.md.
 */
const plan = JSON.parse(process.env['BENCH_FLOOR_PLAN'] ?? '{}') as FloorPlan;
// The broker's own per-attempt settings (src/container.ts).
const client = (endpoint: string, attempts: typeof ATTEMPTS | typeof DYNAMODB_ATTEMPTS = ATTEMPTS) => ({
  region: plan.region,
  ...attempts,
  endpoint,
});
const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient(client(plan.dynamoDbEndpoint, DYNAMODB_ATTEMPTS)), {
  marshallOptions: { removeUndefinedValues: true },
});
const sts = new STSClient({ ...client(plan.stsEndpoint), credentials: () => Promise.reject(new Error('unsigned')) });
const kms = new KMSClient(client(plan.kmsEndpoint));
const jwks = createRemoteJWKSet(new URL(plan.jwksUri));
const base64url = (text: string) => Buffer.from(text).toString('base64url');

export async function handler(event: { headers: Record<string, string | undefined> }): Promise<{ statusCode: number; body: string }> {
  const token = (event.headers['authorization'] ?? '').replace(/^Bearer /, '');
  await jwtVerify(token, jwks, { issuer: plan.jwt.issuer, audience: [...plan.jwt.audiences], algorithms: [...plan.jwt.algorithms] });
  await dynamo.send(
    new BatchGetCommand({ RequestItems: { [plan.entitlementsTable]: { Keys: [...plan.batchKeys], ConsistentRead: true } } }),
  );
  const now = Math.floor(Date.now() / 1000);
  const claims = { ...plan.tokenClaims, jti: randomUUID(), iat: now, nbf: now, exp: now + 300 };
  const signingInput = `${base64url(JSON.stringify({ alg: 'RS256', kid: plan.kid, typ: 'JWT' }))}.${base64url(JSON.stringify(claims))}`;
  const signed = await kms.send(
    new SignCommand({
      KeyId: plan.signingKeyId,
      Message: createHash('sha256').update(signingInput).digest(),
      MessageType: 'DIGEST',
      SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
    }),
  );
  const session = await sts.send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: plan.roleArn,
      RoleSessionName: plan.roleSessionName,
      WebIdentityToken: `${signingInput}.${Buffer.from(signed.Signature ?? new Uint8Array()).toString('base64url')}`,
      DurationSeconds: plan.durationSeconds,
      Policy: plan.policy,
    }),
  );
  await dynamo.send(
    new PutCommand({
      TableName: plan.auditTable,
      Item: { ...plan.auditItem, eventId: randomUUID() },
      ConditionExpression: 'attribute_not_exists(eventId)',
    }),
  );
  return { statusCode: 200, body: JSON.stringify({ AccessKeyId: session.Credentials?.AccessKeyId }) };
}
