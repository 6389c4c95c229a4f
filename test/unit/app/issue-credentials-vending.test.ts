import { describe, expect, it } from 'vitest';
import { makeIssueCredentials } from '../../../src/app/issue-credentials.ts';
import type { AuditRecord } from '../../../src/domain/audit-record.ts';
import { type Entitlement, parseEntitlement } from '../../../src/domain/entitlement.ts';
import { type KeyvendError } from '../../../src/domain/errors.ts';
import type { Principal } from '../../../src/domain/principal.ts';
import { Secret } from '../../../src/domain/secret.ts';
import type { CredentialIssuer, IssuedCredentials } from '../../../src/ports/index.ts';
import { AWS_SAML_AUDIENCE } from '../../../src/domain/saml.ts';

const ACCOUNT = '111111111111';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/keyvend/target`;
const SAML_PROVIDER = `arn:aws:iam::${ACCOUNT}:saml-provider/corp-idp`;
const USER_KEY = 'abcdefghijklmnopqrstuvwxyz';
const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/{{userKey}}/*' }] };
const RENDERED_POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::b/${USER_KEY}/*` }] });

function entitlementOf(overrides: Record<string, unknown>): Entitlement {
  const result = parseEntitlement({ id: 'target', description: 'Target', roleArn: ROLE, outputs: ['credentials'], maxDurationSeconds: 43200, sessionPolicy: policy, ...overrides });
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.entitlement;
}

const oidcPrincipal = (token = 'header.payload.signature'): Principal => ({
  idpType: 'oidc',
  issuerId: 'corp',
  issuer: 'https://idp.example',
  subject: 'alice',
  userKey: USER_KEY,
  groups: ['staff'],
  attributes: { department: 'research' },
  auth: { issuedAt: 1, expiresAt: 2, tokenRef: 'sha256:00' },
  bearerToken: new Secret(token),
});

const samlPrincipal = (awsRoles: Principal['awsRoles'] = [{ roleArn: ROLE, principalArn: SAML_PROVIDER }]): Principal => ({
  ...oidcPrincipal(),
  idpType: 'saml',
  bearerToken: undefined as never,
  awsRoles,
});

type Call = { method: string; parameters: Record<string, unknown> };

/** Records every call in order: the audit writes and the STS calls share one timeline. */
function harness(principal: Principal, entitlement: Entitlement, options: { auditOpenFails?: boolean } = {}) {
  const timeline: string[] = [];
  const calls: Call[] = [];
  const records: AuditRecord[] = [];
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
    assumeRoleWithWebIdentity: record('assumeRoleWithWebIdentity', issued(`arn:aws:sts::${ACCOUNT}:assumed-role/target/alice.${USER_KEY}`, { sourceIdentity: 'alice-from-token' })),
    assumeRoleWithSaml: record('assumeRoleWithSaml', issued(`arn:aws:sts::${ACCOUNT}:assumed-role/target/alice@example.com`)),
    getFederationToken: record('getFederationToken', issued(`arn:aws:sts::${ACCOUNT}:federated-user/kv.${USER_KEY}`)),
  };
  const issue = makeIssueCredentials({
    verifier: { verifyBearer: async () => principal },
    // SAML callers of these tests bring an assertion their IdP issued for AWS (the pass-through path).
    samlVerifier: { verifySamlResponse: async (samlResponse) => ({ principal, audience: AWS_SAML_AUDIENCE, samlResponse }) },
    samlAcsUrl: 'https://broker.example.test/v1/credentials',
    entitlements: { findGranted: async () => entitlement, listGranted: async () => [entitlement] },
    credentials,
    audit: {
      open: async (r) => {
        timeline.push('audit:open');
        if (options.auditOpenFails) throw new Error('table unavailable');
        records.push(structuredClone(r));
      },
      close: async (r) => {
        timeline.push(`audit:close:${r.outcome}`);
        records.push(structuredClone(r));
      },
      record: async (r) => {
        timeline.push(`audit:record:${r.outcome}`);
        records.push(structuredClone(r));
      },
    },
    log: { decision: () => {}, alarm: () => {} },
    clock: { now: () => new Date('2026-11-23T10:00:00Z') },
    settings: { roleChaining: true, isAllowedRole: (arn) => arn.startsWith(`arn:aws:iam::${ACCOUNT}:role/keyvend/`) },
  });
  const run = (input: { durationSeconds?: number; samlAssertion?: Secret } = {}) =>
    issue({
      ...(input.samlAssertion === undefined
        ? { authorization: 'Bearer x' }
        : { credential: { kind: 'saml', samlResponse: input.samlAssertion } as const }),
      entitlement: entitlement.id,
      durationSeconds: input.durationSeconds,
      output: 'credentials',
      context: { requestId: 'r-1' },
    });
  return { run, timeline, calls, records, last: () => records[records.length - 1] };
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
  it('web-identity passes the caller\'s own token, a 12 h session, the policy, and no broker tags', async () => {
    // Prepare
    const h = harness(oidcPrincipal('the.raw.token'), entitlementOf({ vending: 'web-identity' }));

    // Act
    const grant = await h.run({ durationSeconds: 43200 });

    // Assess
    expect(h.timeline).toEqual(['audit:open', 'sts:assumeRoleWithWebIdentity', 'audit:close:granted']);
    const p = h.calls[0]!.parameters;
    expect((p['webIdentityToken'] as Secret).reveal()).toBe('the.raw.token');
    expect(p).toMatchObject({ roleArn: ROLE, roleSessionName: `alice.${USER_KEY}`, durationSeconds: 43200, policy: RENDERED_POLICY });
    expect(grant.sourceIdentity).toBe('alice-from-token');
    expect(h.last()?.session).toMatchObject({ vending: 'web-identity', tags: [], sourceIdentity: 'alice-from-token' });
    expect(JSON.stringify(h.records)).not.toContain('the.raw.token');
  });

  it('saml passes the assertion and the provider from the Role attribute, and names the session from STS', async () => {
    // Prepare
    const h = harness(samlPrincipal(), entitlementOf({ vending: 'saml' }));

    // Act
    const grant = await h.run({ samlAssertion: new Secret('PHNhbWxwOlJlc3BvbnNlLz4=') });

    // Assess
    expect(h.timeline).toEqual(['audit:open', 'sts:assumeRoleWithSaml', 'audit:close:granted']);
    const p = h.calls[0]!.parameters;
    expect(p).toMatchObject({ roleArn: ROLE, principalArn: SAML_PROVIDER, durationSeconds: 3600, policy: RENDERED_POLICY });
    expect((p['samlAssertion'] as Secret).reveal()).toBe('PHNhbWxwOlJlc3BvbnNlLz4=');
    expect(grant.roleSessionName).toBe('alice@example.com');
    expect(h.last()?.session).toMatchObject({ vending: 'saml', samlProviderArn: SAML_PROVIDER, roleSessionName: 'alice@example.com' });
    expect(JSON.stringify(h.records)).not.toContain('PHNhbWxw');
  });

  it('federation-token signs with the IAM user\'s secret, names the user from the key, tags it, and allows 36 h', async () => {
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
    expect(h.timeline).toEqual(['audit:open', 'sts:getFederationToken', 'audit:close:granted']);
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
        { Key: 'department', Value: 'research' },
      ],
    });
    expect(grant.sourceIdentity).toBeUndefined();
    expect(h.last()?.session).toMatchObject({ vending: 'federation-token', roleSessionName: `kv.${USER_KEY}` });
  });

  it('assume-role keeps today\'s call: tags, SourceIdentity, ExternalId, and the 1 h chaining cap', async () => {
    // Prepare
    const h = harness(oidcPrincipal(), entitlementOf({ externalId: 'keyvend-partner-1' }));

    // Act
    await h.run({ durationSeconds: 43200 });

    // Assess
    expect(h.calls[0]).toMatchObject({
      method: 'assumeRole',
      parameters: { durationSeconds: 3600, externalId: 'keyvend-partner-1', sourceIdentity: `alice.${USER_KEY}`, roleSessionName: `alice.${USER_KEY}` },
    });
    expect(h.last()?.session).toMatchObject({ vending: 'assume-role', externalIdSet: true });
  });
});

