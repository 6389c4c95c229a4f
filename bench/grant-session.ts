import { brokerTokenClaims } from '../src/domain/broker-token.ts';

/** A session as the STS emulator kept it (`GET /_emulator/sessions/<AccessKeyId>`): what the broker asked STS for. */
export interface EmulatorSession {
  readonly roleArn: string;
  readonly roleSessionName: string;
  readonly sourceIdentity?: string;
  readonly tags: { Key: string; Value: string }[];
  readonly transitiveTagKeys: string[];
  readonly policy?: string;
  readonly durationSeconds: number;
}

export async function emulatorSession(stsUrl: string, accessKeyId: string): Promise<EmulatorSession> {
  return (await (await fetch(`${stsUrl}/_emulator/sessions/${accessKeyId}`)).json()) as EmulatorSession;
}

/** The claims of a broker token for this grant and session, as the broker makes them (src/domain/broker-token.ts). */
export function grantTokenClaims(
  session: EmulatorSession,
  grant: { issuer: string; audience: string; grantId: string; entitlementId: string; userKey: string },
) {
  return brokerTokenClaims(
    { issuer: grant.issuer, audience: grant.audience, lifetimeSeconds: 300 },
    {
      grantId: grant.grantId,
      entitlementId: grant.entitlementId,
      userKey: grant.userKey,
      identity: {
        roleSessionName: session.roleSessionName,
        sourceIdentity: session.sourceIdentity ?? '',
        tags: session.tags,
        transitiveTagKeys: session.transitiveTagKeys,
      },
    },
    new Date(),
  );
}
