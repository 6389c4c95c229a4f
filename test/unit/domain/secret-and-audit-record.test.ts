import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { newEventId } from '../../../src/domain/audit-record.ts';
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
