import { AssumeRoleWithSAMLCommand, AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's AWS CLI v2 (an older v1 may come first on PATH). */
export const AWS_CLI = '/usr/bin/aws';

/** What a caller holding a token or an assertion could do without Keyvend: call STS itself. */
export interface DirectAttempt {
  readonly ok: boolean;
  /** The STS error code (SDK) or the CLI's error text. */
  readonly error: string;
}

const unsignedClient = (stsUrl: string) =>
  new STSClient({
    endpoint: stsUrl,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: () => Promise.reject(new Error('no credentials: unsigned calls only')),
  });

export async function webIdentityWithSdk(stsUrl: string, roleArn: string, token: string, durationSeconds = 43_200): Promise<DirectAttempt> {
  try {
    await unsignedClient(stsUrl).send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: roleArn,
        RoleSessionName: 'bypass-attempt',
        WebIdentityToken: token,
        DurationSeconds: durationSeconds,
      }),
    );
    return { ok: true, error: '' };
  } catch (error) {
    return { ok: false, error: (error as Error).name };
  }
}

export async function samlWithSdk(stsUrl: string, roleArn: string, principalArn: string, assertion: string): Promise<DirectAttempt> {
  try {
    await unsignedClient(stsUrl).send(
      new AssumeRoleWithSAMLCommand({ RoleArn: roleArn, PrincipalArn: principalArn, SAMLAssertion: assertion, DurationSeconds: 3600 }),
    );
    return { ok: true, error: '' };
  } catch (error) {
    return { ok: false, error: (error as Error).name };
  }
}

/** The same call with the AWS CLI, as a person at a shell would make it; no AWS credentials in its environment. */
export async function withAwsCli(stsUrl: string, args: readonly string[]): Promise<DirectAttempt> {
  const home = mkdtempSync(join(tmpdir(), 'keyvend-cli-'));
  const env = {
    PATH: '/usr/bin:/bin',
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
    AWS_MAX_ATTEMPTS: '1',
  };
  return new Promise((resolve, reject) => {
    const child = spawn(AWS_CLI, ['sts', ...args, '--endpoint-url', stsUrl, '--output', 'json'], { env });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => resolve({ ok: code === 0, error: stderr.trim() }));
  });
}

export const webIdentityWithCli = (stsUrl: string, roleArn: string, token: string) =>
  withAwsCli(stsUrl, [
    'assume-role-with-web-identity',
    '--role-arn',
    roleArn,
    '--role-session-name',
    'bypass-attempt',
    '--web-identity-token',
    token,
    '--duration-seconds',
    '43200',
  ]);

export const samlWithCli = (stsUrl: string, roleArn: string, principalArn: string, assertion: string) =>
  withAwsCli(stsUrl, ['assume-role-with-saml', '--role-arn', roleArn, '--principal-arn', principalArn, '--saml-assertion', assertion]);
