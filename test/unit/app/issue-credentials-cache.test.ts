import { describe, expect, it } from 'vitest';
import { InMemoryCredentialCache } from '../../../src/adapters/memory/in-memory-credential-cache.ts';
import type { IssueCredentialsInput } from '../../../src/app/issue-credentials.ts';
import type { Entitlement } from '../../../src/domain/entitlement.ts';
import type { Principal } from '../../../src/domain/principal.ts';
import type { Clock } from '../../../src/ports/index.ts';
import { failure, issueCredentialsHarness } from '../../support/use-cases.ts';
import { Secret } from '../../../src/domain/secret.ts';
import { entitlementFor, principalFor } from '../fakes.ts';

const request = (overrides: Partial<IssueCredentialsInput> = {}): IssueCredentialsInput => ({
  caller: { kind: 'bearer', authorization: 'Bearer token' },
  entitlement: 'photo-uploads',
  durationSeconds: 3600,
  output: 'credentials',
  context: { requestId: 'req-1', sourceIp: '203.0.113.9' },
  ...overrides,
});

/** A clock the test moves; the fake STS's sessions expire at 10:15, 45 minutes after it starts. */
function movableClock(iso = '2026-11-23T09:30:00.000Z'): Clock & { at(iso: string): void } {
  let now = new Date(iso);
  return { now: () => new Date(now), at: (next) => (now = new Date(next)) };
}

/** The use case with a credential cache that serves sessions with at least 15 minutes left. */
function cachedHarness(options: { entitlements?: Entitlement[]; principal?: Principal } = {}) {
  const cache = new InMemoryCredentialCache({ minRemainingSeconds: 900, maxEntries: 100 });
  const clock = movableClock();
  const harness = issueCredentialsHarness(
    {
      ...(options.entitlements === undefined ? {} : { entitlements: options.entitlements }),
      ...(options.principal === undefined ? {} : { principal: options.principal }),
    },
    { cache, clock },
  );
  return { ...harness, cache, clock };
}

const granted = (writes: { operation: string; record: { outcome: string } }[]) => writes.filter((w) => w.record.outcome === 'granted');

