/**
 * KMS errors as the JSON 1.1 protocol carries them: `{"__type": <code>, "message": …}`. KMS answers client errors
 * (AccessDeniedException included) with HTTP 400; its server faults (KMSInternalException,
 * DependencyTimeoutException, KeyUnavailableException) are 5xx, which the SDK retries.
 */
export class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'KmsError';
  }
}

/** Messages as KMS words them (recorded from AWS by LocalStack's snapshot tests) unless marked "emulator wording". */
export const kmsErrors = {
  invalidKeyId: (keyId: string) => new KmsError('NotFoundException', `Invalid keyId '${keyId}'`),
  keyNotFound: (keyArn: string) => new KmsError('NotFoundException', `Key '${keyArn}' does not exist`),
  invalidArnRegion: (region: string) => new KmsError('NotFoundException', `Invalid arn ${region}`),
  aliasNotFound: (aliasArn: string) => new KmsError('NotFoundException', `Alias ${aliasArn} is not found.`),
  disabled: (keyArn: string) => new KmsError('DisabledException', `${keyArn} is disabled.`),
  accessDenied: (callerArn: string, action: string, resource: string) =>
    new KmsError(
      'AccessDeniedException',
      `User: ${callerArn} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`,
    ),
  /** Same shape as KMS's message for an HMAC algorithm on the wrong HMAC key spec. */
  incompatibleAlgorithm: (algorithm: string, keySpec: string) =>
    new KmsError('InvalidKeyUsageException', `Algorithm ${algorithm} is incompatible with key spec ${keySpec}.`),
  digestLength: (algorithm: string) => new KmsError('ValidationException', `Digest is invalid length for algorithm ${algorithm}.`),
  dryRun: () => new KmsError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.'),
  validation: (problems: readonly string[]) =>
    new KmsError(
      'ValidationException',
      `${problems.length} validation error${problems.length === 1 ? '' : 's'} detected: ${problems.join('; ')}`,
    ),
  /** emulator wording: the JSON could not be read as the operation's input shape. */
  serialization: (message: string) => new KmsError('SerializationException', message),
  unknownOperation: () => new KmsError('UnknownOperationException', 'The action or operation requested is not supported.'),
  missingAuthenticationToken: () => new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token'),
  unrecognizedClient: () => new KmsError('UnrecognizedClientException', 'The security token included in the request is invalid.'),
  /** emulator wording */
  requestTooLarge: (limit: number) => new KmsError('RequestEntityTooLargeException', `Request body exceeds ${limit} bytes`, 413),
  internal: () => new KmsError('KMSInternalException', 'An internal error occurred.', 500),
};
