import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type AuditRecord, isSameDecision, newEventId } from '../../../src/domain/audit-record.ts';
import { Secret } from '../../../src/domain/secret.ts';

describe('Secret', () => {
  it('never prints its value through JSON, strings, templates or util.inspect, but reveals it on request', () => {
    // Prepare
    const secret = new Secret('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    const holder = { nested: { secret }, list: [secret] };

    // Act
    const renderings = [JSON.stringify(holder), String(secret), `${secret}`, inspect(holder, { depth: 5 }), inspect(secret)];

    // Assess
    for (const text of renderings) {
      expect(text).not.toContain('wJalrXUtnFEMI');
      expect(text).toContain('[redacted]');
    }
    expect(secret.reveal()).toBe('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    expect(Object.keys(secret)).toEqual([]);
  });
});

describe('newEventId', () => {
  it('is a UUIDv7 whose prefix is the time, so ids sort by time', () => {
    // Prepare
    const random = new Uint8Array(10).fill(0xff);

    // Act
    const earlier = newEventId(new Date('2026-11-23T09:00:00.000Z'), random);
    const later = newEventId(new Date('2026-11-23T09:00:00.001Z'), new Uint8Array(10));

    // Assess
    expect(earlier).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(later).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(earlier < later).toBe(true);
    expect(parseInt(earlier.replace(/-/g, '').slice(0, 12), 16)).toBe(Date.parse('2026-11-23T09:00:00.000Z'));
  });

  it('differs for the same millisecond when the random bytes differ', () => {
    // Prepare
    const now = new Date('2026-11-23T09:00:00.000Z');

    // Act + Assess
    expect(newEventId(now, new Uint8Array(10).fill(1))).not.toBe(newEventId(now, new Uint8Array(10).fill(2)));
  });
});

describe('isSameDecision: is the stored record the write we were making?', () => {
  const caller = {
    idpType: 'oidc',
    issuerId: 'corp',
    issuer: 'https://idp.example.com',
    subject: 'alice',
    userKey: 'u1',
    groups: [],
    tokenIssuedAt: 1,
    tokenExpiresAt: 2,
    tokenRef: 'sha256:t1',
  } as const;
  const grant: AuditRecord = {
    eventId: 'e1',
    time: '2026-11-23T09:30:00.000Z',
    action: 'credentials',
    outcome: 'granted',
    request: { requestId: 'r1' },
    caller,
    session: { accessKeyId: 'ASIA1' },
  };
  const signIn: AuditRecord = {
    eventId: 'e2',
    time: grant.time,
    action: 'portal_login',
    outcome: 'granted',
    request: { requestId: 'r2' },
    caller,
  };

  it('recognises our own committed grant and our own committed sign-in or sign-out', () => {
    expect(isSameDecision(structuredClone(grant), grant)).toBe(true);
    expect(isSameDecision(structuredClone(signIn), signIn)).toBe(true);
    expect(
      isSameDecision(
        { ...signIn, action: 'portal_logout', reason: 'signed_out' },
        { ...signIn, action: 'portal_logout', reason: 'signed_out' },
      ),
    ).toBe(true);
  });

  it.each([
    ['nothing stored', undefined, grant],
    ['another event', { ...grant, eventId: 'e9' }, grant],
    ['another action', { ...grant, action: 'console' as const }, grant],
    ['another request', { ...grant, request: { requestId: 'r9' } }, grant],
    ['another outcome', { ...grant, outcome: 'denied' as const }, grant],
    ['another reason', { ...grant, reason: 'x' }, grant],
    ['another caller', { ...grant, caller: { ...caller, userKey: 'u9' } }, grant],
    ['another token of the caller', { ...grant, caller: { ...caller, tokenRef: 'sha256:t9' } }, grant],
    ['another session', { ...grant, session: { accessKeyId: 'ASIA9' } }, grant],
    ['a credentials grant that names no session', { ...grant, session: {} }, { ...grant, session: {} }],
    ['a sign-in that names no caller', { ...signIn, caller: undefined }, { ...signIn, caller: undefined }],
    ['a sign-in of someone else', { ...signIn, caller: { ...caller, userKey: 'u9' } }, signIn],
  ])('refuses %s', (_name, stored, record) => {
    expect(isSameDecision(stored as AuditRecord | undefined, record as AuditRecord)).toBe(false);
  });
});
