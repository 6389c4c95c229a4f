import {
  AssumeRoleCommand,
  AssumeRoleWithWebIdentityCommand,
  type Credentials,
  GetFederationTokenCommand,
  type STSClient,
} from '@aws-sdk/client-sts';
import { InternalError, type KeyvendError, NotEntitledError, PolicyTooLargeError, UpstreamUnavailableError } from '../../domain/errors.ts';
import { Secret } from '../../domain/secret.ts';
import type { SessionTag } from '../../domain/session-identity.ts';
import type {
  AssumeRoleParameters,
  CredentialIssuer,
  FederationKeyStore,
  FederationTokenParameters,
  IssuedCredentials,
  LongTermKeys,
  WebIdentityParameters,
} from '../../ports/index.ts';
import { sendOptions } from '../deadline/request-deadline.ts';

export interface StsIssuerOptions {
  /**
   * For AssumeRoleWithWebIdentity, which STS accepts unsigned: a client with no credentials, so the
   * broker's own role session is never involved (and the call is not role chaining).
   */
  readonly unsignedClient?: STSClient;
  /** For GetFederationToken: the IAM user's keys, and a client signing with them. */
  readonly federation?: {
    readonly keys: FederationKeyStore;
    readonly clientFor: (keys: LongTermKeys) => STSClient;
  };
}

const MAX_CACHED_FEDERATION_CLIENTS = 8;

/**
 * AssumeRole through the AWS SDK. The SDK's standard retry (3 attempts, jittered back-off) is the only
 * retry: on a non-retryable error we never try again with a smaller policy, another role or another
 * duration (security catalog F-05).
 */
export class StsCredentialIssuer implements CredentialIssuer {
  readonly #federationClients = new Map<string, STSClient>();

  constructor(
    private readonly client: STSClient,
    private readonly options: StsIssuerOptions = {},
  ) {}

  async assumeRole(p: AssumeRoleParameters): Promise<IssuedCredentials> {
    assertSessionPolicy(p);
    let output;
    try {
      output = await this.client.send(
        new AssumeRoleCommand({
          RoleArn: p.roleArn,
          RoleSessionName: p.roleSessionName,
          SourceIdentity: p.sourceIdentity,
          DurationSeconds: p.durationSeconds,
          Policy: p.policy,
          PolicyArns: policyArnsOf(p.policyArns),
          Tags: tagsOf(p.tags),
          TransitiveTagKeys: p.transitiveTagKeys.length > 0 ? [...p.transitiveTagKeys] : undefined,
          ExternalId: p.externalId,
        }),
        sendOptions(),
      );
    } catch (error) {
      throw translateStsError(error);
    }
    return issued(output.Credentials, output.AssumedRoleUser?.Arn, output.AssumedRoleUser?.AssumedRoleId, output);
  }

  async assumeRoleWithWebIdentity(p: WebIdentityParameters): Promise<IssuedCredentials> {
    assertSessionPolicy(p);
    let output;
    try {
      output = await this.#unsigned().send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: p.roleArn,
          RoleSessionName: p.roleSessionName,
          WebIdentityToken: p.webIdentityToken.reveal(),
          DurationSeconds: p.durationSeconds,
          Policy: p.policy,
          PolicyArns: policyArnsOf(p.policyArns),
        }),
        sendOptions(),
      );
    } catch (error) {
      throw translateBrokerTokenStsError(error);
    }
    return issued(output.Credentials, output.AssumedRoleUser?.Arn, output.AssumedRoleUser?.AssumedRoleId, output);
  }

  async getFederationToken(p: FederationTokenParameters): Promise<IssuedCredentials> {
    // Without a policy the federated session has no permissions at all; with one it is the user's
    // permissions narrowed by it. Either way the broker only ever vends what the entitlement names.
    assertSessionPolicy(p);
    if (!/^[\w+=,.@-]{2,32}$/.test(p.name)) throw new InternalError('federation_name_invalid');
    const federation = this.options.federation;
    if (federation === undefined) throw new InternalError('federation_tokens_not_configured');
    const keys = await federation.keys.keysFor(p.federationUserSecretId);
    let output;
    try {
      output = await this.#federationClient(federation.clientFor, keys).send(
        new GetFederationTokenCommand({
          Name: p.name,
          DurationSeconds: p.durationSeconds,
          Policy: p.policy,
          PolicyArns: policyArnsOf(p.policyArns),
          Tags: tagsOf(p.tags),
        }),
        sendOptions(),
      );
    } catch (error) {
      throw translateStsError(error);
    }
    return issued(output.Credentials, output.FederatedUser?.Arn, output.FederatedUser?.FederatedUserId, output);
  }

  #unsigned(): STSClient {
    const client = this.options.unsignedClient;
    if (client === undefined) throw new InternalError('unsigned_sts_client_not_configured');
    return client;
  }

  /** One client per access key id, so a rotated key gets a new client and the old one is dropped. */
  #federationClient(clientFor: (keys: LongTermKeys) => STSClient, keys: LongTermKeys): STSClient {
    const cached = this.#federationClients.get(keys.accessKeyId);
    if (cached !== undefined) return cached;
    if (this.#federationClients.size >= MAX_CACHED_FEDERATION_CLIENTS) {
      for (const client of this.#federationClients.values()) client.destroy();
      this.#federationClients.clear();
    }
    const client = clientFor(keys);
    this.#federationClients.set(keys.accessKeyId, client);
    return client;
  }
}

