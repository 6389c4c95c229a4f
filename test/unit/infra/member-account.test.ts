import { createValidatedPolicy, validateTrustPolicy } from '@cloud-copilot/iam-policy';
import { runSimulation, runUnsafeSimulation, type EvaluationResult, type Simulation } from '@cloud-copilot/iam-simulate';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../../infra/local/stack.ts';
import { loadTemplate, renderTemplate } from '../../support/cfn-render.ts';
import { evaluator, loadModule } from '../../support/terraform-render.ts';

const ACCOUNT = '333333333333';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/keyvend/photo-uploads`;
const ENTITLEMENTS = ['photo-uploads', 'photo-review'];
const POLICY_ARN = `arn:aws:iam::${ACCOUNT}:policy/photo-uploads-ceiling`;
const USER_KEY = 'mfrggzdfmztwq2lknnwg23tpob';
const ISSUER = 'https://keyvend.example.com';
const API_GATEWAY_ISSUER = 'https://abc123defg.execute-api.eu-west-1.amazonaws.com/prod';
/** A custom domain, and an API Gateway URL: IAM keys the provider and its condition keys on host and path. */
const ISSUERS = [ISSUER, API_GATEWAY_ISSUER];
const ACTIONS = ['sts:AssumeRoleWithWebIdentity', 'sts:TagSession', 'sts:SetSourceIdentity'];
const REVOCATIONS_ROLE = 'arn:aws:iam::222222222222:role/keyvend-prod-revocations';
const REVOCATION_POLICY = `arn:aws:iam::${ACCOUNT}:policy/keyvend/keyvend-revocations`;
const REVOKER_ACTIONS = ['iam:CreatePolicyVersion', 'iam:DeletePolicyVersion', 'iam:ListPolicyVersions', 'iam:GetPolicyVersion'];

const hostPath = (issuer: string) => issuer.replace(/^https:\/\//, '');
const providerArn = (issuer: string, account = ACCOUNT) => `arn:aws:iam::${account}:oidc-provider/${hostPath(issuer)}`;

type Policy = { Statement: { Principal: { Federated: string }; Condition: Record<string, Record<string, unknown>> }[] };

const template = loadTemplate('infra/member-account.yaml');

function renderStack(parameters: Record<string, string | number>) {
  // Ref of an AWS::IAM::OIDCProvider is its ARN, which IAM derives from the URL.
  const issuer = String(parameters['IssuerUrl']);
  return renderTemplate(template, parameters, {
    accountId: ACCOUNT,
    resourceRefs: { OidcProvider: providerArn(issuer), RevocationPolicy: REVOCATION_POLICY },
  });
}

const stackParameters = (issuer: string) => ({
  IssuerUrl: issuer,
  RoleName: 'photo-uploads',
  EntitlementIds: ENTITLEMENTS.join(','),
  PermissionsPolicyArns: POLICY_ARN,
  RevocationsRoleArn: REVOCATIONS_ROLE,
});

function cloudFormationTrust(issuer: string, extra: Record<string, string> = {}): Policy {
  const role = renderStack({ ...stackParameters(issuer), ...extra }).resources['TargetRole'];
  return JSON.parse(String(role?.['AssumeRolePolicyDocument'])) as Policy;
}

const terraform = await loadModule('infra/terraform/member-account');
const DATA = { 'data.aws_partition.current.partition': 'aws', 'data.aws_caller_identity.current.account_id': ACCOUNT };
const moduleInputs = (issuer: string) => ({
  issuer_url: issuer,
  role_name: 'photo-uploads',
  entitlement_ids: ENTITLEMENTS,
  permissions_policy_arns: [POLICY_ARN],
  revocations_role_arn: REVOCATIONS_ROLE,
});

function terraformTrust(issuer: string): Policy {
  return evaluator(terraform, moduleInputs(issuer), DATA).local('trust_policy') as Policy;
}

const terraformResource = (type: string, name: string) => terraform.resource[type]?.[name]?.[0] ?? {};

type Call = { principal: string; context: Record<string, string | string[]> };

/** What the broker sends for a grant of `entitlement`: its minted token's claims, as STS presents them to IAM. */
function brokerCall(issuer: string, entitlement = 'photo-uploads'): Call {
  const tags = {
    'keyvend:user': USER_KEY,
    'keyvend:issuer': 'https://login.example.com',
    'keyvend:entitlement': entitlement,
    'keyvend:grant': 'g-01hzy3k9q8',
  };
  return {
    principal: providerArn(issuer),
    context: {
      [`${hostPath(issuer)}:aud`]: 'sts.amazonaws.com',
      [`${hostPath(issuer)}:sub`]: `ent:${entitlement}:user:${USER_KEY}`,
      'sts:SourceIdentity': `alice.${USER_KEY}`,
      ...Object.fromEntries(Object.entries(tags).map(([key, value]) => [`aws:RequestTag/${key}`, value])),
      'aws:TagKeys': Object.keys(tags),
    },
  };
}

/**
 * The trust policy's decision on one action of a call. AssumeRoleWithWebIdentity is unsigned, so the trust policy
 * alone decides (no identity policy). The checked run validates the policy, action and role ARN; the decision comes
 * from the unchecked run because the checked one drops context keys it does not list for the action: the keys of
 * an issuer it does not know (<host>:aud, <host>:sub), and for TagSession even sts:SourceIdentity, whereas STS
 * authorizes every action of one call against the same request.
 */
async function decide(policy: unknown, call: Call, action: string): Promise<EvaluationResult> {
  // Validated, and named: runUnsafeSimulation reads the resource policy's name from a ValidatedPolicy.
  const resourcePolicy = createValidatedPolicy(policy, validateTrustPolicy, { name: 'trust-policy' });
  if (resourcePolicy.errors.length > 0) throw new Error(`invalid trust policy: ${JSON.stringify(resourcePolicy.errors)}`);
  const simulation: Simulation = {
    request: { principal: call.principal, action, resource: { resource: ROLE_ARN, accountId: ACCOUNT }, contextVariables: call.context },
    identityPolicies: [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy,
  };
  const checked = await runSimulation(simulation, {});
  if (checked.resultType === 'error') throw new Error(`simulation refused: ${JSON.stringify(checked.errors)}`);
  return runUnsafeSimulation(simulation, {});
}

const decideAll = (policy: unknown, call: Call) => Promise.all(ACTIONS.map((action) => decide(policy, call, action)));

/** The policy without any condition on `key`: what the role would trust if that condition were left out. */
function withoutConditionOn(policy: Policy, key: string): Policy {
  const copy = structuredClone(policy);
  for (const statement of copy.Statement) {
    for (const block of Object.values(statement.Condition)) delete block[key];
  }
  return copy;
}

type Refusal = { name: string; call: (issuer: string) => Call; conditionKey: (issuer: string) => string };

const changed = (issuer: string, changes: Record<string, string | undefined>): Call => {
  const call = brokerCall(issuer);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete call.context[key];
    else call.context[key] = value;
  }
  return call;
};

/** Each differs from the broker's call in one key only, so only the condition on that key can refuse it. */
const REFUSALS: Refusal[] = [
  {
    name: 'a sub of another entitlement',
    call: (issuer) => changed(issuer, { [`${hostPath(issuer)}:sub`]: `ent:other:user:${USER_KEY}` }),
    conditionKey: (issuer) => `${hostPath(issuer)}:sub`,
  },
  {
    name: 'a sub of an entitlement whose id starts with a listed one',
    call: (issuer) => changed(issuer, { [`${hostPath(issuer)}:sub`]: `ent:photo-uploads-archive:user:${USER_KEY}` }),
    conditionKey: (issuer) => `${hostPath(issuer)}:sub`,
  },
  {
    name: 'the keyvend:entitlement tag of another entitlement',
    call: (issuer) => changed(issuer, { 'aws:RequestTag/keyvend:entitlement': 'other' }),
    conditionKey: () => 'aws:RequestTag/keyvend:entitlement',
  },
  {
    name: 'no keyvend:entitlement tag',
    call: (issuer) => changed(issuer, { 'aws:RequestTag/keyvend:entitlement': undefined }),
    conditionKey: () => 'aws:RequestTag/keyvend:entitlement',
  },
  {
    name: 'no SourceIdentity',
    call: (issuer) => changed(issuer, { 'sts:SourceIdentity': undefined }),
    conditionKey: () => 'sts:SourceIdentity',
  },
  {
    name: 'no keyvend:user tag',
    call: (issuer) => changed(issuer, { 'aws:RequestTag/keyvend:user': undefined }),
    conditionKey: () => 'aws:RequestTag/keyvend:user',
  },
  {
    name: 'a token for another audience',
    call: (issuer) => changed(issuer, { [`${hostPath(issuer)}:aud`]: 'keyvend-portal' }),
    conditionKey: (issuer) => `${hostPath(issuer)}:aud`,
  },
];

const SOURCES = [
  { source: 'infra/member-account.yaml', trust: (issuer: string) => cloudFormationTrust(issuer) },
  { source: 'infra/terraform/member-account', trust: terraformTrust },
];

describe('infra/member-account.yaml', () => {
  it('creates an OIDC provider for the issuer with the audience as its only client id, and thumbprints only when given', () => {
    // Act
    const plain = renderStack(stackParameters(ISSUER)).resources;
    const pinned = renderStack({
      ...stackParameters(ISSUER),
      Audience: 'keyvend-aws',
      ThumbprintList: '9e99a48a9960b14926bb7f3b02e22da2b0ab7280',
    }).resources;

    // Assess
    expect(plain['OidcProvider']).toEqual({ Url: 'https://keyvend.example.com', ClientIdList: ['sts.amazonaws.com'] });
    expect(pinned['OidcProvider']).toEqual({
      Url: 'https://keyvend.example.com',
      ClientIdList: ['keyvend-aws'],
      ThumbprintList: ['9e99a48a9960b14926bb7f3b02e22da2b0ab7280'],
    });
  });

  it('creates no provider when CreateProvider is false, and trusts the same provider either way', () => {
    // Act
    const withProvider = renderStack(stackParameters(ISSUER));
    const withoutProvider = renderStack({ ...stackParameters(ISSUER), CreateProvider: 'false' });

    // Assess
    expect(Object.keys(withoutProvider.resources)).not.toContain('OidcProvider');
    expect(withoutProvider.resources['TargetRole']).toEqual(withProvider.resources['TargetRole']);
    expect(cloudFormationTrust(ISSUER).Statement[0]?.Principal).toEqual({
      Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/keyvend.example.com`,
    });
  });

  it('creates one role under /keyvend/ with the permission policies as its ceiling and sessions of up to 12 hours', () => {
    // Act
    const role = renderStack(stackParameters(ISSUER)).resources['TargetRole'];

    // Assess
    expect(role).toMatchObject({
      RoleName: 'photo-uploads',
      Path: '/keyvend/',
      MaxSessionDuration: 43200,
      ManagedPolicyArns: [POLICY_ARN, REVOCATION_POLICY],
    });
    expect(template.Parameters['MaxSessionDuration']).toMatchObject({ MinValue: 3600, MaxValue: 43200 });
  });

  it("keeps a trust policy for ten of the longest ids within IAM's default 2,048 characters", () => {
    // Prepare
    const ids = Array.from({ length: 10 }, (_, i) => `${i}${'x'.repeat(62)}`);

    // Act
    const trust = cloudFormationTrust(API_GATEWAY_ISSUER, { EntitlementIds: ids.join(',') });

    // Assess
    expect(JSON.stringify(trust).length).toBeLessThanOrEqual(2048);
  });

  it('refuses parameter values that would widen or break the trust policy', () => {
    // Prepare
    const base = stackParameters(ISSUER);
    const refused = [
      { EntitlementIds: 'photo-*' },
      { EntitlementIds: 'photo-uploads:user' },
      { EntitlementIds: 'photo-uploads,"' },
      { EntitlementIds: 'Photo-Uploads' },
      { EntitlementIds: '-photo' },
      { EntitlementIds: '' },
      { EntitlementIds: 'a'.repeat(64) },
      { Audience: 'sts.amazonaws.com", "other' },
      { IssuerUrl: 'http://keyvend.example.com' },
      { IssuerUrl: 'https://keyvend.example.com/' },
      { IssuerUrl: 'https://keyvend.example.com:8443' },
      { PermissionsPolicyArns: '*' },
    ];

    // Assess
    expect(() => renderStack(base)).not.toThrow();
    expect(() => renderStack({ ...base, EntitlementIds: `a${'b'.repeat(62)}` })).not.toThrow();
    for (const change of refused) expect(() => renderStack({ ...base, ...change }), JSON.stringify(change)).toThrow(/does not match/);
  });
});

