import { createHash } from 'node:crypto';
import { AssumeRoleCommand, type AssumeRoleCommandInput } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, BROKER, ROLE, SIMPLE_POLICY, USER, startFixture, stsError, type Fixture } from './helpers.ts';

/** Deterministic pseudo-random alphanumerics (high entropy, so they do not compress). */
function noise(length: number, seed: string): string {
  let out = '';
  let block = seed;
  while (out.length < length) {
    block = createHash('sha256').update(block).digest('base64');
    out += block.replace(/[^A-Za-z0-9]/g, '');
  }
  return out.slice(0, length);
}

/** A valid policy just under 2048 characters whose resources are random names. */
function incompressiblePolicy(): string {
  const resources: string[] = [];
  const build = () =>
    JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: resources }] });
  for (let i = 0; build().length < 1980; i++) resources.push(`arn:aws:s3:::${noise(40, `r${i}`)}`);
  resources.pop();
  return build();
}

const base = { RoleArn: ROLE.target, RoleSessionName: 'validation' } satisfies AssumeRoleCommandInput;
const chained = `arn:aws:sts::${ACCOUNT}:assumed-role/keyvend-broker/local`;

interface Case {
  title: string;
  caller?: typeof USER | typeof BROKER;
  input: AssumeRoleCommandInput;
  name: string;
  status: number;
  message: string | RegExp;
}

