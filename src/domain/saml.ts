import { ROLE_ARN_PATTERN, partitionOfArn } from './entitlement.ts';
import type { AwsRoleAttribute } from './principal.ts';

/**
 * The audience of assertions an IdP issues for AWS itself. The broker accepts them only from IdPs
 * configured for it, and only to pass them on to AssumeRoleWithSAML, never for its own AssumeRole path.
 */
export const AWS_SAML_AUDIENCE = 'urn:amazon:webservices';

/** AWS's SAML endpoint per partition: an assertion for AWS names one as its Destination and Recipient. */
export const AWS_SAML_ENDPOINTS: Readonly<Record<string, string>> = {
  'https://signin.aws.amazon.com/saml': 'aws',
  'https://signin.amazonaws-us-gov.com/saml': 'aws-us-gov',
  'https://signin.amazonaws.cn/saml': 'aws-cn',
};

export const AWS_SAML_ATTRIBUTES = {
  role: 'https://aws.amazon.com/SAML/Attributes/Role',
  roleSessionName: 'https://aws.amazon.com/SAML/Attributes/RoleSessionName',
  sourceIdentity: 'https://aws.amazon.com/SAML/Attributes/SourceIdentity',
  principalTagPrefix: 'https://aws.amazon.com/SAML/Attributes/PrincipalTag:',
  transitiveTagKeys: 'https://aws.amazon.com/SAML/Attributes/TransitiveTagKeys',
} as const;

export const SAML_PROVIDER_ARN_PATTERN = /^arn:(aws|aws-us-gov|aws-cn):iam::\d{12}:saml-provider\/[\w+=,.@-]{1,128}$/;
/** STS's RoleSessionName and SourceIdentity grammar (2-64 of [\w+=,.@-]). */
const STS_SESSION_NAME_PATTERN = /^[\w+=,.@-]{2,64}$/;
/** STS's tag grammar: keys 1-128, values 0-256 of letters, spaces, digits and _.:/=+-@. */
const STS_TAG_KEY_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const STS_TAG_VALUE_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;
const MAX_ROLE_VALUES = 100;
const MAX_SESSION_TAGS = 50;

/** Why an assertion's AWS attributes would make STS refuse it (the verifier turns this into a 401). */
export class AwsSamlAttributeError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * Reads the AWS attributes of an assertion accepted for `urn:amazon:webservices` and applies STS's rules
 * before STS sees them: each Role value is exactly one role ARN and one SAML provider ARN (either order, as
 * AWS accepts), both in the account and partition of each other and of the endpoint the assertion was
 * issued for; RoleSessionName exactly once; SourceIdentity at most once; PrincipalTag keys and values,
 * and TransitiveTagKeys, in STS's grammar and limits.
 */
export function parseAwsSamlAttributes(attributes: ReadonlyMap<string, readonly string[]>, partition: string): readonly AwsRoleAttribute[] {
  const roleValues = attributes.get(AWS_SAML_ATTRIBUTES.role) ?? [];
  if (roleValues.length === 0 || roleValues.length > MAX_ROLE_VALUES) throw new AwsSamlAttributeError('saml_aws_role_invalid');
  const roles = roleValues.map((value) => {
    const parts = value.split(',');
    if (parts.length !== 2) throw new AwsSamlAttributeError('saml_aws_role_invalid');
    const roleArn = parts.find((part) => ROLE_ARN_PATTERN.test(part));
    const principalArn = parts.find((part) => SAML_PROVIDER_ARN_PATTERN.test(part));
    if (roleArn === undefined || principalArn === undefined) throw new AwsSamlAttributeError('saml_aws_role_invalid');
    if (partitionOfArn(roleArn) !== partition || partitionOfArn(principalArn) !== partition || roleArn.split(':')[4] !== principalArn.split(':')[4]) {
      throw new AwsSamlAttributeError('saml_aws_role_invalid');
    }
    return { roleArn, principalArn };
  });

  const sessionNames = attributes.get(AWS_SAML_ATTRIBUTES.roleSessionName) ?? [];
  if (sessionNames.length !== 1 || !STS_SESSION_NAME_PATTERN.test(sessionNames[0] as string)) {
    throw new AwsSamlAttributeError('saml_aws_role_session_name_invalid');
  }
  const sourceIdentities = attributes.get(AWS_SAML_ATTRIBUTES.sourceIdentity);
  if (sourceIdentities !== undefined) {
    const [sourceIdentity] = sourceIdentities;
    if (sourceIdentities.length !== 1 || !STS_SESSION_NAME_PATTERN.test(sourceIdentity as string) || /^aws:/i.test(sourceIdentity as string)) {
      throw new AwsSamlAttributeError('saml_aws_source_identity_invalid');
    }
  }

  const tagKeys = new Set<string>();
  for (const [name, values] of attributes) {
    if (!name.startsWith(AWS_SAML_ATTRIBUTES.principalTagPrefix)) continue;
    const key = name.slice(AWS_SAML_ATTRIBUTES.principalTagPrefix.length);
    const lower = key.toLowerCase();
    if (!STS_TAG_KEY_PATTERN.test(key) || lower.startsWith('aws:') || tagKeys.has(lower)) throw new AwsSamlAttributeError('saml_aws_principal_tag_invalid');
    if (values.length !== 1 || !STS_TAG_VALUE_PATTERN.test(values[0] as string)) throw new AwsSamlAttributeError('saml_aws_principal_tag_invalid');
    tagKeys.add(lower);
  }
  if (tagKeys.size > MAX_SESSION_TAGS) throw new AwsSamlAttributeError('saml_aws_principal_tag_invalid');
  for (const key of attributes.get(AWS_SAML_ATTRIBUTES.transitiveTagKeys) ?? []) {
    if (!tagKeys.has(key.toLowerCase())) throw new AwsSamlAttributeError('saml_aws_principal_tag_invalid');
  }
  return roles;
}

/** Whether the verifier must read this attribute of an assertion for AWS. */
export const isAwsSamlAttribute = (name: string): boolean =>
  Object.values(AWS_SAML_ATTRIBUTES).includes(name as never) || name.startsWith(AWS_SAML_ATTRIBUTES.principalTagPrefix);
