import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { parseEntitlement } from '../../../src/domain/entitlement.ts';
import {
  deriveUserKey,
  POLICY_SAFE_PATTERN,
  SAFE_TAG_VALUE_PATTERN,
  SUBJECT_PATTERN,
  USER_KEY_PATTERN,
} from '../../../src/domain/identifiers.ts';
import type { Entitlement } from '../../../src/domain/entitlement.ts';
import type { Principal } from '../../../src/domain/principal.ts';
import { PolicyTemplateError, renderSessionPolicy } from '../../../src/domain/session-policy.ts';
import { parseJsonObject } from '../../../src/http/request.ts';
import { issueCredentialsHarness } from '../../support/use-cases.ts';
import { entitlementFor, principalFor } from '../fakes.ts';

/** Security catalog §3: session-policy template injection and STS parameter abuse. */

const ISSUER = 'https://idp.example.com';
const subjectTemplate = entitlementFor({
  id: 'by-subject',
  sessionPolicy: {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/home/{{issuerId}}/{{subject}}/*' },
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: 'arn:aws:s3:::b',
        Condition: { StringLike: { 's3:prefix': ['home/{{issuerId}}/{{subject}}/*'] } },
      },
    ],
  },
});
const userKeyTemplate = entitlementFor({ id: 'by-user-key' });

function broker(principal: Principal, entitlements: Entitlement[] = [subjectTemplate, userKeyTemplate]) {
  const { issue, sts, audit } = issueCredentialsHarness({ principal, entitlements, allowedRole: () => true });
  const request = (entitlement: string) =>
    issue({
      caller: { kind: 'bearer', authorization: 'Bearer t' },
      entitlement,
      durationSeconds: undefined,
      output: 'credentials',
      context: { requestId: 'r' },
    });
  return { request, sts, audit };
}

/** A principal as a verifier with a grammar bug would produce it: the domain must still hold. */
const principalWithSubject = (subject: string) =>
  principalFor({ issuer: ISSUER, subject, userKey: deriveUserKey(ISSUER, subject), attributes: { department: 'research' } });

const HOSTILE_SUBJECTS: [id: string, subject: string][] = [
  ['P-01 wildcard', '*'],
  ['P-01 trailing wildcard', 'a*'],
  ['P-01 single-char wildcard', '?lice'],
  ['P-01 escaped wildcard variable', '${*}'],
  ['P-01 wildcard with traversal', '*/../*'],
  ['P-02 slash into another folder', 'bob/secret'],
  ['P-02 dot-dot', 'alice/../bob'],
  ['P-02 empty', ''],
  ['P-02 percent-encoded traversal', '%2e%2e%2f'],
  ['P-02 trailing slash', 'alice/'],
  ['P-02 dots only', '..'],
  ['P-03 JSON breakout', 'x/*"],"Effect":"Allow","Action":"*","Resource":["*'],
  ['P-03 escaped quote', 'a\\"b'],
  ['P-03 NUL', 'a\u0000b'],
  ['P-03 newline', 'a\nb'],
  ['P-04 policy variable', '${aws:userid}'],
  ['P-04 principal tag variable', '${aws:PrincipalTag/team}'],
  ['P-04 source identity variable', '${aws:SourceIdentity}'],
  ['P-04 dollar', '$'],
  ['P-05 Cyrillic a', 'аdmin'],
  ['P-05 fullwidth a', 'ａdmin'],
  ['P-05 zero-width joiner', 'ad\u200Dmin'],
  ['P-05 right-to-left override', 'admin\u202E'],
  ['P-05 NFD e-acute', 'caf\u0065\u0301'],
  ['P-05 leading space', ' admin'],
  ['P-06 65 characters', 'x'.repeat(65)],
  ['P-06 300 characters', 'x'.repeat(300)],
];

describe('hostile identifiers never widen a policy (P-01 to P-06)', () => {
  it.each(HOSTILE_SUBJECTS)('%s: refused by the grammar that may enter a policy', (_id, subject) => {
    // Act + Assess: the value can never be substituted into a policy
    expect(POLICY_SAFE_PATTERN.test(subject)).toBe(false);
  });

  it.each(HOSTILE_SUBJECTS.filter(([, s]) => !SUBJECT_PATTERN.test(s)))('%s: refused as a subject at verification', (_id, subject) => {
    // Act + Assess
    expect(SUBJECT_PATTERN.test(subject)).toBe(false);
  });

  it.each(HOSTILE_SUBJECTS)(
    '%s: a {{subject}} template is refused before STS, a {{userKey}} one stays in the caller folder',
    async (_id, subject) => {
      // Prepare
      const { request, sts, audit } = broker(principalWithSubject(subject));

      // Act
      const bySubject = await request('by-subject').catch((error: unknown) => error);
      const byUserKey = await request('by-user-key');

      // Assess
      expect(bySubject).toMatchObject({ code: 'not_entitled', reason: 'subject_not_policy_safe' });
      expect(audit.writes.find((w) => w.record.reason === 'subject_not_policy_safe')).toBeDefined();
      expect(sts.calls).toHaveLength(1);
      const policy = JSON.parse(sts.calls[0]?.policy ?? '{}');
      expect(policy.Statement).toHaveLength(2);
      expect(policy.Statement[0].Resource).toMatch(/^arn:aws:s3:::uploads\/[a-z2-7]{26}\/\*$/);
      expect(policy.Statement[1].Condition.StringLike['s3:prefix']).toEqual([
        expect.stringMatching(/^[a-z2-7]{26}\/$/),
        expect.stringMatching(/^[a-z2-7]{26}\/\*$/),
      ]);
      expect(byUserKey.roleSessionName).toMatch(/^[\w+=,.@-]{2,64}$/);
    },
  );

  it('P-02: a template cannot make one caller folder a prefix of another', () => {
    // Act + Assess: "home/ali*" would match "alice"
    expect(() =>
      renderSessionPolicy(
        {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/home/{{issuerId}}/{{subject}}*' }],
        },
        { userKey: 'x', subject: 'ali', issuerId: 'i' },
      ),
    ).toThrow(PolicyTemplateError);
  });

  it('P-05 / P-06: look-alike or over-long tag values are refused by the tag grammar, never truncated', () => {
    // Act + Assess
    for (const value of ['аdmin', 'ａdmin', 'ad\u200Dmin', 'x'.repeat(257)]) expect(SAFE_TAG_VALUE_PATTERN.test(value)).toBe(false);
  });
});

describe('session names cannot collide (P-06, P-07)', () => {
  it('gives distinct RoleSessionNames to subjects sharing a prefix, the same subject at another issuer, and a subject spelled like a session name', async () => {
    // Prepare
    const alice = principalWithSubject('alice');
    const victimName = `alice.${alice.userKey}`;
    const principals = [
      alice,
      principalFor({ issuer: 'https://other.example.com', subject: 'alice', userKey: deriveUserKey('https://other.example.com', 'alice') }),
      principalWithSubject(`${'y'.repeat(64)}1`),
      principalWithSubject(`${'y'.repeat(64)}2`),
      principalWithSubject(victimName),
    ];

    // Act
    const names: string[] = [];
    for (const principal of principals) {
      const { request, sts } = broker(principal);
      await request('by-user-key');
      names.push(sts.calls[0]?.roleSessionName ?? '');
    }

    // Assess
    expect(new Set(names).size).toBe(principals.length);
    for (const name of names) expect(name.split('.').at(-1)).toMatch(USER_KEY_PATTERN);
  });
});

describe('client-chosen STS parameters are refused (P-08f, P-10)', () => {
  const event = (body: unknown): APIGatewayProxyEventV2 =>
    ({
      body: JSON.stringify(body),
      isBase64Encoded: false,
      headers: { 'content-type': 'application/json' },
    }) as unknown as APIGatewayProxyEventV2;

  it.each([
    ['Policy', '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'],
    ['PolicyArns', [{ arn: 'arn:aws:iam::aws:policy/AdministratorAccess' }]],
    ['DurationSeconds', 43_200],
    ['Tags', [{ Key: 'team', Value: 'admins' }]],
    ['TransitiveTagKeys', ['team']],
    ['SourceIdentity', 'admin'],
    ['RoleSessionName', 'admin'],
    ['ExternalId', 'tenant-b'],
    ['RoleArn', 'arn:aws:iam::111111111111:role/Admin'],
    ['roleArn', 'arn:aws:iam::111111111111:role/Admin'],
    ['__proto__', { isAdmin: true }],
  ])('%s', (field, value) => {
    // Act + Assess
    expect(() => parseJsonObject(event({ entitlement: 'photo-uploads', [field]: value }), ['entitlement', 'durationSeconds'])).toThrow(
      expect.objectContaining({ code: 'invalid_request', reason: 'unknown_fields' }),
    );
  });

  it('refuses a raw __proto__ member too (JSON.parse makes it an own key)', () => {
    // Prepare
    const raw = {
      body: '{"entitlement":"photo-uploads","__proto__":{"Policy":"*"}}',
      isBase64Encoded: false,
      headers: { 'content-type': 'application/json' },
    } as unknown as APIGatewayProxyEventV2;

    // Act + Assess
    expect(() => parseJsonObject(raw, ['entitlement', 'durationSeconds'])).toThrow(expect.objectContaining({ reason: 'unknown_fields' }));
  });
});

describe('oversized policies and tags are refused before STS (P-11)', () => {
  it('refuses more than 40 entitlement tags at parse time, so 50 are never exceeded', () => {
    // Act
    const result = parseEntitlement({
      id: 'many-tags',
      description: '',
      roleArn: 'arn:aws:iam::111111111111:role/x',
      outputs: ['credentials'],
      maxDurationSeconds: 3600,
      managedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
      sessionTags: Array.from({ length: 41 }, (_, i) => ({ key: `k${i}`, value: 'v' })),
    });

    // Assess
    expect(result.ok).toBe(false);
  });
});

/** A small seeded generator, so a failing case can be reproduced from the seed in the test name. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const GRAMMAR_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@|-';
const HOSTILE_ALPHABET = [
  ...GRAMMAR_ALPHABET,
  '"',
  '\\',
  '/',
  '*',
  '?',
  '$',
  '{',
  '}',
  '[',
  ']',
  ',',
  '\n',
  '\u0000',
  '\u2028',
  'а',
  'é',
  '\u{1F600}',
  '%',
  ' ',
];

function randomString(next: () => number, alphabet: readonly string[] | string, maxLength: number): string {
  const chars = [...alphabet];
  const length = 1 + Math.floor(next() * maxLength);
  return Array.from({ length }, () => chars[Math.floor(next() * chars.length)]).join('');
}

const STRUCTURE_TEMPLATE = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'Objects', Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject'], Resource: 'arn:aws:s3:::b/{{userKey}}/*' },
    {
      Sid: 'List',
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: 'arn:aws:s3:::b',
      Condition: { StringLike: { 's3:prefix': ['{{userKey}}/', '{{issuerId}}/{{subject}}/*'] } },
    },
    { Sid: 'DenyOthers', Effect: 'Deny', NotAction: 's3:*', NotResource: 'arn:aws:s3:::b/{{userKey}}/{{subject}}' },
  ],
};

function shapeOf(policy: { Statement: Record<string, unknown>[] }) {
  return policy.Statement.map((s) => ({
    Sid: s['Sid'],
    Effect: s['Effect'],
    Action: s['Action'],
    NotAction: s['NotAction'],
    keys: Object.keys(s).sort(),
  }));
}

describe('property: rendering preserves the template structure (P-03)', () => {
  it.each([1, 2, 3, 4, 5])('grammar-admitted identifiers, seed %i: same statements, actions and effects, values confined', (seed) => {
    // Prepare
    const next = random(seed);
    const expected = shapeOf(STRUCTURE_TEMPLATE as never);

    for (let i = 0; i < 400; i++) {
      const subject = randomString(next, GRAMMAR_ALPHABET, 128);
      if (!SUBJECT_PATTERN.test(subject)) continue;
      const userKey = deriveUserKey(ISSUER, subject);
      const policySubject = POLICY_SAFE_PATTERN.test(subject) ? subject : 'fallback';

      // Act
      const policy = JSON.parse(renderSessionPolicy(STRUCTURE_TEMPLATE, { userKey, subject: policySubject, issuerId: 'corp' }).json);

      // Assess
      expect(shapeOf(policy)).toEqual(expected);
      expect(policy.Statement[0].Resource).toBe(`arn:aws:s3:::b/${userKey}/*`);
      expect(policy.Statement[1].Condition.StringLike['s3:prefix']).toEqual([`${userKey}/`, `corp/${policySubject}/*`]);
    }
  });

  it.each([11, 12, 13, 14, 15])('arbitrary hostile text forced into the renderer, seed %i: refused or structurally inert', (seed) => {
    // Prepare
    const next = random(seed);
    const expected = shapeOf(STRUCTURE_TEMPLATE as never);
    let rendered = 0;

    for (let i = 0; i < 400; i++) {
      const hostile = randomString(next, HOSTILE_ALPHABET, 80);

      // Act
      let json: string;
      try {
        json = renderSessionPolicy(STRUCTURE_TEMPLATE, { userKey: hostile, subject: hostile, issuerId: hostile }).json;
      } catch (error) {
        expect(error).toBeInstanceOf(PolicyTemplateError);
        continue;
      }
      rendered++;

      // Assess: the value stays inside its string; nothing it contains becomes structure
      const policy = JSON.parse(json);
      expect(shapeOf(policy)).toEqual(expected);
      expect(policy.Statement[0].Resource).toBe(`arn:aws:s3:::b/${hostile}/*`);
    }
    expect(rendered).toBeGreaterThan(0);
  });
});
