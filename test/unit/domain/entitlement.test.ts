import { describe, expect, it } from 'vitest';
import { parseEntitlement } from '../../../src/domain/entitlement.ts';

const valid = (overrides: Record<string, unknown> = {}) => ({
  id: 'photo-uploads',
  description: 'Uploads',
  roleArn: 'arn:aws:iam::111111111111:role/keyvend/photo-uploads',
  outputs: ['credentials'],
  maxDurationSeconds: 3600,
  sessionPolicy: {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/{{userKey}}/*' }],
  },
  ...overrides,
});

describe('parseEntitlement', () => {
  it('stores the breadth flags only when true, and parses its own output to the same entitlement', () => {
    // Act
    const flagged = parseEntitlement(valid({ allowWholeRole: true, allowBroadStatements: true }));
    const unflagged = parseEntitlement(valid({ allowWholeRole: false, allowBroadStatements: false }));
    const reread = flagged.ok ? parseEntitlement(JSON.parse(JSON.stringify(flagged.entitlement))) : flagged;

    // Assess
    expect(flagged).toMatchObject({ ok: true, entitlement: { allowWholeRole: true, allowBroadStatements: true } });
    expect(reread).toEqual(flagged);
    expect(unflagged.ok && ('allowWholeRole' in unflagged.entitlement || 'allowBroadStatements' in unflagged.entitlement)).toBe(false);
    expect(parseEntitlement(valid({ allowWholeRole: 'yes' })).ok).toBe(false);
  });

  it('fills defaults and leaves absent optional fields out', () => {
    // Act
    const result = parseEntitlement(valid());

    // Assess
    expect(result).toEqual({
      ok: true,
      entitlement: {
        ...valid(),
        version: 1,
        managedPolicyArns: [],
        sessionTags: [],
        transitiveTagKeys: [],
        vending: 'keyvend-issuer',
      },
    });
    if (result.ok) expect('externalId' in result.entitlement).toBe(false);
  });

  it('accepts managed policies alone, static and claim tags, and an ExternalId', () => {
    // Act
    const result = parseEntitlement(
      valid({
        sessionPolicy: undefined,
        managedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
        sessionTags: [
          { key: 'team', claim: 'team' },
          { key: 'env', value: 'prod' },
        ],
        transitiveTagKeys: ['team', 'keyvend:user'],
        vending: 'assume-role',
        externalId: 'tenant-42:abc',
      }),
    );

    // Assess
    expect(result.ok).toBe(true);
  });

  it.each([
    [
      'neither a session policy nor managed policies (would grant the whole role)',
      { sessionPolicy: undefined },
      /sessionPolicy or managedPolicyArns/,
    ],
    ['an unknown field (e.g. a stray policy)', { Policy: '{}' }, /Policy/],
    ['an id outside the grammar', { id: 'Photo Uploads' }, /id/],
    ['a role ARN with a wildcard (P-08c)', { roleArn: 'arn:aws:iam::111111111111:role/*' }, /roleArn/],

    ['no outputs', { outputs: [] }, /outputs/],
    ['an unknown output', { outputs: ['ssh'] }, /outputs/],
    ['a duration below STS minimum', { maxDurationSeconds: 60 }, /maxDurationSeconds/],
    ['a duration above STS maximum', { maxDurationSeconds: 43_201 }, /maxDurationSeconds/],
    ['a default above the maximum', { defaultDurationSeconds: 7200 }, /defaultDurationSeconds/],
    [
      'more than 10 managed policies',
      { managedPolicyArns: Array.from({ length: 11 }, (_, i) => `arn:aws:iam::aws:policy/P${i}`) },
      /managedPolicyArns/,
    ],
    ['a tag key under aws:', { sessionTags: [{ key: 'aws:user', value: 'x' }] }, /aws:/],
    ['a tag key under the broker prefix', { sessionTags: [{ key: 'Keyvend:user', value: 'x' }] }, /reserved/],
    [
      'duplicate tag keys differing in case',
      {
        sessionTags: [
          { key: 'Team', value: 'a' },
          { key: 'team', value: 'b' },
        ],
      },
      /unique/,
    ],
    ['a static tag value outside ASCII (P-05)', { sessionTags: [{ key: 'team', value: 'аdmins' }] }, /tag values/],
    ['a claim name that reaches the prototype', { sessionTags: [{ key: 'team', claim: '__proto__' }] }, /reserved claim name/],
    ['a transitive key that is not a tag', { transitiveTagKeys: ['department'] }, /transitiveTagKeys/],
    ['a transitive keyvend: key the broker does not set', { transitiveTagKeys: ['keyvend:admin'] }, /transitiveTagKeys/],
    ['an ExternalId outside the grammar', { externalId: 'a b' }, /ExternalId/],
  ])('refuses %s', (_name, overrides, problem) => {
    // Act
    const result = parseEntitlement(valid(overrides));

    // Assess
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.join('\n')).toMatch(problem);
  });

  it.each([[null], ['photo-uploads'], [[]], [42]])('refuses a stored item of the wrong shape: %j', (input) => {
    // Act + Assess
    expect(parseEntitlement(input).ok).toBe(false);
  });
});
