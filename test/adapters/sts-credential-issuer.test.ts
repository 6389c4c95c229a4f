import {
  AssumeRoleCommand,
  ExpiredTokenException,
  MalformedPolicyDocumentException,
  PackedPolicyTooLargeException,
  RegionDisabledException,
  STSClient,
  STSServiceException,
} from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { StsCredentialIssuer, translateStsError } from '../../src/adapters/sts/sts-credential-issuer.ts';
import type { AssumeRoleParameters } from '../../src/ports/index.ts';

const sts = mockClient(STSClient);
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY';
const TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN';

const parameters = (overrides: Partial<AssumeRoleParameters> = {}): AssumeRoleParameters => ({
  roleArn: 'arn:aws:iam::111111111111:role/keyvend/photo-uploads',
  roleSessionName: 'alice.abcdefghijklmnopqrstuvwxyz',
  sourceIdentity: 'alice.abcdefghijklmnopqrstuvwxyz',
  durationSeconds: 900,
  policy: '{"Version":"2012-10-17","Statement":[]}',
  policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
  tags: [{ Key: 'keyvend:user', Value: 'abcdefghijklmnopqrstuvwxyz' }],
  transitiveTagKeys: ['keyvend:user'],
  externalId: 'tenant-42',
  ...overrides,
});

const stsError = (name: string, message = 'STS says no', status = 400) =>
  new STSServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message });

