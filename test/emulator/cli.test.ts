import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEmulatorConfig, parseEmulatorConfig } from '../../infra/local/sts-emulator/config.ts';
import { BROKER, ROLES } from './helpers.ts';

const MAIN = resolve(import.meta.dirname, '../../infra/local/sts-emulator/main.ts');

const YAML_CONFIG = `
accountId: "000000000000"
principals:
  - accessKeyId: ${BROKER.accessKeyId}
    secretAccessKey: ${BROKER.secretAccessKey}
    arn: ${BROKER.arn}
roles:
  - arn: arn:aws:iam::000000000000:role/from-yaml
    maxSessionDuration: 7200
    trustPolicy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"sts:AssumeRole"}]}'
`;

describe('STS emulator: config files and CLI', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sts-emulator-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads YAML and JSON configs and rejects malformed ones without echoing secrets', async () => {
    // Prepare
    const yamlPath = join(dir, 'config.yaml');
    const jsonPath = join(dir, 'config.json');
    await writeFile(yamlPath, YAML_CONFIG);
    await writeFile(jsonPath, JSON.stringify({ principals: [BROKER], roles: ROLES }));

    // Act
    const fromYaml = await loadEmulatorConfig(yamlPath);
    const fromJson = await loadEmulatorConfig(jsonPath);
    const attempt = () => parseEmulatorConfig({ principals: [{ ...BROKER, arn: '' }], roles: [] });

    // Assess
    expect(fromYaml.roles[0]).toEqual({
      arn: 'arn:aws:iam::000000000000:role/from-yaml',
      maxSessionDuration: 7200,
      trustPolicy: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: '000000000000' }, Action: 'sts:AssumeRole' }],
      },
    });
    expect(fromYaml.principals).toEqual([BROKER]);
    expect(fromJson.roles).toHaveLength(ROLES.length);
    expect(attempt).toThrow('principals[0].arn must be a non-empty string');
    expect(() => parseEmulatorConfig({ principals: [], roles: [{ arn: 'x', trustPolicy: '{' }] })).toThrow(
      'roles[0].trustPolicy is not valid JSON',
    );
  });

  it('reports unparsable config files by position without quoting their content', async () => {
    // Prepare
    const badJson = join(dir, 'bad.json');
    const badYaml = join(dir, 'bad.yaml');
    await writeFile(badJson, `{"principals":[{"secretAccessKey":"${BROKER.secretAccessKey}" "x": 1}]}`);
    await writeFile(badYaml, `principals:\n  - secretAccessKey: "${BROKER.secretAccessKey}\n    arn: [\n`);

    // Act
    const errors = await Promise.all(
      [badJson, badYaml].map((p) =>
        loadEmulatorConfig(p).then(
          () => undefined,
          (e: Error) => e.message,
        ),
      ),
    );

    // Assess
    expect(errors[0]).toBe(`${badJson}: not valid JSON`);
    expect(errors[1]).toMatch(/^.*bad\.yaml: not valid YAML( at line \d+, column \d+)?$/);
    expect(errors.join('')).not.toContain(BROKER.secretAccessKey);
  });

  it('starts from a config file, prints its URL, serves the SDK and stops on SIGTERM', async () => {
    // Prepare
    const configPath = join(dir, 'cli.yaml');
    await writeFile(configPath, YAML_CONFIG);
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', MAIN, configPath, '0'], {
      cwd: resolve(import.meta.dirname, '../..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    const url = await new Promise<string>((res, rej) => {
      child.stdout?.on('data', () => {
        const m = /STS_ENDPOINT=(\S+)/.exec(stdout);
        if (m?.[1]) res(m[1]);
      });
      child.once('exit', () => rej(new Error(`emulator exited early: ${stdout}`)));
    });
    const sts = new STSClient({ endpoint: url, region: 'us-east-1', credentials: BROKER, maxAttempts: 1 });

    // Act
    const health = await (await fetch(`${url}/_emulator/health`)).json();
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    sts.destroy();
    child.kill('SIGTERM');
    const code = await exited;

    // Assess
    expect(stdout).toContain(`STS emulator listening on ${url}`);
    expect(health).toMatchObject({ status: 'ok', accountId: '000000000000' });
    expect(identity.Arn).toBe(BROKER.arn);
    expect(stdout).toMatch(/GetCallerIdentity ok arn:aws:sts::000000000000:assumed-role\/keyvend-broker\/local/);
    expect(stdout).not.toContain(BROKER.secretAccessKey);
    expect(code).toBe(0);
  });
});
