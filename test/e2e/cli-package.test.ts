import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ROOT } from '../../infra/local/stack.ts';

/**
 * The package as someone installs it: `npm pack`, then the tarball installed with production dependencies only into
 * an empty directory, with no TypeScript, tsx or any dev dependency around; its executables run from there.
 */
let dir: string;
const run = (command: string, args: string[], cwd: string) =>
  spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout: 240_000,
    env: { PATH: process.env['PATH'] ?? '', HOME: dir, npm_config_cache: join(process.env['HOME'] ?? '/root', '.npm') },
  });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'keyvend-pack-'));
  const packed = run('npm', ['pack', '--pack-destination', dir, '--silent'], ROOT);
  if (packed.status !== 0) throw new Error(`npm pack failed:\n${packed.stderr}`);
  const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'));
  if (tarball === undefined) throw new Error('npm pack wrote no tarball');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'keyvend-install-check', version: '1.0.0', private: true }));
  const installed = run('npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball)], dir);
  if (installed.status !== 0) throw new Error(`npm install of the tarball failed:\n${installed.stderr}`);
}, 300_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('the installed package', () => {
  it('holds the built executables and no TypeScript sources or tests', () => {
    // Act
    const files = readdirSync(join(dir, 'node_modules/keyvend'), { recursive: true }).map(String);

    // Assess
    expect(files).toContain(join('dist', 'keyvend.mjs'));
    expect(files).toContain(join('dist', 'keyvend-entitlements.mjs'));
    expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(readdirSync(join(dir, 'node_modules'))).not.toContain('tsx');
    expect(readdirSync(join(dir, 'node_modules'))).not.toContain('typescript');
  });

  it('runs keyvend --version and --help from node_modules/.bin', () => {
    // Act
    const version = run(join(dir, 'node_modules/.bin/keyvend'), ['--version'], dir);
    const help = run(join(dir, 'node_modules/.bin/keyvend'), ['--help'], dir);

    // Assess
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toMatch(/^keyvend \d+\.\d+\.\d+$/);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: keyvend <command>/);
  });

  it('runs a real command: keyvend-entitlements validates a file, and refuses a bad one', () => {
    // Prepare
    const good = join(dir, 'good.yaml');
    const bad = join(dir, 'bad.yaml');
    const entitlement = {
      id: 'uploads',
      description: 'Uploads to your own folder',
      roleArn: 'arn:aws:iam::111111111111:role/keyvend/uploads',
      outputs: ['credentials'],
      maxDurationSeconds: 3600,
      sessionPolicy: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/{{userKey}}/*' }],
      },
      grants: [{ issuer: 'corp', group: 'staff' }],
    };
    writeFileSync(good, stringify({ entitlements: [entitlement] }));
    writeFileSync(
      bad,
      stringify({
        entitlements: [
          { ...entitlement, sessionPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } },
        ],
      }),
    );

    // Act
    const validated = run(join(dir, 'node_modules/.bin/keyvend-entitlements'), ['validate', good], dir);
    const refused = run(join(dir, 'node_modules/.bin/keyvend-entitlements'), ['validate', bad], dir);

    // Assess
    expect(validated.status, validated.stderr).toBe(0);
    expect(validated.stdout).toMatch(/ok {2}uploads/);
    expect(refused.status).toBe(1);
  });
});
