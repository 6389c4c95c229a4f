/**
 * A small faithful local AWS KMS (dev/test only, never bundled into Lambda code): `Sign`, `GetPublicKey` and
 * `DescribeKey` for asymmetric signing keys (RSA_2048, ECC_NIST_P256) over the JSON 1.1 protocol (`POST /`,
 * `X-Amz-Target: TrentService.<Op>`, `Content-Type: application/x-amz-json-1.1`), SigV4-verified with the STS
 * emulator's verifier (credential scope service `kms`), and an identity check that mirrors the broker's IAM statement:
 * a principal uses only the keys listed for it. Errors are JSON `{"__type","message"}` with KMS's codes. Nothing it
 * logs or reports contains key material.
 *
 *   GET /_emulator/calls   [{ time, operation, keyId, keyArn, callerArn, outcome, errorCode }]  (loopback only)
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { isLoopback } from '../sts-emulator/admin.ts';
import { checkRequestTime, parseSigV4, verifySigV4 } from '../sts-emulator/auth/sigv4.ts';
import { json11Failure, json11Reply, listenLocal } from '../json-protocol.ts';
import { FaultQueue } from '../sts-emulator/faults.ts';
import { BodyTooLargeError, headerValue, readRequest, type EmulatorRequest } from '../sts-emulator/protocol/http-request.ts';
import { KmsError, kmsErrors } from './errors.ts';
import { KeyRing, type KmsKey, type KmsKeyInfo, type KmsKeySpec } from './keys.ts';
import { hashOf } from './signing.ts';
import { readKeyRequest, readSignRequest } from './validation.ts';

export type { KmsKeyInfo, KmsKeySpec } from './keys.ts';
export type { KeySpec, SigningAlgorithm } from './signing.ts';

export const KMS_OPERATIONS = ['Sign', 'GetPublicKey', 'DescribeKey'] as const;
export type KmsOperation = (typeof KMS_OPERATIONS)[number];
export type KmsAction = `kms:${KmsOperation}`;

export interface KmsPrincipal {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly arn: string;
  /**
   * Key ids, key ARNs or alias names (`alias/x`) this principal may use, like the `Resource` of its IAM statement;
   * `'*'` = every key.
   */
  readonly usableKeys: readonly string[];
  /** The statement's `Action`; default `['kms:Sign', 'kms:GetPublicKey']` (so DescribeKey is refused unless listed). */
  readonly actions?: readonly KmsAction[];
}

export interface KmsEmulatorOptions {
  readonly port?: number;
  readonly host?: string;
  readonly accountId: string;
  /** Default us-east-1. */
  readonly region?: string;
  readonly principals: readonly KmsPrincipal[];
  /** Generated at start, in this order. */
  readonly keys: readonly KmsKeySpec[];
  /** Clock for signature windows, creation dates and records. */
  readonly now?: () => Date;
}

export interface KmsCallRecord {
  time: string;
  /** The operation named by `X-Amz-Target` (the whole header when it names none). */
  operation: string;
  /** The KeyId as the caller sent it. */
  keyId?: string;
  /** The key it resolved to. */
  keyArn?: string;
  callerArn?: string;
  outcome: 'ok' | 'error';
  errorCode?: string;
}

export interface KmsFaultSpec {
  operation: KmsOperation | '*';
  /** e.g. `ThrottlingException`, `KMSInternalException`, `DependencyTimeoutException`, `KeyUnavailableException`. */
  code: string;
  /** Default 400; 500 for KMSInternalException and KeyUnavailableException, 503 for DependencyTimeoutException. */
  httpStatus?: number;
  message?: string;
  /**
   * How many matching calls fail (default 1). The SDK retries ThrottlingException and 5xx (3 attempts by default),
   * each attempt consuming one: use `count` >= the client's maxAttempts, or `maxAttempts: 1` on the client.
   */
  count?: number;
}

