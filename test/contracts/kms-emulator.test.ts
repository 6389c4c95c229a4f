import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll } from 'vitest';
import { type KmsEmulator, type KmsKeyInfo, startKmsEmulator } from '../../infra/local/kms/index.ts';
import { KmsSigningKeys } from '../../src/adapters/kms/kms-signing-keys.ts';
import { tokenSignerContract } from './token-signer.contract.ts';

/** KmsSigningKeys against the local KMS emulator, with each key spec it signs JWTs with, held to the port contract. */
const BROKER = {
  accessKeyId: 'AKIACONTRACTKMS00001',
  secretAccessKey: 'kms-signer-secret-for-contract-tests-0000',
  arn: 'arn:aws:sts::000000000000:assumed-role/keyvend-broker/local',
  usableKeys: ['*'],
};

let kms: KmsEmulator;
let keys: Record<'RSA_2048' | 'ECC_NIST_P256', KmsKeyInfo>;
const clients: KMSClient[] = [];
const client = () => {
  const c = new KMSClient({ endpoint: kms.url, region: 'us-east-1', maxAttempts: 1, credentials: BROKER });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  kms = await startKmsEmulator({
    accountId: '000000000000',
    principals: [BROKER],
    keys: [{ keySpec: 'RSA_2048' }, { keySpec: 'ECC_NIST_P256' }],
  });
  const [rsa, ec] = kms.keys as [KmsKeyInfo, KmsKeyInfo];
  keys = { RSA_2048: rsa, ECC_NIST_P256: ec };
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await kms?.close();
});

for (const keySpec of ['RSA_2048', 'ECC_NIST_P256'] as const) {
  tokenSignerContract(`KmsSigningKeys with a ${keySpec} key on the local KMS`, {
    make: () => {
      const signingKeys = new KmsSigningKeys(client(), { signingKeyId: keys[keySpec].arn, publishedKeyIds: [] });
      return { signer: signingKeys, keys: signingKeys };
    },
    unavailable: async () => {
      const signingKeys = new KmsSigningKeys(client(), { signingKeyId: keys[keySpec].arn, publishedKeyIds: [] });
      await signingKeys.publicKeys();
      kms.injectFault({ operation: 'Sign', code: 'KMSInternalException', count: 1 });
      return signingKeys;
    },
  });
}
