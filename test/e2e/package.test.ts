import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../infra/local/stack.ts';
import { staticClosure } from '../support/static-imports.ts';
import { runSimulation } from '@cloud-copilot/iam-simulate';
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
const QUERY_AUDIT = [
  'QueryAuditIndexes',
  ['dynamodb:Query'],
  ['byUser', 'byEntitlement', 'byDay'].map((index) => ({ 'Fn::Join': ['', [arnOf('AuditTable'), `/index/${index}`]] })),
];
const READ_AUDIT = ['ReadAuditItems', ['dynamodb:BatchGetItem'], arnOf('AuditTable')];
const REPLAY = ['ConsumeSamlAssertionIds', ['dynamodb:PutItem'], arnOf('SamlReplayTable')];
/** UpdateItem on the anonymous aggregates only (`anon#` keys): the condition is checked with the IAM simulator below. */
const ANONYMOUS = ['CountAnonymousRefusals', ['dynamodb:UpdateItem'], arnOf('AuditTable')];
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
    ANONYMOUS,
    REPLAY,
    ['Logs', LOGS, logsOf('credentials')],
  ],
  ConsoleFunctionRole: [
    ASSUME,
    SIGN,
    ['ReadEntitlementGrants', ['dynamodb:BatchGetItem'], arnOf('EntitlementsTable')],
    FEDERATION,
    AUDIT,
    ANONYMOUS,
    ['Logs', LOGS, logsOf('console')],
  ],
  PortalFunctionRole: [
    PORTAL_SECRET,
    ['ReadEntitlements', ['dynamodb:BatchGetItem', 'dynamodb:Query'], arnOf('EntitlementsTable')],
    ASSUME,
    SIGN,
    FEDERATION,
    AUDIT,
    QUERY_AUDIT,
    READ_AUDIT,
    ANONYMOUS,
    ['Logs', LOGS, logsOf('portal')],
  ],
  PortalSamlFunctionRole: [PORTAL_SECRET, AUDIT, ANONYMOUS, REPLAY, ['Logs', LOGS, logsOf('portalSaml')]],
  EntitlementsFunctionRole: [
    ['ReadEntitlements', ['dynamodb:BatchGetItem', 'dynamodb:Query'], arnOf('EntitlementsTable')],
    ['Logs', LOGS, logsOf('entitlements')],
  ],
  AuditFunctionRole: [
    QUERY_AUDIT,
    READ_AUDIT,
    AUDIT,
    ANONYMOUS,
    ['ReadEntitlementGrants', ['dynamodb:BatchGetItem'], arnOf('EntitlementsTable')],
    ['Logs', LOGS, logsOf('audit')],
  ],
  RevocationsFunctionRole: [
    PORTAL_SECRET,
    [
      'ManageRevocations',
      ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
      arnOf('EntitlementsTable'),
    ],
    AUDIT,
    ANONYMOUS,
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
  AuditExportFunctionRole: [
    [
      'ReadAuditStream',
      ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
      { 'Fn::GetAtt': ['AuditTable', 'StreamArn'] },
    ],
    ['MoveExportHead', ['dynamodb:GetItem', 'dynamodb:PutItem'], arnOf('AuditExportHeadTable')],
    [
      'WriteLockedBatches',
      ['s3:GetObject', 's3:PutObject', 's3:PutObjectRetention'],
      { 'Fn::Sub': '${AuditArchiveBucket.Arn}/audit-chain/*' },
    ],
    ['Logs', LOGS, logsOf('auditExport')],
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
      'GET /v1/admin/audit',
      'GET /v1/admin/revocations',
      'GET /v1/entitlements',
      'GET /v1/explain/{entitlement}',
      'GET /v1/me/grants',
      'POST /portal/admin/revocations',
      'POST /portal/admin/unrevoke',
      'POST /portal/console',
      'POST /portal/logout',
      'POST /portal/saml/acs',
      'POST /v1/admin/revocations',
      'POST /v1/console',
      'POST /v1/credentials',
      'POST /v1/explain',
    ]);
  });

  it('runs every function on nodejs22.x and arm64 with a 10 s timeout, bundled as ESM', () => {
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

  it('zips each function as its handler and its own chunks, and what the handler loads at start stays under 600 KiB', () => {
    // Prepare
    const names = ['entitlements', 'audit', 'console', 'portal', 'credentials', 'portalSaml', 'issuer', 'revocations', 'auditExport'];
    const handlerFile: Record<string, string> = { portalSaml: 'portal-saml', auditExport: 'audit-export' };
    const LIMIT_KIB = 600;
    // Act
    const zips = Object.fromEntries(names.map((name) => [name, zipEntries(join(dir, `.serverless/${name}.zip`))]));
    // Assess
    expect(ofType('AWS::Lambda::Function')).toHaveLength(names.length);
    const loaded: Record<string, string> = {};
    const packaged: Record<string, string> = {};
    for (const [name, entries] of Object.entries(zips)) {
      const file = handlerFile[name] ?? name;
      const entry = `functions/${file}.mjs`;
      expect(entries.map((e) => e.name)).toContain(entry);
      // Its own lazily loaded chunks (build/esbuild-plugins.cjs), no other function's.
      for (const e of entries) if (e.name !== entry) expect(e.name).toMatch(new RegExp(`^functions/chunks/${file}/[\\w-]+\\.mjs$`));
      const byName = new Map(entries.map((e) => [e.name, e]));
      const text = (path: string) => byName.get(path)?.content().toString('utf8') ?? '';
      const atStart = staticClosure(entry, text);
      const loadedBytes = atStart.reduce((sum, path) => sum + (byName.get(path)?.bytes ?? Number.NaN), 0);
      expect(loadedBytes / 1024, `${name} loads ${atStart.join(', ')}`).toBeLessThan(LIMIT_KIB);
      loaded[name] = atStart.map(text).join('\n');
      packaged[name] = entries.map((e) => text(e.name)).join('\n');
    }
    // Only the credentials function and the portal's SAML sign-in carry SAML verification, as a lazily loaded
    // chunk: a bearer-token request never loads it. node-saml's decryption and XML-building modules are stubbed.
    for (const name of ['credentials', 'portalSaml']) {
      expect(packaged[name]).toContain('xml-encryption.decrypt is not bundled');
      expect(packaged[name]).not.toContain('encryption without encrypted key is not supported yet');
      expect(loaded[name]).not.toMatch(/xml-crypto|DOMParser|xmldom/);
      expect(packaged[name]).toMatch(/xml-crypto|DOMParser|xmldom/);
    }
    for (const name of ['entitlements', 'audit', 'console', 'portal', 'issuer', 'revocations', 'auditExport'])
      expect(packaged[name]).not.toMatch(/node-saml|xml-crypto|DOMParser/);
  });

  it('declares the tables on demand with point-in-time recovery, and TTL on the audit and SAML replay tables', () => {
    // Assess
    const tables = Object.fromEntries(ofType('AWS::DynamoDB::Table'));
    expect(Object.keys(tables).sort()).toEqual(['AuditExportHeadTable', 'AuditTable', 'EntitlementsTable', 'SamlReplayTable']);
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
      'functions/audit.handler': 'AuditFunctionRole',
      'functions/revocations.handler': 'RevocationsFunctionRole',
      'functions/audit-export.handler': 'AuditExportFunctionRole',
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

  it('lets the auditing roles UpdateItem the audit table only on anon# keys (the anonymous aggregates)', async () => {
    // Prepare: each role's statement, with the table's ARN in place of its GetAtt
    const tableArn = 'arn:aws:dynamodb:us-east-1:111111111111:table/keyvend-prod-audit';
    const simulate = async (roleId: string, action: string, leadingKey: string) => {
      // The statements on the audit table (the others hold intrinsic functions the simulator cannot read).
      const onAuditTable = statementsOf(roleId).filter((st) => JSON.stringify(st.Resource) === JSON.stringify(arnOf('AuditTable')));
      const policy = { Version: '2012-10-17', Statement: onAuditTable.map((st) => ({ ...st, Resource: tableArn })) };
      const result = await runSimulation(
        {
          request: {
            principal: `arn:aws:sts::111111111111:assumed-role/${roleId}/fn`,
            action,
            resource: { resource: tableArn, accountId: '111111111111' },
            contextVariables: { 'dynamodb:LeadingKeys': [leadingKey] },
          },
          identityPolicies: [{ name: roleId, policy }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        },
        {},
      );
      return result.resultType === 'single' ? result.result.analysis?.result : result.resultType;
    };

    for (const roleId of [...MINTING_ROLES, 'PortalSamlFunctionRole']) {
      // Act
      const aggregate = await simulate(roleId, 'dynamodb:UpdateItem', 'anon#2026-11-29T10:15#203.0.113.9');
      const record = await simulate(roleId, 'dynamodb:UpdateItem', '019ad0f0-0000-7000-8000-000000000000');
      const deleteAggregate = await simulate(roleId, 'dynamodb:DeleteItem', 'anon#2026-11-29T10:15#203.0.113.9');

      // Assess
      expect([roleId, aggregate, record, deleteAggregate]).toEqual([roleId, 'Allowed', 'ImplicitlyDenied', 'ImplicitlyDenied']);
    }
    const condition = statementsOf('CredentialsFunctionRole').find((s) => s.Sid === 'CountAnonymousRefusals')?.Condition;
    expect(condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['anon#*'] } });
  });

  it('throttles every route at API Gateway, the minting routes within the KMS and STS account quotas, and reserves concurrency per function', () => {
    // Assess: route throttles (docs/operations.md, "Rate limits and quotas")
    const stage = resources['HttpApiStage'] as Resource & { DependsOn?: string[] };
    expect(stage.Properties['DefaultRouteSettings']).toMatchObject({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 50 });
    const minting = stage.Properties['RouteSettings'] as Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }>;
    expect(minting).toEqual({
      'POST /v1/credentials': { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 100 },
      'POST /v1/console': { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 25 },
      'POST /portal/console': { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 25 },
    });
    // Each grant is at most one KMS Sign and one STS call: the sum of the minting routes' rates, and in the first
    // second their bursts on top, must stay under KMS's RSA Sign quota (500/s) and STS's (600/s).
    const rates = Object.values(minting).reduce((sum, r) => sum + r.ThrottlingRateLimit, 0);
    const bursts = Object.values(minting).reduce((sum, r) => sum + r.ThrottlingBurstLimit, 0);
    expect(rates).toBeLessThanOrEqual(300);
    expect(rates + bursts).toBeLessThan(500);
    const routeIds = ofType('AWS::ApiGatewayV2::Route')
      .filter(([, r]) => r.Properties['RouteKey'] in minting)
      .map(([id]) => id);
    expect(stage.DependsOn).toEqual(expect.arrayContaining(routeIds));
    expect(routeIds).toHaveLength(3);
    // Assess: reserved concurrency, and the per-caller limit every function is given
    const concurrency = Object.fromEntries(
      ofType('AWS::Lambda::Function').map(([, f]) => [f.Properties['Handler'], f.Properties['ReservedConcurrentExecutions']]),
    );
    expect(concurrency).toEqual({
      'functions/credentials.handler': 50,
      'functions/console.handler': 10,
      'functions/portal.handler': 10,
      'functions/portal-saml.handler': 5,
      'functions/entitlements.handler': 10,
      'functions/issuer.handler': 5,
      'functions/audit.handler': 5,
      'functions/revocations.handler': 2,
      'functions/audit-export.handler': 5,
    });
    for (const [, f] of ofType('AWS::Lambda::Function')) {
      expect(f.Properties['Environment']['Variables']).toMatchObject({ KEYVEND_RATE_LIMIT: '60', KEYVEND_RATE_LIMIT_BURST: '20' });
    }
  });

  it('alarms on the broker metrics, each function, the API and both tables, to one topic, with a dashboard and JSON access logs', () => {
    // Assess: the topic, and an email subscription only when KEYVEND_ALARM_EMAIL is set
    expect(resources['AlarmTopic']?.Type).toBe('AWS::SNS::Topic');
    expect((resources['AlarmEmailSubscription'] as Resource & { Condition?: string }).Condition).toBe('HasAlarmEmail');
    const alarms = Object.fromEntries(ofType('AWS::CloudWatch::Alarm').map(([id, r]) => [id, r.Properties]));
    for (const alarm of Object.values(alarms)) {
      expect(alarm['AlarmActions']).toEqual([{ Ref: 'AlarmTopic' }]);
      expect(alarm['TreatMissingData']).toBe('notBreaching');
      expect(alarm['AlarmDescription']).toMatch(/Runbook docs\/operations\.md#[a-z0-9-]+$/);
    }
    // Assess: the broker's own metrics (embedded metric format, namespace Keyvend)
    const own = (id: string) => {
      const a = alarms[id] ?? {};
      return [a['Namespace'], a['MetricName'], a['Dimensions'], a['Statistic'], a['Period'], a['Threshold'], a['ComparisonOperator']];
    };
    const service = [{ Name: 'service', Value: 'keyvend' }];
    const atLeast = 'GreaterThanOrEqualToThreshold';
    expect(own('MintedNotDeliveredAlarm')).toEqual(['Keyvend', 'MintedNotDelivered', service, 'Sum', 60, 1, atLeast]);
    expect(own('AuditWriteFailuresAlarm')).toEqual(['Keyvend', 'AuditWriteFailures', service, 'Sum', 60, 1, atLeast]);
    expect(own('UpstreamFailuresAlarm')).toEqual(['Keyvend', 'UpstreamFailures', service, 'Sum', 300, '10', atLeast]);
    expect(own('RateLimitedAlarm')).toEqual(['Keyvend', 'RateLimited', service, 'Sum', 300, '100', atLeast]);
    expect(own('AnonymousRefusalsAlarm')).toEqual(['Keyvend', 'AnonymousRefusals', service, 'Sum', 300, '1000', atLeast]);
    // Assess: errors and throttles of every function
    const functionIds = ofType('AWS::Lambda::Function').map(([id]) => id);
    expect(functionIds).toHaveLength(9);
    for (const functionId of functionIds) {
      for (const metric of ['Errors', 'Throttles']) {
        const alarm = alarms[functionId.replace('LambdaFunction', `${metric}Alarm`)];
        expect([alarm?.['Namespace'], alarm?.['MetricName'], alarm?.['Dimensions'], alarm?.['Threshold']]).toEqual([
          'AWS/Lambda',
          metric,
          [{ Name: 'FunctionName', Value: { Ref: functionId } }],
          1,
        ]);
      }
    }
    // Assess: API 5xx, and throttled reads and writes of both tables
    expect(alarms['Api5xxAlarm']).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: [
        { Name: 'ApiId', Value: { Ref: 'HttpApi' } },
        { Name: 'Stage', Value: '$default' },
      ],
    });
    for (const table of ['EntitlementsTable', 'AuditTable']) {
      const metrics = alarms[`${table}ThrottlingAlarm`]?.['Metrics'] as {
        MetricStat?: { Metric: Record<string, unknown> };
        Expression?: string;
      }[];
      expect(metrics.flatMap((m) => (m.MetricStat === undefined ? [] : [m.MetricStat.Metric]))).toEqual(
        ['ReadThrottleEvents', 'WriteThrottleEvents'].map((MetricName) => ({
          Namespace: 'AWS/DynamoDB',
          MetricName,
          Dimensions: [{ Name: 'TableName', Value: { Ref: table } }],
        })),
      );
      expect(metrics.find((m) => m.Expression !== undefined)?.Expression).toBe('reads + writes');
    }
    // The audit export's lag: its stream must not fall behind (docs/operations.md, "Audit export lag").
    expect(alarms['AuditExportIteratorAgeAlarm']).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'AuditExportLambdaFunction' } }],
      Statistic: 'Maximum',
      Threshold: 900000,
    });
    expect(Object.keys(alarms)).toHaveLength(5 + 18 + 1 + 2 + 1);
    // Assess: the dashboard is valid JSON once its references are filled in, and shows each function
    const parts = resources['Dashboard']?.Properties['DashboardBody']['Fn::Join'][1] as (string | { Ref: string })[];
    const body = JSON.parse(parts.map((p) => (typeof p === 'string' ? p : `ref-${p.Ref}`)).join('')) as { widgets: unknown[] };
    expect(body.widgets.length).toBeGreaterThanOrEqual(6);
    for (const functionId of functionIds) expect(JSON.stringify(body)).toContain(`ref-${functionId}`);
    // Assess: JSON access logs, which carry no header, query string or body (so no token)
    const accessLogs = resources['HttpApiStage']?.Properties['AccessLogSettings'] as { Format: string };
    const format = JSON.parse(accessLogs.Format) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      ip: '$context.identity.sourceIp',
      routeKey: '$context.routeKey',
      status: '$context.status',
      integrationLatency: '$context.integrationLatency',
    });
    expect(accessLogs.Format).not.toMatch(/header|querystring|authorization|body/i);
    expect(resources['HttpApiLogGroup']?.Properties['RetentionInDays']).toBe(90);
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

  it('keeps the audit table append-only: a resource policy denies updates and deletes to all but the break-glass role', () => {
    // Prepare
    const table = resources['AuditTable']?.Properties ?? {};
    const breakGlass = {
      'Fn::If': [
        'HasBreakGlassRoleArn',
        '',
        { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/keyvend-prod-audit-break-glass' },
      ],
    };
    const tableArn = { 'Fn::Sub': 'arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/keyvend-prod-audit' };

    // Assess: the stream carries both images, so an overwrite or a deletion is itself exported
    expect(table['StreamSpecification']).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(table['ResourcePolicy']['PolicyDocument']['Statement']).toEqual([
      {
        Sid: 'AuditItemsAreNeverUpdatedOrDeleted',
        Effect: 'Deny',
        Principal: '*',
        Action: ['dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:PartiQLDelete', 'dynamodb:PartiQLUpdate'],
        Resource: tableArn,
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': breakGlass } },
      },
      {
        Sid: 'OnlyAnonymousAggregatesAreUpdated',
        Effect: 'Deny',
        Principal: '*',
        Action: 'dynamodb:UpdateItem',
        Resource: tableArn,
        Condition: {
          ArnNotEquals: { 'aws:PrincipalArn': breakGlass },
          'ForAnyValue:StringNotLike': { 'dynamodb:LeadingKeys': ['anon#*'] },
        },
      },
    ]);
    // No function role may update or delete audit items in the first place (other tables are theirs to change),
    // but for counting anonymous refusals on `anon#` keys (CountAnonymousRefusals, simulated below).
    for (const roleId of Object.keys(ROLES)) {
      const onAuditTable = statementsOf(roleId).filter(
        (statement) => JSON.stringify(statement).includes('AuditTable') && statement.Sid !== 'CountAnonymousRefusals',
      );
      expect(JSON.stringify(onAuditTable)).not.toMatch(/dynamodb:(UpdateItem|DeleteItem|BatchWriteItem)/);
    }
  });

  it('exports the audit stream to a bucket with Object Lock in compliance mode, versioned, private and TLS only', () => {
    // Prepare
    const bucket = resources['AuditArchiveBucket']?.Properties ?? {};
    const policy = resources['AuditArchiveBucketPolicy']?.Properties ?? {};
    const mapping = ofType('AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties);

    // Assess
    expect(bucket['ObjectLockEnabled']).toBe(true);
    expect(bucket['ObjectLockConfiguration']).toEqual({
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: '2557' } },
    });
    expect(bucket['VersioningConfiguration']).toEqual({ Status: 'Enabled' });
    expect(bucket['PublicAccessBlockConfiguration']).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(policy['PolicyDocument']['Statement']).toEqual([
      expect.objectContaining({ Effect: 'Deny', Principal: '*', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    ]);
    expect(mapping).toEqual([
      expect.objectContaining({
        EventSourceArn: { 'Fn::GetAtt': ['AuditTable', 'StreamArn'] },
        StartingPosition: 'TRIM_HORIZON',
        ParallelizationFactor: 1,
        MaximumRetryAttempts: -1,
      }),
    ]);
    expect(outputs['AuditArchiveBucketName']?.Value).toEqual({ Ref: 'AuditArchiveBucket' });
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
