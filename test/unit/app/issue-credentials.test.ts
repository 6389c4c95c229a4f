import { describe, expect, it } from 'vitest';
import type { IssueCredentialsInput } from '../../../src/app/issue-credentials.ts';
import { InvalidRequestError, InvalidTokenError, KeyvendError, UpstreamUnavailableError } from '../../../src/domain/errors.ts';
import { sha256Hex } from '../../../src/domain/identifiers.ts';
import type { Principal } from '../../../src/domain/principal.ts';
import { issueCredentialsHarness, failure } from '../../support/use-cases.ts';
import { entitlementFor, FAKE_SECRET_ACCESS_KEY, FAKE_SESSION_TOKEN, principalFor, revocationFor as revocationOf } from '../fakes.ts';

const harness = issueCredentialsHarness;

const request = (overrides: Partial<IssueCredentialsInput> = {}): IssueCredentialsInput => ({
  caller: { kind: 'bearer', authorization: 'Bearer token' },
  entitlement: 'photo-uploads',
  durationSeconds: 900,
  output: 'credentials',
  context: { requestId: 'req-1', apiRequestId: 'api-1', sourceIp: '203.0.113.9', userAgent: 'agent/1.0' },
  ...overrides,
});

describe('issueCredentials: a grant', () => {
  it('calls STS once with the rendered policy, the session identity and the clamped duration', async () => {
    // Prepare
    const { issue, sts } = harness();
    const principal = principalFor();

    // Act
    const grant = await issue(request({ durationSeconds: 43_200 }));

    // Assess
    expect(sts.calls).toHaveLength(1);
    const call = sts.calls[0];
    expect(call).toMatchObject({
      roleArn: 'arn:aws:iam::111111111111:role/keyvend/photo-uploads',
      roleSessionName: `alice-0001.${principal.userKey}`,
      sourceIdentity: `alice-0001.${principal.userKey}`,
      durationSeconds: 3600,
      policyArns: [],
      transitiveTagKeys: [],
      externalId: undefined,
    });
    const policy = JSON.parse(call?.policy ?? '{}');
    expect(policy.Statement[0].Resource).toBe(`arn:aws:s3:::uploads/${principal.userKey}/*`);
    expect(call?.tags).toContainEqual({ Key: 'department', Value: 'research' });
    expect(grant.durationSeconds).toBe(3600);
    expect(grant.credentials.secretAccessKey.reveal()).toBe(FAKE_SECRET_ACCESS_KEY);
  });

  it('logs the attempt before STS, then writes one granted record with identifiers and hashes only', async () => {
    // Prepare
    const { issue, audit, log, sts } = harness();

    // Act
    const grant = await issue(request());

    // Assess
    expect(audit.writes.map((w) => `${w.operation}:${w.record.outcome}`)).toEqual(['record:granted']);
    expect(log.attempts).toHaveLength(1);
    expect(log.attempts[0]).toMatchObject({
      eventId: grant.grantId,
      caller: { userKey: grant.principal.userKey },
      entitlement: { id: 'photo-uploads' },
      session: { roleArn: grant.entitlement.roleArn, roleSessionName: sts.calls[0]?.roleSessionName },
    });
    expect(log.attempts[0]?.session).not.toHaveProperty('accessKeyId');
    const closed = audit.last;
    expect(closed).toMatchObject({
      eventId: grant.grantId,
      action: 'credentials',
      request: { requestId: 'req-1', apiRequestId: 'api-1', sourceIp: '203.0.113.9', userAgent: 'agent/1.0' },
      caller: { issuerId: 'corp', subject: 'alice-0001', tokenRef: 'sha256:abc' },
      entitlement: { id: 'photo-uploads', version: 3 },
      session: {
        roleSessionName: sts.calls[0]?.roleSessionName,
        policySha256: sha256Hex(sts.calls[0]?.policy ?? ''),
        accessKeyId: 'ASIAFAKEFAKEFAKE0001',
        expiration: '2026-11-23T10:15:00.000Z',
        durationSeconds: 900,
        packedPolicySize: 12,
        stsRequestId: 'sts-req-1',
      },
      delivery: { type: 'credentials', delivered: true },
    });
    const everything = JSON.stringify([audit.writes, log.decisions]);
    expect(everything).not.toContain(FAKE_SECRET_ACCESS_KEY);
    expect(everything).not.toContain(FAKE_SESSION_TOKEN);
    expect(log.decisions.map((d) => d.outcome)).toEqual(['granted']);
  });

  it('names the grant that matched in the record, even a group past the first five the record keeps of the caller', async () => {
    // Prepare: the granting group is the caller's eighth
    const groups = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'uploaders'];
    const { issue, audit } = harness({ principal: principalFor({ groups }) });

    // Act
    await issue(request());

    // Assess
    expect(audit.last?.entitlement).toEqual({ id: 'photo-uploads', version: 3, grantedBy: [{ group: 'uploaders' }] });
    expect(audit.last?.caller).toMatchObject({ groups: ['a', 'b', 'c', 'd', 'e'], groupCount: 8 });
  });

  it('passes managed policies, transitive tags and the ExternalId from the entitlement, not the caller', async () => {
    // Prepare
    const { issue, sts } = harness({
      entitlements: [
        entitlementFor({
          managedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
          transitiveTagKeys: ['keyvend:user'],
          externalId: 'tenant-42',
        }),
      ],
    });

    // Act
    await issue(request());

    // Assess
    expect(sts.calls[0]).toMatchObject({
      policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
      transitiveTagKeys: ['keyvend:user'],
      externalId: 'tenant-42',
    });
  });

  it('caps the duration at an hour when role chaining, and at the entitlement otherwise (P-10)', async () => {
    // Prepare
    const chained = harness({ roleChaining: true, entitlements: [entitlementFor({ maxDurationSeconds: 43_200 })] });
    const direct = harness({ roleChaining: false, entitlements: [entitlementFor({ maxDurationSeconds: 43_200 })] });

    // Act
    await chained.issue(request({ durationSeconds: 43_200 }));
    await direct.issue(request({ durationSeconds: 43_200 }));

    // Assess
    expect(chained.sts.calls[0]?.durationSeconds).toBe(3600);
    expect(direct.sts.calls[0]?.durationSeconds).toBe(43_200);
  });
});