export interface KmsEmulator {
  readonly url: string;
  /** Every key, including those made by createKey, with its current alias and state. */
  readonly keys: readonly KmsKeyInfo[];
  /** A new key (for rotation tests). An alias already in use moves to it. */
  createKey(spec: KmsKeySpec): KmsKeyInfo;
  /** Sign and GetPublicKey then fail with DisabledException; DescribeKey shows `KeyState: Disabled`. */
  disableKey(keyIdOrArn: string): void;
  injectFault(fault: KmsFaultSpec): void;
  calls(): KmsCallRecord[];
  close(): Promise<void>;
}

/** The STS verifier's errors, under the names KMS uses for the same failures (as the local Secrets Manager does). */

const FAULT_DEFAULTS: Record<string, { status: number; message: string }> = {
  ThrottlingException: {
    status: 400,
    message: 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.',
  },
  KMSInternalException: { status: 500, message: 'An internal error occurred.' },
  KeyUnavailableException: { status: 500, message: 'The request was rejected because the specified KMS key was not available.' },
  DependencyTimeoutException: { status: 503, message: 'The system timed out while trying to fulfill the request.' },
};

const TARGET_PREFIX = 'TrentService.';
const MAX_BODY_BYTES = 64 * 1024;
const DEFAULT_ACTIONS: readonly KmsAction[] = ['kms:Sign', 'kms:GetPublicKey'];

