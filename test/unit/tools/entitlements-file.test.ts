import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { checkEntitlementsFile } from '../../../src/tools/entitlements-file.ts';

const folderPolicy = (bucket = 'uploads') => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/{{userKey}}/*` }],
});

const entitlement = (overrides: Record<string, unknown> = {}) => ({
  id: 'uploads',
  description: 'Uploads',
  roleArn: 'arn:aws:iam::111111111111:role/keyvend/uploads',
  outputs: ['credentials'],
  maxDurationSeconds: 3600,
  sessionPolicy: folderPolicy(),
  grants: [{ issuer: 'dev', group: 'uploaders' }],
  ...overrides,
});

const file = (...entitlements: unknown[]) => stringify({ entitlements });

describe('checkEntitlementsFile', () => {
  it('accepts a folder-per-user entitlement and reports its worst-case size', () => {
    // Act
    const result = checkEntitlementsFile(file(entitlement()));

    // Assess
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.entries[0]?.entitlement.id).toBe('uploads');
    expect(result.entries[0]?.grants).toEqual([{ issuer: 'dev', group: 'uploaders' }]);
    expect(result.report[0]).toMatch(/^uploads: longest policy \d+\/2048 chars, packed estimate \d+%$/);
  });

  it('refuses a template that would exceed 2,048 characters for the longest identifiers', () => {
    // Prepare: 12 statements of a long bucket name; short identifiers would fit, the longest do not.
    const statements = Array.from({ length: 12 }, (_, i) => ({
      Effect: 'Allow',
      Action: 's3:PutObject',
      Resource: `arn:aws:s3:::${'b'.repeat(40)}${i}/{{userKey}}/{{subject}}/*`,
    }));

    // Act
    const result = checkEntitlementsFile(file(entitlement({ sessionPolicy: { Version: '2012-10-17', Statement: statements } })));

    // Assess
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.join('\n')).toMatch(/more than 2048 characters/);
  });

  it('refuses a policy that fits alone but not with the longest claim tags (packed estimate)', () => {
    // Prepare
    const sessionTags = Array.from({ length: 6 }, (_, i) => ({ key: `attr${i}`, claim: `claim${i}` }));

    // Act
    const result = checkEntitlementsFile(file(entitlement({ sessionTags })));

    // Assess
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.join('\n')).toMatch(/packed-size estimate/);
  });

  it.each([
    ['placeholder followed by a wildcard', 'arn:aws:s3:::b/{{userKey}}*'],
    ['placeholder as a prefix of a name', 'arn:aws:s3:::b/{{userKey}}-x/*'],
    ['unknown placeholder', 'arn:aws:s3:::b/{{email}}/*'],
    ['unbalanced braces', 'arn:aws:s3:::b/{{userKey/*'],
  ])('refuses a template with a %s', (_name, resource) => {
    // Act
    const result = checkEntitlementsFile(
      file(entitlement({ sessionPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: resource }] } })),
    );

    // Assess
    expect(result.ok).toBe(false);
  });

  it('refuses an entitlement without any policy, since STS would grant the whole role', () => {
    // Act
    const { sessionPolicy: _omitted, ...withoutPolicy } = entitlement();
    const result = checkEntitlementsFile(file(withoutPolicy));

    // Assess
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.join('\n')).toMatch(/whole role/);
  });

  it('refuses grants outside the grammars, duplicate ids, duplicate YAML keys and aliases', () => {
    expect(checkEntitlementsFile(file(entitlement({ grants: [{ issuer: 'dev', subject: 'a b' }] }))).ok).toBe(false);
    expect(checkEntitlementsFile(file(entitlement({ grants: [{ issuer: 'Dev!', group: 'x' }] }))).ok).toBe(false);
    expect(checkEntitlementsFile(file(entitlement(), entitlement())).ok).toBe(false);
    expect(checkEntitlementsFile('entitlements:\n  - id: a\n    id: b\n').ok).toBe(false);
    expect(checkEntitlementsFile('x: &a [1]\nentitlements: *a\n').ok).toBe(false);
    expect(checkEntitlementsFile('not: a list\n').ok).toBe(false);
  });
});
