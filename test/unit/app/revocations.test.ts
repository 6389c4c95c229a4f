import { describe, expect, it } from 'vitest';
import { makeRevocations } from '../../../src/app/revocations.ts';
import type { AuditRecord } from '../../../src/domain/audit-record.ts';
import { InvalidTokenError } from '../../../src/domain/errors.ts';
import { CLOCK_SKEW_SECONDS } from '../../../src/domain/revocation.ts';
import { failure } from '../../support/use-cases.ts';
import {
  FakeAuditLog,
  FakeAuditReader,
  FakeDecisionLog,
  FakeEntitlementStore,
  FakeLiveSessionRevoker,
  FakeVerifier,
  fixedClock,
  principalFor,
} from '../fakes.ts';

const CAROL = principalFor({ subject: 'carol', groups: ['keyvend-admins'] });
const ALICE = principalFor({ subject: 'alice', groups: ['uploaders'] });
const CONTEXT = { requestId: 'req-1', sourceIp: '192.0.2.1' };
const admin = { kind: 'bearer' as const, authorization: 'Bearer carol' };

function harness(options: { caller?: ReturnType<typeof principalFor> | Error } = {}) {
  const store = new FakeEntitlementStore();
  const audit = new FakeAuditLog();
  const auditReader = new FakeAuditReader(audit);
  const liveSessions = new FakeLiveSessionRevoker();
  const log = new FakeDecisionLog();
  const revocations = makeRevocations({
    verifier: new FakeVerifier(options.caller ?? CAROL),
    admins: [{ issuerId: 'corp', groups: ['keyvend-admins'] }],
    issuerNames: new Map([['corp', 'https://idp.example.com']]),
    revocations: store,
    auditReader,
    liveSessions,
    audit,
    log,
    clock: fixedClock(),
    inFlightSeconds: 10,
  });
  return { revocations, store, audit, liveSessions, log };
}

/** A grant record of alice's, as the credentials use case writes it. */
function aliceGrant(eventId: string): AuditRecord {
  return {
    eventId,
    time: '2026-11-23T09:00:00.000Z',
    action: 'credentials',
    outcome: 'granted',
    request: { requestId: 'r0' },
    caller: {
      idpType: 'oidc',
      issuerId: ALICE.issuerId,
      issuer: ALICE.issuer,
      subject: ALICE.subject,
      userKey: ALICE.userKey,
      groups: ALICE.groups,
      tokenIssuedAt: 1,
      tokenExpiresAt: 2,
      tokenRef: 'sha256:x',
    },
    entitlement: { id: 'photo-uploads', version: 3 },
    session: { accessKeyId: 'ASIAALICE', expiration: '2026-11-23T10:00:00.000Z' },
  };
}
const GRANT_ID = '019ab000-0000-7000-8000-000000000001';

const revokeAlice = { kind: 'person', issuer: 'corp', subject: 'alice', reason: 'left the team' };