describe('the revocation policy and the revoker role (docs/revocation.md)', () => {
  const cfn = (extra: Record<string, string> = {}) => renderStack({ ...stackParameters(ISSUER), ...extra }).resources;
  const tf = () => evaluator(terraform, moduleInputs(ISSUER), DATA);

  it('creates keyvend-revocations (denying nothing yet) and the revoker role once per account, and attaches the policy to every role', () => {
    // Act
    const first = cfn();
    const later = cfn({ CreateAccountRevocation: 'false' });

    // Assess
    expect(first['RevocationPolicy']).toMatchObject({ ManagedPolicyName: 'keyvend-revocations', Path: '/keyvend/' });
    expect(first['RevokerRole']).toMatchObject({ RoleName: 'keyvend-revoker', Path: '/' });
    expect(Object.keys(later)).not.toContain('RevocationPolicy');
    expect(Object.keys(later)).not.toContain('RevokerRole');
    expect(later['TargetRole']?.['ManagedPolicyArns']).toEqual([POLICY_ARN, REVOCATION_POLICY]);
    expect(terraformResource('aws_iam_role_policy_attachment', 'revocations')).toMatchObject({
      policy_arn: '${local.revocation_policy_arn}',
    });
    expect(tf().local('revocation_policy_arn')).toBe(REVOCATION_POLICY);
    expect(terraformResource('aws_iam_policy', 'revocations')).toMatchObject({
      count: '${var.create_account_revocation ? 1 : 0}',
      name: 'keyvend-revocations',
      path: '/keyvend/',
    });
    expect(terraformResource('aws_iam_role', 'revoker')).toMatchObject({ name: 'keyvend-revoker', path: '/' });
  });

  it('keeps Terraform from reverting the versions Keyvend writes', () => {
    // Act
    const lifecycle = terraformResource('aws_iam_policy', 'revocations')['lifecycle'] as { ignore_changes: unknown }[] | undefined;

    // Assess
    expect(JSON.stringify(lifecycle)).toContain('policy');
  });

  it('produces the same revocation policy, revoker trust and revoker permissions in CloudFormation and Terraform', () => {
    // Act
    const resources = cfn();
    const role = resources['RevokerRole'] as { AssumeRolePolicyDocument: unknown; Policies: { PolicyDocument: unknown }[] };

    // Assess
    expect(tf().local('revocation_policy')).toEqual(resources['RevocationPolicy']?.['PolicyDocument']);
    expect(tf().local('revoker_trust_policy')).toEqual(role.AssumeRolePolicyDocument);
    expect(tf().local('revoker_permissions')).toEqual(role.Policies[0]?.PolicyDocument);
    expect(terraform.variable['revocations_role_arn']?.[0]?.['validation']).toBeDefined();
  });

  it('lets the revoker role only version that one policy, in the IAM simulator', async () => {
    // Prepare
    const permissions = tf().local('revoker_permissions');
    const decide = async (action: string, resource: string) => {
      const result = await runSimulation(
        {
          request: {
            principal: `arn:aws:sts::${ACCOUNT}:assumed-role/keyvend-revoker/keyvend-revocations`,
            action,
            resource: { resource, accountId: ACCOUNT },
            contextVariables: {},
          },
          identityPolicies: [{ name: 'revoker', policy: permissions as never }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        },
        {},
      );
      return result.resultType === 'single' ? result.result.analysis?.result : result.resultType;
    };

    // Act
    const allowed = await Promise.all(REVOKER_ACTIONS.map((action) => decide(action, REVOCATION_POLICY)));
    const refused = await Promise.all([
      decide('iam:CreatePolicyVersion', POLICY_ARN),
      decide('iam:SetDefaultPolicyVersion', REVOCATION_POLICY),
      decide('iam:AttachRolePolicy', ROLE_ARN),
      decide('iam:DetachRolePolicy', ROLE_ARN),
    ]);

    // Assess
    expect(allowed).toEqual(['Allowed', 'Allowed', 'Allowed', 'Allowed']);
    expect(refused).toEqual(['ImplicitlyDenied', 'ImplicitlyDenied', 'ImplicitlyDenied', 'ImplicitlyDenied']);
  });

  it('denies, once rewritten, a session of the target role issued before the revocation, in the IAM simulator', async () => {
    // Prepare: the renderer's document for alice as the role's second managed policy
    const { renderRevocationPolicy } = await import('../../../src/domain/revocation-policy.ts');
    const document = renderRevocationPolicy(
      [
        {
          id: '019ab000-0000-7000-8000-000000000001',
          target: { kind: 'person', issuerId: 'corp', subject: 'alice', userKey: USER_KEY },
          reason: 'test',
          revokedAt: '2026-11-23T09:30:00.000Z',
          revokedBy: { issuerId: 'corp', subject: 'carol' },
          liveSessionsUntil: '2026-11-23T22:00:00.000Z',
        },
      ],
      new Date('2026-11-23T09:30:00.000Z'),
      { inFlightSeconds: 10 },
    ).document;
    const decide = async (policy: unknown, userKey: string) => {
      const result = await runSimulation(
        {
          request: {
            principal: `arn:aws:sts::${ACCOUNT}:assumed-role/photo-uploads/s`,
            action: 's3:PutObject',
            resource: { resource: `arn:aws:s3:::uploads/${userKey}/a`, accountId: ACCOUNT },
            contextVariables: {
              'aws:PrincipalTag/keyvend:user': userKey,
              'aws:PrincipalTag/keyvend:grant': 'g',
              'aws:TokenIssueTime': '2026-11-23T09:00:00Z',
            },
          },
          identityPolicies: [
            { name: 'ceiling', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: '*' }] } },
            { name: 'keyvend-revocations', policy: policy as never },
          ],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        },
        {},
      );
      return result.resultType === 'single' ? result.result.analysis?.result : result.resultType;
    };

    // Act
    const initial = await decide(cfn()['RevocationPolicy']?.['PolicyDocument'], USER_KEY);
    const revoked = await decide(JSON.parse(document), USER_KEY);
    const other = await decide(JSON.parse(document), 'otheruserkeyotheruserkeyab');

    // Assess
    expect([initial, revoked, other]).toEqual(['Allowed', 'ExplicitlyDenied', 'Allowed']);
  });
});

