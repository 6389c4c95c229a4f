import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../../../infra/local/stack.ts';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { ConditionContext, evaluateTrustPolicy } from '../../../infra/local/sts-emulator/trust-policy.ts';

const ACCOUNT = '123456789012';
const CFN_TAGS = ['!Sub', '!Ref', '!GetAtt', '!Join', '!Not', '!Equals', '!If', '!Split'].flatMap((tag) =>
  (['scalar', 'seq', 'map'] as const).map((collection) => ({ tag, ...(collection === 'scalar' ? {} : { collection }), resolve: (value: unknown) => ({ [tag]: value }) })),
);
/** Plain JSON, as CloudFormation sees the template (the tags' collections become arrays and objects). */
const template = (name: string) =>
  JSON.parse(JSON.stringify(parse(readFileSync(join(ROOT, 'infra', name), 'utf8'), { customTags: CFN_TAGS as never }))) as Record<string, any>;

/** `${Name}` substitution as CloudFormation's Fn::Sub does it, for the parameters a test chooses. */
const substitute = (text: string, values: Record<string, string>) => text.replace(/\$\{([\w:]+)\}/g, (_, name: string) => values[name] ?? `\${${name}}`);

describe('infra/target-role-web-identity.yaml', () => {
  const document = template('target-role-web-identity.yaml')['Resources']['Role']['Properties']['AssumeRolePolicyDocument'];
  const [text, variables] = document['!Sub'] as [string, unknown];
  const trust = JSON.parse(
    substitute(text, { 'AWS::Partition': 'aws', 'AWS::AccountId': ACCOUNT, IssuerHostPath: 'login.example.com/tenant', SubjectPattern: '*', Audiences: 'keyvend-aws' }),
  ) as object;
  const provider = `arn:aws:iam::${ACCOUNT}:oidc-provider/login.example.com/tenant`;
  const request = (federated: string, aud: string) => ({
    principal: { type: 'Federated' as const, id: federated },
    actions: ['sts:AssumeRoleWithWebIdentity', 'sts:TagSession', 'sts:SetSourceIdentity'],
    context: new ConditionContext({ 'login.example.com/tenant:aud': aud, 'login.example.com/tenant:sub': 'alice' }),
  });

  it('trusts the issuer\'s OIDC provider for Keyvend\'s audience only', () => {
    // Assess
    expect(variables).toBeDefined();
    expect(evaluateTrustPolicy(trust, request(provider, 'keyvend-aws')).allowed).toBe(true);
    expect(evaluateTrustPolicy(trust, request(provider, 'another-app')).allowed).toBe(false);
    expect(evaluateTrustPolicy(trust, request(`arn:aws:iam::${ACCOUNT}:oidc-provider/elsewhere.example`, 'keyvend-aws')).allowed).toBe(false);
  });
});

describe('infra/target-role-saml.yaml', () => {
  const document = template('target-role-saml.yaml')['Resources']['Role']['Properties']['AssumeRolePolicyDocument'];
  const statement = document['Statement'][0];
  const trust = { ...document, Statement: [{ ...statement, Principal: { Federated: `arn:aws:iam::${ACCOUNT}:saml-provider/corp` } }] };

  it('trusts the SAML provider for assertions issued for the AWS sign-in endpoint only', () => {
    // Prepare
    const request = (aud: string) => ({
      principal: { type: 'Federated' as const, id: `arn:aws:iam::${ACCOUNT}:saml-provider/corp` },
      actions: ['sts:AssumeRoleWithSAML'],
      context: new ConditionContext({ 'SAML:aud': aud }),
    });

    // Assess
    expect(statement['Principal']['Federated']['!Sub']).toBe('arn:${AWS::Partition}:iam::${AWS::AccountId}:saml-provider/${ProviderName}');
    expect(evaluateTrustPolicy(trust, request('https://signin.aws.amazon.com/saml')).allowed).toBe(true);
    expect(evaluateTrustPolicy(trust, request('https://sp.example/acs')).allowed).toBe(false);
  });
});

describe('infra/federation-user.yaml', () => {
  const policy = template('federation-user.yaml')['Resources']['User']['Properties']['Policies'][0]['PolicyDocument'];
  const resolved = JSON.parse(
    JSON.stringify(policy).replace(/\{"!Sub":"([^"]+)"\}/g, (_, text: string) => JSON.stringify(substitute(text, { 'AWS::Partition': 'aws', 'AWS::AccountId': ACCOUNT }))),
  ) as object;
  /** Stands for SessionPermissionsPolicyArn: the most any federated session may do. */
  const sessionPermissions = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bucket/*' }] };
  const simulate = async (action: string, resource: string, userid: string) => {
    const result = await runSimulation(
      {
        request: {
          principal: `arn:aws:iam::${ACCOUNT}:user/keyvend/keyvend-federation`,
          action,
          resource: { resource, accountId: ACCOUNT },
          contextVariables: { 'aws:userid': userid },
        },
        identityPolicies: [
          { name: 'get-federation-token-only', policy: resolved },
          { name: 'session-permissions', policy: sessionPermissions },
        ],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      {},
    );
    return result.resultType === 'single' ? result.result.analysis?.result : result.resultType;
  };

  it('lets the keys federate Keyvend names only, and be used for nothing else, while federated sessions keep their permissions', async () => {
    // Act
    const federateKeyvend = await simulate('sts:GetFederationToken', `arn:aws:sts::${ACCOUNT}:federated-user/kv.abcdefghijklmnopqrstuvwxyz`, 'AIDAEXAMPLEUSER');
    const federateOther = await simulate('sts:GetFederationToken', `arn:aws:sts::${ACCOUNT}:federated-user/admin`, 'AIDAEXAMPLEUSER');
    const keysDirectly = await simulate('s3:GetObject', 'arn:aws:s3:::bucket/key', 'AIDAEXAMPLEUSER');
    const federatedSession = await simulate('s3:GetObject', 'arn:aws:s3:::bucket/key', `${ACCOUNT}:kv.abcdefghijklmnopqrstuvwxyz`);

    // Assess
    expect([federateKeyvend, federateOther, keysDirectly, federatedSession]).toEqual(['Allowed', 'ImplicitlyDenied', 'ExplicitlyDenied', 'Allowed']);
  });
});
