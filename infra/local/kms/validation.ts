/**
 * Reads a JSON 1.1 request body into an operation's input, with the KMS model's constraints (botocore
 * `kms/2014-11-01/service-2.json`): a value of the wrong JSON type is a SerializationException; missing members,
 * lengths and enum values are one ValidationException listing every problem, in the AWS wording
 * ("Value … at 'keyId' failed to satisfy constraint: …"). Sensitive members (Message) are named without their value.
 */
import { kmsErrors } from './errors.ts';
import { MESSAGE_TYPES, SIGNING_ALGORITHM_SPECS, type MessageType, type SigningAlgorithm } from './signing.ts';

export interface KeyRequest {
  KeyId: string;
}

export interface SignRequest extends KeyRequest {
  Message: Buffer;
  MessageType: MessageType;
  SigningAlgorithm: SigningAlgorithm;
  DryRun: boolean;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

class Reader {
  readonly problems: string[] = [];

  constructor(private readonly body: Record<string, unknown>) {}

  private typed<T>(member: string, type: string, check: (v: unknown) => v is T): T | undefined {
    const value = this.body[member];
    if (value === undefined || value === null) return undefined;
    if (!check(value)) throw kmsErrors.serialization(`Value for '${member}' must be ${type}`);
    return value;
  }

  /** Required string member with KMS's `KeyIdType` length bounds. */
  keyId(): string {
    const value = this.typed('KeyId', 'a string', (v): v is string => typeof v === 'string');
    if (value === undefined) this.problems.push("Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    else if (value.length < 1)
      this.problems.push(`Value '${value}' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1`);
    else if (value.length > 2048)
      this.problems.push(`Value '${value}' at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048`);
    return value ?? '';
  }

  /** Required sensitive blob (`PlaintextType`, 1..4096 bytes). */
  message(): Buffer {
    const value = this.typed('Message', 'a base64 string', (v): v is string => typeof v === 'string');
    if (value === undefined) {
      this.problems.push("Value null at 'message' failed to satisfy constraint: Member must not be null");
      return Buffer.alloc(0);
    }
    if (!BASE64.test(value)) throw kmsErrors.serialization("Value for 'Message' is not valid base64");
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length < 1)
      this.problems.push("Value at 'message' failed to satisfy constraint: Member must have length greater than or equal to 1");
    if (bytes.length > 4096)
      this.problems.push("Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096");
    return bytes;
  }

  enumeration<T extends string>(member: string, values: readonly T[], required: boolean): T | undefined {
    const name = member.charAt(0).toLowerCase() + member.slice(1);
    const value = this.typed(member, 'a string', (v): v is string => typeof v === 'string');
    if (value === undefined) {
      if (required) this.problems.push(`Value null at '${name}' failed to satisfy constraint: Member must not be null`);
      return undefined;
    }
    if (!(values as readonly string[]).includes(value)) {
      this.problems.push(
        `Value '${value}' at '${name}' failed to satisfy constraint: Member must satisfy enum value set: [${values.join(', ')}]`,
      );
      return undefined;
    }
    return value as T;
  }

  /** Accepted and checked for shape only: the emulator has no grants. */
  grantTokens(): void {
    const tokens = this.typed('GrantTokens', 'a list of strings', (v): v is unknown[] => Array.isArray(v));
    if (tokens === undefined) return;
    if (!tokens.every((t) => typeof t === 'string')) throw kmsErrors.serialization("Value for 'GrantTokens' must be a list of strings");
    if (tokens.length > 10)
      this.problems.push("Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10");
  }

  dryRun(): boolean {
    return this.typed('DryRun', 'a boolean', (v): v is boolean => typeof v === 'boolean') ?? false;
  }

  done(): void {
    if (this.problems.length > 0) throw kmsErrors.validation(this.problems);
  }
}

/** The body must be one JSON object; KMS's JSON 1.1 front end answers anything else with SerializationException. */
function objectBody(raw: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.length === 0 ? '{}' : raw.toString('utf8'));
  } catch {
    throw kmsErrors.serialization('The request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw kmsErrors.serialization('Start of structure or map found where not expected.');
  }
  return parsed as Record<string, unknown>;
}

/** GetPublicKey and DescribeKey: `{ KeyId, GrantTokens? }`. */
export function readKeyRequest(raw: Buffer): KeyRequest {
  const r = new Reader(objectBody(raw));
  const KeyId = r.keyId();
  r.grantTokens();
  r.done();
  return { KeyId };
}

export function readSignRequest(raw: Buffer): SignRequest {
  const r = new Reader(objectBody(raw));
  const KeyId = r.keyId();
  const Message = r.message();
  const MessageType = r.enumeration('MessageType', MESSAGE_TYPES, false) ?? 'RAW';
  r.grantTokens();
  const SigningAlgorithm = r.enumeration('SigningAlgorithm', SIGNING_ALGORITHM_SPECS, true);
  const DryRun = r.dryRun();
  r.done();
  if (SigningAlgorithm === undefined) throw kmsErrors.internal();
  return { KeyId, Message, MessageType, SigningAlgorithm, DryRun };
}
