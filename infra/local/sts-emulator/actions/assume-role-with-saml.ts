import { SAML } from '@node-saml/node-saml';
import { parseRoleArn } from '../arn.ts';
import { StsError, stsErrors } from '../errors.ts';
import { validateSessionPolicyDocument } from '../policy-document.ts';
import type { SessionTag } from '../types.ts';
import { C, checkSourceIdentity, checkTagSemantics, LIMITS, ModelValidator, readSessionPolicyParams } from '../validation.ts';
import { issueRoleSession } from './role-session.ts';
import type { ActionHandler } from './types.ts';
import { webIdentityErrors } from './assume-role-with-web-identity.ts';

/** What an IdP must put in an assertion for AWS. */
export const AWS_SAML = {
  audience: 'urn:amazon:webservices',
  recipient: 'https://signin.aws.amazon.com/saml',
  roleAttribute: 'https://aws.amazon.com/SAML/Attributes/Role',
  sessionNameAttribute: 'https://aws.amazon.com/SAML/Attributes/RoleSessionName',
  sourceIdentityAttribute: 'https://aws.amazon.com/SAML/Attributes/SourceIdentity',
  principalTagPrefix: 'https://aws.amazon.com/SAML/Attributes/PrincipalTag:',
  transitiveTagKeysAttribute: 'https://aws.amazon.com/SAML/Attributes/TransitiveTagKeys',
} as const;

type Profile = Record<string, unknown> & {
  nameID?: string;
  nameIDFormat?: string;
  issuer?: string;
  getAssertion?: () => Record<string, unknown>;
};

const valuesOf = (profile: Profile, name: string): string[] => {
  const value = Object.hasOwn(profile, name) ? profile[name] : undefined;
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
};

function recipientOf(profile: Profile): string | undefined {
  const assertion = profile.getAssertion?.() as
    | {
        Assertion?: {
          Subject?: Array<{ SubjectConfirmation?: Array<{ SubjectConfirmationData?: Array<{ $?: { Recipient?: string } }> }> }>;
        };
      }
    | undefined;
  return assertion?.Assertion?.Subject?.[0]?.SubjectConfirmation?.[0]?.SubjectConfirmationData?.[0]?.$?.Recipient;
}

/**
 * AssumeRoleWithSAML (unsigned). Order: model constraints → RoleArn shape → policy document → SAML provider named by
 * PrincipalArn → assertion (signature by the provider's certificate, SHA-256 or stronger as node-saml enforces,
 * audience `urn:amazon:webservices`, NotBefore/NotOnOrAfter) → Recipient `https://signin.aws.amazon.com/saml` →
 * RoleSessionName, SourceIdentity and PrincipalTag attributes → the Role attribute must pair RoleArn with PrincipalArn
 * → trust policy for `Federated: <provider ARN>` with `SAML:aud|sub|iss` conditions → duration (role max; never
 * chaining) → packed size.
 */
