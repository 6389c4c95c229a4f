import { describe, expect, it } from 'vitest';
import { type ExplainDeps, GRANT_ID_PLACEHOLDER, makeExplain } from '../../../src/app/explain.ts';
import { deriveUserKey } from '../../../src/domain/identifiers.ts';
import { Secret } from '../../../src/domain/secret.ts';
import { sha256Hex } from '../../../src/domain/identifiers.ts';
import { entitlementFor, FakeAuditLog, FakeDecisionLog, FakeEntitlementStore, FakeVerifier, fixedClock, principalFor } from '../fakes.ts';
import { failure, issueCredentialsHarness } from '../../support/use-cases.ts';

const CONTEXT = { requestId: 'req-explain-1' };
const isAllowedRole = (arn: string) => arn.startsWith('arn:aws:iam::111111111111:role/keyvend/');
const admin = principalFor({ subject: 'carol', groups: ['keyvend-admins'] });

function explainHarness(options: { caller?: ReturnType<typeof principalFor>; store?: FakeEntitlementStore } = {}) {
  const store = options.store ?? new FakeEntitlementStore([entitlementFor()]);
  const audit = new FakeAuditLog();
  const decisions = new FakeDecisionLog();
  const deps: ExplainDeps = {
    verifier: new FakeVerifier(options.caller ?? principalFor()),
    entitlements: store,
    settings: { roleChaining: true, isAllowedRole, brokerIssuerConfigured: true },
    admins: [{ issuerId: 'corp', groups: ['keyvend-admins'] }],
    identityProviders: [{ id: 'corp', issuer: 'https://idp.example.com', idpType: 'oidc' }],
    audit: { log: audit, decisions, clock: fixedClock() },
  };
  return { explain: makeExplain(deps), store, audit };
}

