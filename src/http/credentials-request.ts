import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { credentialsRequestProblem, type IssueCredentialsInput } from '../app/issue-credentials.ts';
import { asKeyvendError, InvalidRequestError } from '../domain/errors.ts';
import { Secret } from '../domain/secret.ts';
import type { CallerCredential } from '../ports/index.ts';
import {
  assertNoTokenInQuery,
  authorizationOf,
  bodyText,
  formFields,
  contentTypeOf,
  PayloadTooLargeError,
  parseJsonObject,
  UnsupportedMediaTypeError,
} from './request.ts';

/** A SAML response with both signatures and the IdP certificate is a few KiB; the verifier caps the XML at 64 KiB. */
export const SAML_BODY_BYTES = 128 * 1024;
const FORM = 'application/x-www-form-urlencoded';

export interface CredentialsRequest {
  readonly credential: CallerCredential;
  readonly entitlement: unknown;
  readonly durationSeconds: unknown;
}

/**
 * What POST /v1/credentials asks for, as the use case takes it. A problem found here is not answered here: it goes
 * to the use case with the request, and `credentialsRequestProblem` decides whether its denial names a verified caller.
 */
export function readCredentialsRequest(
  event: APIGatewayProxyEventV2,
): Pick<IssueCredentialsInput, 'caller' | 'entitlement' | 'durationSeconds' | 'requestProblem'> {
  const authorization = authorizationOf(event);
  try {
    assertNoTokenInQuery(event);
    const request = parseCredentialsRequest(event, authorization);
    return { caller: request.credential, entitlement: request.entitlement, durationSeconds: request.durationSeconds };
  } catch (error) {
    return {
      caller: { kind: 'bearer', authorization },
      entitlement: undefined,
      durationSeconds: undefined,
      requestProblem: credentialsRequestProblem(asKeyvendError(error), authorization),
    };
  }
}

/**
 * The body of POST /v1/credentials: JSON `{entitlement, durationSeconds}` with a bearer token, or a SAML
 * response as JSON `samlResponse` or as the form field `SAMLResponse` (the HTTP-POST binding; RelayState
 * is accepted and ignored). A request carrying both a bearer token and a SAML response is refused.
 */
export function parseCredentialsRequest(event: APIGatewayProxyEventV2, authorization: string | undefined): CredentialsRequest {
  const bearer = authorization !== undefined && authorization !== '';
  let body: Record<string, unknown>;
  let samlResponse: unknown;
  const contentType = contentTypeOf(event);
  if (contentType === FORM && /^\s*[{[]/.test(bodyText(event))) {
    // `curl -d '{...}'` labels a JSON body as a form; parsed as one, it would be answered with a list of form fields.
    throw new UnsupportedMediaTypeError(
      `The body looks like JSON but was sent as ${FORM} (curl -d does that without a header): send it with Content-Type: application/json.`,
    );
  }
  if (contentType === FORM) {
    body = parseForm(event, ['SAMLResponse', 'entitlement', 'durationSeconds', 'RelayState']);
    samlResponse = body['SAMLResponse'];
    if (typeof body['durationSeconds'] === 'string' && /^[0-9]{1,9}$/.test(body['durationSeconds'])) {
      body['durationSeconds'] = Number(body['durationSeconds']);
    }
  } else {
    try {
      body = parseJsonObject(event, ['entitlement', 'durationSeconds', 'samlResponse'], bearer ? undefined : SAML_BODY_BYTES);
    } catch (error) {
      if (error instanceof UnsupportedMediaTypeError) {
        throw new UnsupportedMediaTypeError(
          contentType === ''
            ? `The request has no Content-Type: send JSON with Content-Type: application/json (or a SAML form post as ${FORM}).`
            : `Send the request body as application/json or ${FORM}, not ${contentType}.`,
        );
      }
      throw error;
    }
    samlResponse = body['samlResponse'];
  }
  if (samlResponse === undefined) {
    return { credential: { kind: 'bearer', authorization }, entitlement: body['entitlement'], durationSeconds: body['durationSeconds'] };
  }
  if (bearer) {
    throw new InvalidRequestError('Send either a bearer token or a SAML response, not both.', { reason: 'ambiguous_credentials' });
  }
  if (typeof samlResponse !== 'string')
    throw new InvalidRequestError('samlResponse must be a base64 string.', { reason: 'saml_not_a_string' });
  return {
    credential: { kind: 'saml', samlResponse: new Secret(samlResponse) },
    entitlement: body['entitlement'],
    durationSeconds: body['durationSeconds'],
  };
}

function parseForm(event: APIGatewayProxyEventV2, allowedFields: readonly string[]): Record<string, unknown> {
  const text = bodyText(event);
  if (Buffer.byteLength(text, 'utf8') > SAML_BODY_BYTES) throw new PayloadTooLargeError(SAML_BODY_BYTES);
  return formFields(text, allowedFields);
}
