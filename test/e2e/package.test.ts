import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../infra/local/stack.ts';
import { zipEntries } from '../support/zip-entries.ts';

/** What `serverless package` reads: the service definition and the code it bundles. */
const PROJECT_ENTRIES = ['serverless.yml', 'package.json', 'tsconfig.json', '.npmrc', 'functions', 'src', 'build'];
const TARGET_ROLES = 'arn:aws:iam::333333333333:role/keyvend/photo-uploads,arn:aws:iam::444444444444:role/keyvend/reports';
const FEDERATION_SECRET = 'arn:aws:secretsmanager:us-east-1:222222222222:secret:keyvend/federation-user-AbCdEf';
const ORGANIZATION_ID = 'o-a1b2c3d4e5';
const REVOKER_ROLES = 'arn:aws:iam::333333333333:role/keyvend/keyvend-revoker,arn:aws:iam::444444444444:role/keyvend/keyvend-revoker';
const ISSUERS = JSON.stringify([
  { id: 'corp', issuer: 'https://idp.example.com', audiences: ['api://keyvend'], authorizedParties: ['keyvend-cli'] },
]);

type Resource = { Type: string; Properties: Record<string, any> };
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

/** Each role's statements as [Sid, sorted actions, Resource], traced from src/container.ts (docs/operations.md). */
const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const logsOf = (fn: string) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/keyvend-prod-${fn}:*`,
});
const LOGS = ['logs:CreateLogStream', 'logs:PutLogEvents'];
const ASSUME = [
  'AssumeConfiguredTargetRolesOnly',
  ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'],
  { 'Fn::Split': [',', TARGET_ROLES] },
];
const SIGN = ['SignBrokerTokens', ['kms:GetPublicKey', 'kms:Sign'], arnOf('SigningKey')];
const FEDERATION = ['ReadFederationUserKeys', ['secretsmanager:GetSecretValue'], { 'Fn::Split': [',', FEDERATION_SECRET] }];
const AUDIT = ['WriteAuditRecords', ['dynamodb:GetItem', 'dynamodb:PutItem'], arnOf('AuditTable')];
const REPLAY = ['ConsumeSamlAssertionIds', ['dynamodb:PutItem'], arnOf('SamlReplayTable')];
const PORTAL_SECRET = [
  'ReadPortalSecret',
  ['secretsmanager:GetSecretValue'],
  { 'Fn::Sub': 'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:keyvend/prod/portal-*' },
];
const ROLES: Record<string, unknown[][]> = {
  CredentialsFunctionRole: [
    ASSUME,
    SIGN,
    ['ReadEntitlementGrants', ['dynamodb:BatchGetItem'], arnOf('EntitlementsTable')],
    FEDERATION,
    AUDIT,
    REPLAY,
    ['Logs', LOGS, logsOf('credentials')],
  ],
  ConsoleFunctionRole: [
    ASSUME,
    SIGN,
    ['ReadEntitlementGrants', ['dynamodb:BatchGetItem'], arnOf('EntitlementsTable')],
    FEDERATION,
    AUDIT,
    ['Logs', LOGS, logsOf('console')],
  ],
  PortalFunctionRole: [
    PORTAL_SECRET,
    ['ReadEntitlements', ['dynamodb:BatchGetItem', 'dynamodb:Query'], arnOf('EntitlementsTable')],
    ASSUME,
    SIGN,
    FEDERATION,
    AUDIT,
    ['Logs', LOGS, logsOf('portal')],
  ],
  PortalSamlFunctionRole: [PORTAL_SECRET, AUDIT, REPLAY, ['Logs', LOGS, logsOf('portalSaml')]],
  EntitlementsFunctionRole: [
    ['ReadEntitlements', ['dynamodb:BatchGetItem', 'dynamodb:Query'], arnOf('EntitlementsTable')],
    ['Logs', LOGS, logsOf('entitlements')],
  ],
  RevocationsFunctionRole: [
    PORTAL_SECRET,
    [
      'ManageRevocations',
      ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
      arnOf('EntitlementsTable'),
    ],
    AUDIT,
    ['FindPeopleInAudit', ['dynamodb:Query'], { 'Fn::Sub': '${AuditTable.Arn}/index/byUser' }],
    ['AssumeRevokerRolesOnly', ['sts:AssumeRole'], { 'Fn::Split': [',', REVOKER_ROLES] }],
    ['Logs', LOGS, logsOf('revocations')],
  ],
  IssuerFunctionRole: [
    [
      'ReadSigningPublicKeys',
      ['kms:GetPublicKey'],
      [arnOf('SigningKey'), { 'Fn::If': ['HasPublishedKeys', { 'Fn::Split': [',', ''] }, { Ref: 'AWS::NoValue' }] }],
    ],
    ['Logs', LOGS, logsOf('issuer')],
  ],
};
const MINTING_ROLES = ['CredentialsFunctionRole', 'ConsoleFunctionRole', 'PortalFunctionRole'];

/**
 * Packages a copy of the project: serverless-esbuild builds in `<service>/.esbuild` and deletes it after
 * packaging, and the shared e2e stack's serverless-offline serves from the project's own `.esbuild`.
 */
async function packageCopy(dir: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  for (const entry of PROJECT_ENTRIES) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const child = spawn(process.execPath, [join(ROOT, 'node_modules/osls/bin/serverless.js'), 'package', '--stage', 'prod'], {
    cwd: dir,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: dir,
      SLS_TELEMETRY_DISABLED: '1',
      SLS_NOTIFICATIONS_MODE: 'off',
      AWS_ACCESS_KEY_ID: 'AKIAPACKAGETEST00000',
      AWS_SECRET_ACCESS_KEY: 'package-test-dummy-secret',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, output };
}

describe('npx osls package works offline and writes the stack the issue asks for', () => {
  let dir: string;
  let resources: Record<string, Resource>;
  let outputs: Record<string, { Value: unknown }>;
  let conditions: Record<string, unknown>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyvend-package-'));
    const result = await packageCopy(dir, {
      KEYVEND_ISSUERS: ISSUERS,
      KEYVEND_ALLOWED_ROLE_ARNS: TARGET_ROLES,
      KEYVEND_ASSUME_ROLE_ARNS: TARGET_ROLES,
      KEYVEND_CORS_ORIGIN: 'https://keyvend.example.com',
      KEYVEND_FEDERATION_USER_SECRETS: FEDERATION_SECRET,
      KEYVEND_ORGANIZATION_ID: ORGANIZATION_ID,
      KEYVEND_REVOKER_ROLE_ARNS: REVOKER_ROLES,
    });
    if (result.code !== 0) throw new Error(`serverless package exited ${result.code}:\n${result.output}`);
    const template = JSON.parse(readFileSync(join(dir, '.serverless/cloudformation-template-update-stack.json'), 'utf8'));
    resources = template.Resources;
    outputs = template.Outputs;
    conditions = template.Conditions;
  }, 180_000);

  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  // A statement under `Fn::If` is checked as if its condition held: the strictest reading of what may be granted.
  const statementsOf = (roleId: string): Statement[] =>
    (
      resources[roleId]!.Properties['Policies'] as {
        PolicyDocument: { Statement: (Statement | { 'Fn::If': [string, Statement, unknown] })[] };
      }[]
    )
      .flatMap((p) => p.PolicyDocument.Statement)
      .map((s) => ('Fn::If' in s ? s['Fn::If'][1] : s));
  const rawStatementsOf = (roleId: string): Record<string, any>[] =>
    (resources[roleId]!.Properties['Policies'] as { PolicyDocument: { Statement: Record<string, any>[] } }[]).flatMap(
      (p) => p.PolicyDocument.Statement,
    );
  const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

  it('routes the API and the portal on an HTTP API', () => {
    // Assess
    expect(ofType('AWS::ApiGatewayV2::Api')).toHaveLength(1);
    expect(ofType('AWS::ApiGatewayV2::Api')[0]?.[1].Properties['ProtocolType']).toBe('HTTP');
    const routes = ofType('AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties['RouteKey'])
      .sort();
    expect(routes).toEqual([
      'DELETE /v1/admin/revocations/{id}',
      'GET /.well-known/jwks.json',
      'GET /.well-known/openid-configuration',
      'GET /portal',
      'GET /portal/admin/revocations',
      'GET /portal/callback',
      'GET /portal/login',
      'GET /portal/saml/login',
      'GET /portal/signed-out',
      'GET /portal/{proxy+}',
      'GET /v1/admin/revocations',
      'GET /v1/entitlements',
      'POST /portal/admin/revocations',
      'POST /portal/admin/unrevoke',
      'POST /portal/console',
      'POST /portal/logout',
      'POST /portal/saml/acs',
      'POST /v1/admin/revocations',
      'POST /v1/console',
      'POST /v1/credentials',
    ]);
  });

  it('runs every function on nodejs22.x and arm64 with a 10 s timeout, bundled to one ESM file', () => {
    // Assess
    const functions = ofType('AWS::Lambda::Function').map(([, f]) => f.Properties);
    expect(functions.length).toBeGreaterThanOrEqual(2);
    for (const f of functions) {
      expect(f['Runtime']).toBe('nodejs22.x');
      expect(f['Architectures']).toEqual(['arm64']);
      // The request deadline is computed from the same setting as the timeout (docs/operations.md, "Deadlines").
      expect(Number(f['Timeout'])).toBe(10);
      expect(f['Environment']['Variables']['KEYVEND_FUNCTION_TIMEOUT_SECONDS']).toBe(String(f['Timeout']));
    }
  });

  it('zips each function as its one handler file, under 600 KiB except the two SAML-verifying functions', () => {
    // Prepare
    const limitKiB: Record<string, number> = {
      entitlements: 600,
      console: 600,
      portal: 600,
      credentials: 950,
      portalSaml: 975,
      issuer: 600,
      revocations: 600,
    };
    const handlerFile: Record<string, string> = { portalSaml: 'portal-saml' };
    // Act
    const zips = Object.fromEntries(Object.keys(limitKiB).map((name) => [name, zipEntries(join(dir, `.serverless/${name}.zip`))]));
    // Assess
    expect(ofType('AWS::Lambda::Function')).toHaveLength(Object.keys(limitKiB).length);
    for (const [name, entries] of Object.entries(zips)) {
      expect(entries.map((e) => e.name)).toEqual([`functions/${handlerFile[name] ?? name}.mjs`]);
      expect(entries[0]!.bytes / 1024).toBeLessThan(limitKiB[name]!);
    }
    // node-saml's decryption and XML-building modules are stubbed (build/esbuild-plugins.cjs), and only the
    // credentials function and the portal's SAML sign-in carry SAML verification at all.
    const code = (name: string) => zips[name]![0]!.content().toString('utf8');
    expect(code('credentials')).toContain('xml-encryption.decrypt is not bundled');
    expect(code('portalSaml')).toContain('xml-encryption.decrypt is not bundled');
    expect(code('credentials')).not.toContain('encryption without encrypted key is not supported yet');
    for (const name of ['entitlements', 'console', 'portal', 'issuer', 'revocations'])
      expect(code(name)).not.toMatch(/node-saml|xml-crypto|DOMParser/);
  });

  it('declares the tables on demand with point-in-time recovery, and TTL on the audit and SAML replay tables', () => {
    // Assess
    const tables = Object.fromEntries(ofType('AWS::DynamoDB::Table'));
    expect(Object.keys(tables).sort()).toEqual(['AuditTable', 'EntitlementsTable', 'SamlReplayTable']);
    for (const table of Object.values(tables)) {
      expect(table.Properties['BillingMode']).toBe('PAY_PER_REQUEST');
      expect(table.Properties['PointInTimeRecoverySpecification']).toEqual({ PointInTimeRecoveryEnabled: true });
    }
    expect(tables['AuditTable']?.Properties['TimeToLiveSpecification']).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    expect(tables['SamlReplayTable']?.Properties['TimeToLiveSpecification']).toMatchObject({ Enabled: true });
  });

  it('lets the minting roles assume only the roles named for the one-hour path, in the configured organisation, and none without them', () => {
    // Assess: the statement exists only under a condition that is false when KEYVEND_ASSUME_ROLE_ARNS is empty
    expect(conditions['HasAssumeRoleTargets']).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [TARGET_ROLES, ''] }] });
    expect(conditions['HasOrganizationId']).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [ORGANIZATION_ID, ''] }] });
    for (const roleId of Object.keys(ROLES)) {
      const raw = rawStatementsOf(roleId);
      const conditional = raw.filter((s) => 'Fn::If' in s && JSON.stringify(s).includes('sts:AssumeRole'));
      expect(raw.filter((s) => !('Fn::If' in s) && JSON.stringify(s).includes('sts:'))).toEqual([]);
      if (roleId === 'RevocationsFunctionRole') {
        // Only the member accounts' revoker roles, only when configured, and in the organisation when one is set.
        expect(conditional.map((s) => s['Fn::If'][0])).toEqual(['HasRevokerRoles']);
        expect(statementsOf(roleId).find((s) => s.Sid === 'AssumeRevokerRolesOnly')?.Condition).toEqual({
          'Fn::If': ['HasOrganizationId', { StringEquals: { 'aws:ResourceOrgID': ORGANIZATION_ID } }, { Ref: 'AWS::NoValue' }],
        });
        continue;
      }
      if (!MINTING_ROLES.includes(roleId)) {
        expect(conditional).toEqual([]);
        continue;
      }
      expect(conditional.map((s) => s['Fn::If'][0])).toEqual(['HasAssumeRoleTargets']);
      const assume = statementsOf(roleId).find((s) => s.Sid === 'AssumeConfiguredTargetRolesOnly');
      expect(assume?.Condition).toEqual({
        'Fn::If': ['HasOrganizationId', { StringEquals: { 'aws:ResourceOrgID': ORGANIZATION_ID } }, { Ref: 'AWS::NoValue' }],
      });
    }
    expect(outputs['BrokerRoleArn']?.Value).toEqual({ 'Fn::GetAtt': ['CredentialsFunctionRole', 'Arn'] });
    expect(outputs['ConsoleRoleArn']?.Value).toEqual({ 'Fn::GetAtt': ['ConsoleFunctionRole', 'Arn'] });
    expect(outputs['PortalRoleArn']?.Value).toEqual({ 'Fn::GetAtt': ['PortalFunctionRole', 'Arn'] });
  });

  it('runs each function as its own role', () => {
    // Act
    const roleOfHandler = Object.fromEntries(
      ofType('AWS::Lambda::Function').map(([, f]) => [f.Properties['Handler'], f.Properties['Role']['Fn::GetAtt'][0]]),
    );

    // Assess
    expect(roleOfHandler).toEqual({
      'functions/credentials.handler': 'CredentialsFunctionRole',
      'functions/console.handler': 'ConsoleFunctionRole',
      'functions/portal.handler': 'PortalFunctionRole',
      'functions/portal-saml.handler': 'PortalSamlFunctionRole',
      'functions/entitlements.handler': 'EntitlementsFunctionRole',
      'functions/issuer.handler': 'IssuerFunctionRole',
      'functions/revocations.handler': 'RevocationsFunctionRole',
    });
    expect(
      ofType('AWS::IAM::Role')
        .map(([id]) => id)
        .sort(),
    ).toEqual(Object.keys(ROLES).sort());
  });

  it.each(Object.entries(ROLES))('%s holds exactly the actions and resources its function calls', (roleId, expected) => {
    // Act
    const granted = statementsOf(roleId).map((s) => {
      expect(s.Effect).toBe('Allow');
      return [s.Sid, actions(s).sort(), s.Resource];
    });

    // Assess
    expect(granted).toEqual(expected);
    expect(JSON.stringify(granted)).not.toMatch(/"\*"/);
  });

  it('signs with a KMS key only the minting roles may sign with; the issuer function reads public keys only', () => {
    // Assess: the key
    const key = resources['SigningKey']?.Properties ?? {};
    expect([key['KeySpec'], key['KeyUsage']]).toEqual(['RSA_2048', 'SIGN_VERIFY']);
    const keyStatements = key['KeyPolicy']['Statement'] as { Sid: string; Principal: unknown; Action: string | string[] }[];
    const signers = keyStatements.filter((s) => JSON.stringify(s.Action).match(/kms:Sign"|kms:\*"|"\*"/));
    expect(signers.map((s) => s.Principal)).toEqual([{ AWS: MINTING_ROLES.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })) }]);
    const readers = keyStatements.filter(
      (s) => JSON.stringify(s.Action).includes('kms:GetPublicKey') && s.Sid !== 'AccountAdministersTheKey',
    );
    expect(readers.flatMap((s) => [(s.Principal as { AWS: unknown }).AWS].flat())).toEqual([
      ...MINTING_ROLES.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })),
      { 'Fn::GetAtt': ['IssuerFunctionRole', 'Arn'] },
    ]);
    // Assess: the functions learn the issuer (the API's own URL by default) and the key from the template
    const issuerFunction = Object.values(resources).find(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties['Handler'] === 'functions/issuer.handler',
    );
    expect(issuerFunction?.Properties['Environment']['Variables']).toMatchObject({
      KEYVEND_TOKEN_ISSUER: { 'Fn::GetAtt': ['HttpApi', 'ApiEndpoint'] },
      KEYVEND_SIGNING_KEY_ID: { 'Fn::GetAtt': ['SigningKey', 'Arn'] },
      KEYVEND_TOKEN_AUDIENCE: 'sts.amazonaws.com',
    });
    expect(outputs['IssuerUrl']?.Value).toEqual({ 'Fn::GetAtt': ['HttpApi', 'ApiEndpoint'] });
  });
});

describe('npx osls package refuses a non-dev stage with placeholder or too-broad settings', () => {
  let dir: string;
  let result: { code: number | null; output: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyvend-package-refused-'));
    // Act: the defaults of every checked setting (empty issuers, placeholder origin, wildcard account), and a named secret
    result = await packageCopy(dir, { KEYVEND_FEDERATION_USER_SECRETS: `${FEDERATION_SECRET},keyvend/federation-user` });
  }, 180_000);

  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('fails before building anything, with one clear message per problem', () => {
    // Assess
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('Keyvend refuses to package stage "prod":');
    expect(result.output).toContain('KEYVEND_ISSUERS is empty');
    expect(result.output).toContain('KEYVEND_CORS_ORIGIN is the placeholder https://app.example.invalid');
    expect(result.output).toContain(
      'KEYVEND_FEDERATION_USER_SECRETS names keyvend/federation-user instead of giving full Secrets Manager ARNs',
    );
    expect(result.output).not.toContain(`names ${FEDERATION_SECRET}`);
    expect(result.output).toContain('KEYVEND_ALLOWED_ROLE_ARNS has arn:aws:iam::*:role/keyvend/*, without a 12-digit account');
    expect(existsSync(join(dir, '.serverless/cloudformation-template-update-stack.json'))).toBe(false);
  });
});
