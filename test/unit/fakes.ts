import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, SignJWT } from 'jose';
import { type AnonymousAggregate, type AnonymousRefusal, anonymousAggregateKey, minuteOf } from '../../src/domain/anonymous-refusal.ts';
import { type AuditRecord, AuditConflictError } from '../../src/domain/audit-record.ts';
import { type Entitlement, type GrantTarget, parseEntitlement } from '../../src/domain/entitlement.ts';
import { InternalError } from '../../src/domain/errors.ts';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { Secret } from '../../src/domain/secret.ts';
import type {
  AssumeRoleParameters,
  AuditLog,
  Clock,
  CredentialIssuer,
  DecisionLog,
  EntitlementStore,
  FederationTokenParameters,
  IdentityVerifier,
  IssuedCredentials,
  PublicJwk,
  PublicKeySet,
  ReplayCache,
  SignedToken,
  TokenSigner,
  WebIdentityParameters,
} from '../../src/ports/index.ts';
import type { EntitlementWithGrants } from '../../src/tools/entitlements-file.ts';

/** In-memory fakes of the ports: each records what it was asked and can be told to fail. */

export const FAKE_SECRET_ACCESS_KEY = 'fake-secret-access-key-0123456789abcdefgh';
export const FAKE_SESSION_TOKEN = 'fake-session-token-IQoJb3JpZ2luX2VjEabcdef';

export function principalFor(overrides: Partial<Principal> = {}): Principal {
  const issuer = overrides.issuer ?? 'https://idp.example.com';
  const subject = overrides.subject ?? 'alice-0001';
  return {
    idpType: 'oidc',
    issuerId: 'corp',
    issuer,
    subject,
    userKey: deriveUserKey(issuer, subject),
    groups: ['uploaders'],
    attributes: { department: 'research' },
    auth: { keyId: 'k1', tokenId: 'jti-1', issuedAt: 1_800_000_000, expiresAt: 1_800_000_600, tokenRef: 'sha256:abc' },
    ...overrides,
  };
}

