/**
 * "May this session do this now?": the `/_emulator/authorize` admin route. Evaluates, with the IAM simulator (a dev
 * tool, AGPL: never bundled into the broker), the role's permission policy and the default version of every managed
 * policy attached to it (such as `keyvend-revocations`), intersected with the session policy, in the session's own
 * context: its tags (`aws:PrincipalTag/*`), SourceIdentity, `aws:TokenIssueTime` and the emulator's clock. An expired
 * or unknown session is refused before any policy is read, as AWS refuses its credentials.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { EmulatorState } from './state.ts';

export interface AuthorizationQuestion {
  readonly accessKeyId: string;
  readonly action: string;
  readonly resource: string;
}

export type AuthorizationDecision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied' | 'ExpiredToken' | 'UnknownSession';

export interface AuthorizationAnswer {
  readonly decision: AuthorizationDecision;
  readonly accessKeyId: string;
  readonly assumedRoleArn?: string;
  /** The identity policies evaluated, by name (the role's own and each attached managed policy). */
  readonly policies?: readonly string[];
}

export async function authorizeSession(state: EmulatorState, question: AuthorizationQuestion): Promise<AuthorizationAnswer> {
  const stored = state.store.find(question.accessKeyId);
  if (stored === undefined) return { decision: 'UnknownSession', accessKeyId: question.accessKeyId };
  const now = state.now();
  const session = stored.session;
  if (now.getTime() >= stored.expiresAtMs)
    return { decision: 'ExpiredToken', accessKeyId: session.accessKeyId, assumedRoleArn: session.assumedRoleArn };
  const role = state.roles.get(session.roleArn)?.role;
  const identityPolicies: { name: string; policy: unknown }[] = [];
  if (role?.permissionPolicy !== undefined) identityPolicies.push({ name: 'permissionPolicy', policy: role.permissionPolicy });
  for (const arn of role?.attachedPolicyArns ?? []) {
    const document = state.managedPolicies.defaultDocument(arn);
    if (document !== undefined) identityPolicies.push({ name: arn, policy: document });
  }
  const account = session.assumedRoleArn.split(':')[4] ?? state.accountId;
  const contextVariables: Record<string, string> = {
    'aws:TokenIssueTime': session.issuedAt,
    'aws:CurrentTime': now.toISOString(),
    'aws:PrincipalArn': session.roleArn,
    'aws:PrincipalAccount': account,
    'aws:userid': session.assumedRoleId,
    ...(session.sourceIdentity === undefined ? {} : { 'aws:SourceIdentity': session.sourceIdentity }),
    ...Object.fromEntries(session.tags.map((t) => [`aws:PrincipalTag/${t.Key}`, t.Value])),
  };
  const result = await runSimulation(
    {
      request: {
        principal: session.assumedRoleArn,
        action: question.action,
        resource: { resource: question.resource, accountId: account },
        contextVariables,
      },
      identityPolicies: identityPolicies as never,
      ...(session.policy === undefined ? {} : { sessionPolicy: JSON.parse(session.policy) }),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  const analysed = result.resultType === 'single' ? result.result.analysis?.result : undefined;
  const decision: AuthorizationDecision =
    analysed === 'Allowed' || analysed === 'ExplicitlyDenied' || analysed === 'ImplicitlyDenied' ? analysed : 'ImplicitlyDenied';
  return {
    decision,
    accessKeyId: session.accessKeyId,
    assumedRoleArn: session.assumedRoleArn,
    policies: identityPolicies.map((p) => p.name),
  };
}
