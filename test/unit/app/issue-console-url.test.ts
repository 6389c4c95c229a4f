import { describe, expect, it } from 'vitest';
import { makeIssueConsoleUrl } from '../../../src/app/issue-console-url.ts';
import { makeIssueCredentials } from '../../../src/app/issue-credentials.ts';
import { federationEndpointFor, type CredentialOrigin } from '../../../src/domain/console-signin.ts';
import type { Entitlement } from '../../../src/domain/entitlement.ts';
import { UpstreamUnavailableError } from '../../../src/domain/errors.ts';
import type { Principal } from '../../../src/domain/principal.ts';
import { Secret } from '../../../src/domain/secret.ts';
import type { AssumeRoleParameters, SigninTokenRequest } from '../../../src/ports/index.ts';
import { FakeAuditLog } from '../fakes.ts';

const principal: Principal = {
  idpType: 'oidc',
  issuerId: 'dev',
  issuer: 'https://idp.example.com',
  subject: 'alice',
  userKey: 'abcdefghijklmnopqrstuvwxyz',
  groups: ['console-users'],
  attributes: {},
  auth: { issuedAt: 1, expiresAt: 2, tokenRef: 'sha256:x' },
};

const entitlement = (roleArn: string): Entitlement => ({
  id: 'console-readonly',
  version: 1,
  description: 'console',
  roleArn,
  outputs: ['console'],
  maxDurationSeconds: 3600,
  sessionPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:Get*', Resource: '*' }] },
  managedPolicyArns: [],
  sessionTags: [],
  transitiveTagKeys: [],
  vending: 'assume-role',
});

function setup(options: { roleArn?: string; origin?: CredentialOrigin; signin?: (r: SigninTokenRequest) => Promise<Secret> } = {}) {
  const stsCalls: AssumeRoleParameters[] = [];
  const signinCalls: SigninTokenRequest[] = [];
  const audit = new FakeAuditLog();
  const alarms: string[] = [];
  const issueCredentials = makeIssueCredentials({
    verifier: { verifyBearer: async () => principal },
    entitlements: {
      lookupGrant: async () => ({
        entitlement: entitlement(options.roleArn ?? 'arn:aws:iam::111111111111:role/keyvend/c'),
        definition: entitlement(options.roleArn ?? 'arn:aws:iam::111111111111:role/keyvend/c'),
        grantedBy: [{ subject: principal.subject }],
        revoked: undefined,
        revokedGrantIds: [],
      }),
      findGranted: async () => entitlement(options.roleArn ?? 'arn:aws:iam::111111111111:role/keyvend/c'),
      listGranted: async () => [],
    },
    credentials: {
      assumeRole: async (p) => {
        stsCalls.push(p);
        return {
          accessKeyId: 'ASIAFAKE000000000001',
          secretAccessKey: new Secret('fake-secret-key'),
          sessionToken: new Secret('fake-session-token'),
          expiration: new Date(Date.now() + 3600_000),
          assumedRoleArn: 'arn:aws:sts::111111111111:assumed-role/c/alice',
          assumedRoleId: 'AROAFAKE:alice',
          packedPolicySize: 5,
          stsRequestId: 'req-1',
        };
      },
      assumeRoleWithWebIdentity: () => Promise.reject(new Error('not this path')),
      getFederationToken: () => Promise.reject(new Error('not this path')),
    },
    audit,
    log: { decision: () => {}, attempt: () => {}, alarm: (event) => void alarms.push(event) },
    clock: { now: () => new Date() },
    brokerIssuer: undefined,
    settings: { roleChaining: options.origin === 'assume_role_chained', isAllowedRole: () => true },
  });
  const issue = makeIssueConsoleUrl({
    issueCredentials,
    signin: {
      getSigninToken: async (request) => {
        signinCalls.push(request);
        return options.signin ? options.signin(request) : new Secret('signin-token-123');
      },
    },
    clock: { now: () => new Date() },
    settings: {
      issuerUrl: 'https://keyvend.example.com/portal',
      destinationRules: [],
      federationEndpointFor,
      roleChaining: (options.origin ?? 'assume_role_chained') === 'assume_role_chained',
    },
  });
  const input = (extra: Record<string, unknown> = {}) => ({
    caller: { kind: 'bearer', authorization: 'Bearer x' } as const,
    entitlement: 'console-readonly',
    destination: undefined,
    durationSeconds: 900,
    context: { requestId: 'r-1' },
    ...extra,
  });
  return { issue, input, stsCalls, signinCalls, audit, alarms };
}

describe('issueConsoleUrl', () => {
  it('builds the login URL on the partition endpoint, with no SessionDuration for chained credentials', async () => {
    // Prepare
    const { issue, input, signinCalls, audit } = setup();

    // Act
    const grant = await issue(input());

    // Assess
    const url = new URL(grant.url.reveal());
    expect(`${url.origin}${url.pathname}`).toBe('https://signin.aws.amazon.com/federation');
    expect(url.searchParams.get('SigninToken')).toBe('signin-token-123');
    expect(url.searchParams.get('Issuer')).toBe('https://keyvend.example.com/portal');
    expect(signinCalls[0]?.sessionDuration).toBeUndefined();
    expect(JSON.stringify(grant)).not.toContain('signin-token-123');
    expect(audit.last).toMatchObject({ action: 'console', outcome: 'granted', delivery: { type: 'console_url', delivered: true } });
    expect(JSON.stringify(audit.writes)).not.toContain('signin-token-123');
  });

  it('sends SessionDuration for credentials obtained without chaining', async () => {
    // Prepare
    const { issue, input, signinCalls } = setup({ origin: 'assume_role' });

    // Act
    await issue(input({ durationSeconds: 1800 }));

    // Assess
    expect(signinCalls[0]?.sessionDuration).toBe(1800);
  });

  it('uses the us-gov signin host for a us-gov role and refuses a commercial destination before STS', async () => {
    // Prepare
    const gov = setup({ roleArn: 'arn:aws-us-gov:iam::111111111111:role/keyvend/c' });

    // Act
    const grant = await gov.issue(gov.input());
    const refused = await gov.issue(gov.input({ destination: 'https://console.aws.amazon.com/' })).catch((e: unknown) => e);

    // Assess
    expect(new URL(grant.url.reveal()).host).toBe('signin.amazonaws-us-gov.com');
    expect(refused).toMatchObject({ code: 'invalid_request', reason: 'destination_not_allowed' });
    expect(gov.stsCalls).toHaveLength(1);
    expect(gov.audit.last).toMatchObject({ outcome: 'denied', reason: 'destination_not_allowed' });
  });

  it('delivers nothing and records minted_not_delivered when getSigninToken fails (F-06)', async () => {
    // Prepare
    const { issue, input, audit, alarms, stsCalls } = setup({
      signin: async () => {
        throw new UpstreamUnavailableError('signin_token_http_500');
      },
    });

    // Act
    const error = await issue(input()).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ code: 'upstream_unavailable', httpStatus: 503 });
    expect(JSON.stringify(error)).not.toContain('fake-secret-key');
    expect(stsCalls).toHaveLength(1);
    expect(audit.last).toMatchObject({
      outcome: 'minted_not_delivered',
      reason: 'signin_token_http_500',
      delivery: { type: 'console_url', delivered: false },
      session: { accessKeyId: 'ASIAFAKE000000000001' },
    });
    expect(alarms).toContain('minted_not_delivered');
  });
});