export async function startKmsEmulator(options: KmsEmulatorOptions): Promise<KmsEmulator> {
  const region = options.region ?? 'us-east-1';
  const now = options.now ?? (() => new Date());
  const ring = new KeyRing(region, options.accountId, now);
  for (const spec of options.keys) ring.create(spec);
  const faults = new FaultQueue();
  const callLog: KmsCallRecord[] = [];

  /** IAM's view: the statement names the key by id, ARN or (a convenience of this emulator) an alias it has. */
  const mayUse = (principal: KmsPrincipal, action: KmsAction, key: KmsKey): boolean => {
    if (!(principal.actions ?? DEFAULT_ACTIONS).includes(action)) return false;
    const alias = ring.aliasOf(key);
    return principal.usableKeys.some((r) => r === '*' || r === key.keyId || r === key.arn || (alias !== undefined && r === alias));
  };

  const handle = (operation: KmsOperation, body: Buffer, principal: KmsPrincipal, record: KmsCallRecord): unknown => {
    const sign = operation === 'Sign' ? readSignRequest(body) : undefined;
    const input = sign ?? readKeyRequest(body);
    record.keyId = input.KeyId;
    const key = ring.resolve(input.KeyId);
    record.keyArn = key.arn;
    const action: KmsAction = `kms:${operation}`;
    if (!mayUse(principal, action, key)) throw kmsErrors.accessDenied(principal.arn, action, key.arn);
    if (operation === 'DescribeKey') return { KeyMetadata: metadata(key) };
    if (!key.enabled) throw kmsErrors.disabled(key.arn);
    if (sign === undefined) {
      return {
        KeyId: key.arn,
        PublicKey: key.publicKeyDer.toString('base64'),
        CustomerMasterKeySpec: key.keySpec,
        KeySpec: key.keySpec,
        KeyUsage: 'SIGN_VERIFY',
        SigningAlgorithms: key.signingAlgorithms,
      };
    }
    if (!key.signingAlgorithms.includes(sign.SigningAlgorithm)) throw kmsErrors.incompatibleAlgorithm(sign.SigningAlgorithm, key.keySpec);
    // EXTERNAL_MU is for ML-DSA keys only, which this emulator does not make (emulator wording).
    if (sign.MessageType === 'EXTERNAL_MU') {
      throw new KmsError('InvalidKeyUsageException', `MessageType EXTERNAL_MU is incompatible with key spec ${key.keySpec}.`);
    }
    const hash = hashOf(sign.SigningAlgorithm);
    if (hash === undefined) throw kmsErrors.internal();
    if (sign.MessageType === 'DIGEST' && sign.Message.length !== hash.length) throw kmsErrors.digestLength(sign.SigningAlgorithm);
    if (sign.DryRun) throw kmsErrors.dryRun();
    return {
      KeyId: key.arn,
      Signature: key.sign(sign.SigningAlgorithm, sign.MessageType, sign.Message).toString('base64'),
      SigningAlgorithm: sign.SigningAlgorithm,
    };
  };

  const metadata = (key: KmsKey) => ({
    AWSAccountId: options.accountId,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: key.creationDate.getTime() / 1000,
    Enabled: key.enabled,
    Description: '',
    KeyUsage: 'SIGN_VERIFY',
    KeyState: key.enabled ? 'Enabled' : 'Disabled',
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    SigningAlgorithms: key.signingAlgorithms,
    MultiRegion: false,
  });

  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => json11Reply(res, status, body, { 'x-amzn-requestid': randomUUID() });
    void (async () => {
      const record: KmsCallRecord = { time: now().toISOString(), operation: '', outcome: 'error' };
      try {
        let request: EmulatorRequest;
        try {
          request = await readRequest(req, MAX_BODY_BYTES);
        } catch (error) {
          record.operation = String(req.headers['x-amz-target'] ?? '').replace(TARGET_PREFIX, '');
          throw error instanceof BodyTooLargeError ? kmsErrors.requestTooLarge(error.limit) : error;
        }
        if (request.rawPath === '/_emulator/calls' && request.method === 'GET') {
          if (!isLoopback(request.remoteAddress)) return reply(403, { error: 'Forbidden' });
          return reply(200, callLog);
        }
        const target = headerValue(request, 'x-amz-target') ?? '';
        const name = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target;
        record.operation = name;
        const operation = KMS_OPERATIONS.find((op) => op === name);
        if (request.method !== 'POST' || !target.startsWith(TARGET_PREFIX) || operation === undefined) throw kmsErrors.unknownOperation();

        const parsed = parseSigV4(request, 'kms');
        if (parsed === undefined) throw kmsErrors.missingAuthenticationToken();
        const principal = options.principals.find((p) => p.accessKeyId === parsed.accessKeyId);
        // Only long-term keys are configured, so a session token means credentials this KMS never issued.
        if (principal === undefined || parsed.securityToken !== undefined) throw kmsErrors.unrecognizedClient();
        checkRequestTime(parsed, now());
        verifySigV4(request, parsed, principal.secretAccessKey);
        record.callerArn = principal.arn;

        const fault = faults.take(operation);
        if (fault !== undefined) throw new KmsError(fault.code, fault.message, fault.httpStatus);

        const result = handle(operation, request.body, principal, record);
        record.outcome = 'ok';
        return reply(200, result);
      } catch (error) {
        const failure = json11Failure(error, (e): e is KmsError => e instanceof KmsError, {
          type: 'KMSInternalException',
          message: 'An internal error occurred.',
        });
        record.errorCode = failure.type;
        return reply(failure.status, { __type: failure.type, message: failure.message });
      } finally {
        if (record.operation !== '') callLog.push(record);
      }
    })();
  });
  const url = await listenLocal(server, options);
  return {
    url,
    get keys() {
      return ring.list();
    },
    createKey: (spec) => ring.create(spec),
    disableKey: (keyIdOrArn) => {
      let key: KmsKey;
      try {
        key = ring.resolve(keyIdOrArn);
      } catch {
        throw new Error(`no such key: ${keyIdOrArn}`);
      }
      key.enabled = false;
    },
    injectFault: (fault) => {
      if (fault.operation !== '*' && !KMS_OPERATIONS.includes(fault.operation)) {
        throw new TypeError(`fault.operation must be one of ${KMS_OPERATIONS.join(', ')} or *`);
      }
      const defaults = FAULT_DEFAULTS[fault.code];
      const httpStatus = fault.httpStatus ?? defaults?.status;
      const message = fault.message ?? defaults?.message;
      faults.add({
        action: fault.operation,
        code: fault.code,
        ...(httpStatus === undefined ? {} : { httpStatus }),
        ...(message === undefined ? {} : { message }),
        ...(fault.count === undefined ? {} : { count: fault.count }),
      });
    },
    calls: () => callLog.map((c) => ({ ...c })),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