describe('issue credentials: each path refuses what does not fit it, before STS, with a denial audited', () => {
  it.each([
    ['web-identity for a SAML caller', () => harness(samlPrincipal(), entitlementOf({ vending: 'web-identity' })), {}, 'web_identity_needs_oidc_caller'],
    ['saml for an OIDC caller', () => harness(oidcPrincipal(), entitlementOf({ vending: 'saml' })), { samlAssertion: new Secret('x') }, 'saml_needs_saml_caller'],
    ['saml without the assertion', () => harness(samlPrincipal(), entitlementOf({ vending: 'saml' })), {}, 'saml_needs_saml_caller'],
    ['saml whose Role attribute names another role', () => harness(samlPrincipal([{ roleArn: `arn:aws:iam::${ACCOUNT}:role/keyvend/other`, principalArn: SAML_PROVIDER }]), entitlementOf({ vending: 'saml' })), { samlAssertion: new Secret('x') }, 'saml_role_attribute_mismatch'],
    ['saml whose provider is in another account', () => harness(samlPrincipal([{ roleArn: ROLE, principalArn: 'arn:aws:iam::222222222222:saml-provider/corp-idp' }]), entitlementOf({ vending: 'saml' })), { samlAssertion: new Secret('x') }, 'saml_role_attribute_mismatch'],
    ['saml whose principal is not a SAML provider', () => harness(samlPrincipal([{ roleArn: ROLE, principalArn: `arn:aws:iam::${ACCOUNT}:oidc-provider/idp.example` }]), entitlementOf({ vending: 'saml' })), { samlAssertion: new Secret('x') }, 'saml_role_attribute_mismatch'],
    ['web-identity for a role outside the broker allow-list', () => harness(oidcPrincipal(), entitlementOf({ vending: 'web-identity', roleArn: `arn:aws:iam::${ACCOUNT}:role/admin` })), {}, 'role_not_in_broker_allow_list'],
  ] as const)('%s', async (_, make, input, reason) => {
    // Prepare
    const h = make();

    // Act
    const error = await refusal(h.run(input));

    // Assess
    expect(error.reason).toBe(reason);
    expect(h.calls).toHaveLength(0);
    expect(h.last()).toMatchObject({ outcome: 'denied', reason });
  });

  it('issues nothing on any path when the pending audit record cannot be written', async () => {
    for (const [principal, entitlement, input] of [
      [oidcPrincipal(), entitlementOf({ vending: 'web-identity' }), {}],
      [samlPrincipal(), entitlementOf({ vending: 'saml' }), { samlAssertion: new Secret('x') }],
      [oidcPrincipal(), entitlementOf({ vending: 'federation-token', roleArn: undefined, federationUser: { secretId: 's', userArn: `arn:aws:iam::${ACCOUNT}:user/u` } }), {}],
    ] as const) {
      // Prepare
      const h = harness(principal, entitlement, { auditOpenFails: true });

      // Act
      const error = await refusal(h.run(input));

      // Assess
      expect(error.code).toBe('upstream_unavailable');
      expect(h.calls).toHaveLength(0);
    }
  });
});
