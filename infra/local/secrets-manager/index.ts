/**
 * The smallest faithful local Secrets Manager (dev/test only): `GetSecretValue` over the JSON 1.1 protocol
 * (`POST /`, `X-Amz-Target: secretsmanager.GetSecretValue`, `Content-Type: application/x-amz-json-1.1`), SigV4-verified
 * with the STS emulator's verifier (credential scope service `secretsmanager`), and an identity check that mirrors
 * the broker's IAM statement: a principal reads only the secrets listed for it. Errors are JSON `{"__type","message"}`
 * with Secrets Manager's codes. Nothing it logs or reports contains a secret value.
 *
 *   GET /_emulator/calls   [{ time, target, secretId, callerArn, outcome, errorCode }]  (loopback only)
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { isLoopback } from '../sts-emulator/admin.ts';
import { checkRequestTime, parseSigV4, verifySigV4 } from '../sts-emulator/auth/sigv4.ts';
import { json11Failure, json11Reply, listenLocal } from '../json-protocol.ts';
import { headerValue, readRequest } from '../sts-emulator/protocol/http-request.ts';

export interface LocalSecret {
  readonly name: string;
  /** A JSON string, e.g. `{"AccessKeyId":"AKIA…","SecretAccessKey":"…"}`. */
  readonly secretString: string;
}

export interface SecretsReader {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly arn: string;
  /** Secret names this principal may read (the `Resource` of its `secretsmanager:GetSecretValue` statement). */
  readonly readableSecrets: readonly string[];
}

export interface SecretsManagerEmulatorOptions {
  readonly port?: number;
  readonly host?: string;
  readonly accountId: string;
  readonly region?: string;
  readonly readers: readonly SecretsReader[];
  readonly secrets: readonly LocalSecret[];
  readonly now?: () => Date;
}

export interface SecretsCallRecord {
  time: string;
  target: string;
  secretId?: string;
  callerArn?: string;
  outcome: 'ok' | 'error';
  errorCode?: string;
}

export interface SecretsManagerEmulator {
  readonly url: string;
  /** `name` → full ARN (with the six-character suffix Secrets Manager appends). */
  readonly arns: ReadonlyMap<string, string>;
  calls(): SecretsCallRecord[];
  close(): Promise<void>;
}

class SecretsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const SUFFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

export async function startSecretsManagerEmulator(options: SecretsManagerEmulatorOptions): Promise<SecretsManagerEmulator> {
  const region = options.region ?? 'us-east-1';
  const now = options.now ?? (() => new Date());
  const arns = new Map<string, string>();
  for (const secret of options.secrets) {
    const digest = createHash('sha256').update(secret.name).digest();
    const suffix = [...digest.subarray(0, 6)].map((b) => SUFFIX_ALPHABET[b % SUFFIX_ALPHABET.length]).join('');
    arns.set(secret.name, `arn:aws:secretsmanager:${region}:${options.accountId}:secret:${secret.name}-${suffix}`);
  }
  const callLog: SecretsCallRecord[] = [];

  /** By name, full ARN, or partial ARN (without the suffix), as GetSecretValue accepts. */
  const find = (secretId: string): LocalSecret | undefined =>
    options.secrets.find((s) => {
      const arn = arns.get(s.name) ?? '';
      return secretId === s.name || secretId === arn || secretId === arn.slice(0, -7);
    });

  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => json11Reply(res, status, body);
    void (async () => {
      const record: SecretsCallRecord = { time: now().toISOString(), target: '', outcome: 'error' };
      try {
        const request = await readRequest(req, 64 * 1024);
        if (request.rawPath === '/_emulator/calls' && request.method === 'GET') {
          if (!isLoopback(request.remoteAddress)) return reply(403, { error: 'Forbidden' });
          return reply(200, callLog);
        }
        record.target = headerValue(request, 'x-amz-target') ?? '';
        if (request.method !== 'POST' || record.target !== 'secretsmanager.GetSecretValue') {
          throw new SecretsError('UnknownOperationException', 'The action or operation requested is not supported.');
        }
        const parsed = parseSigV4(request, 'secretsmanager');
        if (parsed === undefined) throw new SecretsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
        const reader = options.readers.find((r) => r.accessKeyId === parsed.accessKeyId);
        if (reader === undefined || parsed.securityToken !== undefined) {
          throw new SecretsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
        }
        checkRequestTime(parsed, now());
        verifySigV4(request, parsed, reader.secretAccessKey);
        record.callerArn = reader.arn;

        let body: unknown;
        try {
          body = JSON.parse(request.body.toString('utf8'));
        } catch {
          throw new SecretsError('SerializationException', 'Start of structure or map found where not expected.');
        }
        const secretId = (body as { SecretId?: unknown } | null)?.SecretId;
        if (typeof secretId !== 'string' || secretId.length < 1 || secretId.length > 2048) {
          throw new SecretsError(
            'ValidationException',
            "1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must not be null",
          );
        }
        record.secretId = secretId;
        const secret = find(secretId);
        const arn = secret === undefined ? secretId : (arns.get(secret.name) ?? secretId);
        if (secret === undefined || !reader.readableSecrets.includes(secret.name)) {
          // IAM answers before the service looks the secret up, so an unknown and a forbidden secret look alike.
          throw new SecretsError(
            'AccessDeniedException',
            `User: ${reader.arn} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${arn} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
          );
        }
        record.outcome = 'ok';
        return reply(200, {
          ARN: arn,
          Name: secret.name,
          SecretString: secret.secretString,
          VersionId: createHash('sha256')
            .update(secret.secretString)
            .digest('hex')
            .slice(0, 32)
            .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'),
          VersionStages: ['AWSCURRENT'],
          CreatedDate: Math.floor(now().getTime() / 1000),
        });
      } catch (error) {
        const failure = json11Failure(error, (e): e is SecretsError => e instanceof SecretsError, {
          type: 'InternalServiceError',
          message: 'An error occurred on the server side.',
        });
        record.errorCode = failure.type;
        return reply(failure.status, { __type: failure.type, message: failure.message });
      } finally {
        if (record.target !== '') callLog.push(record);
      }
    })();
  });
  const url = await listenLocal(server, options);
  return {
    url,
    arns,
    calls: () => callLog.map((c) => ({ ...c })),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
