import { boundSamlVerifier } from '../support/bound-saml-verifier.ts';
import { NodeSamlVerifier } from '../../src/adapters/saml/node-saml-verifier.ts';
import { describe, expect, it } from 'vitest';

import { InvalidSamlResponseError } from '../../src/domain/errors.ts';
import { AWS_SAML_AUDIENCE } from '../../src/domain/saml.ts';
import { Secret } from '../../src/domain/secret.ts';
import type { ReplayCache } from '../../src/ports/index.ts';
import { generateSigningCert, type ResponseOptions, samlifyIdp } from '../../infra/local/saml-idp.ts';

const ENTITY_ID = 'https://idp.example.test/saml';
const ACS = 'https://broker.example.test/v1/credentials';
const AUDIENCE = 'urn:keyvend:test';
const AWS_ENDPOINT = 'https://signin.aws.amazon.com/saml';
const ROLE = 'arn:aws:iam::111111111111:role/keyvend/saml-uploads';
const PROVIDER = 'arn:aws:iam::111111111111:saml-provider/corp';
const ATTR = 'https://aws.amazon.com/SAML/Attributes/';
const cert = generateSigningCert('verifier-aws-test-idp');
const idp = samlifyIdp({ entityId: ENTITY_ID, cert, acsUrl: ACS, audience: AUDIENCE, defaultNameId: 'alice-1' });

const noReplays: ReplayCache = { claimOnce: async () => true };
const verifier = boundSamlVerifier({
  idps: [
    {
      id: 'corp',
      entityId: ENTITY_ID,
      certificates: [cert.certPem],
      audiences: [AUDIENCE, AWS_SAML_AUDIENCE],
      nameIdFormats: ['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
      tagAttributes: {},
      requireSignedResponse: false,
      maxAssertionLifetimeSeconds: 3600,
      clockSkewSeconds: 30,
    },
  ],
  acsUrl: ACS,
  replayCache: noReplays,
});

/** An assertion as an IdP issues it for AWS; `attributes` replace or (with undefined) remove the defaults. */
function forAws(attributes: Record<string, string[] | undefined> = {}, options: ResponseOptions = {}) {
  const merged: Record<string, string[] | undefined> = { [`${ATTR}Role`]: [`${ROLE},${PROVIDER}`], [`${ATTR}RoleSessionName`]: ['alice@example.com'], ...attributes };
  const present = Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string[]] => entry[1] !== undefined));
  return idp.response({ audience: AWS_SAML_AUDIENCE, destination: AWS_ENDPOINT, recipient: AWS_ENDPOINT, attributes: present, ...options });
}

async function reasonOf(response: Promise<string>): Promise<string> {
  try {
    await verifier.verifySamlResponse(new Secret(await response));
    return 'accepted';
  } catch (error) {
    if (error instanceof InvalidSamlResponseError) return error.reason;
    throw error;
  }
}

