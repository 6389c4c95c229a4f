import { describe, expect, it } from 'vitest';
import { resolveDuration } from '../../../src/domain/duration.ts';

const limits = (maxDurationSeconds: number, roleChaining: boolean, defaultDurationSeconds?: number) => ({
  maxDurationSeconds,
  roleChaining,
  vending: 'assume-role' as const,
  defaultDurationSeconds,
});

describe('resolveDuration', () => {
  it.each([
    ['within the maximum', 900, limits(3600, false), 900],
    ['above the entitlement maximum', 7200, limits(3600, false), 3600],
    ['above STS maximum without chaining', 50_000, limits(43_200, false), 43_200],
    ['above an hour when role chaining (P-10)', 7200, limits(43_200, true), 3600],
    ['exactly the minimum', 900, limits(43_200, true), 900],
    ['default when none asked', undefined, limits(43_200, false, 1800), 1800],
    ['default capped by chaining', undefined, limits(43_200, true, 7200), 3600],
    ['an hour when neither asked nor defaulted', undefined, limits(43_200, false), 3600],
    ['an hour default capped by a shorter maximum', undefined, limits(900, false), 900],
  ])('clamps a request %s', (_name, requested, input, expected) => {
    // Act + Assess
    expect(resolveDuration(requested, input)).toBe(expected);
  });

  it.each([['forever'], [899], [0], [-1], [900.5], [Number.NaN], [Number.POSITIVE_INFINITY], [1e21], [null], [[900]], [{ seconds: 900 }]])(
    'refuses %j with invalid_request',
    (requested) => {
      // Act + Assess
      expect(() => resolveDuration(requested, limits(3600, true))).toThrow(
        expect.objectContaining({ code: 'invalid_request', httpStatus: 400 }),
      );
    },
  );
});