export function entitlementFor(overrides: Partial<Entitlement> = {}): Entitlement {
  return {
    id: 'photo-uploads',
    version: 3,
    description: 'Uploads to your own folder',
    roleArn: 'arn:aws:iam::111111111111:role/keyvend/photo-uploads',
    outputs: ['credentials'],
    maxDurationSeconds: 3600,
    vending: 'assume-role',
    sessionPolicy: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:PutObject'], Resource: 'arn:aws:s3:::uploads/{{userKey}}/*' },
        {
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: 'arn:aws:s3:::uploads',
          Condition: { StringLike: { 's3:prefix': ['{{userKey}}/', '{{userKey}}/*'] } },
        },
      ],
    },
    managedPolicyArns: [],
    sessionTags: [{ key: 'department', claim: 'department' }],
    transitiveTagKeys: [],
    ...overrides,
  };
}

export class FakeVerifier implements IdentityVerifier {
  readonly calls: (string | undefined)[] = [];
  constructor(private readonly outcome: Principal | Error = principalFor()) {}

  async verifyBearer(authorization: string | undefined): Promise<Principal> {
    this.calls.push(authorization);
    if (this.outcome instanceof Error) throw this.outcome;
    return this.outcome;
  }
}

/** Whom the entitlements given to `new FakeEntitlementStore(...)` are granted to: principalFor()'s group. */
export const DEFAULT_GRANT: GrantTarget = { issuer: 'corp', group: 'uploaders' };

/**
 * An entitlements table in memory, with the adapter's semantics (test/contracts/entitlement-store.contract.ts):
 * an entitlement is found only through a grant to the principal's subject or one of its groups under its
 * issuer, and a stored definition is parsed on every read, so one that does not parse fails the request.
 * Can be told to fail.
 */
export class FakeEntitlementStore implements EntitlementStore {
  readonly lookups: string[] = [];
  failure: Error | undefined;
  /** As stored, not as parsed: the read parses, as the adapter does. */
  readonly #definitions = new Map<string, unknown>();
  readonly #grants = new Map<string, readonly GrantTarget[]>();

  constructor(granted: Entitlement[] = [entitlementFor()], to: readonly GrantTarget[] = [DEFAULT_GRANT]) {
    this.apply(granted.map((entitlement) => ({ entitlement, grants: to })));
  }

  /** What the entitlements writer does with a checked file's entries: each definition and its grants replaced. */
  apply(entries: readonly EntitlementWithGrants[]): void {
    for (const { entitlement, grants } of entries) {
      this.#definitions.set(entitlement.id, JSON.parse(JSON.stringify(entitlement)));
      this.#grants.set(entitlement.id, [...grants]);
    }
  }

  /** Replaces a stored definition with anything, as a corrupted or hand-edited item would be. */
  storeDefinition(entitlementId: string, definition: unknown): void {
    this.#definitions.set(entitlementId, definition);
  }

  async findGranted(principal: Principal, entitlementId: string): Promise<Entitlement | undefined> {
    this.lookups.push(entitlementId);
    if (this.failure) throw this.failure;
    if (!this.#definitions.has(entitlementId) || !this.#isGranted(principal, entitlementId)) return undefined;
    return this.#parsed(entitlementId);
  }

  async listGranted(principal: Principal): Promise<Entitlement[]> {
    if (this.failure) throw this.failure;
    return [...this.#definitions.keys()].filter((id) => this.#isGranted(principal, id)).map((id) => this.#parsed(id));
  }

  #isGranted(principal: Principal, entitlementId: string): boolean {
    return (this.#grants.get(entitlementId) ?? []).some(
      (target) =>
        target.issuer === principal.issuerId &&
        ('subject' in target ? target.subject === principal.subject : principal.groups.includes(target.group)),
    );
  }

  #parsed(entitlementId: string): Entitlement {
    const parsed = parseEntitlement(this.#definitions.get(entitlementId));
    if (!parsed.ok) throw new InternalError('entitlement_corrupt', { cause: new Error(parsed.problems.join('; ')) });
    return parsed.entitlement;
  }
}

/**
 * A replay table in memory, with the adapter's semantics (test/contracts/replay-cache.contract.ts): a key
 * is claimed once, and an expired claim keeps blocking its key until the expiry sweep (DynamoDB's TTL)
 * removes it. Can be told to fail.
 */
export class FakeReplayCache implements ReplayCache {
  readonly #claims = new Map<string, Date>();
  failure: Error | undefined;

  async claimOnce(key: string, expiresAt: Date): Promise<boolean> {
    if (this.failure) throw this.failure;
    if (this.#claims.has(key)) return false;
    this.#claims.set(key, new Date(expiresAt));
    return true;
  }

  /** The claimed keys and when each expires. */
  get claims(): ReadonlyMap<string, Date> {
    return this.#claims;
  }

  /** What the TTL sweep does: removes the claims that expired by `now`. */
  sweepExpired(now: Date): void {
    for (const [key, expiresAt] of this.#claims) if (expiresAt.getTime() <= now.getTime()) this.#claims.delete(key);
  }
}

export class FakeCredentialIssuer implements CredentialIssuer {
  readonly calls: AssumeRoleParameters[] = [];
  readonly webIdentityCalls: WebIdentityParameters[] = [];
  /** Calls of the other vending paths: a test of the assume-role path asserts this stays empty. */
  readonly otherPathCalls: string[] = [];
  failure: Error | undefined;

  async assumeRoleWithWebIdentity(parameters: WebIdentityParameters): Promise<IssuedCredentials> {
    this.otherPathCalls.push('AssumeRoleWithWebIdentity');
    this.webIdentityCalls.push(parameters);
    if (this.failure) throw this.failure;
    return this.#issued(parameters.roleSessionName);
  }

  async getFederationToken(_parameters: FederationTokenParameters): Promise<IssuedCredentials> {
    this.otherPathCalls.push('GetFederationToken');
    throw new Error('FakeCredentialIssuer: federation tokens are not faked here');
  }

  async assumeRole(parameters: AssumeRoleParameters): Promise<IssuedCredentials> {
    this.calls.push(parameters);
    if (this.failure) throw this.failure;
    return this.#issued(parameters.roleSessionName);
  }

  #issued(roleSessionName: string): IssuedCredentials {
    return {
      accessKeyId: 'ASIAFAKEFAKEFAKE0001',
      secretAccessKey: new Secret(FAKE_SECRET_ACCESS_KEY),
      sessionToken: new Secret(FAKE_SESSION_TOKEN),
      expiration: new Date('2026-11-23T10:15:00Z'),
      assumedRoleArn: `arn:aws:sts::111111111111:assumed-role/photo-uploads/${roleSessionName}`,
      assumedRoleId: 'AROAFAKE:session',
      packedPolicySize: 12,
      stsRequestId: 'sts-req-1',
    };
  }
}

/**
 * Signs for real, with an ES256 key made for this instance (the private half stays in it, as in KMS), and
 * publishes the public half, so what it signs verifies against what it publishes, as the KMS adapter's
 * tokens do (test/contracts/token-signer.contract.ts). Records the claims it signs; can be told to fail.
 */
export class FakeTokenSigner implements TokenSigner, PublicKeySet {
  readonly signed: Readonly<Record<string, unknown>>[] = [];
  failure: Error | undefined;
  readonly #keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  #publicJwk: Promise<PublicJwk> | undefined;

  async sign(claims: Readonly<Record<string, unknown>>): Promise<SignedToken> {
    if (this.failure) throw this.failure;
    this.signed.push(claims);
    const { kid } = await this.#jwk();
    const token = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).sign(this.#keys.privateKey);
    return { token: new Secret(token), keyId: kid };
  }

  async publicKeys(): Promise<readonly PublicJwk[]> {
    return [await this.#jwk()];
  }

  #jwk(): Promise<PublicJwk> {
    this.#publicJwk ??= (async () => {
      const { x, y } = this.#keys.publicKey.export({ format: 'jwk' });
      const members = { kty: 'EC' as const, crv: 'P-256' as const, x: String(x), y: String(y) };
      return { ...members, kid: await calculateJwkThumbprint(members, 'sha256'), alg: 'ES256' as const, use: 'sig' as const };
    })();
    return this.#publicJwk;
  }
}

export const fakeBrokerIssuer = (signer: TokenSigner = new FakeTokenSigner()) => ({
  settings: { issuer: 'https://keyvend.example.com', audience: 'sts.amazonaws.com', lifetimeSeconds: 300 },
  signer,
});

type AuditOperation = 'open' | 'close' | 'record' | 'countAnonymous';

const copyOf = (record: AuditRecord): AuditRecord => JSON.parse(JSON.stringify(record)) as AuditRecord;

/**
 * An audit table in memory, with the adapter's conditions (test/contracts/audit-log.contract.ts holds it
 * to them): `open` and `record` only if the event id is new, `close` only if the stored record is pending;
 * a failed condition throws an AuditConflictError carrying the stored record, as the adapter reads it back.
 */
export class FakeAuditLog implements AuditLog {
  /** The writes that committed, in order; deep copies, so later mutation of the record does not rewrite history. */
  readonly writes: { operation: AuditOperation; record: AuditRecord }[] = [];
  readonly failOn = new Set<AuditOperation>();
  /**
   * Operations whose write commits but whose response is lost: the SDK's retry then fails the write's
   * own condition, and the adapter reports an AuditConflictError carrying what is stored. `storedInstead`
   * makes the stored record another one (someone else's write won).
   */
  readonly responseLostOn = new Set<AuditOperation>();
  storedInstead: ((written: AuditRecord) => AuditRecord) | undefined;
  readonly #table = new Map<string, AuditRecord>();
  #loseNextResponse = false;

  async open(record: AuditRecord): Promise<void> {
    this.#write('open', record, (stored) => stored === undefined);
  }
  async close(record: AuditRecord): Promise<void> {
    this.#write('close', record, (stored) => stored?.outcome === 'pending');
  }
  async record(record: AuditRecord): Promise<void> {
    this.#write('record', record, (stored) => stored === undefined);
  }
  /** The refusals counted without a caller, in order; `aggregate` is what the table would hold per source and minute. */
  readonly anonymous: AnonymousRefusal[] = [];
  readonly #aggregates = new Map<string, AnonymousAggregate>();
  async countAnonymous(refusal: AnonymousRefusal): Promise<void> {
    if (this.failOn.has('countAnonymous')) throw new Error('audit countAnonymous failed');
    const eventId = anonymousAggregateKey(refusal);
    const before = this.#aggregates.get(eventId);
    this.#aggregates.set(eventId, {
      eventId,
      minute: minuteOf(refusal.time),
      source: refusal.source,
      requests: (before?.requests ?? 0) + 1,
      reasons: { ...before?.reasons, [refusal.reason]: (before?.reasons[refusal.reason] ?? 0) + 1 },
      actions: [...new Set([...(before?.actions ?? []), refusal.action])].sort(),
      firstSeen: before?.firstSeen ?? refusal.time,
      lastSeen: refusal.time,
    });
    this.anonymous.push({ ...refusal });
  }
  aggregate(eventId: string): AnonymousAggregate | undefined {
    return this.#aggregates.get(eventId);
  }

  get last(): AuditRecord | undefined {
    return this.writes.at(-1)?.record;
  }

  /** The record as stored under this event id, or undefined. */
  stored(eventId: string): AuditRecord | undefined {
    const stored = this.#table.get(eventId);
    return stored === undefined ? undefined : copyOf(stored);
  }

  /** The next write, whatever its operation, commits and then loses its response. */
  loseNextResponse(): void {
    this.#loseNextResponse = true;
  }

  #write(operation: AuditOperation, record: AuditRecord, condition: (stored: AuditRecord | undefined) => boolean): void {
    if (this.failOn.has(operation)) throw new Error(`audit ${operation} failed`);
    if (!condition(this.#table.get(record.eventId))) throw new AuditConflictError(this.stored(record.eventId));
    const lost = this.responseLostOn.has(operation) || this.#loseNextResponse;
    this.#loseNextResponse = false;
    const stored = copyOf(lost && this.storedInstead !== undefined ? this.storedInstead(record) : record);
    this.#table.set(record.eventId, stored);
    this.writes.push({ operation, record: copyOf(record) });
    // The retry of a committed write meets its own condition, and the adapter reads back what is stored.
    if (lost) throw new AuditConflictError(this.stored(record.eventId));
  }
}

export class FakeDecisionLog implements DecisionLog {
  readonly decisions: AuditRecord[] = [];
  readonly alarms: { event: string; record: AuditRecord; cause: unknown }[] = [];

  decision(record: AuditRecord): void {
    this.decisions.push(JSON.parse(JSON.stringify(record)) as AuditRecord);
  }
  alarm(event: string, record: AuditRecord, cause: unknown): void {
    this.alarms.push({ event, record: JSON.parse(JSON.stringify(record)) as AuditRecord, cause });
  }
}

export const fixedClock = (iso = '2026-11-23T09:30:00.000Z'): Clock => ({ now: () => new Date(iso) });