describe('revoke', () => {
  it('revokes a person the audit trail has seen: stored, written to the policies from the full state, audited as allowed', async () => {
    // Prepare
    const { revocations, store, audit, liveSessions } = harness();
    await audit.record(aliceGrant(GRANT_ID));

    // Act
    const result = await revocations.revoke({ caller: admin, context: CONTEXT, body: revokeAlice });

    // Assess
    expect(result).toMatchObject({
      created: true,
      revocation: {
        target: { kind: 'person', issuerId: 'corp', subject: 'alice', userKey: ALICE.userKey },
        reason: 'left the team',
        revokedAt: '2026-11-23T09:30:00.000Z',
        revokedBy: { issuerId: 'corp', subject: 'carol' },
      },
      liveSessions: { mode: 'per-session', accounts: ['111111111111'] },
    });
    expect((await store.lookupGrant(ALICE, 'photo-uploads')).revoked).toEqual({ kind: 'person', revocationId: result.revocation.id });
    expect(liveSessions.lastIds).toEqual([result.revocation.id]);
    expect((await store.state()).enforcedGeneration).toBe(1);
    expect(audit.last).toMatchObject({
      action: 'revoke',
      outcome: 'granted',
      caller: { subject: 'carol' },
      revocation: { id: result.revocation.id, kind: 'person', reason: 'left the team', created: true, target: { subject: 'alice' } },
    });
  });

  it('revokes one grant: its person comes from the grant record, its live-session entry lasts until that session expires', async () => {
    // Prepare
    const { revocations, store, audit } = harness();
    await audit.record(aliceGrant(GRANT_ID));

    // Act
    const result = await revocations.revoke({
      caller: admin,
      context: CONTEXT,
      body: { kind: 'grant', grantId: GRANT_ID, reason: 'leaked' },
    });

    // Assess
    expect(result.revocation.target).toEqual({
      kind: 'grant',
      grantId: GRANT_ID,
      issuerId: 'corp',
      subject: 'alice',
      userKey: ALICE.userKey,
      entitlementId: 'photo-uploads',
    });
    expect(result.revocation.liveSessionsUntil).toBe(
      new Date(Date.parse('2026-11-23T10:00:00.000Z') + CLOCK_SKEW_SECONDS * 1000).toISOString(),
    );
    expect((await store.lookupGrant(ALICE, 'photo-uploads')).revokedGrantIds).toEqual([GRANT_ID]);
  });

  it('revokes a defined entitlement', async () => {
    // Prepare
    const { revocations, store } = harness();

    // Act
    await revocations.revoke({
      caller: admin,
      context: CONTEXT,
      body: { kind: 'entitlement', entitlement: 'photo-uploads', reason: 'incident' },
    });

    // Assess
    expect((await store.lookupGrant(ALICE, 'photo-uploads')).revoked?.kind).toBe('entitlement');
  });

  it('answers the revocation in force when the target is already revoked, writing nothing new', async () => {
    // Prepare
    const { revocations, store, audit } = harness();
    await audit.record(aliceGrant(GRANT_ID));
    const first = await revocations.revoke({ caller: admin, context: CONTEXT, body: revokeAlice });

    // Act
    const second = await revocations.revoke({ caller: admin, context: CONTEXT, body: { ...revokeAlice, reason: 'again' } });

    // Assess
    expect(second).toMatchObject({ created: false, revocation: first.revocation });
    expect(store.revocationWrites).toHaveLength(1);
    expect(audit.last?.revocation).toMatchObject({ created: false, id: first.revocation.id });
  });

  it.each([
    ['a person never granted nor seen', { kind: 'person', issuer: 'corp', subject: 'nobody', reason: 'x' }, 'unknown_person'],
    [
      'a person of an identity provider that is not configured',
      { kind: 'person', issuer: 'elsewhere', subject: 'alice', reason: 'x' },
      'unknown_issuer',
    ],
    [
      'a grant id the audit trail does not hold',
      { kind: 'grant', grantId: '019ab000-0000-7000-8000-00000000dead', reason: 'x' },
      'unknown_grant',
    ],
    ['an entitlement that is not defined', { kind: 'entitlement', entitlement: 'no-such-thing', reason: 'x' }, 'unknown_entitlement'],
  ])('refuses %s with 404, writes nothing, and audits the refusal', async (_name, body, reason) => {
    // Prepare
    const { revocations, store, audit, liveSessions } = harness();

    // Act
    const error = await failure(revocations.revoke({ caller: admin, context: CONTEXT, body }));

    // Assess
    expect(error).toMatchObject({ code: 'not_found', httpStatus: 404, reason });
    expect(store.revocationWrites).toEqual([]);
    expect(liveSessions.calls).toEqual([]);
    expect(audit.last).toMatchObject({ action: 'revoke', outcome: 'denied', reason, errorCode: 'not_found', caller: { subject: 'carol' } });
  });

  it('refuses a grant id whose record is a denial: no session was issued under it', async () => {
    // Prepare
    const { revocations, store, audit } = harness();
    await audit.record({ ...aliceGrant(GRANT_ID), outcome: 'denied', reason: 'revoked' });

    // Act
    const error = await failure(
      revocations.revoke({ caller: admin, context: CONTEXT, body: { kind: 'grant', grantId: GRANT_ID, reason: 'x' } }),
    );

    // Assess
    expect(error).toMatchObject({ code: 'not_found', reason: 'unknown_grant' });
    expect(store.revocationWrites).toEqual([]);
  });

  it.each([
    ['no reason', { kind: 'person', issuer: 'corp', subject: 'alice' }],
    ['an empty reason', { ...revokeAlice, reason: '   ' }],
    ['a reason over two lines', { ...revokeAlice, reason: 'a\nb' }],
    ['an unknown kind', { kind: 'role', reason: 'x' }],
    ['an unknown field', { ...revokeAlice, policy: '*' }],
    ['a grant id that is not a Keyvend id', { kind: 'grant', grantId: '../x', reason: 'x' }],
    ['a body that is not an object', 'alice'],
  ])('refuses %s with 400, writes nothing, and audits it', async (_name, body) => {
    // Prepare
    const { revocations, store, audit } = harness();

    // Act
    const error = await failure(revocations.revoke({ caller: admin, context: CONTEXT, body }));

    // Assess
    expect(error).toMatchObject({ code: 'invalid_request', httpStatus: 400, reason: 'invalid_revocation' });
    expect(store.revocationWrites).toEqual([]);
    expect(audit.last).toMatchObject({ outcome: 'denied', reason: 'invalid_revocation' });
  });

  it('refuses a non-admin with 403 forbidden before reading the body, and audits the denial with the caller', async () => {
    // Prepare
    const { revocations, store, audit, liveSessions } = harness({ caller: ALICE });

    // Act
    const error = await failure(
      revocations.revoke({ caller: admin, context: CONTEXT, body: { kind: 'entitlement', entitlement: 'photo-uploads', reason: 'x' } }),
    );

    // Assess
    expect(error).toMatchObject({ code: 'forbidden', httpStatus: 403, reason: 'not_admin' });
    expect(store.revocationWrites).toEqual([]);
    expect(liveSessions.calls).toEqual([]);
    expect(audit.last).toMatchObject({ action: 'revoke', outcome: 'denied', reason: 'not_admin', caller: { subject: 'alice' } });
  });

  it('refuses an admin group of another identity provider (groups mean nothing outside their IdP)', async () => {
    // Prepare
    const { revocations } = harness({ caller: principalFor({ issuerId: 'partner', subject: 'carol', groups: ['keyvend-admins'] }) });

    // Act
    const error = await failure(revocations.list({ caller: admin, context: CONTEXT }));

    // Assess
    expect(error).toMatchObject({ code: 'forbidden' });
  });

  it('refuses a caller whose token does not verify with 401, counted in the anonymous aggregate of its source', async () => {
    // Prepare
    const { revocations, audit } = harness({ caller: new InvalidTokenError('token_expired') });
    const writesBefore = audit.writes.length;

    // Act
    const error = await failure(revocations.revoke({ caller: admin, context: CONTEXT, body: revokeAlice }));

    // Assess: no item of its own (one aggregate per source and minute), nothing revoked
    expect(error).toMatchObject({ code: 'invalid_token', reason: 'token_expired' });
    expect(audit.writes).toHaveLength(writesBefore);
    expect(audit.anonymous.at(-1)).toMatchObject({ action: 'revoke', reason: 'token_expired' });
  });

  it('loses no revocation when another lands while the policy is being written: it renders again from the full state', async () => {
    // Prepare
    const { revocations, store, audit, liveSessions } = harness();
    await audit.record(aliceGrant(GRANT_ID));
    let concurrent = '';
    liveSessions.beforeWrite = async () => {
      // Another admin's revocation commits after this call read the state, before its policy write.
      const other = await store.add({
        id: '019ab000-0000-7000-8000-0000000000aa',
        target: { kind: 'entitlement', entitlementId: 'photo-uploads' },
        reason: 'other admin',
        revokedAt: '2026-11-23T09:30:00.000Z',
        revokedBy: { issuerId: 'corp', subject: 'dave' },
        liveSessionsUntil: '2026-11-23T22:00:00.000Z',
      });
      concurrent = other.revocation.id;
    };

    // Act
    const result = await revocations.revoke({ caller: admin, context: CONTEXT, body: revokeAlice });

    // Assess
    expect(liveSessions.calls).toHaveLength(2);
    expect(liveSessions.lastIds.sort()).toEqual([concurrent, result.revocation.id].sort());
    expect((await store.state()).enforcedGeneration).toBe(2);
  });

  it('keeps the revocation when the policy cannot be written: 503, audited as done with live sessions failed; repeating finishes it', async () => {
    // Prepare
    const { revocations, store, audit, liveSessions } = harness();
    await audit.record(aliceGrant(GRANT_ID));
    liveSessions.failures = 1;

    // Act
    const error = await failure(revocations.revoke({ caller: admin, context: CONTEXT, body: revokeAlice }));
    const failedRecord = audit.last;
    const retry = await revocations.revoke({ caller: admin, context: CONTEXT, body: revokeAlice });

    // Assess
    expect(error).toMatchObject({ code: 'upstream_unavailable', httpStatus: 503, reason: 'revocation_policy_unavailable' });
    expect(failedRecord).toMatchObject({ outcome: 'granted', revocation: { created: true, liveSessions: 'failed' } });
    expect(retry.created).toBe(false);
    expect(liveSessions.lastIds).toEqual([retry.revocation.id]);
    expect((await store.state()).enforcedGeneration).toBe((await store.state()).generation);
  });
});

