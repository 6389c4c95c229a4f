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
  it('names every problem of an entry in plain words, its grants included', () => {
    // Prepare
    const { description: _description, ...withoutDescription } = entitlement();
    const broken = {
      ...withoutDescription,
      owner: 'team-a',
      outputs: ['ssh'],
      maxDurationSeconds: 60.5,
      sessionTags: [{ key: 'team' }],
      grants: [{ issuer: 'dev', team: 'a' }],
    };

    // Act
    const result = checkEntitlementsFile(file(broken));

    // Assess
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([
      'uploads: description: required field missing',
      'uploads: outputs[0]: must be one of "credentials", "console" (got "ssh")',
      'uploads: maxDurationSeconds: must be a whole number (got 60.5)',
      'uploads: maxDurationSeconds: must be at least 900 (got 60.5)',
      'uploads: sessionTags[0]: must be one of: {key, claim} or {key, value}',
      expect.stringMatching(
        /^uploads: owner: unknown field \(allowed: id, version, description, roleArn, .*allowBroadStatements, grants\)$/,
      ),
      'uploads: grants[0]: must be one of: {issuer, subject} or {issuer, group}',
    ]);
    expect(result.problems.join('\n')).not.toMatch(/Invalid|Expected/);
  });

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
      file(
        entitlement({
          sessionPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: resource }] },
        }),
      ),
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

  describe('over-broad templates (issue 10, item 3)', () => {
    const statement = (s: Record<string, unknown>) => ({
      sessionPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', ...s }] },
    });

    it.each([
      [
        'a wildcard before the placeholder in its segment',
        { Action: 's3:PutObject', Resource: 'arn:aws:s3:::bucket/*{{userKey}}/*' },
        /must start its path segment/,
      ],
      [
        'text before the placeholder in its segment',
        { Action: 's3:PutObject', Resource: 'arn:aws:s3:::bucket/x-{{userKey}}/*' },
        /must start its path segment/,
      ],
      [
        'a ? before the placeholder',
        { Action: 's3:PutObject', Resource: 'arn:aws:s3:::bucket/?{{userKey}}/*' },
        /must start its path segment/,
      ],
      [
        'Allow with NotAction',
        { NotAction: 'iam:*', Resource: 'arn:aws:s3:::bucket/{{userKey}}/*' },
        /NotAction allows every action not listed/,
      ],
      [
        'Allow with NotResource',
        { Action: 's3:GetObject', NotResource: 'arn:aws:s3:::secret/*' },
        /NotResource allows every resource not listed/,
      ],
      ['Action "*"', { Action: '*', Resource: 'arn:aws:s3:::bucket/{{userKey}}/*' }, /Action "\*" allows every service/],
      ['a wildcard service', { Action: ['s3:GetObject', '*:Get*'], Resource: 'arn:aws:s3:::bucket/{{userKey}}/*' }, /Action "\*:Get\*"/],
      ['Resource "*"', { Action: 's3:GetObject', Resource: '*' }, /Resource "\*" matches every resource/],
      ['every bucket', { Action: 's3:GetObject', Resource: ['arn:aws:s3:::*'] }, /Resource "arn:aws:s3:::\*"/],
      ['every service', { Action: 's3:GetObject', Resource: 'arn:aws:*:*:*:*' }, /matches every resource/],
    ])('refuses %s', (_name, s, problem) => {
      // Act
      const result = checkEntitlementsFile(file(entitlement(statement(s))));

      // Assess
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.problems.join('\n')).toMatch(problem);
    });

    it('accepts broad statements with allowBroadStatements, warning once per flag', () => {
      // Act
      const result = checkEntitlementsFile(
        file(entitlement({ ...statement({ NotAction: 'iam:*', Resource: '*' }), allowBroadStatements: true })),
      );

      // Assess
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      expect(result.warnings).toEqual([
        expect.stringMatching(/^uploads: allowBroadStatements: Statement\[0\]: Allow with NotAction.*Resource "\*"/),
      ]);
      expect(result.entries[0]?.entitlement.allowBroadStatements).toBe(true);
    });

    it('leaves a Deny with NotAction, a service wildcard and a named resource alone', () => {
      // Act
      const result = checkEntitlementsFile(
        file(
          entitlement({
            sessionPolicy: {
              Version: '2012-10-17',
              Statement: [
                { Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::bucket/{{userKey}}/*' },
                { Effect: 'Deny', NotAction: 's3:GetObject', NotResource: 'arn:aws:s3:::bucket/{{userKey}}/*' },
              ],
            },
          }),
        ),
      );

      // Assess
      expect(result).toMatchObject({ ok: true, warnings: [] });
    });

    it('refuses managed policies alone (the whole role) unless allowWholeRole says so, and warns when it does', () => {
      // Prepare
      const { sessionPolicy: _omitted, ...wholeRole } = entitlement({ managedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] });

      // Act
      const refused = checkEntitlementsFile(file(wholeRole));
      const flagged = checkEntitlementsFile(file({ ...wholeRole, allowWholeRole: true }));

      // Assess
      expect(refused.ok).toBe(false);
      if (!refused.ok)
        expect(refused.problems.join('\n')).toMatch(
          /no sessionPolicy: every grantee gets all that the role allows.*AdministratorAccess.*allowWholeRole/,
        );
      expect(flagged.ok).toBe(true);
      if (flagged.ok) expect(flagged.warnings).toEqual([expect.stringMatching(/^uploads: allowWholeRole: no sessionPolicy/)]);
    });

    it('refuses a flag with nothing to acknowledge, so it cannot cover a later widening', () => {
      expect(checkEntitlementsFile(file(entitlement({ allowWholeRole: true }))).ok).toBe(false);
      expect(checkEntitlementsFile(file(entitlement({ allowBroadStatements: true }))).ok).toBe(false);
    });
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