describe('StsCredentialIssuer', () => {
  beforeEach(() => {
    sts.reset();
  });

  it('sends exactly the parameters it was given, and wraps the secrets', async () => {
    // Prepare
    sts.on(AssumeRoleCommand).resolves({
      Credentials: {
        AccessKeyId: 'ASIAEXAMPLE',
        SecretAccessKey: SECRET,
        SessionToken: TOKEN,
        Expiration: new Date('2026-11-23T10:00:00Z'),
      },
      AssumedRoleUser: { Arn: 'arn:aws:sts::111111111111:assumed-role/photo-uploads/alice', AssumedRoleId: 'AROAX:alice' },
      PackedPolicySize: 7,
      $metadata: { requestId: 'req-9' },
    });

    // Act
    const issued = await new StsCredentialIssuer(new STSClient({ region: 'us-east-1' })).assumeRole(parameters());

    // Assess
    const calls = sts.commandCalls(AssumeRoleCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      RoleArn: 'arn:aws:iam::111111111111:role/keyvend/photo-uploads',
      RoleSessionName: 'alice.abcdefghijklmnopqrstuvwxyz',
      SourceIdentity: 'alice.abcdefghijklmnopqrstuvwxyz',
      DurationSeconds: 900,
      Policy: '{"Version":"2012-10-17","Statement":[]}',
      PolicyArns: [{ arn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }],
      Tags: [{ Key: 'keyvend:user', Value: 'abcdefghijklmnopqrstuvwxyz' }],
      TransitiveTagKeys: ['keyvend:user'],
      ExternalId: 'tenant-42',
    });
    expect(issued).toMatchObject({ accessKeyId: 'ASIAEXAMPLE', assumedRoleId: 'AROAX:alice', packedPolicySize: 7, stsRequestId: 'req-9' });
    expect(issued.secretAccessKey.reveal()).toBe(SECRET);
    expect(JSON.stringify(issued)).not.toContain(SECRET);
    expect(JSON.stringify(issued)).not.toContain(TOKEN);
  });

  it('leaves out empty lists and absent values rather than sending empty ones', async () => {
    // Prepare
    sts.on(AssumeRoleCommand).resolves({
      Credentials: { AccessKeyId: 'ASIAEXAMPLE', SecretAccessKey: SECRET, SessionToken: TOKEN, Expiration: new Date() },
      AssumedRoleUser: { Arn: 'arn:aws:sts::1:assumed-role/r/s', AssumedRoleId: 'AROAX:s' },
      $metadata: {},
    });

    // Act
    await new StsCredentialIssuer(new STSClient({ region: 'us-east-1' })).assumeRole(
      parameters({ policyArns: [], tags: [], transitiveTagKeys: [], externalId: undefined }),
    );

    // Assess
    const input = sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input;
    expect(input?.PolicyArns).toBeUndefined();
    expect(input?.Tags).toBeUndefined();
    expect(input?.TransitiveTagKeys).toBeUndefined();
    expect(input?.ExternalId).toBeUndefined();
  });

  it('never calls STS without a session policy or managed policies (P-12)', async () => {
    // Act
    const result = new StsCredentialIssuer(new STSClient({ region: 'us-east-1' })).assumeRole(
      parameters({ policy: undefined, policyArns: [] }),
    );

    // Assess
    await expect(result).rejects.toMatchObject({ httpStatus: 500, reason: 'no_session_policy' });
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it('treats an incomplete STS answer as unavailable, not as credentials', async () => {
    // Prepare
    sts.on(AssumeRoleCommand).resolves({
      Credentials: { AccessKeyId: 'ASIA', SecretAccessKey: SECRET, SessionToken: undefined as never, Expiration: new Date() },
    });

    // Act + Assess
    await expect(new StsCredentialIssuer(new STSClient({ region: 'us-east-1' })).assumeRole(parameters())).rejects.toMatchObject({
      reason: 'sts_incomplete_response',
    });
  });

  it.each([
    ['Throttling', stsError('Throttling', 'Rate exceeded'), 503, 'upstream_unavailable', 'sts_throttled'],
    [
      'PackedPolicyTooLarge',
      new PackedPolicyTooLargeException({ $metadata: {}, message: 'Packed size 112%' }),
      422,
      'policy_too_large',
      'sts_packed_policy_too_large',
    ],
    [
      'MalformedPolicyDocument',
      new MalformedPolicyDocumentException({ $metadata: {}, message: 'Syntax errors in policy' }),
      500,
      'internal_error',
      'sts_malformed_policy',
    ],
    [
      "ValidationError (our bug, never the caller's)",
      stsError('ValidationError', 'DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining'),
      500,
      'internal_error',
      'sts_validation_error',
    ],
    [
      'AccessDenied',
      stsError('AccessDenied', 'User: arn:aws:sts::999:assumed-role/broker/x is not authorized to perform: sts:AssumeRole', 403),
      500,
      'internal_error',
      'sts_access_denied',
    ],
    [
      'RegionDisabled',
      new RegionDisabledException({ $metadata: {}, message: 'STS is not activated in this region' }),
      500,
      'internal_error',
      'sts_region_disabled',
    ],
    [
      "ExpiredToken (the broker's own credentials)",
      new ExpiredTokenException({ $metadata: {}, message: 'The security token included in the request is expired' }),
      503,
      'upstream_unavailable',
      'sts_broker_credentials_rejected',
    ],
    ['a 5xx', stsError('InternalFailure', 'boom', 500), 503, 'upstream_unavailable', 'sts_unavailable'],
    [
      'a network failure',
      Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }),
      503,
      'upstream_unavailable',
      'sts_unavailable',
    ],
  ])('maps %s to a stable code, keeping STS text out of the message', async (_name, error, status, code, reason) => {
    // Prepare
    sts.on(AssumeRoleCommand).rejects(error);

    // Act
    const failure = await new StsCredentialIssuer(new STSClient({ region: 'us-east-1' })).assumeRole(parameters()).catch((e: unknown) => e);

    // Assess
    expect(failure).toMatchObject({ httpStatus: status, code, reason });
    const visible = `${(failure as Error).message} ${JSON.stringify(failure)}`;
    expect(visible).not.toContain((error as Error).message);
    expect(visible).not.toMatch(/arn:aws|tenant-42/);
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
  });

  it('asks the client to retry a throttled request after a delay', () => {
    // Act + Assess
    expect(translateStsError(stsError('Throttling')).retryAfterSeconds).toBeGreaterThan(0);
  });

  it.each([[undefined], [null], ['a string'], [42]])('maps a non-error rejection (%j) without crashing', (value) => {
    // Act + Assess
    expect(translateStsError(value)).toMatchObject({ httpStatus: 503, reason: 'sts_unavailable' });
  });
});
