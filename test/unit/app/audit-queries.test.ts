import { describe, expect, it } from 'vitest';
import { makeMyGrants, makeQueryAudit } from '../../../src/app/audit-queries.ts';
import type { AuditCursor, AuditQuery } from '../../../src/domain/audit-query.ts';
import { deriveUserKey } from '../../../src/domain/identifiers.ts';
import type { AuditPage, AuditReader } from '../../../src/ports/index.ts';
import { failure } from '../../support/use-cases.ts';
import { FakeAuditLog, FakeDecisionLog, FakeVerifier, fixedClock, principalFor } from '../fakes.ts';

/** A reader that records the queries it was asked and answers with the pages given. */
class RecordingReader implements AuditReader {
  readonly asked: { query: AuditQuery; cursor: AuditCursor | undefined }[] = [];
  constructor(private readonly pages: AuditPage[] = [{ items: [], next: undefined }]) {}
  async query(query: AuditQuery, cursor: AuditCursor | undefined): Promise<AuditPage> {
    this.asked.push({ query, cursor });
    return this.pages[this.asked.length - 1] ?? { items: [], next: undefined };
  }
}

const admin = principalFor({ subject: 'carol', groups: ['keyvend-admins'] });
const CONTEXT = { requestId: 'req-audit-1' };

function harness(caller = admin, reader = new RecordingReader()) {
  const audit = new FakeAuditLog();
  const query = makeQueryAudit({
    verifier: new FakeVerifier(caller),
    reader,
    audit,
    decisions: new FakeDecisionLog(),
    clock: fixedClock(),
    admins: [{ issuerId: 'corp', groups: ['keyvend-admins'] }],
    identityProviders: [{ id: 'corp', issuer: 'https://idp.example.com', idpType: 'oidc' }],
  });
  return { query, audit, reader };
}

describe('audit queries', () => {
  it('finds a person by issuer id and subject, as their userKey, and audits the query', async () => {
    // Prepare
    const { query, audit, reader } = harness();

    // Act
    await query({ authorization: 'Bearer t', parameters: { issuer: 'corp', subject: 'alice', outcome: 'granted' }, context: CONTEXT });

    // Assess
    expect(reader.asked[0]?.query).toMatchObject({ userKey: deriveUserKey('https://idp.example.com', 'alice'), outcome: 'granted' });
    expect(audit.last).toMatchObject({
      action: 'audit_query',
      outcome: 'granted',
      caller: { subject: 'carol' },
      query: { issuer: 'corp', subject: 'alice' },
    });
  });

  it('refuses a non-admin with forbidden, reads nothing, and audits the denial', async () => {
    // Prepare
    const { query, audit, reader } = harness(principalFor());

    // Act
    const error = await failure(query({ authorization: 'Bearer t', parameters: {}, context: CONTEXT }));

    // Assess
    expect(error).toMatchObject({ code: 'forbidden', reason: 'not_admin' });
    expect(reader.asked).toEqual([]);
    expect(audit.last).toMatchObject({ action: 'audit_query', outcome: 'denied', reason: 'not_admin' });
  });

  it('withholds the answer when its own audit record cannot be written', async () => {
    // Prepare
    const { query, audit } = harness();
    audit.failOn.add('record');

    // Act
    const error = await failure(query({ authorization: 'Bearer t', parameters: {}, context: CONTEXT }));

    // Assess
    expect(error).toMatchObject({ code: 'upstream_unavailable', reason: 'audit_unavailable' });
  });

  it('refuses filters that do not fit: user with issuer, issuer alone, an unknown issuer, a bad outcome', async () => {
    // Prepare
    const { query, audit } = harness();

    // Act
    const errors = await Promise.all(
      [
        { user: 'a'.repeat(26), issuer: 'corp', subject: 'x' },
        { issuer: 'corp' },
        { issuer: 'nope', subject: 'x' },
        { outcome: 'maybe' },
        { user: 'NOT-A-KEY' },
      ].map((parameters) => failure(query({ authorization: 'Bearer t', parameters, context: CONTEXT }))),
    );

    // Assess
    expect(errors.map((e) => e.code)).toEqual(Array(5).fill('invalid_request'));
    expect(audit.writes.map((w) => w.record.outcome)).toEqual(Array(5).fill('denied'));
  });
});

describe('my grants', () => {
  it('lists only granted records whose session has not expired, across pages', async () => {
    // Prepare
    const now = fixedClock().now();
    const grant = (eventId: string, expiresInMs: number, outcome = 'granted') => ({
      eventId,
      time: now.toISOString(),
      action: 'credentials',
      outcome,
      entitlement: { id: 'photo-uploads' },
      session: { accessKeyId: `ASIA${eventId}`, expiration: new Date(now.getTime() + expiresInMs).toISOString() },
    });
    const reader = new RecordingReader([
      { items: [grant('a', 60_000), grant('b', -1)], next: { partition: 'u', after: 'b' } },
      { items: [grant('c', 60_000, 'denied'), grant('d', 3_600_000)], next: undefined },
    ]);
    const mine = makeMyGrants({ verifier: new FakeVerifier(principalFor()), reader, clock: fixedClock() });

    // Act
    const live = await mine('Bearer t');

    // Assess
    expect(live.map((g) => g.grantId)).toEqual(['a', 'd']);
    expect(reader.asked[0]?.query).toMatchObject({ userKey: principalFor().userKey, outcome: 'granted' });
    expect(reader.asked[1]?.cursor).toEqual({ partition: 'u', after: 'b' });
  });
});
