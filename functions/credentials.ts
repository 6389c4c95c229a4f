import { issueCredentials, logger, warmSigningKey } from '../src/container.ts';
import { readCredentialsRequest } from '../src/http/credentials-request.ts';
import { httpHandler } from '../src/http/handler.ts';
import { requestContextOf } from '../src/http/request.ts';
import { jsonResponse } from '../src/http/responses.ts';

const issue = issueCredentials(); // at init: bad configuration stops the function before it serves
warmSigningKey(); // at init, not awaited: the first Sign finds the key's kid and algorithm (ADR 0017)

/** POST /v1/credentials: credential_process v1 JSON for one entitlement, for a bearer token or a SAML response. */
export const handler = httpHandler(logger(), async (event, context) => {
  const request = readCredentialsRequest(event);
  const grant = await issue({ ...request, output: 'credentials', context: requestContextOf(event, context) });
  const c = grant.credentials;
  return jsonResponse(200, {
    Version: 1,
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey.reveal(),
    SessionToken: c.sessionToken.reveal(),
    Expiration: c.expiration.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    grantId: grant.grantId,
    entitlement: grant.entitlement.id,
    roleArn: grant.entitlement.roleArn,
    assumedRoleArn: c.assumedRoleArn,
    roleSessionName: grant.roleSessionName,
    sourceIdentity: grant.sourceIdentity,
    durationSeconds: grant.durationSeconds,
    // A longer request is clamped, not refused (src/domain/duration.ts): say so where the caller reads the result.
    ...(typeof request.durationSeconds === 'number' && request.durationSeconds > grant.durationSeconds
      ? { requestedDurationSeconds: request.durationSeconds }
      : {}),
  });
});
