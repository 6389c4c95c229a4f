import { runSimulation } from '@cloud-copilot/iam-simulate';
import { describe, expect, it } from 'vitest';
import { MANAGED_POLICY_MAX_CHARS, PER_SESSION_BUDGET_CHARS, renderRevocationPolicy } from '../../../src/domain/revocation-policy.ts';
import { parseRevocationRequest, type Revocation, type RevocationTarget } from '../../../src/domain/revocation.ts';

const NOW = new Date('2026-11-23T09:30:00.000Z');
const ACCOUNT = '111111111111';
const ALICE_KEY = 'AAAAAAAAAAAAAAAAAAAAAAAAAA';
const BOB_KEY = 'BBBBBBBBBBBBBBBBBBBBBBBBBB';

function revocation(
  n: number,
  target: RevocationTarget,
  revokedAt = NOW.toISOString(),
  liveSessionsUntil = '2026-11-23T22:00:00.000Z',
): Revocation {
  return {
    id: `019ab000-0000-7000-8000-${String(n).padStart(12, '0')}`,
    target,
    reason: 'test',
    revokedAt,
    revokedBy: { issuerId: 'corp', subject: 'carol' },
    liveSessionsUntil,
  };
}
const person = (userKey: string): RevocationTarget => ({ kind: 'person', issuerId: 'corp', subject: 's', userKey });