export const assumeRoleWithSaml: ActionHandler = {
  name: 'AssumeRoleWithSAML',
  auth: 'none',
  async handle({ params, state, now }) {
    const v = new ModelValidator();
    const roleArn = params.get('RoleArn');
    const principalArn = params.get('PrincipalArn');
    const assertion = params.get('SAMLAssertion');
    v.string('roleArn', roleArn, C.arn, true);
    v.string('principalArn', principalArn, C.arn, true);
    v.string('sAMLAssertion', assertion, C.samlAssertion, true);
    const durationSeconds = v.integer('durationSeconds', params.get('DurationSeconds'), LIMITS.roleDuration);
    const { policy, policyArns } = readSessionPolicyParams(params, v);
    v.throwIfAny();
    if (roleArn === undefined || principalArn === undefined || assertion === undefined)
      throw stsErrors.validation('RoleArn, PrincipalArn and SAMLAssertion are required');
    if (!parseRoleArn(roleArn)) throw stsErrors.validation('Request ARN is invalid');
    const policyDocument = policy === undefined ? undefined : validateSessionPolicyDocument(policy);

    const provider = state.samlProviders.find((p) => p.arn === principalArn);
    if (provider === undefined) throw webIdentityErrors.invalidToken("Specified provider doesn't exist.");
    let profile: Profile;
    try {
      const saml = new SAML({
        callbackUrl: AWS_SAML.recipient,
        issuer: AWS_SAML.audience,
        audience: AWS_SAML.audience,
        idpCert: provider.certificates,
        wantAssertionsSigned: true,
        wantAuthnResponseSigned: false,
        validateInResponseTo: 'never' as never,
        acceptedClockSkewMs: 0,
      });
      const result = await saml.validatePostResponseAsync({ SAMLResponse: assertion });
      if (result.profile === null) throw new Error('no assertion');
      profile = result.profile as unknown as Profile;
    } catch (e) {
      const message = e instanceof Error ? e.message : '';
      if (/expired/i.test(message)) throw webIdentityErrors.expired('Token expired'); // emulator wording
      if (/audience/i.test(message)) throw webIdentityErrors.invalidToken('Audience in the SAML assertion is not valid'); // emulator wording
      throw webIdentityErrors.invalidToken('Invalid SAML assertion: the signature could not be verified'); // emulator wording
    }
    if (recipientOf(profile) !== AWS_SAML.recipient) {
      throw webIdentityErrors.invalidToken('The Recipient of the SAML assertion is not https://signin.aws.amazon.com/saml'); // emulator wording
    }

    const [roleSessionName, ...extraNames] = valuesOf(profile, AWS_SAML.sessionNameAttribute);
    const [sourceIdentity] = valuesOf(profile, AWS_SAML.sourceIdentityAttribute);
    const tags: SessionTag[] = Object.keys(profile)
      .filter((name) => name.startsWith(AWS_SAML.principalTagPrefix))
      .map((name) => ({ Key: name.slice(AWS_SAML.principalTagPrefix.length), Value: valuesOf(profile, name)[0] ?? '' }));
    const transitiveTagKeys = valuesOf(profile, AWS_SAML.transitiveTagKeysAttribute);
    const attributes = new ModelValidator();
    attributes.string('roleSessionName', roleSessionName, C.roleSessionName, true);
    attributes.string('sourceIdentity', sourceIdentity, C.sourceIdentity);
    tags.forEach((t, i) => {
      attributes.string(`tags.${i + 1}.member.key`, t.Key, C.tagKey, true);
      attributes.string(`tags.${i + 1}.member.value`, t.Value, C.tagValue, true);
    });
    try {
      attributes.throwIfAny();
    } catch (e) {
      throw webIdentityErrors.invalidToken(`Invalid SAML attributes: ${(e as Error).message}`); // emulator wording
    }
    if (roleSessionName === undefined || extraNames.length > 0)
      throw webIdentityErrors.invalidToken('The RoleSessionName attribute needs exactly one value'); // emulator wording
    checkTagSemantics({ tags, transitiveTagKeys });
    checkSourceIdentity(sourceIdentity);

    // Each Role value is "role ARN,provider ARN" in either order; the requested pair must be one of them.
    const pairs = valuesOf(profile, AWS_SAML.roleAttribute).map((value) =>
      value
        .split(',')
        .map((part) => part.trim())
        .sort(),
    );
    const wanted = [roleArn, principalArn].sort();
    if (!pairs.some((pair) => pair.length === 2 && pair[0] === wanted[0] && pair[1] === wanted[1])) {
      throw stsErrors.accessDenied('Not authorized to perform sts:AssumeRoleWithSAML');
    }

    try {
      const { xml, session } = issueRoleSession(state, now, {
        iamAction: 'sts:AssumeRoleWithSAML',
        provider: provider.arn,
        subject: profile.nameID ?? '',
        roleArn,
        roleSessionName,
        ...(durationSeconds !== undefined ? { durationSeconds } : {}),
        ...(policy !== undefined ? { policy, policyDocument } : {}),
        policyArns,
        tags,
        transitiveTagKeys,
        ...(sourceIdentity !== undefined ? { sourceIdentity } : {}),
        principal: { type: 'Federated', id: provider.arn },
        callerArn: provider.arn,
        extraContext: {
          'SAML:aud': AWS_SAML.recipient,
          'SAML:sub': profile.nameID,
          'SAML:iss': profile.issuer,
          'SAML:sub_type': profile.nameIDFormat?.split(':').pop(),
          'aws:FederatedProvider': provider.arn,
        },
      });
      return [
        ...xml.filter(([name]) => name !== 'SourceIdentity'),
        ['Subject', session.subject],
        ['SubjectType', profile.nameIDFormat?.split(':').pop()],
        ['Issuer', profile.issuer],
        ['Audience', AWS_SAML.recipient],
        ['SourceIdentity', session.sourceIdentity],
      ];
    } catch (e) {
      if (e instanceof StsError && e.code === 'AccessDenied')
        throw stsErrors.accessDenied('Not authorized to perform sts:AssumeRoleWithSAML');
      throw e;
    }
  },
};
