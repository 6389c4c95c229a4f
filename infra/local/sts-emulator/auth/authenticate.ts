/**
 * Who is calling: verifies the SigV4 signature against a configured principal or a session the emulator issued.
 * Order follows STS: key lookup → session token → token expiry → request time → signature.
 */
import { roleIdFor, type PrincipalKind } from '../arn.ts';
import { stsErrors } from '../errors.ts';
import type { EmulatorRequest } from '../protocol/http-request.ts';
import type { EmulatorState } from '../state.ts';
import type { IssuedSession } from '../types.ts';
import { checkRequestTime, parseSigV4, verifySigV4 } from './sigv4.ts';

export interface Caller {
  accessKeyId: string;
  /** ARN as GetCallerIdentity reports it (the session ARN for role sessions). */
  arn: string;
  userId: string;
  account: string;
  partition: string;
  kind: PrincipalKind;
  /** IAM role ARN behind a role session (`arn:aws:iam::ACCT:role/NAME`, with path when the role is configured). */
  roleArn?: string;
  /** True for assumed-role sessions: AssumeRole from them is role chaining. */
  isRoleSession: boolean;
  /** Present when the caller signs with credentials this emulator issued. */
  issuedSession?: IssuedSession;
  /** Region from the credential scope. */
  region: string;
}

/** `service`: the credential scope the request must be signed for (`sts`, or `iam` for the IAM actions). */
export function authenticate(req: EmulatorRequest, state: EmulatorState, service?: string): Caller {
  const parsed = parseSigV4(req, service);
  if (!parsed) throw stsErrors.missingAuthenticationToken();
  const now = state.now();
  const configured = state.principals.get(parsed.accessKeyId);
  if (configured) {
    // Long-term keys carry no session token; a token with them is as invalid as an unknown key.
    if (parsed.securityToken !== undefined) throw stsErrors.invalidClientTokenId();
    checkRequestTime(parsed, now);
    verifySigV4(req, parsed, configured.principal.secretAccessKey);
    const { info } = configured;
    const caller: Caller = {
      accessKeyId: parsed.accessKeyId,
      arn: info.arn,
      userId: info.userId,
      account: info.account,
      partition: info.partition,
      kind: info.kind,
      isRoleSession: info.kind === 'assumed-role',
      region: parsed.region,
    };
    if (info.kind === 'assumed-role' && info.roleName) {
      const role = state.findRoleByName(info.partition, info.account, info.roleName);
      caller.roleArn = role?.role.arn ?? `arn:${info.partition}:iam::${info.account}:role/${info.roleName}`;
      caller.userId = `${role?.roleId ?? roleIdFor(caller.roleArn)}:${info.sessionName ?? ''}`;
    }
    return caller;
  }
  const stored = state.store.find(parsed.accessKeyId);
  if (!stored) throw stsErrors.invalidClientTokenId();
  if (!state.store.tokenMatches(stored, parsed.securityToken)) throw stsErrors.invalidClientTokenId();
  if (now.getTime() >= stored.expiresAtMs) throw stsErrors.expiredToken();
  checkRequestTime(parsed, now);
  verifySigV4(req, parsed, stored.secretAccessKey);
  const s = stored.session;
  const account = s.assumedRoleArn.split(':')[4] ?? state.accountId;
  if (s.issuedBy === 'GetFederationToken') {
    return {
      accessKeyId: parsed.accessKeyId,
      arn: s.assumedRoleArn,
      userId: s.assumedRoleId,
      account,
      partition: s.assumedRoleArn.split(':')[1] ?? 'aws',
      kind: 'federated-user',
      isRoleSession: false,
      issuedSession: structuredClone(s),
      region: parsed.region,
    };
  }
  return {
    accessKeyId: parsed.accessKeyId,
    arn: s.assumedRoleArn,
    userId: s.assumedRoleId,
    account,
    partition: s.assumedRoleArn.split(':')[1] ?? 'aws',
    kind: 'assumed-role',
    roleArn: s.roleArn,
    isRoleSession: true,
    issuedSession: structuredClone(s),
    region: parsed.region,
  };
}
