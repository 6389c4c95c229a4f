import { asKeyvendError, type KeyvendError } from '../src/domain/errors.ts';
import { issueCredentials, logger } from '../src/container.ts';
import { type CredentialsRequest, parseCredentialsRequest } from '../src/http/credentials-request.ts';
import { httpHandler } from '../src/http/handler.ts';
import { assertNoTokenInQuery, authorizationOf, requestContextOf } from '../src/http/request.ts';
import { jsonResponse } from '../src/http/responses.ts';

const issue = issueCredentials(); // at init: bad configuration stops the function before it serves

/** POST /v1/credentials: credential_process v1 JSON for one entitlement, for a bearer token or a SAML response. */
export const handler = httpHandler(logger(), async (event, context) => {
  const authorization = authorizationOf(event);
  let request: CredentialsRequest = { credential: { kind: 'bearer', authorization }, entitlement: undefined, durationSeconds: undefined };
  let rejection: KeyvendError | undefined;
  let refusal: KeyvendError | undefined;
  try {
    assertNoTokenInQuery(event);
    request = parseCredentialsRequest(event, authorization);
  } catch (error) {
    // With a bearer token the caller can be verified first; without one there is no identity to verify.
    if (authorization === undefined || authorization === '' || asKeyvendError(error).reason === 'ambiguous_credentials') refusal = asKeyvendError(error);
    else rejection = asKeyvendError(error);
  }
  const grant = await issue({
    credential: request.credential,
    entitlement: request.entitlement,
    durationSeconds: request.durationSeconds,
    output: 'credentials',
    context: requestContextOf(event, context),
    ...(rejection === undefined ? {} : { rejection }),
    ...(refusal === undefined ? {} : { refusal }),
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