describe('explain', () => {
  it('says, field by field, what the grant then asks STS for', async () => {
    // Prepare
    const { explain } = explainHarness();
    const { issue, sts, audit } = issueCredentialsHarness();

    // Act
    const explained = await explain({ authorization: 'Bearer t', entitlement: 'photo-uploads', context: CONTEXT });
    const grant = await issue({
      caller: { kind: 'bearer', authorization: 'Bearer t' },
      entitlement: 'photo-uploads',
      durationSeconds: undefined,
      output: 'credentials',
      context: CONTEXT,
    });

    // Assess
    if (!explained.entitled) throw new Error('expected an entitled explanation');
    const asked = sts.calls[0];
    const s = explained.session;
    expect(s.roleArn).toBe(asked?.roleArn);
    expect(s.roleSessionName).toBe(asked?.roleSessionName);
    expect(s.sourceIdentity).toBe(asked?.sourceIdentity);
    expect(s.durationSeconds).toBe(asked?.durationSeconds);
    expect(s.sessionPolicy).toBe(asked?.policy);
    expect(s.managedPolicyArns).toEqual(asked?.policyArns);
    expect(s.transitiveTagKeys).toEqual(asked?.transitiveTagKeys);
    const withGrant = s.tags.map((tag) => (tag.Value === GRANT_ID_PLACEHOLDER ? { ...tag, Value: grant.grantId } : tag));
    expect(withGrant).toEqual(asked?.tags);
    expect(s.sessionPolicySha256).toBe(audit.last?.session?.policySha256);
    expect(s.packedPolicyEstimatePercent).toBe(audit.last?.session?.packedPolicyEstimatePercent);
    expect(s.vending).toBe(audit.last?.session?.vending);
    expect(explained.grantedBy).toEqual([{ group: 'uploaders' }]);
  });

  it('says why the duration is capped: role chaining caps assume-role at an hour', async () => {
    // Prepare
    const store = new FakeEntitlementStore([entitlementFor({ maxDurationSeconds: 7200, defaultDurationSeconds: 7200 })]);
    const { explain } = explainHarness({ store });

    // Act
    const explained = await explain({ authorization: 'Bearer t', entitlement: 'photo-uploads', context: CONTEXT });

    // Assess
    expect(explained).toMatchObject({
      entitled: true,
      session: {
        maxDurationSeconds: 3600,
        maxDurationLimitedBy: 'role_chaining',
        entitlementMaxDurationSeconds: 7200,
        durationSeconds: 3600,
      },
    });
  });

  it('names the keyvend-issuer token subject and no ExternalId on that path', async () => {
    // Prepare
    const store = new FakeEntitlementStore([entitlementFor({ vending: 'keyvend-issuer', maxDurationSeconds: 43_200 })]);
    const { explain } = explainHarness({ store });

    // Act
    const explained = await explain({ authorization: 'Bearer t', entitlement: 'photo-uploads', context: CONTEXT });

    // Assess
    expect(explained).toMatchObject({
      entitled: true,
      session: {
        tokenSubject: `ent:photo-uploads:user:${principalFor().userKey}`,
        maxDurationSeconds: 43_200,
        maxDurationLimitedBy: 'entitlement_max',
        externalIdSet: false,
      },
    });
  });

  it('tells a caller they are not entitled the same way whether the entitlement exists or not, and writes no audit record', async () => {
    // Prepare
    const { explain, audit } = explainHarness({ caller: principalFor({ groups: ['staff'] }) });

    // Act
    const [lacking, missing] = await Promise.all([
      explain({ authorization: 'Bearer t', entitlement: 'photo-uploads', context: CONTEXT }),
      explain({ authorization: 'Bearer t', entitlement: 'no-such-thing', context: CONTEXT }),
    ]);

    // Assess
    expect(lacking).toMatchObject({ entitled: false, reason: 'no_grant' });
    expect(missing).toMatchObject({ entitled: false, reason: 'no_grant' });
    expect(audit.writes).toEqual([]);
  });

  it('says when the output is not allowed, and when a tag claim is missing', async () => {
    // Prepare
    const { explain } = explainHarness({ caller: principalFor({ attributes: {} }) });

    // Act
    const [console, noClaim] = await Promise.all([
      explain({ authorization: 'Bearer t', entitlement: 'photo-uploads', output: 'console', context: CONTEXT }),
      explain({ authorization: 'Bearer t', entitlement: 'photo-uploads', context: CONTEXT }),
    ]);

    // Assess
    expect(console).toMatchObject({ entitled: false, reason: 'output_not_allowed', grantedBy: [{ group: 'uploaders' }] });
    expect(noClaim).toMatchObject({ entitled: false, reason: 'tag_claim_missing' });
  });

  it('lets an admin explain for bob: not entitled, because no grant names him or his groups; audited', async () => {
    // Prepare
    const { explain, audit } = explainHarness({ caller: admin });

    // Act
    const explained = await explain({
      authorization: 'Bearer t',
      entitlement: 'photo-uploads',
      for: { issuer: 'corp', subject: 'bob', groups: ['staff'] },
      context: CONTEXT,
    });

    // Assess
    expect(explained).toMatchObject({
      entitled: false,
      reason: 'no_grant',
      principal: { issuerId: 'corp', subject: 'bob', userKey: deriveUserKey('https://idp.example.com', 'bob') },
    });
    expect(audit.last).toMatchObject({
      action: 'explain',
      outcome: 'granted',
      caller: { subject: 'carol' },
      entitlement: { id: 'photo-uploads' },
      query: { issuer: 'corp', subject: 'bob' },
    });
  });

  it('lets an admin tell a missing entitlement apart, and explain with the claims a person would have', async () => {
    // Prepare
    const { explain } = explainHarness({ caller: admin });
    const forAlice = { issuer: 'corp', subject: 'alice', groups: ['uploaders'], attributes: { department: 'research' } };

    // Act
    const [missing, alice] = await Promise.all([
      explain({ authorization: 'Bearer t', entitlement: 'no-such-thing', for: forAlice, context: CONTEXT }),
      explain({ authorization: 'Bearer t', entitlement: 'photo-uploads', for: forAlice, context: CONTEXT }),
    ]);

    // Assess
    expect(missing).toMatchObject({ entitled: false, reason: 'no_such_entitlement' });
    expect(alice).toMatchObject({ entitled: true, session: { tags: expect.arrayContaining([{ Key: 'department', Value: 'research' }]) } });
  });

  it('refuses a non-admin who explains for someone else: 403 forbidden, and an audited denial', async () => {
    // Prepare
    const { explain, audit, store } = explainHarness();

    // Act
    const error = await failure(
      explain({ authorization: 'Bearer t', entitlement: 'photo-uploads', for: { issuer: 'corp', subject: 'bob' }, context: CONTEXT }),
    );

    // Assess
    expect(error).toMatchObject({ code: 'forbidden', httpStatus: 403, reason: 'not_admin' });
    expect(audit.last).toMatchObject({ action: 'explain', outcome: 'denied', reason: 'not_admin', errorCode: 'forbidden' });
    expect(store.lookups).toEqual([]);
  });

  it('refuses an admin naming an unknown identity provider or bad groups, audited as denied', async () => {
    // Prepare
    const { explain, audit } = explainHarness({ caller: admin });

    // Act
    const errors = await Promise.all([
      failure(
        explain({ authorization: 'Bearer t', entitlement: 'photo-uploads', for: { issuer: 'nope', subject: 'bob' }, context: CONTEXT }),
      ),
      failure(
        explain({
          authorization: 'Bearer t',
          entitlement: 'photo-uploads',
          for: { issuer: 'corp', subject: 'bob', groups: 'x' },
          context: CONTEXT,
        }),
      ),
    ]);

    // Assess
    expect(errors.map((e) => e.code)).toEqual(['invalid_request', 'invalid_request']);
    expect(audit.writes.map((w) => w.record.outcome)).toEqual(['denied', 'denied']);
  });

  it('never carries a secret: the explanation holds no token, only what a grant would record', async () => {
    // Prepare
    const { explain } = explainHarness();
    const token = new Secret('Bearer t');

    // Act
    const explained = JSON.stringify(await explain({ authorization: token.reveal(), entitlement: 'photo-uploads', context: CONTEXT }));

    // Assess
    expect(explained).not.toContain(sha256Hex('t'));
    expect(explained).not.toContain('Bearer');
  });
});
