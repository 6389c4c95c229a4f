import { asKeyvendError } from '../src/app/audit-trail.ts';
import type { KeyvendError } from '../src/domain/errors.ts';
import { issueCredentials } from '../src/container.ts';
import { httpHandler } from '../src/http/handler.ts';
import { assertNoTokenInQuery, authorizationOf, parseJsonObject, requestContextOf } from '../src/http/request.ts';
import { jsonResponse } from '../src/http/responses.ts';

const issue = issueCredentials(); // at init: bad configuration stops the function before it serves

/** POST /v1/credentials: credential_process v1 JSON for one entitlement. */
export const handler = httpHandler(async (event, context) => {
  let body: Record<string, unknown> = {};
  let rejection: KeyvendError | undefined;
  try {
    assertNoTokenInQuery(event);
    body = parseJsonObject(event, ['entitlement', 'durationSeconds']);
  } catch (error) {
    rejection = asKeyvendError(error);
  }
  const grant = await issue({
    authorization: authorizationOf(event),
    entitlement: body['entitlement'],
    durationSeconds: body['durationSeconds'],
    output: 'credentials',
    context: requestContextOf(event, context),
    ...(rejection === undefined ? {} : { rejection }),
  });
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
  });
});
