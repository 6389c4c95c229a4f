import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { apiMaxDuration, resolveDuration } from '../../../src/domain/duration.ts';
import { parseEntitlement } from '../../../src/domain/entitlement.ts';
import { federationNameFor, sessionNameFor } from '../../../src/domain/session-identity.ts';
import { checkEntitlementsFile } from '../../../src/tools/entitlements-file.ts';

const policy = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/{{userKey}}/*' }],
};
const ROLE = 'arn:aws:iam::111111111111:role/keyvend/target';
const FEDERATION_USER = { secretId: 'keyvend/federation-user', userArn: 'arn:aws:iam::111111111111:user/keyvend-federation' };

const entitlement = (overrides: Record<string, unknown> = {}) => ({
  id: 'target',
  description: 'Target',
  roleArn: ROLE,
  outputs: ['credentials'],
  maxDurationSeconds: 3600,
  sessionPolicy: policy,
  ...overrides,
});

const problemsOf = (input: Record<string, unknown>): string[] => {
  const result = parseEntitlement(input);
  return result.ok ? [] : result.problems;
};

describe('entitlement vending field', () => {
  it('defaults to keyvend-issuer: the role trusts only the tokens the broker mints', () => {
    // Act
    const result = parseEntitlement(entitlement());

    // Assess
    expect(result.ok && result.entitlement.vending).toBe('keyvend-issuer');
  });

  it.each([['web-identity'], ['saml']])('refuses the removed pass-through path %s, saying why', (vending) => {
    // Act
    const problems = problemsOf(entitlement({ vending, maxDurationSeconds: 3600 }));

    // Assess
    expect(problems.join('\n')).toMatch(/vending is one of keyvend-issuer, assume-role, federation-token .*pass-through were removed/);
  });

  it.each([
    [
      'keyvend-issuer for 12 h with tags',
      { maxDurationSeconds: 43200, sessionTags: [{ key: 'team', claim: 'team' }], transitiveTagKeys: ['team', 'keyvend:user'] },
    ],
    [
      'federation-token',
      {
        vending: 'federation-token',
        roleArn: undefined,
        federationUser: FEDERATION_USER,
        maxDurationSeconds: 129600,
        sessionTags: [{ key: 'team', value: 'blue' }],
      },
    ],
    [
      'assume-role with an ExternalId',
      {
        vending: 'assume-role',
        externalId: 'keyvend-partner-1',
        sessionTags: [{ key: 'team', claim: 'team' }],
        transitiveTagKeys: ['team'],
      },
    ],
  ])('accepts a coherent %s entitlement', (_, overrides) => {
    // Act
    const problems = problemsOf(entitlement(overrides));

    // Assess
    expect(problems).toEqual([]);
  });

  it('makes the IAM user the target ARN of a federation-token entitlement, and parses its own output again', () => {
    // Act
    const result = parseEntitlement(entitlement({ vending: 'federation-token', roleArn: undefined, federationUser: FEDERATION_USER }));
    const reread = result.ok ? parseEntitlement(JSON.parse(JSON.stringify(result.entitlement))) : result;

    // Assess
    expect(result.ok && result.entitlement.roleArn).toBe(FEDERATION_USER.userArn);
    expect(result.ok && result.entitlement.federationUser).toEqual(FEDERATION_USER);
    expect(reread).toEqual(result);
  });

  it("parses every path's own output again (entitlements are stored parsed and re-read on every request)", () => {
    for (const vending of ['assume-role', 'keyvend-issuer'] as const) {
      // Act
      const result = parseEntitlement(entitlement({ vending }));
      const reread = result.ok ? parseEntitlement(JSON.parse(JSON.stringify(result.entitlement))) : result;

      // Assess
      expect(reread).toEqual(result);
    }
  });

  it.each([
    ['an unknown path', { vending: 'assume-role-with-magic' }, /vending is one of/],
    ['federation-token without federationUser', { vending: 'federation-token', roleArn: undefined }, /needs federationUser/],
    ['federation-token with a roleArn', { vending: 'federation-token', federationUser: FEDERATION_USER }, /remove roleArn/],
    [
      'federation-token with transitive keys',
      {
        vending: 'federation-token',
        roleArn: undefined,
        federationUser: FEDERATION_USER,
        sessionTags: [{ key: 'team', value: 'x' }],
        transitiveTagKeys: ['team'],
      },
      /no transitive tag keys/,
    ],
    [
      'federation-token over 36 h',
      { vending: 'federation-token', roleArn: undefined, federationUser: FEDERATION_USER, maxDurationSeconds: 129601 },
      /129600/,
    ],
    [
      'federation-token without any policy',
      { vending: 'federation-token', roleArn: undefined, federationUser: FEDERATION_USER, sessionPolicy: undefined },
      /sessionPolicy or managedPolicyArns/,
    ],
    [
      'a federation user secret outside the grammar',
      { vending: 'federation-token', roleArn: undefined, federationUser: { ...FEDERATION_USER, secretId: 'a secret' } },
      /secret name or ARN/,
    ],
    ['federationUser on a role path', { federationUser: FEDERATION_USER }, /federation-token only/],
    ['a role path naming an IAM user', { roleArn: FEDERATION_USER.userArn }, /not an IAM role ARN/],
    [
      'federation-token naming a user other than its own',
      { vending: 'federation-token', roleArn: 'arn:aws:iam::111111111111:user/other', federationUser: FEDERATION_USER },
      /remove roleArn/,
    ],
    ['keyvend-issuer over 12 h', { maxDurationSeconds: 43201 }, /at most 43200/],
    ['keyvend-issuer without a role', { roleArn: undefined }, /needs roleArn/],
    ['keyvend-issuer with an ExternalId', { externalId: 'keyvend-partner-1' }, /assume-role only/],
    ['an entitlement defining a broker tag', { sessionTags: [{ key: 'keyvend:grant', value: 'x' }] }, /reserved for the broker/],
  ])('refuses %s at write time', (_, overrides, message) => {
    // Act
    const problems = problemsOf(entitlement(overrides));

    // Assess
    expect(problems.join('\n')).toMatch(message);
  });

  it('reports through the entitlements file check too, with the role-chaining cap as a note', () => {
    // Act
    const refused = checkEntitlementsFile(stringify({ entitlements: [entitlement({ externalId: 'keyvend-partner-1' })] }));
    const noted = checkEntitlementsFile(stringify({ entitlements: [entitlement({ vending: 'assume-role', maxDurationSeconds: 43200 })] }));

    // Assess
    expect(refused.ok).toBe(false);
    expect(noted.ok && noted.report.join('\n')).toMatch(/capped at 3600 s .*role chaining/);
  });
});

describe('durations per API', () => {
  it.each([
    ['assume-role, chained', 'assume-role', true, 3600],
    ['assume-role, not chained', 'assume-role', false, 43200],
    ['keyvend-issuer (unsigned, never chained)', 'keyvend-issuer', true, 43200],
    ['federation-token', 'federation-token', true, 129600],
  ] as const)('%s allows up to %#', (_, vending, roleChaining, ceiling) => {
    // Act
    const granted = resolveDuration(200_000, { maxDurationSeconds: 200_000, roleChaining, vending });

    // Assess
    expect(apiMaxDuration(vending, roleChaining)).toBe(ceiling);
    expect(granted).toBe(ceiling);
  });

  it('keeps the entitlement maximum below the API ceiling and refuses less than 900 s on every path', () => {
    // Act
    const clamped = resolveDuration(43200, { maxDurationSeconds: 7200, roleChaining: true, vending: 'keyvend-issuer' });

    // Assess
    expect(clamped).toBe(7200);
    for (const vending of ['assume-role', 'keyvend-issuer', 'federation-token'] as const) {
      expect(() => resolveDuration(899, { maxDurationSeconds: 3600, roleChaining: true, vending })).toThrow(/at least 900/);
    }
  });
});

describe('federation token Name', () => {
  it('is 2-32 characters of the GetFederationToken grammar, derived from the user key only', () => {
    // Prepare
    const principal = { subject: 'someone-with-a-very-long-subject@example.com', userKey: 'abcdefghijklmnopqrstuvwxyz' };

    // Act
    const name = federationNameFor(principal);

    // Assess
    expect(name).toBe('kv.abcdefghijklmnopqrstuvwxyz');
    expect(name).toMatch(/^[\w+=,.@-]{2,32}$/);
    expect(federationNameFor({ userKey: '22222222222222222222222222' })).not.toBe(name);
    expect(sessionNameFor(principal).endsWith(`.${principal.userKey}`)).toBe(true);
  });
});