describe('issueCredentials with a credential cache', () => {
  it('serves a repeated request from the session it minted, with no second STS call, and audits each serving', async () => {
    // Prepare
    const { issue, sts, audit, store } = cachedHarness();

    // Act
    const first = await issue(request());
    const second = await issue(request({ context: { requestId: 'req-2' } }));

    // Assess: one session, two requests, each read the entitlement and each has its own granted record
    expect(sts.calls).toHaveLength(1);
    expect(store.lookups).toEqual(['photo-uploads', 'photo-uploads']);
    expect(second.credentials.accessKeyId).toBe(first.credentials.accessKeyId);
    expect(second.credentials.secretAccessKey.reveal()).toBe(first.credentials.secretAccessKey.reveal());
    expect(second.grantId).not.toBe(first.grantId);
    const records = granted(audit.writes).map((w) => w.record as never as Record<string, any>);
    expect(records).toHaveLength(2);
    expect(records[0]?.['session']?.['reusedGrantId']).toBeUndefined();
    expect(records[1]).toMatchObject({
      eventId: second.grantId,
      outcome: 'granted',
      request: { requestId: 'req-2' },
      session: {
        reusedGrantId: first.grantId,
        accessKeyId: first.credentials.accessKeyId,
        roleSessionName: first.roleSessionName,
        expiration: first.credentials.expiration.toISOString(),
      },
    });
    // The reused session's own grant tag is the grant that minted it, which the record names.
    expect(records[1]?.['session']?.['tags']).toContainEqual({ Key: 'keyvend:grant', Value: first.grantId });
    expect(JSON.stringify(audit.writes)).not.toContain(first.credentials.secretAccessKey.reveal());
  });

  it('mints again once the kept session has less than the minimum life left', async () => {
    // Prepare: sessions expire at 10:15; 900 s must be left
    const { issue, sts, clock } = cachedHarness();
    const first = await issue(request());
    clock.at('2026-11-23T09:59:59.000Z');
    const withinMargin = await issue(request());

    // Act
    clock.at('2026-11-23T10:00:01.000Z');
    const pastMargin = await issue(request());

    // Assess
    expect(withinMargin.credentials.accessKeyId).toBe(first.credentials.accessKeyId);
    expect(pastMargin.credentials.accessKeyId).not.toBe(first.credentials.accessKeyId);
    expect(sts.calls).toHaveLength(2);
  });

  it('never shares a session between requests that differ in duration, policy, tags or entitlement version', async () => {
    // Prepare
    const { issue, sts, store, verifier } = cachedHarness();
    const base = await issue(request());

    // Act: another duration
    const otherDuration = await issue(request({ durationSeconds: 1800 }));
    // Act: another policy for the same entitlement (a new version of it)
    store.apply([
      {
        entitlement: entitlementFor({
          version: 4,
          sessionPolicy: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::uploads/{{userKey}}/*' }],
          },
        }),
        grants: [{ issuer: 'corp', group: 'uploaders' }],
      },
    ]);
    const otherPolicy = await issue(request());
    // Act: the same caller whose tag claim changed
    verifier.verifyBearer = async () => principalFor({ attributes: { department: 'finance' } });
    const otherTags = await issue(request());

    // Assess
    const keys = [base, otherDuration, otherPolicy, otherTags].map((g) => g.credentials.accessKeyId);
    expect(new Set(keys).size).toBe(4);
    expect(sts.calls).toHaveLength(4);
  });

  it('forgets a session whose grant the entitlement read reports revoked, and mints a new one', async () => {
    // Prepare
    const { issue, sts, store, cache } = cachedHarness();
    const first = await issue(request());
    const lookupGrant = store.lookupGrant.bind(store);
    store.lookupGrant = async (principal, id) => ({ ...(await lookupGrant(principal, id)), revokedGrantIds: [first.grantId] });

    // Act
    const second = await issue(request());

    // Assess
    expect(second.credentials.accessKeyId).not.toBe(first.credentials.accessKeyId);
    expect(sts.calls).toHaveLength(2);
    expect(cache.size).toBe(1);
  });

  it('forgets every session of a caller who is refused (revoked or no longer entitled)', async () => {
    // Prepare
    const { issue, sts, store, cache, audit } = cachedHarness();
    await issue(request());
    expect(cache.size).toBe(1);
    const lookupGrant = store.lookupGrant.bind(store);
    store.lookupGrant = async (principal, id) => ({
      ...(await lookupGrant(principal, id)),
      revoked: { kind: 'person', revocationId: 'revocation-of-alice' },
    });

    // Act
    const refused = await failure(issue(request()));

    // Assess
    expect(refused.reason).toBe('revoked');
    expect(cache.size).toBe(0);
    expect(sts.calls).toHaveLength(1);
    expect(audit.last).toMatchObject({ outcome: 'denied', reason: 'revoked' });
  });

  it('refuses a caller who lost the entitlement even though a session is kept for them', async () => {
    // Prepare
    const { issue, store, cache } = cachedHarness();
    await issue(request());
    store.apply([{ entitlement: entitlementFor(), grants: [] }]);

    // Act
    const refused = await failure(issue(request()));

    // Assess
    expect(refused.reason).toBe('no_matching_entitlement');
    expect(cache.size).toBe(0);
  });

  it('never serves one caller the session of another, under concurrent requests', async () => {
    // Prepare: two callers of the same group, each verified by their own token
    const alice = principalFor();
    const bob = principalFor({ subject: 'bob-0002' });
    const { issue, sts, verifier } = cachedHarness();
    const byToken = new Map([
      ['Bearer alice', alice],
      ['Bearer bob', bob],
    ]);
    verifier.verifyBearer = async (authorization) => byToken.get(authorization ?? '') ?? alice;
    const ask = (who: 'alice' | 'bob') => issue(request({ caller: { kind: 'bearer', authorization: `Bearer ${who}` } }));

    // Act: each asks once (both mint), then 20 interleaved requests at once
    const [firstAlice, firstBob] = await Promise.all([ask('alice'), ask('bob')]);
    const later = await Promise.all(Array.from({ length: 20 }, (_, i) => ask(i % 2 === 0 ? 'alice' : 'bob')));

    // Assess
    expect(sts.calls).toHaveLength(2);
    expect(firstAlice?.credentials.accessKeyId).not.toBe(firstBob?.credentials.accessKeyId);
    for (const grant of later) {
      const own = grant.principal.subject === alice.subject ? firstAlice : firstBob;
      expect(grant.credentials.accessKeyId).toBe(own?.credentials.accessKeyId);
      expect(grant.roleSessionName).toBe(own?.roleSessionName);
    }
  });

  it('does not reuse for a console sign-in', async () => {
    // Prepare
    const entitlement = entitlementFor({ outputs: ['credentials', 'console'] });
    const { issue, sts } = cachedHarness({ entitlements: [entitlement] });
    const delivery = { check: () => undefined, deliver: async () => new Secret('https://signin.example/federation?token') };

    // Act
    await issue(request({ output: 'console', delivery }));
    await issue(request({ output: 'console', delivery }));

    // Assess
    expect(sts.calls).toHaveLength(2);
  });

  it('keeps a session only once its grant is recorded', async () => {
    // Prepare
    const { issue, sts, audit, cache } = cachedHarness();
    audit.failOn.add('record');

    // Act
    await failure(issue(request()));
    audit.failOn.delete('record');
    await issue(request());

    // Assess: the withheld session was not kept, so the next request minted its own
    expect(sts.calls).toHaveLength(2);
    expect(cache.size).toBe(1);
  });
});

describe('InMemoryCredentialCache', () => {
  const session = (grantId: string, userKey = 'u1') => ({
    grantId,
    userKey,
    credentials: {
      accessKeyId: `ASIA${grantId}`,
      secretAccessKey: new Secret('secret'),
      sessionToken: new Secret('token'),
      expiration: new Date('2026-11-23T11:00:00Z'),
      assumedRoleArn: 'arn',
      assumedRoleId: 'id',
      packedPolicySize: undefined,
      stsRequestId: undefined,
    },
    session: {},
  });
  const now = new Date('2026-11-23T10:00:00Z');

  it('evicts the least recently used session beyond its bound', () => {
    // Prepare
    const cache = new InMemoryCredentialCache({ minRemainingSeconds: 60, maxEntries: 2 });
    cache.keep('a', session('g1'));
    cache.keep('b', session('g2'));
    cache.find('a', 'u1', now);

    // Act
    cache.keep('c', session('g3'));

    // Assess
    expect(cache.find('a', 'u1', now)?.grantId).toBe('g1');
    expect(cache.find('b', 'u1', now)).toBeUndefined();
    expect(cache.find('c', 'u1', now)?.grantId).toBe('g3');
  });

  it('returns nothing for a key kept for another caller', () => {
    // Prepare
    const cache = new InMemoryCredentialCache({ minRemainingSeconds: 60, maxEntries: 2 });
    cache.keep('a', session('g1', 'u1'));

    // Act
    const found = cache.find('a', 'u2', now);

    // Assess
    expect(found).toBeUndefined();
  });

  it('forgets by grant id and by caller', () => {
    // Prepare
    const cache = new InMemoryCredentialCache({ minRemainingSeconds: 60, maxEntries: 10 });
    cache.keep('a', session('g1', 'u1'));
    cache.keep('b', session('g2', 'u1'));
    cache.keep('c', session('g3', 'u2'));

    // Act
    cache.forgetGrants(['g1']);
    const afterGrant = cache.size;
    cache.forgetCaller('u1');

    // Assess
    expect(afterGrant).toBe(2);
    expect(cache.size).toBe(1);
    expect(cache.find('c', 'u2', now)?.grantId).toBe('g3');
  });
});
