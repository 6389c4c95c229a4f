import { describe, expect, it } from 'vitest';
import { makeIssueCredentials } from '../../../src/app/issue-credentials.ts';
import { type Entitlement, parseEntitlement } from '../../../src/domain/entitlement.ts';
import { type KeyvendError, UpstreamUnavailableError } from '../../../src/domain/errors.ts';
import type { Principal } from '../../../src/domain/principal.ts';
import { Secret } from '../../../src/domain/secret.ts';
import type { CredentialIssuer, IssuedCredentials, TokenSigner } from '../../../src/ports/index.ts';
import { FakeAuditLog } from '../fakes.ts';

const ACCOUNT = '111111111111';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/keyvend/target`;
const USER_KEY = 'abcdefghijklmnopqrstuvwxyz';
const MINTED = 'minted.broker.token';
const ISSUER = { issuer: 'https://keyvend.example.com', audience: 'sts.amazonaws.com', lifetimeSeconds: 300 };
const policy = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/{{userKey}}/*' }],
};
const RENDERED_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::b/${USER_KEY}/*` }],
});

function entitlementOf(overrides: Record<string, unknown>): Entitlement {
  const result = parseEntitlement({
    id: 'target',
    description: 'Target',
    roleArn: ROLE,
    outputs: ['credentials'],
    maxDurationSeconds: 43200,
    sessionPolicy: policy,
    ...overrides,
  });
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.entitlement;
}

const oidcPrincipal = (): Principal => ({
  idpType: 'oidc',
  issuerId: 'corp',
  issuer: 'https://idp.example',
  subject: 'alice',
  userKey: USER_KEY,
  groups: ['staff'],
  attributes: { department: 'research' },
  auth: { issuedAt: 1, expiresAt: 2, tokenRef: 'sha256:00' },
});

const samlPrincipal = (): Principal => ({ ...oidcPrincipal(), idpType: 'saml', issuerId: 'corp-saml' });

type Call = { method: string; parameters: Record<string, unknown> };

/** Records every call in order: the audit writes, the signing and the STS calls share one timeline. */
function harness(
  principal: Principal,
  entitlement: Entitlement,
  options: { auditFails?: boolean; signFails?: Error; noIssuer?: boolean } = {},
) {
  const timeline: string[] = [];
  const calls: Call[] = [];
  const signed: Record<string, unknown>[] = [];
  // The fake keeps the audit table's conditions; the wrapper only adds each write to the timeline.
  const audit = new FakeAuditLog();
  if (options.auditFails === true) audit.failOn.add('record');
  const alarms: string[] = [];
  const issued = (arn: string, extra: Partial<IssuedCredentials> = {}): IssuedCredentials => ({
    accessKeyId: 'ASIAEXAMPLE000000001',
    secretAccessKey: new Secret('secret'),
    sessionToken: new Secret('token'),
    expiration: new Date('2030-01-01T00:00:00Z'),
    assumedRoleArn: arn,
    assumedRoleId: 'AROAEXAMPLE:session',
    packedPolicySize: 10,
    stsRequestId: 'req-1',
    ...extra,
  });
  const record = (method: string, result: IssuedCredentials) => async (parameters: object) => {
    timeline.push(`sts:${method}`);
    calls.push({ method, parameters: parameters as Record<string, unknown> });
    return result;
  };
  const credentials: CredentialIssuer = {
    assumeRole: record('assumeRole', issued(`arn:aws:sts::${ACCOUNT}:assumed-role/target/alice.${USER_KEY}`)),
    assumeRoleWithWebIdentity: record(
      'assumeRoleWithWebIdentity',
      issued(`arn:aws:sts::${ACCOUNT}:assumed-role/target/alice.${USER_KEY}`, { sourceIdentity: `alice.${USER_KEY}` }),
    ),
    getFederationToken: record('getFederationToken', issued(`arn:aws:sts::${ACCOUNT}:federated-user/kv.${USER_KEY}`)),
  };
  const signer: TokenSigner = {
    sign: async (claims) => {
      timeline.push('kms:sign');
      if (options.signFails !== undefined) throw options.signFails;
      signed.push({ ...claims });
      return { token: new Secret(MINTED), keyId: 'kid-1' };
    },
  };
  const issue = makeIssueCredentials({
    verifier: { verifyBearer: async () => principal },
    samlVerifier: { verifySamlResponse: async () => ({ principal }) },
    samlAcsUrl: 'https://broker.example.test/v1/credentials',
    entitlements: {
      lookupGrant: async () => ({
        entitlement,
        definition: entitlement,
        grantedBy: [{ subject: principal.subject }],
        revoked: undefined,
        revokedGrantIds: [],
      }),
      findGranted: async () => entitlement,
      listGranted: async () => [entitlement],
    },
    credentials,
    brokerIssuer: options.noIssuer === true ? undefined : { settings: ISSUER, signer },
    audit: {
      record: async (r) => {
        timeline.push(`audit:record:${r.outcome}`);
        await audit.record(r);
      },
      countAnonymous: async (refusal) => {
        timeline.push('audit:countAnonymous');
        await audit.countAnonymous(refusal);
      },
    },
    log: {
      decision: () => {},
      attempt: () => void timeline.push('log:attempt'),
      alarm: (event) => void alarms.push(event),
    },
    clock: { now: () => new Date('2026-11-23T10:00:00Z') },
    settings: { roleChaining: true, isAllowedRole: (arn) => arn.startsWith(`arn:aws:iam::${ACCOUNT}:role/keyvend/`) },
  });
  const run = (input: { durationSeconds?: number; samlAssertion?: Secret } = {}) =>
    issue({
      caller:
        input.samlAssertion === undefined
          ? { kind: 'bearer', authorization: 'Bearer x' }
          : { kind: 'saml', samlResponse: input.samlAssertion },
      entitlement: entitlement.id,
      durationSeconds: input.durationSeconds,
      output: 'credentials',
      context: { requestId: 'r-1' },
    });
  return {
    run,
    timeline,
    calls,
    signed,
    get records() {
      return audit.writes.map((write) => write.record);
    },
    last: () => audit.last,
    alarms,
  };
}

