import { describe, expect, it } from 'vitest';
import { isCanonicalCompactJws } from '../../src/adapters/oidc/compact-jws.ts';
import { hasDuplicateMembers, nestingDepth } from '../../src/domain/strict-json.ts';

describe('hasDuplicateMembers', () => {
  it.each([
    ['{"sub":"alice","sub":"admin"}', true],
    ['{"sub":"alice","s\\u0075b":"admin"}', true],
    ['{"a":{"x":1,"x":2}}', true],
    ['{"a":{"x":1},"b":{"x":2}}', false],
    ['{"a":["x","x"],"x":"a"}', false],
    ['{"a":"\\"sub\\"","sub":"x"}', false],
    ['{"a":[{"k":1},{"k":2}]}', false],
  ])('%s → %s', (text, expected) => {
    // Act + Assess
    expect(hasDuplicateMembers(text)).toBe(expected);
  });
});

describe('nestingDepth', () => {
  it.each([
    ['{}', 1],
    ['{"a":[1,{"b":2}]}', 3],
    ['{"a":"[[[[[[["}', 1],
    ['{"a":"\\"[[["}', 1],
    [`${'['.repeat(100)}${']'.repeat(100)}`, 100],
  ])('%s → %i', (text, expected) => {
    // Act + Assess
    expect(nestingDepth(text)).toBe(expected);
  });
});

describe('isCanonicalCompactJws', () => {
  it.each([
    ['eyJhbGciOiJIUzI1NiJ9.VGVzdA.c1LROH7eNQwUT8KMVEO52VC3WZ9e_AnDWbZ7aMmowV8', true],
    ['eyJhbGciOiJIUzI1NiJ9.VGVzdB.c1LROH7eNQwUT8KMVEO52VC3WZ9e_AnDWbZ7aMmowV8', false],
    ['eyJhbGciOiJIUzI1NiJ9.VGVzdA==.c1LROH7eNQwUT8KMVEO52VC3WZ9e_AnDWbZ7aMmowV8', false],
    ['eyJhbGciOiJIUzI1NiJ9.VGVzdA.c1LROH7eNQwUT8KMVEO52VC3WZ9e_AnDWbZ7aMmowV8.x', false],
    ['eyJhbGciOiJIUzI1NiJ9.VGVzdA.c1LROH7eNQwUT8KMVEO52VC3WZ9e/AnDWbZ7aMmowV8', false],
    ['eyJhbGciOiJIUzI1NiJ9.VGVzd.c1LROH7eNQwUT8KMVEO52VC3WZ9e_AnDWbZ7aMmowV8', false],
  ])('%s → %s', (token, expected) => {
    // Act + Assess
    expect(isCanonicalCompactJws(token)).toBe(expected);
  });
});