/** What IAM decides for a session of the target role carrying these tags, issued at `issuedAt`, with the revocation policy attached. */
async function decide(document: string, tags: Record<string, string>, issuedAt: string): Promise<string | undefined> {
  const result = await runSimulation(
    {
      request: {
        principal: `arn:aws:sts::${ACCOUNT}:assumed-role/keyvend-photo-uploads/alice.${ALICE_KEY}`,
        action: 's3:PutObject',
        resource: { resource: `arn:aws:s3:::uploads/${ALICE_KEY}/a.txt`, accountId: ACCOUNT },
        contextVariables: {
          'aws:TokenIssueTime': issuedAt,
          ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:PrincipalTag/${k}`, v])),
        },
      },
      identityPolicies: [
        {
          name: 'role',
          policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::uploads/*' }] },
        },
        { name: 'keyvend-revocations', policy: JSON.parse(document) },
      ],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  return result.resultType === 'single' ? result.result.analysis?.result : result.resultType;
}

const tagsOf = (userKey: string, grant = '019ab000-0000-7000-8000-00000000ffff', entitlement = 'photo-uploads') => ({
  'keyvend:user': userKey,
  'keyvend:grant': grant,
  'keyvend:entitlement': entitlement,
});

describe('renderRevocationPolicy', () => {
  it('denies the revoked person sessions issued before the revocation (plus the in-flight margin), and nobody else', async () => {
    // Prepare
    const policy = renderRevocationPolicy([revocation(1, person(ALICE_KEY))], NOW, { inFlightSeconds: 10 });

    // Act
    const decisions = await Promise.all([
      decide(policy.document, tagsOf(ALICE_KEY), '2026-11-23T09:00:00Z'),
      decide(policy.document, tagsOf(ALICE_KEY), '2026-11-23T09:30:05Z'),
      decide(policy.document, tagsOf(ALICE_KEY), '2026-11-23T09:31:00Z'),
      decide(policy.document, tagsOf(BOB_KEY), '2026-11-23T09:00:00Z'),
    ]);

    // Assess
    expect(policy.mode).toBe('per-session');
    expect(decisions).toEqual(['ExplicitlyDenied', 'ExplicitlyDenied', 'Allowed', 'Allowed']);
  });

  it('matches a grant by its keyvend:grant tag and an entitlement by its keyvend:entitlement tag', async () => {
    // Prepare
    const grantId = '019ab000-0000-7000-8000-0000000000aa';
    const policy = renderRevocationPolicy(
      [
        revocation(1, { kind: 'grant', grantId, issuerId: 'corp', subject: 's', userKey: ALICE_KEY, entitlementId: 'photo-uploads' }),
        revocation(2, { kind: 'entitlement', entitlementId: 'reports' }),
      ],
      NOW,
      { inFlightSeconds: 0 },
    );

    // Act
    const decisions = await Promise.all([
      decide(policy.document, tagsOf(ALICE_KEY, grantId), '2026-11-23T09:00:00Z'),
      decide(policy.document, tagsOf(ALICE_KEY), '2026-11-23T09:00:00Z'),
      decide(policy.document, tagsOf(BOB_KEY, undefined, 'reports'), '2026-11-23T09:00:00Z'),
    ]);

    // Assess
    expect(decisions).toEqual(['ExplicitlyDenied', 'Allowed', 'ExplicitlyDenied']);
  });

  it('prunes the revocations whose sessions have all expired, and with none left denies nothing', async () => {
    // Prepare
    const expired = revocation(1, person(ALICE_KEY), '2026-11-22T08:00:00.000Z', '2026-11-22T20:05:00.000Z');

    // Act
    const policy = renderRevocationPolicy([expired], NOW, { inFlightSeconds: 0 });

    // Assess
    expect(policy.revocationIds).toEqual([]);
    expect(policy.document).not.toContain(ALICE_KEY);
    expect(await decide(policy.document, tagsOf(ALICE_KEY), '2026-11-22T07:00:00Z')).toBe('Allowed');
  });

  it('is the same document for the same state, whatever order the state is read in', () => {
    // Prepare
    const a = revocation(1, person(ALICE_KEY), '2026-11-23T09:00:00.000Z');
    const b = revocation(2, person(BOB_KEY), '2026-11-23T09:10:00.000Z');

    // Act
    const one = renderRevocationPolicy([a, b], NOW, { inFlightSeconds: 0 });
    const other = renderRevocationPolicy([b, a], NOW, { inFlightSeconds: 0 });

    // Assess
    expect(one.document).toBe(other.document);
  });

  it('falls back to a role-wide cutoff near the managed-policy size limit: every Keyvend session before the latest revocation', async () => {
    // Prepare
    const many = Array.from({ length: 60 }, (_, i) =>
      revocation(i + 1, person(`K${String(i).padStart(25, '0')}`), new Date(NOW.getTime() - (60 - i) * 60_000).toISOString()),
    );

    // Act
    const policy = renderRevocationPolicy(many, NOW, { inFlightSeconds: 0 });

    // Assess
    expect(policy.mode).toBe('role-wide-cutoff');
    expect(policy.cutoff).toBe(new Date(NOW.getTime() - 60_000).toISOString());
    expect(policy.revocationIds).toHaveLength(60);
    expect(policy.document.length).toBeLessThan(MANAGED_POLICY_MAX_CHARS);
    expect(await decide(policy.document, tagsOf(BOB_KEY), '2026-11-23T09:00:00Z')).toBe('ExplicitlyDenied');
    expect(await decide(policy.document, tagsOf(BOB_KEY), '2026-11-23T09:29:30Z')).toBe('Allowed');
  });

  it('stays per-session while the document fits the budget', () => {
    // Prepare
    const some = Array.from({ length: 20 }, (_, i) => revocation(i + 1, person(`K${String(i).padStart(25, '0')}`)));

    // Act
    const policy = renderRevocationPolicy(some, NOW, { inFlightSeconds: 0 });

    // Assess
    expect(policy.mode).toBe('per-session');
    expect(policy.document.length).toBeLessThanOrEqual(PER_SESSION_BUDGET_CHARS);
  });
});

describe('parseRevocationRequest', () => {
  it('accepts the three kinds and names them in the domain form', () => {
    // Act
    const parsed = [
      parseRevocationRequest({ kind: 'person', issuer: 'dev', subject: 'alice', reason: ' left ' }),
      parseRevocationRequest({ kind: 'grant', grantId: '019ab000-0000-7000-8000-0000000000aa', reason: 'leaked' }),
      parseRevocationRequest({ kind: 'entitlement', entitlement: 'photo-uploads', reason: 'incident' }),
    ];

    // Assess
    expect(parsed).toEqual([
      { ok: true, request: { kind: 'person', issuerId: 'dev', subject: 'alice', reason: 'left' } },
      { ok: true, request: { kind: 'grant', grantId: '019ab000-0000-7000-8000-0000000000aa', reason: 'leaked' } },
      { ok: true, request: { kind: 'entitlement', entitlementId: 'photo-uploads', reason: 'incident' } },
    ]);
  });

  it('says in words what is wrong', () => {
    // Act
    const parsed = parseRevocationRequest({ kind: 'person', issuer: 'dev', subject: 'a b', reason: '' });

    // Assess
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? [] : parsed.problems.join('\n')).toMatch(/subject|reason/);
  });
});
