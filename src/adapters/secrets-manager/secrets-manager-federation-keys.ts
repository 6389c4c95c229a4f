import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { InternalError, UpstreamUnavailableError } from '../../domain/errors.ts';
import { Secret } from '../../domain/secret.ts';
import type { FederationKeyStore, LongTermKeys } from '../../ports/index.ts';
import { sendOptions } from '../deadline/request-deadline.ts';
import { onceUntilFailurePerKey } from '../shared/once-until-failure.ts';

export interface FederationKeysOptions {
  /** How long fetched keys are reused across invocations of a warm container. */
  readonly cacheSeconds: number;
  /** Secret ids the broker may read: any other id is refused before Secrets Manager is asked. */
  readonly allowedSecretIds: readonly string[];
  readonly now?: () => number;
}

const ACCESS_KEY_ID_PATTERN = /^AKIA[A-Z0-9]{12,124}$/;

/**
 * The federation IAM user's long-term keys from Secrets Manager, as `{"AccessKeyId","SecretAccessKey"}`.
 * Cached for a bounded time (a rotation takes effect within `cacheSeconds`), one fetch per secret even
 * under concurrent requests, and a failure is never cached. Neither the secret string nor any part of it
 * reaches an error or a log: a malformed secret is reported by what is wrong, not by what it holds.
 */
export class SecretsManagerFederationKeys implements FederationKeyStore {
  readonly #keys: (secretId: string) => Promise<LongTermKeys>;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly options: FederationKeysOptions,
  ) {
    this.#keys = onceUntilFailurePerKey((secretId: string) => this.#fetch(secretId), {
      maxAgeMs: options.cacheSeconds * 1000,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  }

  async keysFor(secretId: string): Promise<LongTermKeys> {
    if (!this.options.allowedSecretIds.includes(secretId)) throw new InternalError('federation_secret_not_allowed');
    return this.#keys(secretId);
  }

  async #fetch(secretId: string): Promise<LongTermKeys> {
    let secretString: string | undefined;
    try {
      const output = await this.client.send(new GetSecretValueCommand({ SecretId: secretId }), sendOptions());
      secretString = output.SecretString;
    } catch (error) {
      // The SDK's error carries the service's message only (never the secret); keep it as the cause.
      throw new UpstreamUnavailableError('federation_keys_unavailable', { cause: error });
    }
    return parseKeys(secretString);
  }
}

function parseKeys(secretString: string | undefined): LongTermKeys {
  let document: unknown;
  try {
    document = JSON.parse(secretString ?? '');
  } catch {
    throw new InternalError('federation_secret_not_json');
  }
  const fields = (typeof document === 'object' && document !== null ? document : {}) as Record<string, unknown>;
  const accessKeyId = fields['AccessKeyId'];
  const secretAccessKey = fields['SecretAccessKey'];
  if (typeof accessKeyId !== 'string' || !ACCESS_KEY_ID_PATTERN.test(accessKeyId)) {
    throw new InternalError('federation_secret_access_key_id_invalid');
  }
  if (typeof secretAccessKey !== 'string' || secretAccessKey.length < 16) {
    throw new InternalError('federation_secret_secret_key_invalid');
  }
  return { accessKeyId, secretAccessKey: new Secret(secretAccessKey) };
}
