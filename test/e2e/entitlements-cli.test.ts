import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ROOT } from '../../infra/local/stack.ts';
import { postCredentials, stack, testToken } from '../support/e2e.ts';

const dir = mkdtempSync(join(tmpdir(), 'keyvend-entitlements-'));

function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'src/tools/entitlements-cli.ts'), ...args], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp' },
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
    writeFileSync(path, stringify({ entitlements: [{ id: 'Bad Id', roleArn: 'arn:aws:iam::1:role/x', outputs: [], maxDurationSeconds: 10 }] }));

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
  });
});
