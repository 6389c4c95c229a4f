import { describe, expect, it } from 'vitest';
import { deriveUserKey, sha256Hex } from '../../../src/domain/identifiers.ts';
import {
  checkPolicyTemplate,
  MissingPolicyVariableError,
  PolicyTemplateError,
  renderSessionPolicy,
} from '../../../src/domain/session-policy.ts';

const userKey = deriveUserKey('https://idp.example.com', 'alice');
const variables = { userKey, subject: 'alice', issuerId: 'corp' };
const folder = (resource: string) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: resource }],
});

describe('renderSessionPolicy', () => {
  it('substitutes each placeholder in string values and returns the exact JSON with its SHA-256', () => {
    // Prepare
    const template = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:PutObject'], Resource: 'arn:aws:s3:::b/{{userKey}}/*' },
        {
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: 'arn:aws:s3:::b',
          Condition: { StringLike: { 's3:prefix': ['{{ userKey }}/', '{{issuerId}}/{{subject}}/*'] } },
        },
      ],
    };

    // Act
    const rendered = renderSessionPolicy(template, variables);

    // Assess
    const parsed = JSON.parse(rendered.json);
    expect(parsed.Statement[0].Resource).toBe(`arn:aws:s3:::b/${userKey}/*`);
    expect(parsed.Statement[1].Condition.StringLike['s3:prefix']).toEqual([`${userKey}/`, 'corp/alice/*']);
    expect(rendered.sha256).toBe(sha256Hex(rendered.json));
    expect(template.Statement[0]?.Resource).toBe('arn:aws:s3:::b/{{userKey}}/*');
  });

  it('keeps numbers and booleans as they are', () => {
    // Prepare
    const template = {
      ...folder('arn:aws:s3:::b/{{userKey}}/*'),
      Statement: [
        {
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: '*',
          Condition: { NumericLessThan: { 's3:max-keys': 10 }, Bool: { 'aws:SecureTransport': true } },
        },
      ],
    };

    // Act
    const parsed = JSON.parse(renderSessionPolicy(template, variables).json);

    // Assess
    expect(parsed.Statement[0].Condition).toEqual({ NumericLessThan: { 's3:max-keys': 10 }, Bool: { 'aws:SecureTransport': true } });
  });

  it('throws when a variable has no value, never rendering a policy without it (P-12)', () => {
    // Act + Assess
    expect(() => renderSessionPolicy(folder('arn:aws:s3:::b/{{issuerId}}/{{subject}}/*'), { ...variables, subject: undefined })).toThrow(
      MissingPolicyVariableError,
    );
  });

  it('refuses an invalid template at render time too', () => {
    // Act + Assess
    expect(() => renderSessionPolicy(folder('arn:aws:s3:::b/{{userKey}}*'), variables)).toThrow(PolicyTemplateError);
    expect(() => renderSessionPolicy({ Version: '2012-10-17', Statement: [] }, variables)).toThrow(PolicyTemplateError);
  });

  it('refuses values STS cannot accept: null, characters outside its charset, and over 2,048 characters (P-11)', () => {
    // Prepare
    const withNull = { ...folder('arn:aws:s3:::b/{{userKey}}/*'), Id: null };
    const withEmoji = { ...folder('arn:aws:s3:::b/{{userKey}}/*'), Id: 'photos \u{1F4F7}' };
    const huge = {
      Version: '2012-10-17',
      Statement: Array.from({ length: 40 }, (_, i) => ({
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: `arn:aws:s3:::bucket-${i}/{{userKey}}/*`,
      })),
    };

    // Act + Assess
    expect(() => renderSessionPolicy(withNull, variables)).toThrow(PolicyTemplateError);
    expect(() => renderSessionPolicy(withEmoji, variables)).toThrow(PolicyTemplateError);
    expect(() => renderSessionPolicy(huge, variables)).toThrow(
      expect.objectContaining({ code: 'policy_too_large', reason: 'policy_over_2048_chars' }),
    );
  });
});

describe('checkPolicyTemplate', () => {
  it('accepts the folder-per-user template', () => {
    // Act + Assess
    expect(checkPolicyTemplate(folder('arn:aws:s3:::b/{{userKey}}/*'))).toEqual([]);
    expect(checkPolicyTemplate(folder('arn:aws:s3:::b/{{userKey}}'))).toEqual([]);
    expect(checkPolicyTemplate(folder('arn:aws:s3:::b/{{issuerId}}/{{subject}}/*'))).toEqual([]);
  });

  it.each([
    ['a wrong version', { ...folder('x'), Version: '2008-10-17' }, /Version/],
    ['no statements', { Version: '2012-10-17', Statement: [] }, /non-empty/],
    ['a statement that is not an object', { Version: '2012-10-17', Statement: ['x'] }, /must be an object/],
    ['a bad effect', { Version: '2012-10-17', Statement: [{ Effect: 'allow', Action: 'x', Resource: '*' }] }, /Effect/],
    ['no action', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Resource: '*' }] }, /Action/],
    ['no resource', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'x' }] }, /Resource/],
    ['a Principal', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'x', Resource: '*', Principal: '*' }] }, /Principal/],
    ['a placeholder followed by a wildcard', folder('arn:aws:s3:::b/{{userKey}}*'), /followed by/],
    ['a placeholder as a prefix of a name (P-02)', folder('arn:aws:s3:::b/{{issuerId}}/{{subject}}-x/*'), /followed by/],
    [
      "a wildcard in the placeholder's segment (another user's folder ends in the key)",
      folder('arn:aws:s3:::b/*{{userKey}}/*'),
      /start its path segment/,
    ],
    ['a placeholder as a suffix of a name', folder('arn:aws:s3:::b/{{issuerId}}/x{{subject}}/*'), /start its path segment/],
    [
      'a subject without its issuer (P-08e: subjects are unique only per issuer)',
      folder('arn:aws:s3:::b/home/{{subject}}/*'),
      /unique only per issuer/,
    ],
    ['an unknown placeholder', folder('arn:aws:s3:::b/{{email}}/*'), /unknown placeholder/],
    [
      'a placeholder in a key',
      {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'x', Resource: '*', Condition: { StringEquals: { '{{userKey}}': 'x' } } }],
      },
      /keys/,
    ],
    ['unbalanced braces', folder('arn:aws:s3:::b/{{userKey/*'), /unbalanced/],
    ['nesting deeper than IAM needs', { ...folder('x'), Deep: [[[[[[[[[['x']]]]]]]]]] }, /deeper/],
  ])('refuses %s', (_name, template, problem) => {
    // Act
    const problems = checkPolicyTemplate(template as never);

    // Assess
    expect(problems.join('\n')).toMatch(problem);
  });
});
