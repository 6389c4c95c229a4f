import { AssumeRoleCommand, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { FinalizeHandler, FinalizeHandlerArguments, MetadataBearer } from '@smithy/types';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACCOUNT, ROLE, USER, presignedUrl, signedPost, signer, startFixture, stsError, xmlCode, type Fixture } from './helpers.ts';

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

describe('STS emulator: SigV4 authentication', () => {
  let fx: Fixture;

  beforeAll(async () => {
    fx = await startFixture();
  });
  afterAll(async () => {
    await fx.close();
  });
  beforeEach(() => {
    fx.emulator.reset();
    fx.clock.reset();
  });

  async function vend(durationSeconds = 900) {
    const out = await fx
      .client(USER)
      .send(new AssumeRoleCommand({ RoleArn: ROLE.target, RoleSessionName: 'vended', DurationSeconds: durationSeconds }));
    return {
      accessKeyId: out.Credentials?.AccessKeyId ?? '',
      secretAccessKey: out.Credentials?.SecretAccessKey ?? '',
      sessionToken: out.Credentials?.SessionToken ?? '',
    };
  }

  it('rejects a wrong secret key with SignatureDoesNotMatch', async () => {
    // Prepare
    const sts = fx.client({ accessKeyId: USER.accessKeyId, secretAccessKey: 'not-the-secret' });

    // Act
    const error = await stsError(sts.send(new GetCallerIdentityCommand({})));

    // Assess
    expect(error).toEqual({ name: 'SignatureDoesNotMatch', status: 403, message: SIGNATURE_MISMATCH });
  });

  it('rejects an unknown access key with InvalidClientTokenId', async () => {
    // Prepare
    const sts = fx.client({ accessKeyId: 'AKIAUNKNOWNKEY000001', secretAccessKey: 'whatever' });

    // Act
    const error = await stsError(sts.send(new GetCallerIdentityCommand({})));

    // Assess
    expect(error).toEqual({ name: 'InvalidClientTokenId', status: 403, message: 'The security token included in the request is invalid.' });
  });

  it('rejects a body changed after the SDK signed it', async () => {
    // Prepare: a middleware placed after the SDK's signer rewrites the session name (same length)
    const sts = fx.client(USER);
    sts.middlewareStack.addRelativeTo(
      (next: FinalizeHandler<object, MetadataBearer>) => async (args: FinalizeHandlerArguments<object>) => {
        const request = args.request as { body?: unknown };
        if (typeof request.body === 'string') request.body = request.body.replace('RoleSessionName=alice', 'RoleSessionName=mallo');
        return next(args);
      },
      { relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 'tamperAfterSigning' },
    );

    // Act
    const error = await stsError(sts.send(new AssumeRoleCommand({ RoleArn: ROLE.target, RoleSessionName: 'alice' })));

    // Assess
    expect(error).toEqual({ name: 'SignatureDoesNotMatch', status: 403, message: SIGNATURE_MISMATCH });
    expect(fx.emulator.sessions()).toEqual([]);
    expect(fx.emulator.calls()[0]).toMatchObject({
      action: 'AssumeRole',
      outcome: 'error',
      errorCode: 'SignatureDoesNotMatch',
      roleSessionName: 'mallo',
    });
  });

  it('verifies a request signed by @smithy/signature-v4 and rejects it once the body is tampered with', async () => {
    // Prepare
    const form = { Action: 'AssumeRole', Version: '2011-06-15', RoleArn: ROLE.target, RoleSessionName: 'raw-signed' };

    // Act
    const intact = await signedPost(fx.emulator.url, form, USER);
    const tampered = await signedPost(fx.emulator.url, form, USER, { tamper: (body) => body.replace('raw-signed', 'raw-signex') });

    // Assess
    expect(intact.status).toBe(200);
    expect(intact.text).toContain('<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">');
    expect(tampered.status).toBe(403);
    expect(xmlCode(tampered.text)).toBe('SignatureDoesNotMatch');
    expect(tampered.text).toMatch(
      /^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">\s*<Error>\s*<Type>Sender<\/Type>/,
    );
  });

  it('accepts any region in the credential scope', async () => {
    // Prepare
    const sts = fx.client(USER, { region: 'ap-southeast-2' });

    // Act
    const id = await sts.send(new GetCallerIdentityCommand({}));

    // Assess
    expect(id.Arn).toBe(USER.arn);
  });

  it('rejects a credential scoped to another service', async () => {
    // Prepare
    const u = new URL(fx.emulator.url);
    const body = 'Action=GetCallerIdentity&Version=2011-06-15';
    const signed = await signer(USER, 'us-east-1', 'iam').sign({
      method: 'POST',
      protocol: 'http:',
      hostname: u.hostname,
      port: Number(u.port),
      path: '/',
      query: {},
      headers: { host: u.host, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });

    // Act
    const res = await fetch(fx.emulator.url, { method: 'POST', headers: signed.headers, body });

    // Assess
    expect(res.status).toBe(403);
    const text = await res.text();
    expect(xmlCode(text)).toBe('SignatureDoesNotMatch');
    expect(text).toContain("Credential should be scoped to correct service: 'sts'.");
  });

  it('rejects issued credentials once expired with ExpiredToken, and accepts them until then', async () => {
    // Prepare
    const creds = await vend(900);
    const sts = fx.client(creds);

    // Act
    fx.clock.advance(899_000);
    const justBefore = await sts.send(new GetCallerIdentityCommand({}));
    fx.clock.advance(1_000);
    const error = await stsError(sts.send(new GetCallerIdentityCommand({})));

    // Assess
    expect(justBefore.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/target-full/vended`);
    expect(error).toEqual({ name: 'ExpiredToken', status: 400, message: 'The security token included in the request is expired' });
  });

  it('requires the issued session token with issued keys', async () => {
    // Prepare
    const creds = await vend();
    const withoutToken = fx.client({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey });
    const wrongToken = fx.client({ ...creds, sessionToken: `${creds.sessionToken.slice(0, -4)}AAAA` });

    // Act
    const missing = await stsError(withoutToken.send(new GetCallerIdentityCommand({})));
    const wrong = await stsError(wrongToken.send(new GetCallerIdentityCommand({})));

    // Assess
    expect(missing).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
    expect(wrong).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
  });

  it('rejects a session token sent with a long-term key', async () => {
    // Prepare
    const sts = fx.client({ ...USER, sessionToken: 'not-expected' });

    // Act
    const error = await stsError(sts.send(new GetCallerIdentityCommand({})));

    // Assess
    expect(error).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
  });

  it('forgets issued credentials on reset()', async () => {
    // Prepare
    const creds = await vend();
    const sts = fx.client(creds);

    // Act
    fx.emulator.reset();
    const error = await stsError(sts.send(new GetCallerIdentityCommand({})));

    // Assess
    expect(error).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
  });

  it('rejects request dates more than 15 minutes away from the server clock', async () => {
    // Prepare
    const form = { Action: 'GetCallerIdentity', Version: '2011-06-15' };
    const now = fx.clock.now().getTime();

    // Act
    const stale = await signedPost(fx.emulator.url, form, USER, { signingDate: new Date(now - 16 * 60_000) });
    const future = await signedPost(fx.emulator.url, form, USER, { signingDate: new Date(now + 16 * 60_000) });
    const withinWindow = await signedPost(fx.emulator.url, form, USER, { signingDate: new Date(now - 14 * 60_000) });

    // Assess
    expect([stale.status, xmlCode(stale.text)]).toEqual([403, 'SignatureDoesNotMatch']);
    expect(stale.text).toMatch(/Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)/);
    expect([future.status, xmlCode(future.text)]).toEqual([403, 'SignatureDoesNotMatch']);
    expect(future.text).toContain('Signature not yet current');
    expect(withinWindow.status).toBe(200);
  });

  it("lets the SDK correct its clock from the emulator's Date header and retry", async () => {
    // Prepare: the emulator's clock runs 20 minutes ahead; the SDK signs with the real clock
    fx.clock.advance(20 * 60_000);
    const sts = fx.client(USER, { maxAttempts: 2 });

    // Act
    const id = await sts.send(new GetCallerIdentityCommand({}));

    // Assess
    expect(id.Arn).toBe(USER.arn);
    expect(id.$metadata.attempts).toBe(2);
    expect(fx.emulator.calls().map((c) => c.errorCode ?? 'ok')).toEqual(['SignatureDoesNotMatch', 'ok']);
  });

  it('answers unsigned requests with MissingAuthenticationToken', async () => {
    // Act
    const res = await fetch(fx.emulator.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });

    // Assess
    expect(res.status).toBe(403);
    expect(xmlCode(await res.text())).toBe('MissingAuthenticationToken');
  });

  it('answers a malformed Authorization header with IncompleteSignature', async () => {
    // Act
    const res = await fetch(fx.emulator.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `AWS4-HMAC-SHA256 Credential=${USER.accessKeyId}/20260101/us-east-1/sts/aws4_request`,
        'x-amz-date': '20260101T000000Z',
      },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });

    // Assess
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(xmlCode(text)).toBe('IncompleteSignature');
    expect(text).toContain("Authorization header requires 'Signature' parameter.");
  });

  it('answers an unknown action with InvalidAction', async () => {
    // Act
    const res = await signedPost(fx.emulator.url, { Action: 'Frobnicate', Version: '2011-06-15' }, USER);

    // Assess
    expect(res.status).toBe(400);
    expect(xmlCode(res.text)).toBe('InvalidAction');
    expect(res.text).toContain('Could not find operation Frobnicate for version 2011-06-15');
  });

  it('accepts a presigned GET (query-string SigV4) until it expires', async () => {
    // Prepare
    const url = await presignedUrl(fx.emulator.url, { Action: 'GetCallerIdentity', Version: '2011-06-15' }, USER, 60);

    // Act
    const fresh = await fetch(url);
    const freshText = await fresh.text();
    fx.clock.advance(61_000);
    const late = await fetch(url);

    // Assess
    expect(fresh.status).toBe(200);
    expect(freshText).toContain(`<Arn>${USER.arn}</Arn>`);
    expect(late.status).toBe(403);
    expect(xmlCode(await late.text())).toBe('SignatureDoesNotMatch');
  });
});