describe('unrevoke and list', () => {
  it('un-revokes explicitly with a reason: removed, the policy rewritten without it, audited', async () => {
    // Prepare
    const { revocations, store, audit, liveSessions } = harness();
    await audit.record(aliceGrant(GRANT_ID));
    const { revocation } = await revocations.revoke({ caller: admin, context: CONTEXT, body: revokeAlice });

    // Act
    const result = await revocations.unrevoke({ caller: admin, context: CONTEXT, id: revocation.id, reason: 'back from leave' });

    // Assess
    expect(result.revocation).toEqual(revocation);
    expect((await store.lookupGrant(ALICE, 'photo-uploads')).revoked).toBeUndefined();
    expect(liveSessions.lastIds).toEqual([]);
    expect(audit.last).toMatchObject({
      action: 'unrevoke',
      outcome: 'granted',
      revocation: { id: revocation.id, kind: 'person', reason: 'back from leave', target: { subject: 'alice' } },
    });
  });

  it.each([
    ['an id that names no revocation', '019ab000-0000-7000-8000-0000000000ff', 'x', 'not_found', 'unknown_revocation'],
    ['no reason', '019ab000-0000-7000-8000-0000000000ff', undefined, 'invalid_request', 'invalid_unrevoke'],
    ['an id that is not a Keyvend id', 'REV#1', 'x', 'invalid_request', 'invalid_unrevoke'],
  ])('refuses %s, writes nothing, and audits it', async (_name, id, reason, code, auditReason) => {
    // Prepare
    const { revocations, store, audit, liveSessions } = harness();

    // Act
    const error = await failure(revocations.unrevoke({ caller: admin, context: CONTEXT, id, reason }));

    // Assess
    expect(error).toMatchObject({ code, reason: auditReason });
    expect(store.revocationWrites).toEqual([]);
    expect(liveSessions.calls).toEqual([]);
    expect(audit.last).toMatchObject({ action: 'unrevoke', outcome: 'denied', reason: auditReason });
  });

  it('lists the revocations in force, newest first, with whether their live-session deny still stands; audited', async () => {
    // Prepare
    const { revocations, audit } = harness();
    await audit.record(aliceGrant(GRANT_ID));
    await revocations.revoke({ caller: admin, context: CONTEXT, body: revokeAlice });

    // Act
    const listed = await revocations.list({ caller: admin, context: CONTEXT });

    // Assess
    expect(listed.policyInSync).toBe(true);
    expect(listed.revocations).toEqual([expect.objectContaining({ reason: 'left the team', liveSessionDeny: true })]);
    expect(audit.last).toMatchObject({ action: 'revocations_list', outcome: 'granted', revocation: { count: 1 } });
    expect(JSON.stringify(listed)).not.toMatch(/sessionToken|secret|ASIA/i);
  });

  it('refuses the list to a non-admin with 403, audited', async () => {
    // Prepare
    const { revocations, audit } = harness({ caller: ALICE });

    // Act
    const error = await failure(revocations.list({ caller: admin, context: CONTEXT }));

    // Assess
    expect(error).toMatchObject({ code: 'forbidden', httpStatus: 403 });
    expect(audit.last).toMatchObject({ action: 'revocations_list', outcome: 'denied', reason: 'not_admin' });
  });
});
