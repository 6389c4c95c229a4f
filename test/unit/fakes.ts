import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, SignJWT } from 'jose';
import { type AnonymousAggregate, type AnonymousRefusal, anonymousAggregateKey, minuteOf } from '../../src/domain/anonymous-refusal.ts';
import { type AuditRecord, AuditConflictError, newEventId } from '../../src/domain/audit-record.ts';
import { type Entitlement, type GrantTarget, parseEntitlement } from '../../src/domain/entitlement.ts';
import { InternalError, UpstreamUnavailableError } from '../../src/domain/errors.ts';
import {
  liveSessionsUntil,
  parseStoredRevocation,
  type Revocation,
  type RevocationTarget,
  sameTarget,
} from '../../src/domain/revocation.ts';
import { deriveUserKey } from '../../src/domain/identifiers.ts';
import type { Principal } from '../../src/domain/principal.ts';
import { Secret } from '../../src/domain/secret.ts';
import type {
  AssumeRoleParameters,
  AuditLog,
  AuditRecordLookup,
  Clock,
  CredentialIssuer,
  DecisionLog,
  EntitlementStore,
  FederationTokenParameters,
  GrantLookup,
  GrantMatch,
  RevocationState,
  RevocationStore,
  IdentityVerifier,
  IssuedCredentials,
  LiveSessionEnforcement,
  LiveSessionRevoker,
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
 * It holds the revocations too (RevocationStore), as the adapter's table does, and the same read sees them.
 * Can be told to fail.
 */
export class FakeEntitlementStore implements EntitlementStore, RevocationStore {
  readonly lookups: string[] = [];
  failure: Error | undefined;
  /** As stored, not as parsed: the read parses, as the adapter does. */
  readonly #definitions = new Map<string, unknown>();
  readonly #grants = new Map<string, readonly GrantTarget[]>();
  /** As stored (JSON), parsed on read like the adapter's items. */
  readonly #revocations = new Map<string, unknown>();
  #generation = 0;
  #enforcedGeneration = 0;
  /** Writes that changed revocations (a test asserts "nothing written"). */
  readonly revocationWrites: string[] = [];

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

  async lookupGrant(principal: Principal, entitlementId: string): Promise<GrantLookup> {
    this.lookups.push(entitlementId);
    if (this.failure) throw this.failure;
    const definition = this.#definitions.has(entitlementId) ? this.#parsed(entitlementId) : undefined;
    const grantedBy = definition === undefined ? [] : this.#grantedBy(principal, entitlementId);
    const entitlement = grantedBy.length === 0 ? undefined : definition;
    const inForce = this.#stored();
    const person = inForce.find(
      (r) => r.target.kind === 'person' && r.target.issuerId === principal.issuerId && r.target.subject === principal.subject,
    );
    const ofEntitlement = inForce.find((r) => r.target.kind === 'entitlement' && r.target.entitlementId === entitlementId);
    const revoked =
      person !== undefined
        ? { kind: 'person' as const, revocationId: person.id }
        : ofEntitlement !== undefined
          ? { kind: 'entitlement' as const, revocationId: ofEntitlement.id }
          : undefined;
    const revokedGrantIds = inForce
      .flatMap((r) =>
        r.target.kind === 'grant' && r.target.issuerId === principal.issuerId && r.target.subject === principal.subject
          ? [r.target.grantId]
          : [],
      )
      .sort();
    return { entitlement, definition, grantedBy, revoked, revokedGrantIds };
  }

  async findGranted(principal: Principal, entitlementId: string): Promise<Entitlement | undefined> {
    const lookup = await this.lookupGrant(principal, entitlementId);
    return lookup.revoked === undefined ? lookup.entitlement : undefined;
  }

  async add(revocation: Revocation): Promise<{ revocation: Revocation; created: boolean }> {
    if (this.failure) throw this.failure;
    const existing = this.#stored().find((r) => sameTarget(r.target, revocation.target));
    if (existing !== undefined) return { revocation: existing, created: false };
    this.#revocations.set(revocation.id, JSON.parse(JSON.stringify(revocation)));
    this.#generation += 1;
    this.revocationWrites.push(`add ${revocation.id}`);
    return { revocation, created: true };
  }

  async remove(id: string): Promise<Revocation | undefined> {
    if (this.failure) throw this.failure;
    const revocation = await this.get(id);
    if (revocation === undefined) return undefined;
    this.#revocations.delete(id);
    this.#generation += 1;
    this.revocationWrites.push(`remove ${id}`);
    return revocation;
  }

  async get(id: string): Promise<Revocation | undefined> {
    if (this.failure) throw this.failure;
    return this.#revocations.has(id) ? checkedRevocation(this.#revocations.get(id)) : undefined;
  }

  async state(): Promise<RevocationState> {
    if (this.failure) throw this.failure;
    return { revocations: this.#stored(), generation: this.#generation, enforcedGeneration: this.#enforcedGeneration };
  }

  async generation(): Promise<number> {
    if (this.failure) throw this.failure;
    return this.#generation;
  }

  async markEnforced(generation: number): Promise<void> {
    if (this.failure) throw this.failure;
    this.#enforcedGeneration = Math.max(this.#enforcedGeneration, generation);
  }

  async hasSubjectGrants(issuerId: string, subject: string): Promise<boolean> {
    if (this.failure) throw this.failure;
    return [...this.#grants.values()].some((targets) =>
      targets.some((t) => t.issuer === issuerId && 'subject' in t && t.subject === subject),
    );
  }

  async entitlementExists(entitlementId: string): Promise<boolean> {
    if (this.failure) throw this.failure;
    return this.#definitions.has(entitlementId);
  }

  /** Replaces a stored revocation with anything, as a corrupted or hand-edited item would be. */
  storeRevocation(id: string, value: unknown): void {
    this.#revocations.set(id, value);
  }

  #stored(): Revocation[] {
    return [...this.#revocations.values()].map(checkedRevocation);
  }

  /** The grants that reach the principal, in the adapter's order: its subject, then its groups as the principal lists them. */
  #grantedBy(principal: Principal, entitlementId: string): GrantMatch[] {
    const targets = (this.#grants.get(entitlementId) ?? []).filter((target) => target.issuer === principal.issuerId);
    return [
      ...(targets.some((t) => 'subject' in t && t.subject === principal.subject) ? [{ subject: principal.subject }] : []),
      ...principal.groups.filter((group) => targets.some((t) => 'group' in t && t.group === group)).map((group) => ({ group })),
    ];
  }

  async listGranted(principal: Principal): Promise<Entitlement[]> {
    if (this.failure) throw this.failure;
    return [...this.#definitions.keys()].filter((id) => this.#isGranted(principal, id)).map((id) => this.#parsed(id));
  }

  #isGranted(principal: Principal, entitlementId: string): boolean {
    return this.#grantedBy(principal, entitlementId).length > 0;
  }

  #parsed(entitlementId: string): Entitlement {
    const parsed = parseEntitlement(this.#definitions.get(entitlementId));
    if (!parsed.ok) throw new InternalError('entitlement_corrupt', { cause: new Error(parsed.problems.join('; ')) });
    return parsed.entitlement;
  }
}

function checkedRevocation(value: unknown): Revocation {
  const revocation = parseStoredRevocation(value);
  if (revocation === undefined) throw new InternalError('revocation_corrupt');
  return revocation;
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

  #minted = 0;

  /** Each session its own AccessKeyId (…0001, …0002), so a test can tell a reused session from a new one. */
  #issued(roleSessionName: string): IssuedCredentials {
    this.#minted += 1;
    return {
      accessKeyId: `ASIAFAKEFAKEFAKE${String(this.#minted).padStart(4, '0')}`,
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

/** The port's operations; the fake keeps the names so that tests say which write failed or committed. */
type AuditOperation = 'record' | 'countAnonymous';

const copyOf = (record: AuditRecord): AuditRecord => JSON.parse(JSON.stringify(record)) as AuditRecord;

/**
 * An audit table in memory, with the adapter's condition (test/contracts/audit-log.contract.ts holds it
 * to it): `record` only if the event id is new, and never an undecided (pending) record; a failed condition
 * throws an AuditConflictError carrying the stored record, as the adapter reads it back.
 */
export class FakeAuditLog implements AuditLog {
  /** The writes that committed, in order; deep copies, so later mutation of the record does not rewrite history. */
  readonly writes: { operation: AuditOperation; record: AuditRecord }[] = [];
  readonly failOn = new Set<AuditOperation>();
  /**
   * Writes that commit but whose response is lost: the SDK's retry then fails the write's own condition, and
   * the adapter reports an AuditConflictError carrying what is stored. `storedInstead` makes the stored record
   * another one (someone else's write won).
   */
  readonly responseLostOn = new Set<AuditOperation>();
  storedInstead: ((written: AuditRecord) => AuditRecord) | undefined;
  readonly #table = new Map<string, AuditRecord>();
  #loseNextResponse = false;

  async record(record: AuditRecord): Promise<void> {
    if (this.failOn.has('record')) throw new Error('audit record failed');
    if (record.outcome === 'pending') throw new Error('an undecided audit record is never stored');
    if (this.#table.has(record.eventId)) throw new AuditConflictError(this.stored(record.eventId));
    const lost = this.responseLostOn.has('record') || this.#loseNextResponse;
    this.#loseNextResponse = false;
    const stored = copyOf(lost && this.storedInstead !== undefined ? this.storedInstead(record) : record);
    this.#table.set(record.eventId, stored);
    this.writes.push({ operation: 'record', record: copyOf(record) });
    // The retry of a committed write meets its own condition, and the adapter reads back what is stored.
    if (lost) throw new AuditConflictError(this.stored(record.eventId));
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

  /** The next write commits and then loses its response. */
  loseNextResponse(): void {
    this.#loseNextResponse = true;
  }
}

/** The audit reads of admin actions, over a FakeAuditLog's table (what the adapter's GetItem and byUser query see). */
export class FakeAuditReader implements AuditRecordLookup {
  failure: Error | undefined;
  constructor(private readonly log: FakeAuditLog) {}

  async get(eventId: string): Promise<AuditRecord | undefined> {
    if (this.failure) throw this.failure;
    return this.log.stored(eventId);
  }

  async hasRecordsFor(userKey: string): Promise<boolean> {
    if (this.failure) throw this.failure;
    return this.log.writes.some((w) => w.record.caller?.userKey === userKey);
  }
}

/** A revocation of `target`, made at `now` by a test admin. */
export function revocationFor(target: RevocationTarget, now = new Date()): Revocation {
  return {
    id: newEventId(now, randomBytes(10)),
    target,
    reason: 'test revocation',
    revokedAt: now.toISOString(),
    revokedBy: { issuerId: 'corp', subject: 'carol' },
    liveSessionsUntil: liveSessionsUntil(now, { inFlightSeconds: 10 }),
  };
}

export class FakeDecisionLog implements DecisionLog {
  readonly decisions: AuditRecord[] = [];
  readonly alarms: { event: string; record: AuditRecord; cause: unknown }[] = [];
  readonly attempts: AuditRecord[] = [];

  decision(record: AuditRecord): void {
    this.decisions.push(JSON.parse(JSON.stringify(record)) as AuditRecord);
  }
  attempt(record: AuditRecord): void {
    this.attempts.push(JSON.parse(JSON.stringify(record)) as AuditRecord);
  }
  alarm(event: string, record: AuditRecord, cause: unknown): void {
    this.alarms.push({ event, record: JSON.parse(JSON.stringify(record)) as AuditRecord, cause });
  }
}

export const fixedClock = (iso = '2026-11-23T09:30:00.000Z'): Clock => ({ now: () => new Date(iso) });

/**
 * The member accounts' revocation policies in memory: each `enforce` keeps the full state it was given, as the IAM
 * adapter renders it. `beforeWrite` runs inside a call (to land a concurrent change); `failures` fail the next calls.
 */
export class FakeLiveSessionRevoker implements LiveSessionRevoker {
  readonly calls: { revocations: Revocation[]; now: Date }[] = [];
  failures = 0;
  beforeWrite: (() => Promise<void>) | undefined;

  async enforce(revocations: readonly Revocation[], now: Date): Promise<LiveSessionEnforcement> {
    const hook = this.beforeWrite;
    this.beforeWrite = undefined;
    if (hook !== undefined) await hook();
    if (this.failures > 0) {
      this.failures -= 1;
      throw new UpstreamUnavailableError('revocation_policy_unavailable');
    }
    this.calls.push({ revocations: [...revocations], now });
    return { mode: 'per-session', accounts: ['111111111111'] };
  }

  /** The ids the last policy written holds. */
  get lastIds(): string[] {
    return (this.calls.at(-1)?.revocations ?? []).map((r) => r.id);
  }
}
