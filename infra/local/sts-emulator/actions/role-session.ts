/**
 * What every Assume* action shares once its own authentication and parameters are settled: role lookup, trust-policy
 * evaluation, duration rules (role max, role chaining), session-tag/source-identity inheritance, packed size,
 * issuing credentials and the common result XML.
 */
import { assumedRoleArn } from '../arn.ts';
import type { Caller } from '../auth/authenticate.ts';
import { stsErrors } from '../errors.ts';
import { packedPolicySize } from '../packed-size.ts';
import type { XmlTree } from '../protocol/xml.ts';
import type { ConfiguredRole, EmulatorState } from '../state.ts';
import { ConditionContext, evaluateTrustPolicy, type TrustPrincipal } from '../trust-policy.ts';
import type { IssuedSession, SessionTag } from '../types.ts';
import { LIMITS } from '../validation.ts';

export interface RoleSessionRequest {
  /** `sts:AssumeRole`, `sts:AssumeRoleWithWebIdentity`, `sts:AssumeRoleWithSAML`. */
  iamAction: 'sts:AssumeRole' | 'sts:AssumeRoleWithWebIdentity' | 'sts:AssumeRoleWithSAML';
  /** Web identity and SAML: the provider ARN and the subject, recorded on the session. */
  provider?: string;
  subject?: string;
  roleArn: string;
  roleSessionName: string;
  durationSeconds?: number;
  policy?: string;
  policyDocument?: unknown;
  policyArns: string[];
  /** Tags requested by the call (not including inherited ones). */
  tags: SessionTag[];
  transitiveTagKeys: string[];
  sourceIdentity?: string;
  externalId?: string;
  /** Who asks, for the trust policy and AccessDenied messages. */
  principal: TrustPrincipal;
  /** ARN used in "User: … is not authorized" messages and recorded as callerArn. */
  callerArn: string;
  /** Signed callers (AssumeRole): their session, for chaining rules and inheritance. */
  caller?: Caller;
  /** Extra condition keys (e.g. web identity claims) beyond the common ones. */
  extraContext?: Record<string, string | readonly string[] | undefined>;
}

export interface RoleSessionResult {
  session: IssuedSession;
  xml: XmlTree;
}

function conditionContext(req: RoleSessionRequest, tags: SessionTag[], transitive: string[], sourceIdentity: string | undefined) {
  const caller = req.caller;
  const principalType = caller
    ? { 'assumed-role': 'AssumedRole', user: 'User', root: 'Account', 'federated-user': 'FederatedUser' }[caller.kind]
    : undefined;
  const ctx = new ConditionContext(
    {
      'sts:ExternalId': req.externalId,
      'sts:SourceIdentity': sourceIdentity,
      'sts:RoleSessionName': req.roleSessionName,
      'sts:TransitiveTagKeys': transitive.length > 0 ? transitive : undefined,
      'aws:TagKeys': tags.length > 0 ? tags.map((t) => t.Key) : undefined,
      'aws:PrincipalArn': caller ? (caller.roleArn ?? caller.arn) : undefined,
      'aws:PrincipalAccount': caller?.account,
      'aws:PrincipalType': principalType,
      'aws:userid': caller?.userId,
      'aws:SourceIdentity': caller?.issuedSession?.sourceIdentity,
      'aws:RequestedRegion': caller?.region,
      ...req.extraContext,
    },
    ['aws:RequestTag/', 'aws:PrincipalTag/'],
  );
  for (const t of tags) ctx.set(`aws:RequestTag/${t.Key}`, t.Value);
  for (const t of caller?.issuedSession?.tags ?? []) ctx.set(`aws:PrincipalTag/${t.Key}`, t.Value);
  return ctx;
}