async function refusal(promise: Promise<unknown>): Promise<KeyvendError> {
  try {
    await promise;
  } catch (error) {
    return error as KeyvendError;
  }
  throw new Error('expected a refusal');
}

describe('issue credentials: the path is chosen by the entitlement', () => {
  it.each([
    ['an OIDC caller', oidcPrincipal, {}],
    ['a SAML caller', samlPrincipal, { samlAssertion: new Secret('PHNhbWxwOlJlc3BvbnNlLz4=') }],
  ] as const)('keyvend-issuer mints a token for the grant and exchanges it for a 12 h session, for %s', async (_, principalOf, input) => {
    // Prepare
    const principal = principalOf();
    const h = harness(
      principal,
      entitlementOf({ sessionTags: [{ key: 'department', claim: 'department' }], transitiveTagKeys: ['department'] }),
    );

    // Act
    const grant = await h.run({ ...input, durationSeconds: 43200 });

    // Assess: the attempt is logged before the token exists, and the one record names the token's subject and key
    expect(h.timeline).toEqual(['log:attempt', 'kms:sign', 'sts:assumeRoleWithWebIdentity', 'audit:record:granted']);
    const grantId = h.records[0]!.eventId;
    expect(h.signed).toEqual([
      {
        iss: ISSUER.issuer,
        aud: 'sts.amazonaws.com',
        sub: `ent:target:user:${USER_KEY}`,
        jti: grantId,
        iat: 1_795_428_000,
        nbf: 1_795_428_000,
        exp: 1_795_428_300,
        'https://aws.amazon.com/source_identity': `alice.${USER_KEY}`,
        'https://aws.amazon.com/tags': {
          principal_tags: {
            'keyvend:user': [USER_KEY],
            'keyvend:issuer': [principal.issuerId],
            'keyvend:entitlement': ['target'],
            'keyvend:grant': [grantId],
            department: ['research'],
          },
          transitive_tag_keys: ['department'],
        },
      },
    ]);
    const p = h.calls[0]!.parameters;
    expect((p['webIdentityToken'] as Secret).reveal()).toBe(MINTED);
    expect(p).toMatchObject({ roleArn: ROLE, roleSessionName: `alice.${USER_KEY}`, durationSeconds: 43200, policy: RENDERED_POLICY });
    expect(grant).toMatchObject({
      grantId,
      durationSeconds: 43200,
      sourceIdentity: `alice.${USER_KEY}`,
      roleSessionName: `alice.${USER_KEY}`,
    });
    expect(h.last()?.session).toMatchObject({
      vending: 'keyvend-issuer',
      tokenSubject: `ent:target:user:${USER_KEY}`,
      tokenKeyId: 'kid-1',
      sourceIdentity: `alice.${USER_KEY}`,
    });
    expect(JSON.stringify(h.records)).not.toContain(MINTED);
  });

  it("federation-token signs with the IAM user's secret, names the user from the key, tags it, and allows 36 h", async () => {
    // Prepare
    const h = harness(
      oidcPrincipal(),
      entitlementOf({
        vending: 'federation-token',
        roleArn: undefined,
        federationUser: { secretId: 'keyvend/federation-user', userArn: `arn:aws:iam::${ACCOUNT}:user/keyvend-federation` },
        maxDurationSeconds: 129600,
        sessionTags: [{ key: 'department', claim: 'department' }],
      }),
    );

    // Act
    const grant = await h.run({ durationSeconds: 129600 });

    // Assess
    expect(h.timeline).toEqual(['log:attempt', 'sts:getFederationToken', 'audit:record:granted']);
    expect(h.calls[0]!.parameters).toEqual({
      federationUserSecretId: 'keyvend/federation-user',
      name: `kv.${USER_KEY}`,
      durationSeconds: 129600,
      policy: RENDERED_POLICY,
      policyArns: [],
      tags: [
        { Key: 'keyvend:user', Value: USER_KEY },
        { Key: 'keyvend:issuer', Value: 'corp' },
        { Key: 'keyvend:entitlement', Value: 'target' },
        { Key: 'keyvend:grant', Value: h.records[0]!.eventId },
        { Key: 'department', Value: 'research' },
      ],
    });
    expect(grant.sourceIdentity).toBeUndefined();
    expect(h.last()?.session).toMatchObject({ vending: 'federation-token', roleSessionName: `kv.${USER_KEY}` });
  });

  it("assume-role keeps today's call: tags, SourceIdentity, ExternalId, and the 1 h chaining cap", async () => {
    // Prepare
    const h = harness(oidcPrincipal(), entitlementOf({ vending: 'assume-role', externalId: 'keyvend-partner-1' }));

    // Act
    await h.run({ durationSeconds: 43200 });

    // Assess
    expect(h.calls[0]).toMatchObject({
      method: 'assumeRole',
      parameters: {
        durationSeconds: 3600,
        externalId: 'keyvend-partner-1',
        sourceIdentity: `alice.${USER_KEY}`,
        roleSessionName: `alice.${USER_KEY}`,
      },
    });
    expect(h.last()?.session).toMatchObject({ vending: 'assume-role', externalIdSet: true });
  });
});

