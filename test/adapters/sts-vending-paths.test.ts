import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  AssumeRoleWithWebIdentityCommand,
  GetFederationTokenCommand,
  IDPCommunicationErrorException,
  IDPRejectedClaimException,
  InvalidIdentityTokenException,
  ExpiredTokenException,
  STSClient,
} from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretsManagerFederationKeys } from '../../src/adapters/secrets-manager/secrets-manager-federation-keys.ts';
import { StsCredentialIssuer } from '../../src/adapters/sts/sts-credential-issuer.ts';
import type { KeyvendError } from '../../src/domain/errors.ts';
import { Secret } from '../../src/domain/secret.ts';
import type { FederationKeyStore, LongTermKeys } from '../../src/ports/index.ts';

const ROLE = 'arn:aws:iam::111111111111:role/keyvend/target';
const POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}';
const CREDENTIALS = {
  AccessKeyId: 'ASIAEXAMPLE000000001',
  SecretAccessKey: 'secret',
  SessionToken: 'token',
  Expiration: new Date('2030-01-01T00:00:00Z'),
};
const KEYS_JSON = JSON.stringify({ AccessKeyId: 'AKIAFEDERATIONUSER01', SecretAccessKey: 'federation-user-secret-0000000000000000' });

const mocks: Array<{ restore(): void }> = [];
afterEach(() => {
  for (const m of mocks.splice(0)) m.restore();
});

function stsPair() {
  const signed = new STSClient({ region: 'us-east-1' });
  const unsigned = new STSClient({ region: 'us-east-1' });
  const federation = new STSClient({ region: 'us-east-1' });
  const mocked = { signed: mockClient(signed), unsigned: mockClient(unsigned), federation: mockClient(federation) };
  mocks.push(mocked.signed, mocked.unsigned, mocked.federation);
  const keysAsked: string[] = [];
  const clientsBuilt: LongTermKeys[] = [];
  const keys: FederationKeyStore = {
    keysFor: async (secretId) => {
      keysAsked.push(secretId);
      return { accessKeyId: 'AKIAFEDERATIONUSER01', secretAccessKey: new Secret('federation-user-secret') };
    },
  };
  const issuer = new StsCredentialIssuer(signed, {
    unsignedClient: unsigned,
    federation: {
      keys,
      clientFor: (k) => {
        clientsBuilt.push(k);
        return federation;
      },
    },
  });
  return { issuer, mocked, keysAsked, clientsBuilt };
}

async function refusal(promise: Promise<unknown>): Promise<KeyvendError> {
  try {
    await promise;
  } catch (error) {
    return error as KeyvendError;
  }
  throw new Error('expected a refusal');
}

const common = { durationSeconds: 43200, policy: POLICY, policyArns: [] as string[] };