export function issueRoleSession(state: EmulatorState, now: Date, req: RoleSessionRequest): RoleSessionResult {
  const role: ConfiguredRole | undefined = state.roles.get(req.roleArn);
  if (!role) throw stsErrors.notAuthorized(req.callerArn, req.iamAction, req.roleArn);

  // What the calling session passes on (role chaining): transitive tags and source identity.
  const parent = req.caller?.issuedSession;
  const inheritedTransitiveKeys = parent?.transitiveTagKeys ?? [];
  const inheritedTags = (parent?.tags ?? []).filter((t) => inheritedTransitiveKeys.some((k) => k.toLowerCase() === t.Key.toLowerCase()));
  const inheritedSourceIdentity = parent?.sourceIdentity;

  const sourceIdentity = req.sourceIdentity ?? inheritedSourceIdentity;
  const allTags = [...inheritedTags, ...req.tags];
  const allTransitiveKeys = [
    ...inheritedTransitiveKeys,
    ...req.transitiveTagKeys.filter((k) => !inheritedTransitiveKeys.some((i) => i.toLowerCase() === k.toLowerCase())),
  ];

  // Inherited tags and source identity need the same trust-policy permissions as requested ones.
  const actions: string[] = [req.iamAction];
  if (allTags.length > 0 || req.transitiveTagKeys.length > 0) actions.push('sts:TagSession');
  if (sourceIdentity !== undefined) actions.push('sts:SetSourceIdentity');
  const decision = evaluateTrustPolicy(role.role.trustPolicy, {
    principal: req.principal,
    actions,
    context: conditionContext(req, allTags, allTransitiveKeys, sourceIdentity),
  });
  if (!decision.allowed) throw stsErrors.notAuthorized(req.callerArn, decision.deniedAction, req.roleArn);

  const durationSeconds = req.durationSeconds ?? LIMITS.defaultRoleDuration;
  if (req.caller?.isRoleSession && durationSeconds > LIMITS.chainedMaxDuration) {
    throw stsErrors.validation('The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
  }
  if (durationSeconds > role.maxSessionDuration) {
    throw stsErrors.validation('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  }

  const collision = req.tags.find((t) => inheritedTags.some((i) => i.Key.toLowerCase() === t.Key.toLowerCase()));
  if (collision) {
    // emulator wording
    throw stsErrors.validation(
      `Session tag key '${collision.Key}' conflicts with a transitive session tag inherited from the calling session.`,
    );
  }
  if (req.sourceIdentity !== undefined && inheritedSourceIdentity !== undefined && req.sourceIdentity !== inheritedSourceIdentity) {
    // emulator wording: the source identity of a session chain is immutable
    throw stsErrors.validation(`SourceIdentity cannot be changed: the calling session has source identity '${inheritedSourceIdentity}'.`);
  }

  const hasPolicy = req.policy !== undefined || req.policyArns.length > 0;
  const packed = packedPolicySize({ policyDocument: req.policyDocument, policyArns: req.policyArns, tags: allTags });
  if (packed > 100) throw stsErrors.packedPolicyTooLarge(packed, hasPolicy);

  const assumedArn = assumedRoleArn(role.parts, req.roleSessionName);
  const assumedRoleId = `${role.roleId}:${req.roleSessionName}`;
  const { session, credentials } = state.store.issue(
    {
      issuedBy: req.iamAction.slice('sts:'.length) as IssuedSession['issuedBy'],
      ...(req.provider !== undefined ? { provider: req.provider } : {}),
      ...(req.subject !== undefined ? { subject: req.subject } : {}),
      roleArn: role.role.arn,
      assumedRoleArn: assumedArn,
      assumedRoleId,
      roleSessionName: req.roleSessionName,
      ...(sourceIdentity !== undefined ? { sourceIdentity } : {}),
      tags: allTags,
      transitiveTagKeys: allTransitiveKeys,
      ...(req.policy !== undefined ? { policy: req.policy } : {}),
      policyArns: req.policyArns,
      ...(req.externalId !== undefined ? { externalId: req.externalId } : {}),
      durationSeconds,
      callerArn: req.callerArn,
      packedPolicySize: packed,
    },
    now,
  );

  const xml: XmlTree = [
    [
      'Credentials',
      [
        ['AccessKeyId', credentials.accessKeyId],
        ['SecretAccessKey', credentials.secretAccessKey],
        ['SessionToken', credentials.sessionToken],
        ['Expiration', credentials.expiration],
      ],
    ],
    [
      'AssumedRoleUser',
      [
        ['AssumedRoleId', assumedRoleId],
        ['Arn', assumedArn],
      ],
    ],
    // STS reports PackedPolicySize only when the call carried a session policy or session tags.
    ['PackedPolicySize', hasPolicy || allTags.length > 0 ? packed : undefined],
    ['SourceIdentity', sourceIdentity],
  ];
  return { session, xml };
}
