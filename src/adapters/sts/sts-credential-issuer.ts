import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import {
  InternalError,
  type KeyvendError,
  PolicyTooLargeError,
  UpstreamUnavailableError,
} from '../../domain/errors.ts';
import { Secret } from '../../domain/secret.ts';
import type { AssumeRoleParameters, CredentialIssuer, IssuedCredentials } from '../../ports/index.ts';

/**
 * AssumeRole through the AWS SDK. The SDK's standard retry (3 attempts, jittered back-off) is the only
 * retry: on a non-retryable error we never try again with a smaller policy, another role or another
 * duration (security catalog F-05).
 */
export class StsCredentialIssuer implements CredentialIssuer {
  constructor(private readonly client: STSClient) {}

  async assumeRole(p: AssumeRoleParameters): Promise<IssuedCredentials> {
    if (p.policy === undefined && p.policyArns.length === 0) {
      // AssumeRole without a session policy grants the whole role: never, whatever the caller forgot.
      throw new InternalError('no_session_policy');
    }
    let output;
    try {
      output = await this.client.send(
        new AssumeRoleCommand({
          RoleArn: p.roleArn,
          RoleSessionName: p.roleSessionName,
          SourceIdentity: p.sourceIdentity,
          DurationSeconds: p.durationSeconds,
          Policy: p.policy,
          PolicyArns: p.policyArns.length > 0 ? p.policyArns.map((arn) => ({ arn })) : undefined,
          Tags: p.tags.length > 0 ? p.tags.map((t) => ({ Key: t.Key, Value: t.Value })) : undefined,
          TransitiveTagKeys: p.transitiveTagKeys.length > 0 ? [...p.transitiveTagKeys] : undefined,
          ExternalId: p.externalId,
        }),
      );
    } catch (error) {
      throw translateStsError(error);
    }
    const c = output.Credentials;
    const user = output.AssumedRoleUser;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration || !user?.Arn || !user.AssumedRoleId) {
      throw new UpstreamUnavailableError('sts_incomplete_response');
    }
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: new Secret(c.SecretAccessKey),
      sessionToken: new Secret(c.SessionToken),
      expiration: c.Expiration,
      assumedRoleArn: user.Arn,
      assumedRoleId: user.AssumedRoleId,
      packedPolicySize: output.PackedPolicySize,
      stsRequestId: output.$metadata.requestId,
    };
  }
}

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException']);

/** STS errors by name, at the boundary. Messages stay in the cause (logs), never in what a client sees. */
export function translateStsError(error: unknown): KeyvendError {
  const name = error instanceof Error ? error.name : 'Unknown';
  // Anything can be thrown: a null or a string must still map to an error, not crash the mapping.
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null | undefined)?.$metadata?.httpStatusCode;
  if (THROTTLING.has(name)) return new UpstreamUnavailableError('sts_throttled', { cause: error, retryAfterSeconds: 5 });
  switch (name) {
    case 'PackedPolicyTooLargeException':
    case 'PackedPolicyTooLarge':
      return new PolicyTooLargeError('sts_packed_policy_too_large', { cause: error });
    case 'MalformedPolicyDocumentException':
    case 'MalformedPolicyDocument':
      return new InternalError('sts_malformed_policy', { cause: error });
    case 'AccessDenied':
    case 'AccessDeniedException':
      // The broker role may not assume the target: our misconfiguration, never the caller's fault.
      return new InternalError('sts_access_denied', { cause: error });
    case 'ValidationError':
      return new InternalError('sts_validation_error', { cause: error });
    case 'RegionDisabledException':
      return new InternalError('sts_region_disabled', { cause: error });
    case 'ExpiredToken':
    case 'ExpiredTokenException':
    case 'InvalidClientTokenId':
    case 'SignatureDoesNotMatch':
      return new UpstreamUnavailableError('sts_broker_credentials_rejected', { cause: error });
    default:
      if (status === undefined || status >= 500) return new UpstreamUnavailableError('sts_unavailable', { cause: error });
      return new InternalError('sts_error', { cause: error });
  }
}
