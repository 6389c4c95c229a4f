/**
 * STS error codes, HTTP statuses and messages. Messages follow real STS wording where it is known; the ones marked
 * "emulator wording" are this emulator's own.
 */
export type ErrorType = 'Sender' | 'Receiver';

export class StsError extends Error {
  readonly code: string;
  readonly httpStatus: number;
  readonly type: ErrorType;

  constructor(code: string, message: string, httpStatus: number, type?: ErrorType) {
    super(message);
    this.name = 'StsError';
    this.code = code;
    this.httpStatus = httpStatus;
    this.type = type ?? (httpStatus >= 500 ? 'Receiver' : 'Sender');
  }
}

export const STS_API_VERSION = '2011-06-15';

export const stsErrors = {
  validation: (message: string) => new StsError('ValidationError', message, 400),
  malformedPolicy: (message: string) => new StsError('MalformedPolicyDocument', message, 400),
  packedPolicyTooLarge: (percent: number, hasPolicy: boolean) =>
    new StsError(
      'PackedPolicyTooLarge',
      hasPolicy
        ? `Packed policy consumes ${percent}% of allotted space, please use smaller policy.`
        : `Packed size of session tags consumes ${percent}% of allotted space.`,
      400,
    ),
  notAuthorized: (callerArn: string, action: string, resource: string) =>
    new StsError('AccessDenied', `User: ${callerArn} is not authorized to perform: ${action} on resource: ${resource}`, 403),
  accessDenied: (message: string) => new StsError('AccessDenied', message, 403),
  invalidClientTokenId: () => new StsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403),
  signatureDoesNotMatch: (
    message = 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
  ) => new StsError('SignatureDoesNotMatch', message, 403),
  incompleteSignature: (message: string) => new StsError('IncompleteSignature', message, 400),
  expiredToken: () => new StsError('ExpiredToken', 'The security token included in the request is expired', 400),
  throttling: (message = 'Rate exceeded') => new StsError('Throttling', message, 400),
  invalidAction: (action: string, version: string | undefined) =>
    new StsError('InvalidAction', `Could not find operation ${action} for version ${version ?? 'NO_VERSION_SPECIFIED'}`, 400),
  missingAuthenticationToken: () => new StsError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403),
  /** emulator wording */
  requestTooLarge: (limit: number) => new StsError('RequestEntityTooLarge', `Request body exceeds ${limit} bytes`, 413),
  /** emulator wording */
  methodNotAllowed: (method: string) => new StsError('InvalidHttpRequest', `The HTTP method ${method} is not supported`, 405),
  internalFailure: () => new StsError('InternalFailure', 'An internal error occurred.', 500),
};
