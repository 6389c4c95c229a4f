/**
 * Public types of the local STS emulator (dev/test tooling only, never bundled into Lambda code).
 */

/** A long-lived principal the emulator accepts SigV4 signatures from. */
export interface LocalPrincipal {
  accessKeyId: string;
  secretAccessKey: string;
  /**
   * e.g. `arn:aws:sts::000000000000:assumed-role/keyvend-broker/local` (a role session, so AssumeRole from it is
   * role chaining) or `arn:aws:iam::000000000000:user/x`.
   */
  arn: string;
  /**
   * IAM users: their identity policy. Evaluated only for GetFederationToken (which needs `sts:GetFederationToken`, and
   * `sts:TagSession` for tags, on `arn:aws:sts::<acct>:federated-user/<Name>`); without one the user may not call it.
   */
  identityPolicy?: object;
}

export interface LocalRole {
  arn: string;
  /** Seconds, default 3600, 3600..43200. */
  maxSessionDuration?: number;
  /** IAM JSON policy document (the role's trust policy), evaluated on every AssumeRole. */
  trustPolicy: object;
  /**
   * IAM JSON policy document. Enforced for the IAM actions a session of this role calls (iam.ts) and evaluated by the
   * `/_emulator/authorize` admin route; exposed for tests.
   */
  permissionPolicy?: object;
  /** Customer-managed policies attached to the role (`managedPolicies`): their default version counts as permissions. */
  attachedPolicyArns?: string[];
}

/** A customer-managed policy the emulator's IAM actions version (CreatePolicyVersion, DeletePolicyVersion, …). */
export interface LocalManagedPolicy {
  /** `arn:aws:iam::<acct>:policy/<path/>name`. */
  arn: string;
  /** Version v1, the default at start. */
  document: object;
}

/** An IAM OIDC identity provider, as AssumeRoleWithWebIdentity trusts it. */
export interface LocalOidcProvider {
  /**
   * `arn:aws:iam::<acct>:oidc-provider/<host/path>`. The part after `oidc-provider/` is also the prefix of the
   * trust-policy condition keys (`<host/path>:aud`, `:sub`, `:amr`). Locally the issuer's port changes on every
   * run, so the ARN names a stable host/path of its own.
   */
  arn: string;
  /** The `iss` tokens must carry, exactly. */
  issuer: string;
  /** The provider's client id list: a token's `aud` must be one of them. */
  clientIds: string[];
  /** JWKS location; default: the issuer's discovery document. */
  jwksUri?: string;
}

/** An IAM SAML provider, as AssumeRoleWithSAML trusts it. */
export interface LocalSamlProvider {
  /** `arn:aws:iam::<acct>:saml-provider/<name>`. */
  arn: string;
  /** The IdP's signing certificate(s), PEM. */
  certificates: string[];
}

export interface StsEmulatorOptions {
  /** 0 (the default) = random free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 000000000000. */
  accountId?: string;
  principals: LocalPrincipal[];
  roles: LocalRole[];
  oidcProviders?: LocalOidcProvider[];
  samlProviders?: LocalSamlProvider[];
  managedPolicies?: LocalManagedPolicy[];
  /** Clock used for signature windows, expirations and records. Default: the system clock. */
  now?: () => Date;
  /** Called after every STS request with its (secret-free) record, e.g. for console logging. */
  onCall?: (call: StsCallRecord) => void;
}

export interface SessionTag {
  Key: string;
  Value: string;
}

/** A session the emulator issued. Holds no secret key and no session token. */
/** A session the emulator issued. `roleArn` is the IAM user's ARN and `assumedRoleArn` the federated-user ARN for GetFederationToken. */
export interface IssuedSession {
  accessKeyId: string;
  /** The STS action that issued it. */
  issuedBy: 'AssumeRole' | 'AssumeRoleWithWebIdentity' | 'AssumeRoleWithSAML' | 'GetFederationToken';
  /** Web identity: the OIDC provider ARN and the token's `sub`; SAML: the provider ARN and the NameID. */
  provider?: string;
  subject?: string;
  roleArn: string;
  assumedRoleArn: string;
  assumedRoleId: string;
  roleSessionName: string;
  sourceIdentity?: string;
  /** All session tags, including transitive tags inherited from the calling session. */
  tags: SessionTag[];
  /** All transitive tag keys, including inherited ones. */
  transitiveTagKeys: string[];
  policy?: string;
  policyArns: string[];
  externalId?: string;
  durationSeconds: number;
  /** ISO-8601, seconds precision, `Z`. */
  expiration: string;
  callerArn: string;
  issuedAt: string;
  /** Percentage of the packed-policy budget (see packed-size.ts); 0 when no policy and no tags. */
  packedPolicySize: number;
}

export interface StsCallRecord {
  time: string;
  /** The `Action` parameter as sent ('' when missing). */
  action: string;
  callerAccessKeyId?: string;
  callerArn?: string;
  outcome: 'ok' | 'error';
  /** Whether the request carried a SigV4 signature (unsigned actions: whether the client signed anyway). */
  signed?: boolean;
  errorCode?: string;
  roleArn?: string;
  roleSessionName?: string;
  /** Request id returned in the response (`x-amzn-RequestId` and the XML body). */
  requestId: string;
  httpStatus: number;
}

export interface FaultSpec {
  /** STS action name, or `*` for any action. */
  action: string;
  /** Error code returned, e.g. `Throttling`, `InternalFailure`, `ServiceUnavailable`. */
  code: string;
  /** Default 400; 500 for InternalFailure, 503 for ServiceUnavailable. */
  httpStatus?: number;
  message?: string;
  /**
   * How many matching calls fail (default 1). The SDK retries Throttling and 5xx responses (3 attempts by default),
   * so each retry consumes one: use `count` >= the client's maxAttempts to make a call fail for good, or set
   * `maxAttempts: 1` on the client.
   */
  count?: number;
}

export interface StsEmulator {
  url: string;
  port: number;
  close(): Promise<void>;
  sessions(): IssuedSession[];
  calls(): StsCallRecord[];
  /** Forgets issued sessions (their credentials stop working), calls and pending faults. */
  reset(): void;
  injectFault(f: FaultSpec): void;
}
