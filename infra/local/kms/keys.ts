/**
 * The emulator's keys and aliases. Private keys stay in `#privateKey` fields: nothing that lists, reports or
 * serialises a key can reach them, and only `sign` uses them.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { kmsErrors } from './errors.ts';
import { KEY_SPEC_ALGORITHMS, KEY_SPECS, signWith, type KeySpec, type SigningAlgorithm } from './signing.ts';

export interface KmsKeySpec {
  /** e.g. `alias/keyvend-local-signing`. */
  readonly alias?: string;
  readonly keySpec: KeySpec;
}

/** What the emulator tells its owner about a key: never key material. */
export interface KmsKeyInfo {
  readonly keyId: string;
  readonly arn: string;
  readonly alias?: string;
  readonly keySpec: KeySpec;
  readonly enabled: boolean;
}

export class KmsKey {
  readonly #privateKey: KeyObject;
  readonly publicKeyDer: Buffer;
  enabled = true;

  constructor(
    readonly keyId: string,
    readonly arn: string,
    readonly keySpec: KeySpec,
    readonly creationDate: Date,
  ) {
    const pair =
      keySpec === 'RSA_2048'
        ? generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 })
        : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.#privateKey = pair.privateKey;
    this.publicKeyDer = pair.publicKey.export({ format: 'der', type: 'spki' });
  }

  get signingAlgorithms(): readonly SigningAlgorithm[] {
    return KEY_SPEC_ALGORITHMS[this.keySpec];
  }

  sign(algorithm: SigningAlgorithm, messageType: 'RAW' | 'DIGEST', message: Buffer): Buffer {
    return signWith(this.#privateKey, algorithm, messageType, message);
  }

  /** Keeps the private key out of util.inspect and console.log as well. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `KmsKey(${this.arn}, ${this.keySpec}, ${this.enabled ? 'Enabled' : 'Disabled'})`;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** KMS's alias-name rule; `alias/aws/` names belong to AWS managed keys. */
const ALIAS_NAME = /^alias\/[a-zA-Z0-9/_-]{1,250}$/;

export class KeyRing {
  private readonly keys = new Map<string, KmsKey>();
  /** alias name → key id. */
  private readonly aliases = new Map<string, string>();

  constructor(
    readonly region: string,
    readonly accountId: string,
    private readonly now: () => Date,
  ) {}

  aliasArn(aliasName: string): string {
    return `arn:aws:kms:${this.region}:${this.accountId}:${aliasName}`;
  }

  /**
   * Makes a key. An alias that already names a key is moved to the new one, as `UpdateAlias` would do in a
   * rotation: the old key keeps working by id and ARN.
   */
  create(spec: KmsKeySpec): KmsKeyInfo {
    if (!KEY_SPECS.includes(spec.keySpec)) throw new TypeError(`keySpec must be one of ${KEY_SPECS.join(', ')}`);
    if (spec.alias !== undefined && (!ALIAS_NAME.test(spec.alias) || spec.alias.startsWith('alias/aws/'))) {
      throw new TypeError(`alias must look like alias/name (letters, digits, / _ -) and not start with alias/aws/: ${spec.alias}`);
    }
    const keyId = randomUUID();
    const key = new KmsKey(keyId, `arn:aws:kms:${this.region}:${this.accountId}:key/${keyId}`, spec.keySpec, this.now());
    this.keys.set(keyId, key);
    if (spec.alias !== undefined) this.aliases.set(spec.alias, keyId);
    return this.info(key);
  }

  aliasOf(key: KmsKey): string | undefined {
    for (const [alias, keyId] of this.aliases) if (keyId === key.keyId) return alias;
    return undefined;
  }

  info(key: KmsKey): KmsKeyInfo {
    const alias = this.aliasOf(key);
    return { keyId: key.keyId, arn: key.arn, keySpec: key.keySpec, enabled: key.enabled, ...(alias === undefined ? {} : { alias }) };
  }

  list(): KmsKeyInfo[] {
    return [...this.keys.values()].map((k) => this.info(k));
  }

  /** A key by id, key ARN, alias name or alias ARN, failing with KMS's NotFoundException messages. */
  resolve(keyId: string): KmsKey {
    if (keyId.startsWith('arn:')) {
      const m = /^arn:aws:kms:([^:]*):([^:]*):(key|alias)\/(.+)$/.exec(keyId);
      if (m === null) throw kmsErrors.invalidKeyId(keyId);
      const [, region = '', account = '', kind, rest = ''] = m;
      if (kind === 'alias') {
        if (region !== this.region || account !== this.accountId) throw kmsErrors.aliasNotFound(keyId);
        return this.resolveAlias(`alias/${rest}`);
      }
      if (region !== this.region) throw kmsErrors.invalidArnRegion(region);
      const key = this.keys.get(rest);
      if (account !== this.accountId || key === undefined) throw kmsErrors.keyNotFound(keyId);
      return key;
    }
    if (keyId.startsWith('alias/')) return this.resolveAlias(keyId);
    if (!UUID.test(keyId)) throw kmsErrors.invalidKeyId(keyId);
    const key = this.keys.get(keyId);
    if (key === undefined) throw kmsErrors.keyNotFound(`arn:aws:kms:${this.region}:${this.accountId}:key/${keyId}`);
    return key;
  }

  private resolveAlias(aliasName: string): KmsKey {
    const keyId = this.aliases.get(aliasName);
    const key = keyId === undefined ? undefined : this.keys.get(keyId);
    if (key === undefined) throw kmsErrors.aliasNotFound(this.aliasArn(aliasName));
    return key;
  }
}