const CASES: Case[] = [
  {
    title: 'role chaining beyond one hour (3601 s)',
    caller: BROKER,
    input: { ...base, DurationSeconds: 3601 },
    name: 'ValidationError',
    status: 400,
    message: 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
  },
  {
    title: "DurationSeconds above the role's MaxSessionDuration",
    input: { ...base, RoleArn: ROLE.short, DurationSeconds: 7200 },
    name: 'ValidationError',
    status: 400,
    message: 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
  },
  {
    title: 'DurationSeconds below 900',
    input: { ...base, DurationSeconds: 899 },
    name: 'ValidationError',
    status: 400,
    message:
      "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
  },
  {
    title: 'DurationSeconds above 43200',
    input: { ...base, DurationSeconds: 43201 },
    name: 'ValidationError',
    status: 400,
    message:
      "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200",
  },
  {
    title: 'RoleSessionName with a space',
    input: { ...base, RoleSessionName: 'alice smith' },
    name: 'ValidationError',
    status: 400,
    message:
      "1 validation error detected: Value 'alice smith' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
  },
  {
    title: 'RoleSessionName with a slash',
    input: { ...base, RoleSessionName: 'PowerUser/hjacobs' },
    name: 'ValidationError',
    status: 400,
    message: /^1 validation error detected: Value 'PowerUser\/hjacobs' at 'roleSessionName' .*regular expression pattern/,
  },
  {
    title: 'RoleSessionName of 65 characters',
    input: { ...base, RoleSessionName: 'a'.repeat(65) },
    name: 'ValidationError',
    status: 400,
    message: `1 validation error detected: Value '${'a'.repeat(65)}' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64`,
  },
  {
    title: 'RoleSessionName of 1 character',
    input: { ...base, RoleSessionName: 'a' },
    name: 'ValidationError',
    status: 400,
    message:
      "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2",
  },
  {
    title: 'a RoleArn that is not a role ARN',
    input: { ...base, RoleArn: `arn:aws:iam::${ACCOUNT}:user/ci` },
    name: 'ValidationError',
    status: 400,
    message: 'Request ARN is invalid',
  },
  {
    title: 'a RoleArn shorter than 20 characters',
    input: { ...base, RoleArn: 'role/x' },
    name: 'ValidationError',
    status: 400,
    message:
      "1 validation error detected: Value 'role/x' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20",
  },
  {
    title: 'a Policy of 2049 characters',
    input: { ...base, Policy: SIMPLE_POLICY + ' '.repeat(2049 - SIMPLE_POLICY.length) },
    name: 'ValidationError',
    status: 400,
    message:
      /^1 validation error detected: Value '.*' at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048$/s,
  },
  {
    title: 'a Policy with characters outside Latin-1',
    input: { ...base, Policy: SIMPLE_POLICY.replace('keyvend-test', 'keyvend-テスト') },
    name: 'ValidationError',
    status: 400,
    message:
      /at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: \[\\u0009\\u000A\\u000D\\u0020-\\u00FF\]\+$/,
  },
  {
    title: 'a Policy with Latin-1 accents is fine up to the JSON check (invalid JSON)',
    input: { ...base, Policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow" "Action":"é"}]}' },
    name: 'MalformedPolicyDocumentException',
    status: 400,
    message: 'This policy contains invalid Json',
  },
  {
    title: 'a Policy without Statement',
    input: { ...base, Policy: '{"Version":"2012-10-17"}' },
    name: 'MalformedPolicyDocumentException',
    status: 400,
    message: 'Syntax errors in policy.',
  },
  {
    title: 'a Policy with a bad Version',
    input: { ...base, Policy: SIMPLE_POLICY.replace('2012-10-17', '2020-01-01') },
    name: 'MalformedPolicyDocumentException',
    status: 400,
    message: 'The policy must contain a valid version string',
  },
  {
    title: 'a Policy naming a principal',
    input: {
      ...base,
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: '*' }] }),
    },
    name: 'MalformedPolicyDocumentException',
    status: 400,
    message: 'Policy document should not specify a principal.',
  },
  {
    title: 'a Policy statement without Resource',
    input: { ...base, Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*' }] }) },
    name: 'MalformedPolicyDocumentException',
    status: 400,
    message: 'Policy statement must contain resources.',
  },
  {
    title: '11 PolicyArns',
    input: { ...base, PolicyArns: Array.from({ length: 11 }, (_, i) => ({ arn: `arn:aws:iam::aws:policy/Policy${i}` })) },
    name: 'ValidationError',
    status: 400,
    message:
      /^1 validation error detected: Value '\[.*\]' at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10$/,
  },
  {
    title: '51 tags',
    input: { ...base, Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) },
    name: 'ValidationError',
    status: 400,
    message:
      /^1 validation error detected: Value '\[.*\]' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50$/,
  },
  {
    title: 'a tag key starting with aws:',
    input: { ...base, Tags: [{ Key: 'aws:team', Value: 'blue' }] },
    name: 'ValidationError',
    status: 400,
    message: "Tag keys cannot start with the reserved prefix 'aws:': aws:team",
  },
  {
    title: 'a tag key with a forbidden character',
    input: { ...base, Tags: [{ Key: 'team#1', Value: 'blue' }] },
    name: 'ValidationError',
    status: 400,
    message:
      "1 validation error detected: Value 'team#1' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
  },
  {
    title: 'a tag key of 129 characters',
    input: { ...base, Tags: [{ Key: 'k'.repeat(129), Value: 'v' }] },
    name: 'ValidationError',
    status: 400,
    message: /at 'tags\.1\.member\.key' failed to satisfy constraint: Member must have length less than or equal to 128$/,
  },
  {
    title: 'a tag value of 257 characters',
    input: { ...base, Tags: [{ Key: 'team', Value: 'v'.repeat(257) }] },
    name: 'ValidationError',
    status: 400,
    message: /at 'tags\.1\.member\.value' failed to satisfy constraint: Member must have length less than or equal to 256$/,
  },
  {
    title: 'tag keys that differ only in case',
    input: {
      ...base,
      Tags: [
        { Key: 'Team', Value: 'a' },
        { Key: 'team', Value: 'b' },
      ],
    },
    name: 'ValidationError',
    status: 400,
    message: 'Duplicate tag keys found. Please note that Tag keys are case insensitive.',
  },
  {
    title: 'a transitive key that is not a tag key',
    input: { ...base, Tags: [{ Key: 'team', Value: 'a' }], TransitiveTagKeys: ['stage'] },
    name: 'ValidationError',
    status: 400,
    message: 'The specified transitive tag key must be included in the requested tags.',
  },
  {
    title: 'a SourceIdentity with a space',
    input: { ...base, SourceIdentity: 'alice smith' },
    name: 'ValidationError',
    status: 400,
    message:
      "1 validation error detected: Value 'alice smith' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
  },
  {
    title: 'a SourceIdentity starting with aws:',
    input: { ...base, SourceIdentity: 'aws:alice' },
    name: 'ValidationError',
    status: 400,
    message: /Value 'aws:alice' at 'sourceIdentity' failed to satisfy constraint/,
  },
  {
    title: 'a SourceIdentity of 65 characters',
    input: { ...base, SourceIdentity: 's'.repeat(65) },
    name: 'ValidationError',
    status: 400,
    message: /at 'sourceIdentity' failed to satisfy constraint: Member must have length less than or equal to 64$/,
  },
  {
    title: 'an ExternalId of 1 character',
    input: { ...base, ExternalId: 'x' },
    name: 'ValidationError',
    status: 400,
    message:
      "1 validation error detected: Value 'x' at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2",
  },
  {
    title: 'an ExternalId with a space',
    input: { ...base, ExternalId: 'ext id' },
    name: 'ValidationError',
    status: 400,
    message:
      /Value 'ext id' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: \[\\w\+=,\.@:\\\/-\]\*$/,
  },
  {
    title: 'several violations at once',
    input: { ...base, RoleSessionName: 'a', DurationSeconds: 100 },
    name: 'ValidationError',
    status: 400,
    message:
      "2 validation errors detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2; Value '100' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
  },
  {
    title: 'an unknown role',
    input: { ...base, RoleArn: `arn:aws:iam::${ACCOUNT}:role/does-not-exist` },
    name: 'AccessDenied',
    status: 403,
    message: `User: ${USER.arn} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${ACCOUNT}:role/does-not-exist`,
  },
];

