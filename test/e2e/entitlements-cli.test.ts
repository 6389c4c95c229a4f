import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ROOT } from '../../infra/local/stack.ts';
import { definitionKey, grantPartitionKey, grantSortKey } from '../../src/adapters/dynamodb/keys.ts';
import { devIdpToken, dynamo, postCredentials, stack, testToken } from '../support/e2e.ts';

const dir = mkdtempSync(join(tmpdir(), 'keyvend-entitlements-'));

function runCli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(ROOT, 'dist/keyvend-entitlements.mjs'), ...args], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function writeFile(name: string, grants: unknown[], bucket = 'keyvend-demo-uploads'): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    stringify({
      entitlements: [
        {
          id: 'cli-managed',
          description: 'Written by the entitlements command in a test',
          // The one-hour path: the demo roles that trust the broker's issuer pin the entitlements they serve.
          vending: 'assume-role',
          roleArn: 'arn:aws:iam::111111111111:role/keyvend/hourly-readonly',
          outputs: ['credentials'],
          maxDurationSeconds: 3600,
          sessionPolicy: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/{{userKey}}/*` }],
          },
          grants,
        },
      ],
    }),
  );
  return path;
}

describe('npm run entitlements', () => {
  const target = () => ['--table', stack().brokerEnv['KEYVEND_ENTITLEMENTS_TABLE'] ?? '', '--endpoint', stack().dynamoEndpoint];

  it('refuses an invalid file with exit code 1 and one line per problem, writing nothing', async () => {
    // Prepare
    const path = join(dir, 'bad.yaml');
    writeFileSync(
      path,
      stringify({ entitlements: [{ id: 'Bad Id', roleArn: 'arn:aws:iam::1:role/x', outputs: [], maxDurationSeconds: 10 }] }),
    );

    // Act
    const result = runCli(['apply', path, ...target()]);

    // Assess
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/problem\(s\)/);
    expect(result.stderr).toMatch(/id: ids are 1-63/);
    expect(result.stderr).toMatch(/roleArn: not an IAM role ARN/);
  });

  it('prints usage with exit code 2', () => {
    expect(runCli(['frobnicate']).status).toBe(2);
    expect(runCli(['apply', '--frobnicate', 'x.yaml']).stderr).toMatch(/^Unknown option '--frobnicate'.*\nUsage:/s);
  });

  it('names a missing file and the example to copy, without a stack trace', () => {
    // Act
    const result = runCli(['validate', 'my-entitlements.yaml']);

    // Assess
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^entitlements file my-entitlements\.yaml: no such file/);
    expect(result.stderr).toMatch(/cp examples\/my-entitlements\.yaml my-entitlements\.yaml/);
    expect(result.stderr).not.toMatch(/ENOENT|\n\s+at /);
  });

  it('applies the example file to the running stack with --local alone, a second time as unchanged, and alice can use it', async () => {
    // Prepare
    const example = join(ROOT, 'examples/my-entitlements.yaml');
    const local = { KEYVEND_LOCAL_STATE: stack().stateFile };
    const alice = await devIdpToken('alice');

    try {
      // Act
      const first = runCli(['apply', '--local', example], local);
      const second = runCli(['apply', '--local', example], local);
      const requested = await postCredentials(alice, { entitlement: 'my-uploads' });

      // Assess
      expect(first.stderr).not.toMatch(/problem|apply failed|^warning/m);
      expect(first.status).toBe(0);
      expect(first.stdout).toMatch(
        /^applied to keyvend-local-entitlements \(the local stack, DynamoDB at http:\/\/127\.0\.0\.1:\d+\): 1 written, 0 unchanged, 1 grant\(s\) added/m,
      );
      expect(second.stdout).toMatch(/: 0 written, 1 unchanged, 0 grant\(s\) added, 0 revoked/);
      expect(requested.status).toBe(200);
      expect(requested.json['Version']).toBe(1);
    } finally {
      // The other tests list alice's entitlements: leave the table as the fixtures made it.
      const TableName = stack().brokerEnv['KEYVEND_ENTITLEMENTS_TABLE'];
      await dynamo().send(
        new DeleteCommand({
          TableName,
          Key: { pk: grantPartitionKey({ issuer: 'dev', group: 'photo-uploaders' }), sk: grantSortKey('my-uploads') },
        }),
      );
      await dynamo().send(new DeleteCommand({ TableName, Key: definitionKey('my-uploads') }));
    }
  });

  it('says plainly when --local finds no running stack', () => {
    // Act
    const missing = runCli(['apply', '--local', join(ROOT, 'examples/my-entitlements.yaml')], {
      KEYVEND_LOCAL_STATE: join(dir, 'none.json'),
    });
    const stale = join(dir, 'stale.json');
    writeFileSync(
      stale,
      JSON.stringify({
        pid: 2 ** 22 + 1,
        apiUrl: 'http://127.0.0.1:1',
        dynamodbEndpoint: 'http://127.0.0.1:1',
        region: 'us-east-1',
        tables: { entitlements: 't', audit: 'a' },
      }),
    );
    const left = runCli(['apply', '--local', join(ROOT, 'examples/my-entitlements.yaml')], { KEYVEND_LOCAL_STATE: stale });

    // Assess
    expect(missing.status).toBe(3);
    expect(missing.stderr).toMatch(/apply --local: no local stack is running \(.*none\.json does not exist\): start one with npm start/);
    expect(left.status).toBe(3);
    expect(left.stderr).toMatch(/was left by a stack that stopped/);
  });

  it('grants and then revokes, and the broker sees each change on the very next request', async () => {
    // Prepare
    const token = await testToken();

    // Act: grant to the tests' group
    const granted = runCli(['apply', writeFile('grant.yaml', [{ issuer: 'test', group: 'testers' }]), ...target()]);
    const afterGrant = await postCredentials(token, { entitlement: 'cli-managed' });

    // Assess
    expect(granted.status).toBe(0);
    expect(granted.stdout).toMatch(/1 written, 0 unchanged, 1 grant\(s\) added, 0 revoked/);
    expect(afterGrant.status).toBe(200);

    // Act: revoke by applying the file without the grant
    const revoked = runCli(['apply', writeFile('revoke.yaml', []), ...target()]);
    const afterRevoke = await postCredentials(token, { entitlement: 'cli-managed' });

    // Assess
    expect(revoked.status).toBe(0);
    expect(revoked.stdout).toMatch(/0 grant\(s\) added, 1 revoked/);
    expect(afterRevoke.status).toBe(403);
    expect(afterRevoke.json['error']).toBe('not_entitled');
  });

  it('validates without writing', () => {
    // Act
    const result = runCli(['validate', join(ROOT, 'infra/local/entitlements.yaml')]);

    // Assess
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^ok {2}photo-uploads: longest policy \d+\/2048 chars/m);
    // The demo's read-only entitlements are broad on purpose, and say so every time.
    expect(result.stderr).toMatch(/^warning {2}console-readonly: allowBroadStatements: Statement\[0\]: Resource "\*"/m);
    expect(result.stderr).toMatch(/^warning {2}hourly-readonly: allowBroadStatements:/m);
  });

  it('refuses the over-broad templates of the security review (issue 10, item 3) and writes none of them', async () => {
    // Prepare: each validated as ok before (a fresh object each, or yaml would write aliases, which are refused)
    const base = () => ({
      roleArn: 'arn:aws:iam::111111111111:role/keyvend/hourly-readonly',
      vending: 'assume-role',
      outputs: ['credentials'],
      maxDurationSeconds: 3600,
    });
    const path = join(dir, 'broad.yaml');
    writeFileSync(
      path,
      stringify({
        entitlements: [
          {
            ...base(),
            id: 'suffix-folder',
            description: 'any user can write inside another user folder',
            sessionPolicy: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::keyvend-demo-uploads/*{{userKey}}/*' }],
            },
            grants: [{ issuer: 'test', group: 'testers' }],
          },
          {
            ...base(),
            id: 'whole-role',
            description: 'the whole role',
            managedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'],
            grants: [{ issuer: 'test', group: 'testers' }],
          },
          {
            ...base(),
            id: 'not-action',
            description: 'everything but IAM',
            sessionPolicy: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', NotAction: 'iam:*', NotResource: 'arn:aws:s3:::keyvend-audit/*' }],
            },
            grants: [{ issuer: 'test', group: 'testers' }],
          },
        ],
      }),
    );
    const token = await testToken();

    // Act
    const validated = runCli(['validate', path]);
    const applied = runCli(['apply', path, ...target()]);
    const requested = await postCredentials(token, { entitlement: 'whole-role' });

    // Assess
    expect(validated.status).toBe(1);
    expect(validated.stderr).toMatch(/suffix-folder: .*\{\{userKey\}\} must start its path segment/);
    expect(validated.stderr).toMatch(/whole-role: no sessionPolicy: every grantee gets all that the role allows.*set allowWholeRole: true/);
    expect(validated.stderr).toMatch(/not-action: sessionPolicy Statement\[0\]: Allow with NotAction/);
    expect(validated.stderr).toMatch(/not-action: sessionPolicy Statement\[0\]: Allow with NotResource/);
    expect(applied.status).toBe(1);
    expect(requested.status).toBe(403);
  });

  it('applies a flagged whole-role entitlement, warning on validate and on apply', () => {
    // Prepare
    const path = join(dir, 'flagged.yaml');
    writeFileSync(
      path,
      stringify({
        entitlements: [
          {
            id: 'flagged-whole-role',
            description: 'managed policy only, acknowledged',
            vending: 'assume-role',
            roleArn: 'arn:aws:iam::111111111111:role/keyvend/hourly-readonly',
            outputs: ['credentials'],
            maxDurationSeconds: 3600,
            managedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
            allowWholeRole: true,
          },
        ],
      }),
    );

    // Act
    const validated = runCli(['validate', path]);
    const applied = runCli(['apply', path, ...target()]);

    // Assess
    expect(validated.status).toBe(0);
    expect(validated.stderr).toMatch(/^warning {2}flagged-whole-role: allowWholeRole: no sessionPolicy/m);
    expect(applied.status).toBe(0);
    expect(applied.stderr).toMatch(/^warning {2}flagged-whole-role: allowWholeRole/m);
  });
});
