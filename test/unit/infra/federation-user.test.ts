import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../../../infra/local/stack.ts';
import { runSimulation } from '@cloud-copilot/iam-simulate';

const ACCOUNT = '123456789012';
const CFN_TAGS = ['!Sub', '!Ref', '!GetAtt', '!Join', '!Not', '!Equals', '!If', '!Split'].flatMap((tag) =>
  (['scalar', 'seq', 'map'] as const).map((collection) => ({
    tag,
    ...(collection === 'scalar' ? {} : { collection }),
    resolve: (value: unknown) => ({ [tag]: value }),
  })),
);
/** Plain JSON, as CloudFormation sees the template (the tags' collections become arrays and objects). */
const template = (name: string) =>
  JSON.parse(JSON.stringify(parse(readFileSync(join(ROOT, 'infra', name), 'utf8'), { customTags: CFN_TAGS as never }))) as Record<
    string,
    any
  >;

/** `${Name}` substitution as CloudFormation's Fn::Sub does it, for the parameters a test chooses. */
const substitute = (text: string, values: Record<string, string>) =>
  text.replace(/\$\{([\w:]+)\}/g, (_, name: string) => values[name] ?? `\${${name}}`);

describe('infra/federation-user.yaml', () => {
  const policy = template('federation-user.yaml')['Resources']['User']['Properties']['Policies'][0]['PolicyDocument'];
  const resolved = JSON.parse(
    JSON.stringify(policy).replace(/\{"!Sub":"([^"]+)"\}/g, (_, text: string) =>
      JSON.stringify(substitute(text, { 'AWS::Partition': 'aws', 'AWS::AccountId': ACCOUNT })),
    ),
  ) as object;
  /** Stands for SessionPermissionsPolicyArn: the most any federated session may do. */
  const sessionPermissions = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bucket/*' }],
  };
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
    const federateKeyvend = await simulate(
      'sts:GetFederationToken',
      `arn:aws:sts::${ACCOUNT}:federated-user/kv.abcdefghijklmnopqrstuvwxyz`,
      'AIDAEXAMPLEUSER',
    );
    const federateOther = await simulate('sts:GetFederationToken', `arn:aws:sts::${ACCOUNT}:federated-user/admin`, 'AIDAEXAMPLEUSER');
    const keysDirectly = await simulate('s3:GetObject', 'arn:aws:s3:::bucket/key', 'AIDAEXAMPLEUSER');
    const federatedSession = await simulate('s3:GetObject', 'arn:aws:s3:::bucket/key', `${ACCOUNT}:kv.abcdefghijklmnopqrstuvwxyz`);

    // Assess
    expect([federateKeyvend, federateOther, keysDirectly, federatedSession]).toEqual([
      'Allowed',
      'ImplicitlyDenied',
      'ExplicitlyDenied',
      'Allowed',
    ]);
  });
});
