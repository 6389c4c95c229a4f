import { parseRoleArn } from '../arn.ts';
import { stsErrors } from '../errors.ts';
import { validateSessionPolicyDocument } from '../policy-document.ts';
import {
  C,
  checkSourceIdentity,
  checkTagSemantics,
  LIMITS,
  ModelValidator,
  readSessionPolicyParams,
  readTagParams,
} from '../validation.ts';
import { issueRoleSession } from './role-session.ts';
import type { ActionHandler } from './types.ts';

/**
 * AssumeRole. Check order: model constraints (ValidationError listing every violation) → RoleArn shape → tag,
 * source-identity and policy-document rules → role existence and trust policy (AccessDenied) → duration limits →
 * inheritance conflicts → packed size.
 */
export const assumeRole: ActionHandler = {
  name: 'AssumeRole',
  auth: 'sigv4',
  handle({ params, state, now, caller }) {
    if (!caller) throw stsErrors.missingAuthenticationToken();
    if (caller.kind === 'federated-user') {
      // Federated users may call no STS API but GetCallerIdentity. emulator wording
      throw stsErrors.notAuthorized(caller.arn, 'sts:AssumeRole', params.get('RoleArn') ?? '');
    }
    const v = new ModelValidator();
    const roleArn = params.get('RoleArn');
    const roleSessionName = params.get('RoleSessionName');
    v.string('roleArn', roleArn, C.arn, true);
    v.string('roleSessionName', roleSessionName, C.roleSessionName, true);
    const durationSeconds = v.integer('durationSeconds', params.get('DurationSeconds'), LIMITS.roleDuration);
    const { policy, policyArns } = readSessionPolicyParams(params, v);
    const tagParams = readTagParams(params, v);
    const externalId = params.get('ExternalId');
    v.string('externalId', externalId, C.externalId);
    const sourceIdentity = params.get('SourceIdentity');
    v.string('sourceIdentity', sourceIdentity, C.sourceIdentity);
    v.string('serialNumber', params.get('SerialNumber'), C.serialNumber);
    v.string('tokenCode', params.get('TokenCode'), C.tokenCode);
    v.throwIfAny();
    if (roleArn === undefined || roleSessionName === undefined) throw stsErrors.validation('RoleArn and RoleSessionName are required');

    if (!parseRoleArn(roleArn)) throw stsErrors.validation('Request ARN is invalid');
    checkTagSemantics(tagParams);
    checkSourceIdentity(sourceIdentity);
    const policyDocument = policy === undefined ? undefined : validateSessionPolicyDocument(policy);
    const invalidArn = policyArns.find((a) => !/^arn:aws[a-z-]*:iam::(\d{12}|aws):policy\/.+$/.test(a));
    if (invalidArn !== undefined) throw stsErrors.validation(`Invalid policy ARN: ${invalidArn}`); // emulator wording

    const { xml } = issueRoleSession(state, now, {
      iamAction: 'sts:AssumeRole',
      roleArn,
      roleSessionName,
      ...(durationSeconds !== undefined ? { durationSeconds } : {}),
      ...(policy !== undefined ? { policy, policyDocument } : {}),
      policyArns,
      tags: tagParams.tags,
      transitiveTagKeys: tagParams.transitiveTagKeys,
      ...(sourceIdentity !== undefined ? { sourceIdentity } : {}),
      ...(externalId !== undefined ? { externalId } : {}),
      principal: {
        type: 'AWS',
        id: caller.arn,
        account: caller.account,
        partition: caller.partition,
        ...(caller.roleArn !== undefined ? { roleArn: caller.roleArn } : {}),
      },
      callerArn: caller.arn,
      caller,
    });
    return xml;
  },
};
