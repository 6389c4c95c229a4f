import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { UpstreamUnavailableError } from '../../domain/errors.ts';
import { Secret } from '../../domain/secret.ts';
import type { PortalSecrets } from '../../ports/index.ts';
import { sendOptions } from '../deadline/request-deadline.ts';
import { onceUntilFailure } from '../shared/once-until-failure.ts';

type Loaded = { readonly clientSecret: Secret; readonly sessionKey: Buffer };

function parse(clientSecret: unknown, sessionKey: unknown): Loaded {
  const key = typeof sessionKey === 'string' ? Buffer.from(sessionKey, 'base64url') : Buffer.alloc(0);
  if (typeof clientSecret !== 'string' || clientSecret === '' || key.length < 32) {
    throw new UpstreamUnavailableError('portal_secret_malformed');
  }
  return { clientSecret: new Secret(clientSecret), sessionKey: key };
}

/** Local mode: the values come from configuration (the local stack generates the session key per start). */
export class StaticPortalSecrets implements PortalSecrets {
  readonly #loaded: Loaded;

  constructor(clientSecret: string, sessionKey: string) {
    this.#loaded = parse(clientSecret, sessionKey);
  }

  async load(): Promise<Loaded> {
    return this.#loaded;
  }
}

/**
 * AWS: one Secrets Manager secret whose JSON is `{"clientSecret": "...", "sessionKey": "<32+ random bytes, base64url>"}`,
 * read once per container. A failed read is not cached, so the next request tries again.
 */
export class SecretsManagerPortalSecrets implements PortalSecrets {
  readonly #load = onceUntilFailure(() => this.#read());

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
  ) {}

  load(): Promise<Loaded> {
    return this.#load();
  }

  async #read(): Promise<Loaded> {
    let text: string | undefined;
    try {
      text = (await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }), sendOptions())).SecretString;
    } catch (error) {
      throw new UpstreamUnavailableError('portal_secret_unavailable', { cause: error });
    }
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(text ?? '') as Record<string, unknown>;
    } catch {
      throw new UpstreamUnavailableError('portal_secret_malformed');
    }
    return parse(value['clientSecret'], value['sessionKey']);
  }
}