describe('StsCredentialIssuer: AssumeRoleWithWebIdentity', () => {
  it('sends the token on the unsigned client only, and reports the source identity STS returns', async () => {
    // Prepare
    const { issuer, mocked } = stsPair();
    mocked.unsigned.on(AssumeRoleWithWebIdentityCommand).resolves({
      Credentials: CREDENTIALS,
      AssumedRoleUser: { Arn: 'arn:aws:sts::111111111111:assumed-role/target/alice', AssumedRoleId: 'AROA:alice' },
      SourceIdentity: 'alice',
    });

    // Act
    const issued = await issuer.assumeRoleWithWebIdentity({
      ...common,
      roleArn: ROLE,
      roleSessionName: 'alice',
      webIdentityToken: new Secret('a.b.c'),
    });

    // Assess
    expect(mocked.unsigned.commandCalls(AssumeRoleWithWebIdentityCommand)[0]?.args[0].input).toEqual({
      RoleArn: ROLE,
      RoleSessionName: 'alice',
      WebIdentityToken: 'a.b.c',
      DurationSeconds: 43200,
      Policy: POLICY,
      PolicyArns: undefined,
    });
    expect(mocked.signed.calls()).toHaveLength(0);
    expect(issued.sourceIdentity).toBe('alice');
    expect(JSON.stringify(issued)).not.toContain('token');
  });

  it.each([
    [new ExpiredTokenException({ message: 'expired', $metadata: { httpStatusCode: 400 } }), 'internal_error', 'sts_broker_token_expired'],
    [
      new InvalidIdentityTokenException({ message: 'Incorrect token audience', $metadata: { httpStatusCode: 400 } }),
      'internal_error',
      'sts_broker_token_rejected',
    ],
    [
      new IDPRejectedClaimException({ message: 'rejected', $metadata: { httpStatusCode: 403 } }),
      'internal_error',
      'sts_broker_token_claims_rejected',
    ],
    [
      new IDPCommunicationErrorException({ message: 'no keys', $metadata: { httpStatusCode: 400 } }),
      'upstream_unavailable',
      'sts_cannot_fetch_broker_keys',
    ],
    [
      Object.assign(new Error('Not authorized'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }),
      'not_entitled',
      'sts_trust_refused',
    ],
  ])("translates %s: the broker's own token, so never the caller's fault but a trust refusal", async (stsError, code, reason) => {
    // Prepare
    const { issuer, mocked } = stsPair();
    mocked.unsigned.on(AssumeRoleWithWebIdentityCommand).rejects(stsError);

    // Act
    const error = await refusal(
      issuer.assumeRoleWithWebIdentity({ ...common, roleArn: ROLE, roleSessionName: 'alice', webIdentityToken: new Secret('a.b.c') }),
    );

    // Assess
    expect([error.code, error.reason]).toEqual([code, reason]);
  });
});

describe('StsCredentialIssuer: GetFederationToken', () => {
  it("signs with a client built from the IAM user's keys, reused for the same key", async () => {
    // Prepare
    const { issuer, mocked, keysAsked, clientsBuilt } = stsPair();
    mocked.federation.on(GetFederationTokenCommand).resolves({
      Credentials: CREDENTIALS,
      FederatedUser: { Arn: 'arn:aws:sts::111111111111:federated-user/kv.abc', FederatedUserId: '111111111111:kv.abc' },
    });
    const parameters = {
      ...common,
      durationSeconds: 129600,
      federationUserSecretId: 'keyvend/federation-user',
      name: 'kv.abc',
      tags: [{ Key: 'keyvend:user', Value: 'abc' }],
    };

    // Act
    const issued = await issuer.getFederationToken(parameters);
    await issuer.getFederationToken(parameters);

    // Assess
    expect(mocked.federation.commandCalls(GetFederationTokenCommand)[0]?.args[0].input).toEqual({
      Name: 'kv.abc',
      DurationSeconds: 129600,
      Policy: POLICY,
      PolicyArns: undefined,
      Tags: [{ Key: 'keyvend:user', Value: 'abc' }],
    });
    expect(issued.assumedRoleArn).toBe('arn:aws:sts::111111111111:federated-user/kv.abc');
    expect(keysAsked).toEqual(['keyvend/federation-user', 'keyvend/federation-user']);
    expect(clientsBuilt).toHaveLength(1);
    expect(mocked.signed.calls()).toHaveLength(0);
  });

  it.each([
    ['no session policy at all', { policy: undefined, policyArns: [] }, 'no_session_policy'],
    ['a one-character Name', { name: 'k' }, 'federation_name_invalid'],
    ['a 33-character Name', { name: 'k'.repeat(33) }, 'federation_name_invalid'],
  ])('refuses %s without asking for keys or calling STS', async (_, overrides, reason) => {
    // Prepare
    const { issuer, mocked, keysAsked } = stsPair();

    // Act
    const error = await refusal(
      issuer.getFederationToken({ ...common, federationUserSecretId: 's', name: 'kv.abc', tags: [], ...overrides }),
    );

    // Assess
    expect(error.reason).toBe(reason);
    expect(keysAsked).toHaveLength(0);
    expect(mocked.federation.calls()).toHaveLength(0);
  });

  it('refuses the unsigned path without a session policy too', async () => {
    // Prepare
    const { issuer, mocked } = stsPair();

    // Act
    const web = await refusal(
      issuer.assumeRoleWithWebIdentity({
        ...common,
        policy: undefined,
        roleArn: ROLE,
        roleSessionName: 'a',
        webIdentityToken: new Secret('t'),
      }),
    );

    // Assess
    expect(web.reason).toBe('no_session_policy');
    expect(mocked.unsigned.calls()).toHaveLength(0);
  });
});