describe('NodeSamlVerifier, assertions for AWS (pass-through)', () => {
  it('reads the Role attribute into principal.awsRoles, in either order', async () => {
    // Prepare
    const other = 'arn:aws:iam::111111111111:role/other';
    const response = await forAws({ [`${ATTR}Role`]: [`${ROLE},${PROVIDER}`, `${PROVIDER},${other}`] });

    // Act
    const result = await verifier.verifySamlResponse(new Secret(response));

    // Assess
    expect(result.audience).toBe(AWS_SAML_AUDIENCE);
    expect(result.principal.awsRoles).toEqual([
      { roleArn: ROLE, principalArn: PROVIDER },
      { roleArn: other, principalArn: PROVIDER },
    ]);
  });

  it('accepts the partition endpoints of aws-us-gov and aws-cn for roles of that partition', async () => {
    // Prepare
    const gov = 'https://signin.amazonaws-us-gov.com/saml';
    const govRole = `arn:aws-us-gov:iam::111111111111:role/r,arn:aws-us-gov:iam::111111111111:saml-provider/p`;
    const cn = 'https://signin.amazonaws.cn/saml';

    // Act
    const govResult = await reasonOf(forAws({ [`${ATTR}Role`]: [govRole] }, { destination: gov, recipient: gov }));
    const awsRoleAtGov = await reasonOf(forAws({}, { destination: gov, recipient: gov }));
    const awsRoleAtCn = await reasonOf(forAws({}, { destination: cn, recipient: cn }));

    // Assess
    expect(govResult).toBe('accepted');
    expect(awsRoleAtGov).toBe('saml_aws_role_invalid');
    expect(awsRoleAtCn).toBe('saml_aws_role_invalid');
  });

  it('requires AWS as Destination and Recipient, never our ACS, and our ACS for our audience', async () => {
    // Act
    const ourAcsForAws = await reasonOf(forAws({}, { destination: ACS, recipient: ACS }));
    const recipientOurs = await reasonOf(forAws({}, { recipient: ACS }));
    const destinationOurs = await reasonOf(forAws({}, { destination: ACS }));
    const lookalike = await reasonOf(forAws({}, { destination: 'https://signin.aws.amazon.com/saml/', recipient: 'https://signin.aws.amazon.com/saml/' }));
    const awsForUs = await reasonOf(idp.response({ destination: AWS_ENDPOINT, recipient: AWS_ENDPOINT }));

    // Assess
    expect(ourAcsForAws).toBe('saml_destination_mismatch');
    expect(recipientOurs).toBe('saml_recipient_mismatch');
    expect(destinationOurs).toBe('saml_destination_mismatch');
    expect(lookalike).toBe('saml_destination_mismatch');
    expect(awsForUs).toBe('saml_destination_mismatch');
  });

  it.each([
    ['no Role attribute', { [`${ATTR}Role`]: undefined }, 'saml_aws_role_invalid'],
    ['a Role value with one ARN', { [`${ATTR}Role`]: [ROLE] }, 'saml_aws_role_invalid'],
    ['a Role value with three parts', { [`${ATTR}Role`]: [`${ROLE},${PROVIDER},${PROVIDER}`] }, 'saml_aws_role_invalid'],
    ['two role ARNs', { [`${ATTR}Role`]: [`${ROLE},${ROLE}`] }, 'saml_aws_role_invalid'],
    ['spaces around the comma', { [`${ATTR}Role`]: [`${ROLE}, ${PROVIDER}`] }, 'saml_aws_role_invalid'],
    ['a provider in another account', { [`${ATTR}Role`]: [`${ROLE},arn:aws:iam::222222222222:saml-provider/corp`] }, 'saml_aws_role_invalid'],
    ['a user ARN for a role', { [`${ATTR}Role`]: [`arn:aws:iam::111111111111:user/bob,${PROVIDER}`] }, 'saml_aws_role_invalid'],
    ['no RoleSessionName', { [`${ATTR}RoleSessionName`]: undefined }, 'saml_aws_role_session_name_invalid'],
    ['a one-character RoleSessionName', { [`${ATTR}RoleSessionName`]: ['a'] }, 'saml_aws_role_session_name_invalid'],
    ['a RoleSessionName with a space', { [`${ATTR}RoleSessionName`]: ['alice smith'] }, 'saml_aws_role_session_name_invalid'],
    ['two RoleSessionNames', { [`${ATTR}RoleSessionName`]: ['alice', 'bob'] }, 'saml_aws_role_session_name_invalid'],
    ['a 65-character RoleSessionName', { [`${ATTR}RoleSessionName`]: ['a'.repeat(65)] }, 'saml_aws_role_session_name_invalid'],
    ['a SourceIdentity with a colon', { [`${ATTR}SourceIdentity`]: ['aws:alice'] }, 'saml_aws_source_identity_invalid'],
    ['two SourceIdentity values', { [`${ATTR}SourceIdentity`]: ['alice', 'bob'] }, 'saml_aws_source_identity_invalid'],
    ['a PrincipalTag key with aws:', { [`${ATTR}PrincipalTag:aws:team`]: ['blue'] }, 'saml_aws_principal_tag_invalid'],
    ['a PrincipalTag value with a semicolon', { [`${ATTR}PrincipalTag:team`]: ['blue;red'] }, 'saml_aws_principal_tag_invalid'],
    ['a PrincipalTag with two values', { [`${ATTR}PrincipalTag:team`]: ['blue', 'red'] }, 'saml_aws_principal_tag_invalid'],
    ['a PrincipalTag key of 129 characters', { [`${ATTR}PrincipalTag:${'k'.repeat(129)}`]: ['blue'] }, 'saml_aws_principal_tag_invalid'],
    ['a transitive key that is not a tag', { [`${ATTR}PrincipalTag:team`]: ['blue'], [`${ATTR}TransitiveTagKeys`]: ['project'] }, 'saml_aws_principal_tag_invalid'],
  ])('refuses %s before STS would', async (_name, attributes, reason) => {
    // Act
    const result = await reasonOf(forAws(attributes));

    // Assess
    expect(result).toBe(reason);
  });

  it('accepts SourceIdentity, PrincipalTags and transitive keys in STS grammar', async () => {
    // Act
    const result = await reasonOf(
      forAws({
        [`${ATTR}SourceIdentity`]: ['alice@example.com'],
        [`${ATTR}PrincipalTag:team`]: ['blue sky'],
        [`${ATTR}PrincipalTag:cost-center`]: ['1234'],
        [`${ATTR}TransitiveTagKeys`]: ['team'],
      }),
    );

    // Assess
    expect(result).toBe('accepted');
  });
});