/** STS without a session policy grants the whole role (or, for federation tokens, nothing): never. */
function assertSessionPolicy(p: { readonly policy: string | undefined; readonly policyArns: readonly string[] }): void {
  if (p.policy === undefined && p.policyArns.length === 0) throw new InternalError('no_session_policy');
}

const policyArnsOf = (arns: readonly string[]) => (arns.length > 0 ? arns.map((arn) => ({ arn })) : undefined);
const tagsOf = (tags: readonly SessionTag[]) => (tags.length > 0 ? tags.map((t) => ({ Key: t.Key, Value: t.Value })) : undefined);

function issued(
  c: Credentials | undefined,
  arn: string | undefined,
  id: string | undefined,
  output: { PackedPolicySize?: number | undefined; SourceIdentity?: string | undefined; $metadata?: { requestId?: string | undefined } },
): IssuedCredentials {
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration || !arn || !id) {
    throw new UpstreamUnavailableError('sts_incomplete_response');
  }
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: new Secret(c.SecretAccessKey),
    sessionToken: new Secret(c.SessionToken),
    expiration: c.Expiration,
    assumedRoleArn: arn,
    assumedRoleId: id,
    packedPolicySize: output.PackedPolicySize,
    stsRequestId: output.$metadata?.requestId,
    ...(output.SourceIdentity === undefined ? {} : { sourceIdentity: output.SourceIdentity }),
  };
}

/**
 * AssumeRoleWithWebIdentity fails on the broker's own token, never on the caller's: a trust policy that
 * refuses this entitlement's `sub` (or its tags or SourceIdentity) is the member account saying no (403);
 * a token STS finds invalid or expired, or a provider it does not know, is the broker's or the account's
 * misconfiguration (500, for operators); STS unable to fetch our JWKS is an outage (503). Never retried
 * with a weaker request.
 */
export function translateBrokerTokenStsError(error: unknown): KeyvendError {
  const name = error instanceof Error ? error.name : 'Unknown';
  switch (name) {
    case 'AccessDenied':
    case 'AccessDeniedException':
      return new NotEntitledError('sts_trust_refused', { cause: error });
    case 'ExpiredTokenException':
    case 'ExpiredToken':
      return new InternalError('sts_broker_token_expired', { cause: error });
    case 'InvalidIdentityTokenException':
    case 'InvalidIdentityToken':
      return new InternalError('sts_broker_token_rejected', { cause: error });
    case 'IDPRejectedClaimException':
    case 'IDPRejectedClaim':
      return new InternalError('sts_broker_token_claims_rejected', { cause: error });
    case 'IDPCommunicationErrorException':
    case 'IDPCommunicationError':
      return new UpstreamUnavailableError('sts_cannot_fetch_broker_keys', { cause: error, retryAfterSeconds: 5 });
    default:
      return translateStsError(error);
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
