import { describe, expect, it } from 'vitest';
import { anonymousAggregateKey, anonymousRefusalOf, minuteOf } from '../../../src/domain/anonymous-refusal.ts';
import type { AuditRecord } from '../../../src/domain/audit-record.ts';

const denial = (overrides: Partial<AuditRecord> = {}): AuditRecord => ({
  eventId: '019ad0f0-0000-7000-8000-000000000000',
  time: '2026-11-29T23:59:59.999Z',
  action: 'credentials',
  outcome: 'denied',
  reason: 'bad_signature',
  errorCode: 'invalid_token',
  request: { requestId: 'r-1', sourceIp: '198.51.100.7' },
  ...overrides,
});

describe('anonymous refusals: one aggregate per source and minute', () => {
  it('keys the aggregate by the UTC minute and the source address', () => {
    // Act
    const refusal = anonymousRefusalOf(denial());

    // Assess
    expect(refusal).toEqual({
      time: '2026-11-29T23:59:59.999Z',
      action: 'credentials',
      source: '198.51.100.7',
      reason: 'bad_signature',
      errorCode: 'invalid_token',
    });
    expect(anonymousAggregateKey(refusal)).toBe('anon#2026-11-29T23:59#198.51.100.7');
    expect(anonymousAggregateKey({ time: '2026-11-30T00:00:00.000Z', source: '2001:db8::1' })).toBe('anon#2026-11-30T00:00#2001:db8::1');
    expect(minuteOf('2026-11-29T10:15:00+02:00')).toBe('2026-11-29T08:15');
  });

  it.each([
    ['no source address', undefined, 'unknown'],
    ['a source that is not an address', '198.51.100.7#anon#x', 'unknown'],
    ['an overlong source', 'a'.repeat(46), 'unknown'],
  ])('puts "unknown" in the key for %s', (_name, sourceIp, expected) => {
    // Act
    const refusal = anonymousRefusalOf(denial({ request: { requestId: 'r-1', ...(sourceIp === undefined ? {} : { sourceIp }) } }));

    // Assess
    expect(refusal.source).toBe(expected);
  });

  it('counts a reason outside the reason grammar, or none, as "other", and a missing code as "unknown"', () => {
    // Prepare
    const { reason: _reason, errorCode: _code, ...bare } = denial();

    // Act
    const odd = anonymousRefusalOf(denial({ reason: 'Reason With Spaces' }));
    const none = anonymousRefusalOf(bare);

    // Assess
    expect(odd.reason).toBe('other');
    expect(none).toMatchObject({ reason: 'other', errorCode: 'unknown' });
  });
});