describe('NodeSamlVerifier, the expected ACS is a parameter of each verification', () => {
  const PORTAL_ACS = 'https://broker.example.test/portal/saml/acs';
  const unbound = new NodeSamlVerifier({
    idps: [
      {
        id: 'corp',
        entityId: ENTITY_ID,
        certificates: [cert.certPem],
        audiences: [AUDIENCE, AWS_SAML_AUDIENCE],
        nameIdFormats: ['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
        tagAttributes: {},
        requireSignedResponse: false,
        maxAssertionLifetimeSeconds: 3600,
        clockSkewSeconds: 30,
      },
    ],
    replayCache: noReplays,
  });
  const portal = { acsUrl: PORTAL_ACS, acceptsAwsAudience: false };
  const reasonAt = async (response: Promise<string>, consumer: { acsUrl: string; acceptsAwsAudience: boolean }) => {
    try {
      await unbound.verifySamlResponse(new Secret(await response), consumer);
      return 'accepted';
    } catch (error) {
      if (error instanceof InvalidSamlResponseError) return error.reason;
      throw error;
    }
  };

  it('accepts a response for the portal ACS only where the portal ACS is expected, and the API ACS only at the API', async () => {
    // Act
    const portalAtPortal = await reasonAt(idp.response({ destination: PORTAL_ACS, recipient: PORTAL_ACS }), portal);
    const apiAtPortal = await reasonAt(idp.response(), portal);
    const portalAtApi = await reasonAt(idp.response({ destination: PORTAL_ACS, recipient: PORTAL_ACS }), { acsUrl: ACS, acceptsAwsAudience: true });
    const mixed = await reasonAt(idp.response({ destination: PORTAL_ACS }), portal);

    // Assess
    expect(portalAtPortal).toBe('accepted');
    expect(apiAtPortal).toBe('saml_destination_mismatch');
    expect(portalAtApi).toBe('saml_destination_mismatch');
    expect(mixed).toBe('saml_recipient_mismatch');
  });

  it('refuses an assertion for AWS where the consumer does not accept that audience (the portal)', async () => {
    // Act
    const reason = await reasonAt(forAws(), portal);

    // Assess
    expect(reason).toBe('saml_untrusted_audience');
  });
});