describe('infra/terraform/member-account', () => {
  it('pins Terraform and the AWS provider between a minimum and the next major version', () => {
    // Act
    const [settings] = terraform.terraform;
    const aws = (settings?.['required_providers'] as Record<string, Record<string, string>>[] | undefined)?.[0]?.['aws'];

    // Assess
    expect(settings?.['required_version']).toMatch(/^>= 1\.\d+\.\d+, < 2\.0\.0$/);
    expect(aws).toEqual({ source: 'hashicorp/aws', version: expect.stringMatching(/^>= 5\.\d+\.\d+, < 7\.0\.0$/) });
  });

  it('creates the provider only when create_provider, for the issuer and audience, with thumbprints only when given', () => {
    // Act
    const provider = terraformResource('aws_iam_openid_connect_provider', 'keyvend');

    // Assess
    expect(provider).toEqual({
      count: '${var.create_provider ? 1 : 0}',
      url: '${var.issuer_url}',
      client_id_list: ['${var.audience}'],
      thumbprint_list: '${length(var.thumbprint_list) > 0 ? var.thumbprint_list : null}',
    });
  });

  it('creates the role under /keyvend/ after the provider, with the trust policy as JSON and each permission policy attached', () => {
    // Act
    const role = terraformResource('aws_iam_role', 'target');
    const attachment = terraformResource('aws_iam_role_policy_attachment', 'permissions');
    const values = evaluator(terraform, moduleInputs(ISSUER), DATA);

    // Assess
    expect(role).toMatchObject({
      name: '${var.role_name}',
      path: '/keyvend/',
      max_session_duration: '${var.max_session_duration}',
      assume_role_policy: '${jsonencode(local.trust_policy)}',
      depends_on: ['${aws_iam_openid_connect_provider.keyvend}'],
    });
    expect(values.value(role['max_session_duration'])).toBe(43200);
    expect(attachment).toEqual({
      for_each: '${toset(var.permissions_policy_arns)}',
      role: '${aws_iam_role.target.name}',
      policy_arn: '${each.value}',
    });
    expect(values.local('provider_arn')).toBe(`arn:aws:iam::${ACCOUNT}:oidc-provider/keyvend.example.com`);
  });

  it.each(ISSUERS)('produces the same trust policy as the CloudFormation template (issuer %s)', (issuer) => {
    // Act
    const fromTerraform = terraformTrust(issuer);
    const fromCloudFormation = cloudFormationTrust(issuer);

    // Assess
    expect(fromTerraform).toEqual(fromCloudFormation);
  });

  it('validates its variables with the patterns of the CloudFormation parameters', () => {
    // Prepare
    const pattern = (variable: string) => {
      const validations = terraform.variable[variable]?.[0]?.['validation'] as { condition: string }[] | undefined;
      const literal = /regex\(("(?:[^"\\]|\\.)*")/.exec(validations?.[0]?.condition ?? '')?.[1];
      return literal === undefined ? undefined : (JSON.parse(literal) as string);
    };
    const allowed = (parameter: string) => template.Parameters[parameter]?.AllowedPattern;

    // Assess
    expect(pattern('issuer_url')).toBe(allowed('IssuerUrl'));
    expect(pattern('audience')).toBe(allowed('Audience'));
    expect(pattern('role_name')).toBe(allowed('RoleName'));
    expect(pattern('entitlement_ids')).toBe(allowed('EntitlementIds'));
    expect(pattern('permissions_policy_arns')).toBe(allowed('PermissionsPolicyArns'));
    expect(pattern('revocations_role_arn')).toBe(allowed('RevocationsRoleArn'));
    // The CloudFormation list defaults to '' (one empty item); the Terraform one to [].
    expect(`^$|${pattern('thumbprint_list')}`).toBe(allowed('ThumbprintList'));
  });
});