describe('STS emulator: AssumeRole parameter rules, as the SDK reports them', () => {
  let fx: Fixture;

  beforeAll(async () => {
    fx = await startFixture();
  });
  afterAll(async () => {
    await fx.close();
  });

  it.each(CASES)('rejects $title', async ({ caller, input, name, status, message }) => {
    // Prepare
    const sts = fx.client(caller ?? USER);

    // Act
    const error = await stsError(sts.send(new AssumeRoleCommand(input)));

    // Assess
    expect({ name: error.name, status: error.status }).toEqual({ name, status });
    if (typeof message === 'string') expect(error.message).toBe(message);
    else expect(error.message).toMatch(message);
  });

  it('allows exactly 3600 s when chaining and the edge values of every length rule', async () => {
    // Prepare
    const broker = fx.client(BROKER);
    const user = fx.client(USER);

    // Act
    const chainedHour = await broker.send(new AssumeRoleCommand({ ...base, DurationSeconds: 3600 }));
    const edges = await user.send(
      new AssumeRoleCommand({
        ...base,
        RoleSessionName: 'n'.repeat(64),
        DurationSeconds: 900,
        Policy: SIMPLE_POLICY.replace('keyvend-test', 'keyvend-tést') + ' '.repeat(2048 - SIMPLE_POLICY.length - 1),
        PolicyArns: Array.from({ length: 10 }, (_, i) => ({ arn: `arn:aws:iam::aws:policy/P${i}` })),
        Tags: Array.from({ length: 50 }, (_, i) => ({ Key: i === 0 ? 'k'.repeat(128) : `k${i}`, Value: i === 0 ? 'v'.repeat(256) : '' })),
        SourceIdentity: 'si',
        ExternalId: 'e'.repeat(1224),
      }),
    );

    // Assess
    expect(chainedHour.AssumedRoleUser?.Arn).toContain('/validation');
    expect(edges.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/target-full/${'n'.repeat(64)}`);
    expect(edges.PackedPolicySize).toBeLessThanOrEqual(100);
    expect(fx.emulator.sessions().find((s) => s.roleSessionName === 'validation')?.callerArn).toBe(chained);
  });

  it('returns PackedPolicyTooLarge with the percentage for a policy that packs beyond the budget', async () => {
    // Prepare
    const policy = incompressiblePolicy();
    expect(policy.length).toBeLessThanOrEqual(2048);
    const sts = fx.client(USER);

    // Act
    const error = await stsError(sts.send(new AssumeRoleCommand({ ...base, Policy: policy })));

    // Assess
    expect({ name: error.name, status: error.status }).toEqual({ name: 'PackedPolicyTooLargeException', status: 400 });
    const m = /^Packed policy consumes (\d+)% of allotted space, please use smaller policy\.$/.exec(error.message);
    expect(Number(m?.[1])).toBeGreaterThan(100);
  });

  it('returns PackedPolicyTooLarge for session tags alone', async () => {
    // Prepare
    const tags = Array.from({ length: 50 }, (_, i) => ({ Key: noise(128, `k${i}`), Value: noise(256, `v${i}`) }));
    const sts = fx.client(USER);

    // Act
    const error = await stsError(sts.send(new AssumeRoleCommand({ ...base, Tags: tags })));

    // Assess
    expect(error.name).toBe('PackedPolicyTooLargeException');
    expect(error.message).toMatch(/^Packed size of session tags consumes \d+% of allotted space\.$/);
  });
});