describe('SecretsManagerFederationKeys', () => {
  function keysWith(secretString: string | undefined, now: { t: number }) {
    const client = new SecretsManagerClient({ region: 'us-east-1' });
    const mocked = mockClient(client);
    mocks.push(mocked);
    mocked.on(GetSecretValueCommand).resolves(secretString === undefined ? {} : { SecretString: secretString });
    const store = new SecretsManagerFederationKeys(client, {
      cacheSeconds: 300,
      allowedSecretIds: ['keyvend/federation-user'],
      now: () => now.t,
    });
    return { store, mocked };
  }

  it('reads the keys once per cache period, even under concurrent requests', async () => {
    // Prepare
    const now = { t: 0 };
    const { store, mocked } = keysWith(KEYS_JSON, now);

    // Act
    const [first] = await Promise.all([store.keysFor('keyvend/federation-user'), store.keysFor('keyvend/federation-user')]);
    now.t = 299_000;
    await store.keysFor('keyvend/federation-user');
    const cachedCalls = mocked.commandCalls(GetSecretValueCommand).length;
    now.t = 301_000;
    await store.keysFor('keyvend/federation-user');

    // Assess
    expect(first?.accessKeyId).toBe('AKIAFEDERATIONUSER01');
    expect(first?.secretAccessKey.reveal()).toBe('federation-user-secret-0000000000000000');
    expect(JSON.stringify(first)).not.toContain('federation-user-secret');
    expect(cachedCalls).toBe(1);
    expect(mocked.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('refuses a secret id outside the configured list without asking Secrets Manager', async () => {
    // Prepare
    const { store, mocked } = keysWith(KEYS_JSON, { t: 0 });

    // Act
    const error = await refusal(store.keysFor('someone-elses-secret'));

    // Assess
    expect(error.reason).toBe('federation_secret_not_allowed');
    expect(mocked.calls()).toHaveLength(0);
  });

  it.each([
    ['not JSON', 'AKIA-and-a-secret-in-plain-text', 'federation_secret_not_json'],
    [
      'a missing key id',
      JSON.stringify({ SecretAccessKey: 'federation-user-secret-0000000000000000' }),
      'federation_secret_access_key_id_invalid',
    ],
    ['a missing secret key', JSON.stringify({ AccessKeyId: 'AKIAFEDERATIONUSER01' }), 'federation_secret_secret_key_invalid'],
  ])('refuses a secret that is %s, without quoting it', async (_, secretString, reason) => {
    // Prepare
    const { store } = keysWith(secretString, { t: 0 });

    // Act
    const error = await refusal(store.keysFor('keyvend/federation-user'));

    // Assess
    expect(error.reason).toBe(reason);
    expect(`${error.message} ${String(error.cause ?? '')}`).not.toContain('federation-user-secret');
    expect(`${error.message}`).not.toContain('plain-text');
  });

  it('turns a Secrets Manager failure into upstream_unavailable and does not cache it', async () => {
    // Prepare
    const client = new SecretsManagerClient({ region: 'us-east-1' });
    const mocked = mockClient(client);
    mocks.push(mocked);
    mocked.on(GetSecretValueCommand).rejectsOnce(new Error('network down')).resolves({ SecretString: KEYS_JSON });
    const store = new SecretsManagerFederationKeys(client, { cacheSeconds: 300, allowedSecretIds: ['keyvend/federation-user'] });

    // Act
    const error = await refusal(store.keysFor('keyvend/federation-user'));
    const keys = await store.keysFor('keyvend/federation-user');

    // Assess
    expect(error.code).toBe('upstream_unavailable');
    expect(keys.accessKeyId).toBe('AKIAFEDERATIONUSER01');
  });
});
