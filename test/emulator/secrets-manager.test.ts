import { GetSecretValueCommand, SecretsManagerClient, SecretsManagerServiceException } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SecretsManagerEmulator, startSecretsManagerEmulator } from '../../infra/local/secrets-manager/index.ts';

const READER = {
  accessKeyId: 'AKIATESTSECRETREADER',
  secretAccessKey: 'reader-secret-key-for-tests-only-000000',
  arn: 'arn:aws:sts::000000000000:assumed-role/keyvend-broker/local',
  readableSecrets: ['keyvend/federation-user'],
};
const KEYS = JSON.stringify({ AccessKeyId: 'AKIAFEDERATIONUSER01', SecretAccessKey: 'federation-user-secret-0000000000000000' });

let emulator: SecretsManagerEmulator;
const clients: SecretsManagerClient[] = [];
const client = (credentials: { accessKeyId: string; secretAccessKey: string }) => {
  const c = new SecretsManagerClient({ endpoint: emulator.url, region: 'us-east-1', maxAttempts: 1, credentials });
  clients.push(c);
  return c;
};

async function failure(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    if (error instanceof SecretsManagerServiceException) return error.name;
    throw error;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  emulator = await startSecretsManagerEmulator({
    accountId: '000000000000',
    readers: [READER],
    secrets: [
      { name: 'keyvend/federation-user', secretString: KEYS },
      { name: 'someone-elses-secret', secretString: '{"x":"y"}' },
    ],
  });
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await emulator.close();
});

describe('local Secrets Manager: GetSecretValue', () => {
  it('serves a secret by name and by ARN to a principal allowed to read it', async () => {
    // Act
    const byName = await client(READER).send(new GetSecretValueCommand({ SecretId: 'keyvend/federation-user' }));
    const byArn = await client(READER).send(new GetSecretValueCommand({ SecretId: emulator.arns.get('keyvend/federation-user') }));

    // Assess
    expect(byName.SecretString).toBe(KEYS);
    expect(byName.ARN).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:keyvend\/federation-user-[A-Za-z]{6}$/);
    expect(byArn.Name).toBe('keyvend/federation-user');
    expect(byName.VersionStages).toEqual(['AWSCURRENT']);
  });

  it.each([
    ["a secret outside the principal's policy", READER, 'someone-elses-secret', 'AccessDeniedException'],
    ['a secret that does not exist', READER, 'nope', 'AccessDeniedException'],
    ['an unknown access key', { ...READER, accessKeyId: 'AKIATESTUNKNOWN00001' }, 'keyvend/federation-user', 'UnrecognizedClientException'],
    [
      'a wrong signature',
      { ...READER, secretAccessKey: 'wrong-secret-key-000000000000000000000000' },
      'keyvend/federation-user',
      'InvalidSignatureException',
    ],
  ] as const)('refuses %s', async (_, credentials, secretId, code) => {
    // Act
    const name = await failure(client(credentials).send(new GetSecretValueCommand({ SecretId: secretId })));

    // Assess
    expect(name).toBe(code);
  });

  it('reports its calls without any secret value', async () => {
    // Act
    const calls = JSON.stringify(await (await fetch(`${emulator.url}/_emulator/calls`)).json());

    // Assess
    expect(calls).toContain('secretsmanager.GetSecretValue');
    expect(calls).not.toContain('federation-user-secret');
  });
});