describe('issueCredentials: who the caller is', () => {
  it('takes a verified caller (a portal session) as it is, without asking the verifier', async () => {
    // Prepare
    const { issue, verifier, audit } = harness({ principal: new InvalidTokenError('must_not_be_called') });
    const principal = principalFor({ subject: 'portal-user' });

    // Act
    const grant = await issue(request({ caller: { kind: 'verified', principal } }));

    // Assess
    expect(verifier.calls).toEqual([]);
    expect(grant.principal).toBe(principal);
    expect(audit.last).toMatchObject({ outcome: 'granted', caller: { subject: 'portal-user', userKey: principal.userKey } });
  });

  it('refuses a request problem audited without a caller before verifying anyone, and calls nothing else', async () => {
    // Prepare
    const { issue, verifier, store, sts, audit } = harness();
    const problem = new InvalidRequestError('Send either a bearer token or a SAML response, not both.', {
      reason: 'ambiguous_credentials',
    });

    // Act
    const error = await failure(issue(request({ requestProblem: { error: problem, audited: 'without-caller' } })));

    // Assess
    expect(error).toBe(problem);
    expect(verifier.calls).toEqual([]);
    expect(store.lookups).toEqual([]);
    expect(sts.calls).toHaveLength(0);
    // Without a caller the refusal has no item of its own: it is counted in its source's aggregate for the minute.
    expect(audit.writes).toEqual([]);
    expect(audit.anonymous).toEqual([
      {
        time: '2026-11-23T09:30:00.000Z',
        action: 'credentials',
        source: '203.0.113.9',
        reason: 'ambiguous_credentials',
        errorCode: 'invalid_request',
      },
    ]);
    expect(audit.aggregate('anon#2026-11-23T09:30#203.0.113.9')).toMatchObject({ requests: 1, reasons: { ambiguous_credentials: 1 } });
  });

  it('verifies the caller first when the problem is audited with a verified caller, and still reads nothing', async () => {
    // Prepare
    const { issue, verifier, store, sts, audit } = harness();

    // Act
    const error = await failure(
      issue(
        request({
          requestProblem: { error: new InvalidRequestError('no', { reason: 'token_in_query' }), audited: 'with-verified-caller' },
        }),
      ),
    );

    // Assess
    expect(error.reason).toBe('token_in_query');
    expect(verifier.calls).toEqual(['Bearer token']);
    expect(store.lookups).toEqual([]);
    expect(sts.calls).toHaveLength(0);
    expect(audit.writes).toEqual([
      {
        operation: 'record',
        record: expect.objectContaining({
          outcome: 'denied',
          reason: 'token_in_query',
          caller: expect.objectContaining({ subject: 'alice-0001' }),
        }),
      },
    ]);
  });
});

