import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type AuditQuery,
  auditView,
  decodePageToken,
  encodePageToken,
  eventIdBounds,
  indexFor,
  parseRangeAndLimit,
  partitionsFor,
  timeOfEventId,
} from '../../../src/domain/audit-query.ts';
import { newEventId } from '../../../src/domain/audit-record.ts';
import { durationCeiling } from '../../../src/domain/duration.ts';

const NOW = new Date('2026-11-29T16:00:00Z');
const query = (overrides: Partial<AuditQuery> = {}): AuditQuery => ({
  from: new Date('2026-11-27T10:00:00Z'),
  to: new Date('2026-11-29T12:00:00Z'),
  limit: 50,
  ...overrides,
});

describe('audit queries', () => {
  it('walks the narrowest index: a person, else an entitlement, else each day from newest to oldest', () => {
    // Act
    const indexes = [indexFor({ userKey: 'u', entitlementId: 'e' }), indexFor({ entitlementId: 'e' }), indexFor({})];

    // Assess
    expect(indexes).toEqual(['byUser', 'byEntitlement', 'byDay']);
    expect(partitionsFor(query())).toEqual(['2026-11-29', '2026-11-28', '2026-11-27']);
    expect(partitionsFor(query({ userKey: 'u' }))).toEqual(['u']);
  });

  it('bounds a time range by the smallest and largest UUIDv7 of its two milliseconds', () => {
    // Prepare
    const inside = newEventId(new Date('2026-11-28T00:00:00Z'), randomBytes(10));
    const atStart = newEventId(query().from, randomBytes(10));
    const atEnd = newEventId(query().to, randomBytes(10));
    const before = newEventId(new Date(query().from.getTime() - 1), randomBytes(10));
    const after = newEventId(new Date(query().to.getTime() + 1), randomBytes(10));

    // Act
    const { lowest, highest } = eventIdBounds(query().from, query().to);

    // Assess
    for (const id of [inside, atStart, atEnd]) expect(id >= lowest && id <= highest).toBe(true);
    for (const id of [before, after, 'anon#2026-11-28T10:00#1.2.3.4']) expect(id >= lowest && id <= highest).toBe(false);
    expect(timeOfEventId(inside).toISOString()).toBe('2026-11-28T00:00:00.000Z');
  });

  it('refuses a bad range or limit as invalid_request, reason bad_range', () => {
    // Act
    const refusals = [
      { from: '2026-11-29', to: '2026-11-28' },
      { from: 'yesterday' },
      { to: '2026-11-29T25:00:00Z' },
      { from: '2026-01-01', to: '2026-11-29' },
      { limit: '0' },
      { limit: '201' },
      { limit: '1e2' },
    ].map((parameters) => {
      try {
        parseRangeAndLimit(parameters, NOW, true);
        return 'accepted';
      } catch (error) {
        return `${(error as { code: string }).code}/${(error as { reason: string }).reason}`;
      }
    });

    // Assess
    expect(refusals).toEqual(Array(7).fill('invalid_request/bad_range'));
  });

  it('reads a date alone as its whole day, and defaults to the last 30 days', () => {
    // Act
    const day = parseRangeAndLimit({ from: '2026-11-28', to: '2026-11-28' }, NOW, true);
    const fallback = parseRangeAndLimit({}, NOW, false);

    // Assess
    expect([day.from.toISOString(), day.to.toISOString()]).toEqual(['2026-11-28T00:00:00.000Z', '2026-11-28T23:59:59.999Z']);
    expect(fallback).toEqual({ from: new Date('2026-10-30T16:00:00Z'), to: NOW, limit: 50 });
  });

  it('accepts its own page token back, and refuses one edited or carried over to another query', () => {
    // Prepare
    const after = newEventId(new Date('2026-11-28T08:00:00Z'), randomBytes(10));
    const token = encodePageToken({ partition: '2026-11-28', after });
    const edit = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

    // Act
    const cursor = decodePageToken(token, query());
    const refused = [
      token.slice(1),
      'x'.repeat(600),
      'not base64!',
      edit({ p: '2026-11-28', a: after, extra: 1 }),
      edit({ p: '2026-11-27', a: after }),
      edit({ p: '2026-12-01', a: after }),
      edit({ p: '2026-11-28', a: 'not-an-event-id' }),
    ].map((bad) => {
      try {
        decodePageToken(bad, query());
        return 'accepted';
      } catch (error) {
        return (error as { reason: string }).reason;
      }
    });
    const elsewhere = (() => {
      try {
        decodePageToken(token, query({ entitlementId: 'photo-uploads' }));
        return 'accepted';
      } catch (error) {
        return (error as { reason: string }).reason;
      }
    })();

    // Assess
    expect(cursor).toEqual({ partition: '2026-11-28', after });
    expect(refused).toEqual(Array(7).fill('bad_page_token'));
    expect(elsewhere).toBe('bad_page_token');
  });

  it('shows an admin the record sections only, never the index or expiry attributes', () => {
    // Act
    const view = auditView({
      eventId: 'e',
      time: 't',
      action: 'credentials',
      outcome: 'granted',
      userKey: 'u',
      day: 'd',
      entitlementId: 'x',
      expiresAt: 1,
      other: 'y',
    });

    // Assess
    expect(view).toEqual({ eventId: 'e', time: 't', action: 'credentials', outcome: 'granted' });
  });
});

describe('the duration ceiling', () => {
  it('names what caps a session: the entitlement, role chaining, or the vending path', () => {
    // Act
    const ceilings = [
      durationCeiling({ maxDurationSeconds: 3600, roleChaining: true, vending: 'keyvend-issuer' }),
      durationCeiling({ maxDurationSeconds: 7200, roleChaining: true, vending: 'assume-role' }),
      durationCeiling({ maxDurationSeconds: 129_600, roleChaining: false, vending: 'keyvend-issuer' }),
      durationCeiling({ maxDurationSeconds: 129_600, roleChaining: true, vending: 'federation-token' }),
    ];

    // Assess
    expect(ceilings.map((c) => [c.seconds, c.limitedBy])).toEqual([
      [3600, 'entitlement_max'],
      [3600, 'role_chaining'],
      [43_200, 'vending_path'],
      [129_600, 'entitlement_max'],
    ]);
  });
});
