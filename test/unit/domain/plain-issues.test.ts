import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { plainIssues } from '../../../src/domain/plain-issues.ts';

const SCHEMA = v.strictObject({
  name: v.pipe(v.string(), v.maxLength(3)),
  code: v.optional(v.pipe(v.string(), v.regex(/^[a-z]+$/))),
  count: v.optional(v.pipe(v.number(), v.maxValue(5))),
  list: v.optional(v.pipe(v.array(v.string()), v.maxLength(1))),
  nested: v.optional(v.strictObject({ on: v.boolean() })),
  either: v.optional(v.union([v.string(), v.number()])),
  checked: v.optional(
    v.pipe(
      v.string(),
      v.check((s) => s !== 'no', 'says no'),
    ),
  ),
});

describe('plainIssues', () => {
  it('puts each valibot message in plain words with its path, and keeps the messages a schema wrote', () => {
    // Act
    const result = v.safeParse(SCHEMA, {
      name: 'long',
      code: 'A1',
      count: 9,
      list: ['a', 'b'],
      nested: { on: 'yes', extra: 1 },
      either: true,
      checked: 'no',
    });

    // Assess
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(plainIssues(SCHEMA, result.issues)).toEqual([
      'name: must have at most 3 characters (got 4)',
      'code: has the wrong format (got "A1")',
      'count: must be at most 5 (got 9)',
      'list: must have at most 1 entry (got 2)',
      'nested.on: must be true or false (got "yes")',
      'nested.extra: unknown field (allowed: on)',
      'either: matches none of the allowed forms',
      'checked: says no',
    ]);
  });

  it('says what a missing or wrongly typed document is', () => {
    // Act
    const missing = v.safeParse(SCHEMA, {});
    const wrong = v.safeParse(SCHEMA, 'text');

    // Assess
    expect(missing.success || plainIssues(SCHEMA, missing.issues)).toEqual(['name: required field missing']);
    expect(wrong.success || plainIssues(SCHEMA, wrong.issues)).toEqual(['must be a mapping (got "text")']);
  });
});
