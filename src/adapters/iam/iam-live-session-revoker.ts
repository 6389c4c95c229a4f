import {
  CreatePolicyVersionCommand,
  DeletePolicyVersionCommand,
  GetPolicyVersionCommand,
  type IAMClient,
  ListPolicyVersionsCommand,
  type PolicyVersion,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import { UpstreamUnavailableError } from '../../domain/errors.ts';
import { REVOCATION_POLICY_NAME, renderRevocationPolicy } from '../../domain/revocation-policy.ts';
import type { Revocation } from '../../domain/revocation.ts';
import type { LiveSessionEnforcement, LiveSessionRevoker } from '../../ports/index.ts';
import { sendOptions } from '../deadline/request-deadline.ts';

/** Temporary credentials of a revoker role session, as the IAM client takes them. */
export interface RevokerCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

export interface IamRevokerOptions {
  /** One revoker role per member account (`KEYVEND_REVOKER_ROLE_ARNS`): it may only version the revocation policy. */
  readonly revokerRoleArns: readonly string[];
  /** One function timeout (see renderRevocationPolicy). */
  readonly inFlightSeconds: number;
  /** An IAM client signing with a revoker session's credentials (the local stack points it at the emulator). */
  readonly iamFor: (credentials: RevokerCredentials) => IAMClient;
}

/** IAM keeps at most five versions of a managed policy. */
const MAX_VERSIONS = 5;
const REVOKER_SESSION_SECONDS = 900;
const ROLE_ARN = /^arn:(aws|aws-us-gov|aws-cn):iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;

/** The revocation policy of the account a revoker role lives in: `policy/keyvend/keyvend-revocations` (member-account.yaml). */
export function revocationPolicyArnFor(revokerRoleArn: string): string {
  const match = ROLE_ARN.exec(revokerRoleArn);
  if (match === null) throw new Error(`not a role ARN: ${revokerRoleArn}`);
  return `arn:${match[1]}:iam::${match[2]}:policy/keyvend/${REVOCATION_POLICY_NAME}`;
}

/**
 * Writes the `keyvend-revocations` policy of every member account: assumes the account's revoker role, and unless the
 * default version already says the same, creates a version set as default, first deleting the oldest non-default
 * version when five exist. Accounts are written in parallel; any failure fails the whole call (503), and the caller's
 * rewrite is idempotent, so repeating it converges.
 */
export class IamLiveSessionRevoker implements LiveSessionRevoker {
  readonly #targets: readonly { account: string; roleArn: string; policyArn: string }[];

  constructor(
    private readonly sts: STSClient,
    private readonly options: IamRevokerOptions,
  ) {
    this.#targets = options.revokerRoleArns.map((roleArn) => ({
      account: revocationPolicyArnFor(roleArn).split(':')[4] ?? '',
      roleArn,
      policyArn: revocationPolicyArnFor(roleArn),
    }));
  }

  async enforce(revocations: readonly Revocation[], now: Date): Promise<LiveSessionEnforcement> {
    const policy = renderRevocationPolicy(revocations, now, { inFlightSeconds: this.options.inFlightSeconds });
    try {
      await Promise.all(this.#targets.map((target) => this.#write(target.roleArn, target.policyArn, policy.document)));
    } catch (error) {
      throw new UpstreamUnavailableError('revocation_policy_unavailable', { cause: error });
    }
    return {
      mode: policy.mode,
      accounts: this.#targets.map((t) => t.account),
      ...(policy.cutoff === undefined ? {} : { cutoff: policy.cutoff }),
    };
  }

  async #write(roleArn: string, policyArn: string, document: string): Promise<void> {
    const iam = this.options.iamFor(await this.#assume(roleArn));
    const versions = await listVersions(iam, policyArn);
    const current = versions.find((v) => v.IsDefaultVersion === true);
    if (current?.VersionId !== undefined && (await sameDocument(iam, policyArn, current.VersionId, document))) return;
    if (versions.length >= MAX_VERSIONS) await deleteOldestNonDefault(iam, policyArn, versions);
    try {
      await iam.send(new CreatePolicyVersionCommand({ PolicyArn: policyArn, PolicyDocument: document, SetAsDefault: true }), sendOptions());
    } catch (error) {
      // Another writer created a version between our list and our create: make room once more, then try again.
      if ((error as { name?: unknown }).name !== 'LimitExceededException') throw error;
      await deleteOldestNonDefault(iam, policyArn, await listVersions(iam, policyArn));
      await iam.send(new CreatePolicyVersionCommand({ PolicyArn: policyArn, PolicyDocument: document, SetAsDefault: true }), sendOptions());
    }
  }

  async #assume(roleArn: string): Promise<RevokerCredentials> {
    const { Credentials } = await this.sts.send(
      new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'keyvend-revocations', DurationSeconds: REVOKER_SESSION_SECONDS }),
      sendOptions(),
    );
    if (Credentials?.AccessKeyId === undefined || Credentials.SecretAccessKey === undefined || Credentials.SessionToken === undefined) {
      throw new Error('AssumeRole returned no credentials');
    }
    return { accessKeyId: Credentials.AccessKeyId, secretAccessKey: Credentials.SecretAccessKey, sessionToken: Credentials.SessionToken };
  }
}

async function listVersions(iam: IAMClient, policyArn: string): Promise<PolicyVersion[]> {
  const versions: PolicyVersion[] = [];
  let marker: string | undefined;
  do {
    const page = await iam.send(new ListPolicyVersionsCommand({ PolicyArn: policyArn, Marker: marker }), sendOptions());
    versions.push(...(page.Versions ?? []));
    marker = page.IsTruncated === true ? page.Marker : undefined;
  } while (marker !== undefined);
  return versions;
}

async function deleteOldestNonDefault(iam: IAMClient, policyArn: string, versions: readonly PolicyVersion[]): Promise<void> {
  const oldest = versions
    .filter((v) => v.IsDefaultVersion !== true && v.VersionId !== undefined)
    .sort((a, b) => (a.CreateDate?.getTime() ?? 0) - (b.CreateDate?.getTime() ?? 0))[0];
  if (oldest?.VersionId === undefined) return;
  try {
    await iam.send(new DeletePolicyVersionCommand({ PolicyArn: policyArn, VersionId: oldest.VersionId }), sendOptions());
  } catch (error) {
    // Deleted meanwhile by a concurrent writer: the room is made either way.
    if ((error as { name?: unknown }).name !== 'NoSuchEntityException') throw error;
  }
}

/** IAM returns the document URL-encoded (RFC 3986); compared as parsed JSON, so whitespace and key order IAM keeps do not matter. */
async function sameDocument(iam: IAMClient, policyArn: string, versionId: string, document: string): Promise<boolean> {
  const { PolicyVersion: version } = await iam.send(
    new GetPolicyVersionCommand({ PolicyArn: policyArn, VersionId: versionId }),
    sendOptions(),
  );
  if (version?.Document === undefined) return false;
  try {
    return canonical(JSON.parse(decodeURIComponent(version.Document))) === canonical(JSON.parse(document));
  } catch {
    return false;
  }
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