describe('issueCredentials: fails closed', () => {
  it('audits a verifier failure with its reason and calls nothing else', async () => {
    // Prepare
    const { issue, sts, store, audit } = harness({ principal: new InvalidTokenError('token_expired') });

    // Act
    const error = await failure(issue(request()));

    // Assess
    expect(error).toMatchObject({ code: 'invalid_token', httpStatus: 401 });
    expect(sts.calls).toHaveLength(0);
    expect(store.lookups).toHaveLength(0);
    expect(audit.writes).toEqual([]);
    expect(audit.anonymous).toEqual([
      expect.objectContaining({ reason: 'token_expired', errorCode: 'invalid_token', action: 'credentials' }),
    ]);
  });

  it('turns an unexpected verifier crash into an opaque 500, audited, with no STS call', async () => {
    // Prepare
    const { issue, sts, audit } = harness({ principal: new TypeError('cannot read properties of undefined') });

    // Act
    const error = await failure(issue(request()));

    // Assess
    expect(error).toMatchObject({ code: 'internal_error', httpStatus: 500, expose: false });
    expect(sts.calls).toHaveLength(0);
    expect(audit.anonymous).toEqual([expect.objectContaining({ reason: 'unexpected', errorCode: 'internal_error' })]);
  });

  it('answers 503 when the entitlement read fails, without calling STS, and audits it', async () => {
    // Prepare
    const { issue, sts, store, audit } = harness();
    store.failure = Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' });

    // Act
    const error = await failure(issue(request()));

    // Assess
    expect(error).toMatchObject({ code: 'upstream_unavailable', httpStatus: 503, reason: 'entitlements_unavailable' });
    expect(error.retryAfterSeconds).toBeGreaterThan(0);
    expect(sts.calls).toHaveLength(0);
    expect(audit.writes.map((w) => `${w.operation}:${w.record.outcome}`)).toEqual(['record:denied']);
  });

  it('keeps the store error when it is already a KeyvendError (a corrupt entitlement is a 500, not a grant)', async () => {
    // Prepare
    const { issue, sts, store } = harness();
    store.failure = new KeyvendError('internal_error', 500, 'Internal error.', { reason: 'entitlement_corrupt' });

    // Act
    const error = await failure(issue(request()));

    // Assess
    expect(error).toMatchObject({ httpStatus: 500, reason: 'entitlement_corrupt' });
    expect(sts.calls).toHaveLength(0);
  });

  it('still denies, and raises an alarm, when the denial cannot be written', async () => {
    // Prepare
    const { issue, sts, audit, log } = harness({ entitlements: [] });
    audit.failOn.add('record');

    // Act
    const error = await failure(issue(request()));

    // Assess
    expect(error).toMatchObject({ code: 'not_entitled', reason: 'no_matching_entitlement' });
    expect(sts.calls).toHaveLength(0);
    expect(log.attempts).toHaveLength(0);
    expect(log.alarms.map((a) => a.event)).toEqual(['audit_write_failed_on_denial']);
    expect(log.decisions.at(-1)?.outcome).toBe('denied');
  });

  it('withholds minted credentials when the grant cannot be recorded, and raises minted_not_delivered (F-03)', async () => {
    // Prepare
    const { issue, sts, audit, log } = harness();
    audit.failOn.add('record');

    // Act
    const error = await failure(issue(request()));

    // Assess
    expect(error).toMatchObject({ code: 'upstream_unavailable', httpStatus: 503 });
    expect(JSON.stringify(error)).not.toContain(FAKE_SECRET_ACCESS_KEY);
    expect(sts.calls).toHaveLength(1);
    expect(log.alarms).toHaveLength(1);
    expect(log.alarms[0]).toMatchObject({
      event: 'minted_not_delivered',
      record: {
        outcome: 'minted_not_delivered',
        reason: 'audit_write_failed',
        session: { accessKeyId: 'ASIAFAKEFAKEFAKE0001' },
        delivery: { delivered: false },
      },
    });
    expect(JSON.stringify(log.alarms[0]?.record)).not.toContain(FAKE_SESSION_TOKEN);
    expect(log.decisions.some((d) => d.outcome === 'granted')).toBe(false);
    expect(audit.writes).toEqual([]);
    // What is left of the session besides CloudTrail: the attempt line, naming the same grant id
    expect(log.attempts.map((a) => a.eventId)).toEqual([log.alarms[0]?.record.eventId]);
  });

  it('delivers, once, when the grant was recorded but the response of that write was lost and its retry failed the condition', async () => {
    // Prepare
    const { issue, sts, audit, log } = harness();
    audit.responseLostOn.add('record');

    // Act
    const grant = await issue(request());

    // Assess
    expect(grant.credentials.accessKeyId).toBe('ASIAFAKEFAKEFAKE0001');
    expect(sts.calls).toHaveLength(1);
    expect(audit.writes.map((w) => `${w.operation}:${w.record.outcome}`)).toEqual(['record:granted']);
    expect(log.alarms).toEqual([]);
    expect(log.decisions.at(-1)).toMatchObject({ outcome: 'granted', session: { accessKeyId: 'ASIAFAKEFAKEFAKE0001' } });
  });

  it('still withholds the credentials when the conflicting stored record is not the grant being written', async () => {
    // Prepare
    const { issue, audit, log } = harness();
    audit.responseLostOn.add('record');
    audit.storedInstead = (written) => ({ ...written, session: { ...written.session, accessKeyId: 'ASIAOTHERSESSION0000' } });

    // Act
    const error = await failure(issue(request()));

    // Assess: a grant of another session under this event id is not ours
    expect(error).toMatchObject({ code: 'upstream_unavailable', httpStatus: 503, reason: 'audit_unavailable' });
    expect(log.alarms.map((alarm) => alarm.event)).toEqual(['minted_not_delivered']);
  });

  it('never calls STS when the policy cannot be rendered (P-12)', async () => {
    // Prepare: a template that passed the write-time check is corrupted in storage
    const broken = entitlementFor({
      sessionPolicy: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/{{email}}/*' }],
      },
    });
    const { issue, sts, audit } = harness({ entitlements: [broken] });

    // Act
    const error = await failure(issue(request()));

    // Assess
    expect(error).toMatchObject({ code: 'internal_error', reason: 'policy_render_failed' });
    expect(sts.calls).toHaveLength(0);
    expect(audit.last).toMatchObject({ outcome: 'denied', reason: 'policy_render_failed' });
  });

  it('refuses a caller whose subject a {{subject}} template cannot safely hold, without calling STS', async () => {
    // Prepare
    const template = entitlementFor({
      sessionPolicy: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/{{issuerId}}/{{subject}}/*' }],
      },
    });
    const { issue, sts } = harness({ entitlements: [template], principal: principalFor({ subject: 'alice.smith@example.com' }) });

    // Act
    const error = await failure(issue(request()));

    // Assess
    expect(error).toMatchObject({ code: 'not_entitled', reason: 'subject_not_policy_safe' });
    expect(sts.calls).toHaveLength(0);
  });

  it('refuses an oversized policy and tags before STS (P-11)', async () => {
    // Prepare
    const statements = Array.from({ length: 30 }, (_, i) => ({
      Effect: 'Allow',
      Action: 's3:PutObject',
      Resource: `arn:aws:s3:::bucket-${i}/{{userKey}}/*`,
    }));
    const { issue, sts } = harness({ entitlements: [entitlementFor({ sessionPolicy: { Version: '2012-10-17', Statement: statements } })] });

    // Act
    const error = await failure(issue(request()));

    // Assess
    expect(error).toMatchObject({ code: 'policy_too_large', httpStatus: 422 });
    expect(sts.calls).toHaveLength(0);
  });

  it.each([
    ['an entitlement the caller lacks', { entitlement: 'admin' }, 'not_entitled', 'no_matching_entitlement'],
    ['an output the entitlement does not allow', { output: 'console' as const }, 'not_entitled', 'output_not_allowed'],
    ['an entitlement id outside the grammar', { entitlement: '../admin' }, 'invalid_request', 'invalid_request'],
    ['a non-string entitlement', { entitlement: { id: 'photo-uploads' } }, 'invalid_request', 'invalid_request'],
    ['a duration below the minimum', { durationSeconds: 60 }, 'invalid_request', 'invalid_request'],
    [
      'a problem the HTTP layer found (client-chosen STS fields, P-08f)',
      { requestProblem: { error: new InvalidRequestError('no', { reason: 'unknown_fields' }), audited: 'with-verified-caller' as const } },
      'invalid_request',
      'unknown_fields',
    ],
  ])('denies %s, audits the reason with the caller, and calls no STS', async (_name, overrides, code, reason) => {
    // Prepare
    const { issue, sts, audit, log } = harness();

    // Act
    const error = await failure(issue(request(overrides as Partial<IssueCredentialsInput>)));

    // Assess
    expect(error).toMatchObject({ code, reason });
    expect(sts.calls).toHaveLength(0);
    expect(audit.last).toMatchObject({ outcome: 'denied', reason, errorCode: code, caller: { subject: 'alice-0001' } });
    expect(log.decisions.at(-1)).toMatchObject({ outcome: 'denied', reason });
  });

  it.each([
    ['the person', (p: Principal) => ({ kind: 'person' as const, issuerId: p.issuerId, subject: p.subject, userKey: p.userKey })],
    ['the entitlement', () => ({ kind: 'entitlement' as const, entitlementId: 'photo-uploads' })],
  ])(
    'refuses a granted caller once %s is revoked (reason revoked), audits it, calls no STS; un-revoked, grants again',
    async (_name, target) => {
      // Prepare
      const { issue, sts, audit, store } = harness();
      const revocation = revocationOf(target(principalFor()));
      await store.add(revocation);

      // Act
      const error = await failure(issue(request()));
      await store.remove(revocation.id);
      const after = await issue(request());

      // Assess
      expect(error).toMatchObject({ code: 'not_entitled', httpStatus: 403, reason: 'revoked' });
      expect(sts.calls).toHaveLength(1);
      expect(audit.writes.map((w) => w.record).find((r) => r.outcome === 'denied')).toMatchObject({
        reason: 'revoked',
        entitlement: { id: 'photo-uploads' },
        caller: { subject: 'alice-0001' },
      });
      expect(after.grantId).toBeDefined();
    },
  );

  it('still grants a new session when only an earlier grant of the caller was revoked', async () => {
    // Prepare
    const { issue, store } = harness();
    const p = principalFor();
    const first = await issue(request());
    await store.add(
      revocationOf({
        kind: 'grant',
        grantId: first.grantId,
        issuerId: p.issuerId,
        subject: p.subject,
        userKey: p.userKey,
        entitlementId: 'photo-uploads',
      }),
    );

    // Act
    const second = await issue(request());

    // Assess
    expect(second.grantId).not.toBe(first.grantId);
    expect((await store.lookupGrant(p, 'photo-uploads')).revokedGrantIds).toEqual([first.grantId]);
  });

  it('refuses a role outside the broker allow list even when an entitlement names it', async () => {
    // Prepare
    const { issue, sts } = harness({ entitlements: [entitlementFor({ roleArn: 'arn:aws:iam::222222222222:role/admin' })] });

    // Act
    const error = await failure(issue(request()));

    // Assess
    expect(error).toMatchObject({ httpStatus: 500, reason: 'role_not_in_broker_allow_list' });
    expect(sts.calls).toHaveLength(0);
  });

  it('audits an STS failure as one denial and returns its mapped error', async () => {
    // Prepare
    const { issue, sts, audit } = harness();
    sts.failure = new UpstreamUnavailableError('sts_throttled', { retryAfterSeconds: 5 });

    // Act
    const error = await failure(issue(request()));

    // Assess
    expect(error).toMatchObject({ httpStatus: 503, reason: 'sts_throttled', retryAfterSeconds: 5 });
    expect(sts.calls).toHaveLength(1);
    expect(audit.writes.map((w) => `${w.operation}:${w.record.outcome}`)).toEqual(['record:denied']);
  });

  it('bounds what the audit record keeps of caller-chosen text', async () => {
    // Prepare
    const { issue, audit } = harness();

    // Act
    await failure(issue(request({ entitlement: 'x'.repeat(5000), context: { requestId: 'r', userAgent: 'u'.repeat(5000) } })));

    // Assess
    expect(audit.last?.entitlement?.id.length).toBeLessThanOrEqual(64);
    expect(audit.last?.request.userAgent?.length).toBeLessThanOrEqual(256);
  });
});
