import { stsErrors } from '../errors.ts';
import { packedPolicySize } from '../packed-size.ts';
import { validateSessionPolicyDocument } from '../policy-document.ts';
import { ConditionContext, evaluateIdentityPolicy } from '../trust-policy.ts';
import { C, checkTagSemantics, LIMITS, ModelValidator, readSessionPolicyParams, readTagParams } from '../validation.ts';
import type { ActionHandler } from './types.ts';

/** STS's default when DurationSeconds is absent. */
const DEFAULT_FEDERATION_DURATION = 43_200;
/** The account root may ask for an hour at most. */
const ROOT_MAX_DURATION = 3600;

/**
 * GetFederationToken, signed with an IAM user's long-term keys. Order: caller kind (session credentials are refused) →
 * model constraints (Name 2-32, duration 900-129600, policy, tags; TransitiveTagKeys does not exist here) → tag and
 * policy-document rules → the user's identity policy (`sts:GetFederationToken`, `sts:TagSession` with tags, on the
 * federated-user ARN) → root's 1 h cap → packed size. Without a policy the session is issued but can do nothing; the
 * emulator records that as a session with no policy.
 */
export const getFederationToken: ActionHandler = {
  name: 'GetFederationToken',
  auth: 'sigv4',
  handle({ params, state, now, caller }) {
    if (!caller) throw stsErrors.missingAuthenticationToken();
    if (caller.kind !== 'user' && caller.kind !== 'root') {
      throw stsErrors.accessDenied('Cannot call GetFederationToken with session credentials');
    }
    const v = new ModelValidator();
    const name = params.get('Name');
    v.string('name', name, C.federationName, true);
    const durationSeconds = v.integer('durationSeconds', params.get('DurationSeconds'), LIMITS.federationDuration);
    const { policy, policyArns } = readSessionPolicyParams(params, v);
    const tagParams = readTagParams(params, v);
    v.throwIfAny();
    if (name === undefined) throw stsErrors.validation('Name is required');
    if (tagParams.transitiveTagKeys.length > 0) {
      throw stsErrors.validation('TransitiveTagKeys is not a parameter of GetFederationToken'); // emulator wording
    }
    checkTagSemantics(tagParams);
    const policyDocument = policy === undefined ? undefined : validateSessionPolicyDocument(policy);

    const federatedArn = `arn:${caller.partition}:sts::${caller.account}:federated-user/${name}`;
    if (caller.kind === 'user') {
      const configured = state.principals.get(caller.accessKeyId);
      const actions = ['sts:GetFederationToken', ...(tagParams.tags.length > 0 ? ['sts:TagSession'] : [])];
      const context = new ConditionContext(
        { 'aws:TagKeys': tagParams.tags.length > 0 ? tagParams.tags.map((t) => t.Key) : undefined, 'aws:PrincipalArn': caller.arn },
        ['aws:RequestTag/'],
      );
      for (const t of tagParams.tags) context.set(`aws:RequestTag/${t.Key}`, t.Value);
      const decision = evaluateIdentityPolicy(configured?.principal.identityPolicy, federatedArn, { actions, context });
      if (!decision.allowed) throw stsErrors.notAuthorized(caller.arn, decision.deniedAction, federatedArn);
    }
    const duration = durationSeconds ?? DEFAULT_FEDERATION_DURATION;
    if (caller.kind === 'root' && duration > ROOT_MAX_DURATION) {
      throw stsErrors.validation('The requested DurationSeconds exceeds the 1 hour session limit for the account root user.'); // emulator wording
    }
    const hasPolicy = policy !== undefined || policyArns.length > 0;
    const packed = packedPolicySize({ policyDocument, policyArns, tags: tagParams.tags });
    if (packed > 100) throw stsErrors.packedPolicyTooLarge(packed, hasPolicy);

    const federatedUserId = `${caller.account}:${name}`;
    const { credentials } = state.store.issue(
      {
        issuedBy: 'GetFederationToken',
        roleArn: caller.arn,
        assumedRoleArn: federatedArn,
        assumedRoleId: federatedUserId,
        roleSessionName: name,
        tags: tagParams.tags,
        transitiveTagKeys: [],
        ...(policy !== undefined ? { policy } : {}),
        policyArns,
        durationSeconds: duration,
        callerArn: caller.arn,
        packedPolicySize: packed,
      },
      now,
    );
    return [
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
        'FederatedUser',
        [
          ['FederatedUserId', federatedUserId],
          ['Arn', federatedArn],
        ],
      ],
      ['PackedPolicySize', hasPolicy || tagParams.tags.length > 0 ? packed : undefined],
    ];
  },
};