describe.each(SOURCES)('the trust policy of $source, in the IAM simulator', ({ trust }) => {
  it.each(ISSUERS)(
    'lets the broker open the role for each listed entitlement, with tags and SourceIdentity (issuer %s)',
    async (issuer) => {
      // Prepare
      const policy = trust(issuer);

      // Act
      const decisions = await Promise.all(ENTITLEMENTS.map((entitlement) => decideAll(policy, brokerCall(issuer, entitlement))));

      // Assess
      expect(decisions).toEqual(ENTITLEMENTS.map(() => ['Allowed', 'Allowed', 'Allowed']));
    },
  );

  describe.each(ISSUERS)('issuer %s', (issuer) => {
    it.each(REFUSALS)('refuses a call with $name, because of its condition', async ({ call, conditionKey }) => {
      // Prepare
      const policy = trust(issuer);

      // Act
      const refused = await decideAll(policy, call(issuer));
      const withoutTheCondition = await decideAll(withoutConditionOn(policy, conditionKey(issuer)), call(issuer));

      // Assess
      expect(refused).toEqual(['ImplicitlyDenied', 'ImplicitlyDenied', 'ImplicitlyDenied']);
      expect(withoutTheCondition).toEqual(['Allowed', 'Allowed', 'Allowed']);
    });

    it("refuses tokens of another provider, such as a caller's own IdP, and the same issuer's provider in another account", async () => {
      // Prepare
      const policy = trust(issuer);
      const callersIdp = 'https://login.example.com';
      const ownToken = brokerCall(callersIdp);
      const sameClaimsOtherProvider = { ...brokerCall(issuer), principal: providerArn(callersIdp) };
      const otherAccount = { ...brokerCall(issuer), principal: providerArn(issuer, '444444444444') };

      // Act
      const decisions = await Promise.all([ownToken, sameClaimsOtherProvider, otherAccount].map((call) => decideAll(policy, call)));
      const trustingTheOtherProvider = structuredClone(policy);
      for (const statement of trustingTheOtherProvider.Statement) statement.Principal.Federated = providerArn(callersIdp);
      const principalDecides = await decideAll(trustingTheOtherProvider, sameClaimsOtherProvider);

      // Assess
      expect(decisions.flat()).toEqual(Array(9).fill('ImplicitlyDenied'));
      expect(principalDecides).toEqual(['Allowed', 'Allowed', 'Allowed']);
    });
  });
});

describe('cfn-lint', () => {
  it.each(['infra/member-account.yaml', 'infra/target-role.yaml'])('finds nothing to report in %s', (path) => {
    // Act
    const result = spawnSync('cfn-lint', [path], { cwd: ROOT, encoding: 'utf8' });

    // Assess
    if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new Error('cfn-lint is not on PATH: install it (pip install cfn-lint) to check the CloudFormation templates');
    }
    expect(result.error).toBeUndefined();
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
  });
});