describe('issue credentials: each path refuses what does not fit it, before STS, with a denial audited', () => {
  it.each([
    [
      'keyvend-issuer for a role outside the broker allow-list',
      () => harness(oidcPrincipal(), entitlementOf({ roleArn: `arn:aws:iam::${ACCOUNT}:role/admin` })),
      'role_not_in_broker_allow_list',
    ],
    [
      'keyvend-issuer on a broker with no issuer configured',
      () => harness(oidcPrincipal(), entitlementOf({}), { noIssuer: true }),
      'broker_issuer_not_configured',
    ],
  ] as const)('%s', async (_, make, reason) => {
    // Prepare
    const h = make();

    // Act
    const error = await refusal(h.run());

    // Assess
    expect(error.reason).toBe(reason);
    expect(h.calls).toHaveLength(0);
    expect(h.timeline).not.toContain('kms:sign');
    expect(h.last()).toMatchObject({ outcome: 'denied', reason });
  });

  it('signing that fails (KMS throttled or down) issues nothing: 503 with Retry-After, no STS call, denial audited', async () => {
    // Prepare
    const h = harness(oidcPrincipal(), entitlementOf({}), {
      signFails: new UpstreamUnavailableError('kms_throttled', { retryAfterSeconds: 5 }),
    });

    // Act
    const error = await refusal(h.run());

    // Assess
    expect(error).toMatchObject({ code: 'upstream_unavailable', httpStatus: 503, retryAfterSeconds: 5, reason: 'kms_throttled' });
    expect(h.calls).toHaveLength(0);
    expect(h.timeline).toEqual(['log:attempt', 'kms:sign', 'audit:record:denied']);
    expect(h.last()).toMatchObject({ outcome: 'denied', reason: 'kms_throttled' });
  });

  it('delivers nothing on any path when the grant cannot be recorded: minted_not_delivered, 503', async () => {
    for (const [principal, entitlement, input] of [
      [oidcPrincipal(), entitlementOf({}), {}],
      [samlPrincipal(), entitlementOf({}), { samlAssertion: new Secret('x') }],
      [
        oidcPrincipal(),
        entitlementOf({
          vending: 'federation-token',
          roleArn: undefined,
          federationUser: { secretId: 's', userArn: `arn:aws:iam::${ACCOUNT}:user/u` },
        }),
        {},
      ],
    ] as const) {
      // Prepare
      const h = harness(principal, entitlement, { auditFails: true });

      // Act
      const error = await refusal(h.run(input));

      // Assess
      expect(error).toMatchObject({ code: 'upstream_unavailable', reason: 'audit_unavailable' });
      expect(h.calls).toHaveLength(1);
      expect(h.timeline[0]).toBe('log:attempt');
      expect(h.timeline.at(-1)).toBe('audit:record:granted');
      expect(h.alarms).toEqual(['minted_not_delivered']);
    }
  });
});
