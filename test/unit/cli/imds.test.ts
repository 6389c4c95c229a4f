import { request } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CliError, EXIT } from '../../../src/cli/errors.ts';
import { startImdsEndpoint, type ImdsEndpoint } from '../../../src/cli/imds.ts';

const CREDENTIALS = {
  AccessKeyId: 'ASIAEXAMPLE000000001',
  SecretAccessKey: 'secret',
  SessionToken: 'session',
  Expiration: '2030-01-01T01:00:00Z',
};
const ROLES = '/latest/meta-data/iam/security-credentials/';

/** Raw node:http, so the test controls every header, Host included. */
function call(
  endpoint: ImdsEndpoint,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: endpoint.port, path, method, headers: { host: `127.0.0.1:${endpoint.port}`, ...headers } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('keyvend serve --imds: the IMDSv2 credential paths', () => {
  let endpoint: ImdsEndpoint;
  let now = Date.parse('2030-01-01T00:00:00Z');
  let failure: CliError | undefined;
  let asked = 0;
  const token = async (ttl = '60', headers: Record<string, string> = {}) =>
    call(endpoint, 'PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': ttl, ...headers });

  beforeAll(async () => {
    endpoint = await startImdsEndpoint({
      port: 0,
      roleName: 'photo-uploads',
      now: () => now,
      log: () => {},
      credentials: async () => {
        asked += 1;
        if (failure !== undefined) throw failure;
        return { credentials: CREDENTIALS, updatedAt: Date.parse('2030-01-01T00:00:00.123Z') };
      },
    });
  });
  afterAll(async () => {
    await endpoint.close();
  });
  beforeEach(() => {
    failure = undefined;
    asked = 0;
  });

  it('issues a random token, lists the role and returns the IMDS credentials document', async () => {
    // Act
    const issued = await token('21600');
    const other = await token('1');
    const headers = { 'x-aws-ec2-metadata-token': issued.text };
    const roles = await call(endpoint, 'GET', ROLES, headers);
    const document = await call(endpoint, 'GET', `${ROLES}photo-uploads`, headers);

    // Assess
    expect(endpoint.url).toBe(`http://127.0.0.1:${endpoint.port}/`);
    expect(issued).toMatchObject({ status: 200, headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' } });
    expect(issued.text).toMatch(/^[A-Za-z0-9_-]{43}$/u);
    expect(other.text).not.toBe(issued.text);
    expect(roles).toMatchObject({ status: 200, text: 'photo-uploads' });
    expect(document.status).toBe(200);
    expect(document.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(document.text)).toEqual({
      Code: 'Success',
      LastUpdated: '2030-01-01T00:00:00Z',
      Type: 'AWS-HMAC',
      AccessKeyId: CREDENTIALS.AccessKeyId,
      SecretAccessKey: 'secret',
      Token: 'session',
      Expiration: CREDENTIALS.Expiration,
    });
  });

  it('answers 401 to a GET without a token, with a wrong one or an expired one, and asks for no credentials', async () => {
    // Prepare
    const shortLived = (await token('1')).text;
    const issued = (await token('60')).text;
    now += 1_000;

    // Act
    const responses = await Promise.all([
      call(endpoint, 'GET', `${ROLES}photo-uploads`),
      call(endpoint, 'GET', `${ROLES}photo-uploads`, { 'x-aws-ec2-metadata-token': `${issued}x` }),
      call(endpoint, 'GET', `${ROLES}photo-uploads`, { 'x-aws-ec2-metadata-token': shortLived }),
      call(endpoint, 'GET', ROLES, { 'x-aws-ec2-metadata-token': shortLived }),
    ]);
    const stillValid = await call(endpoint, 'GET', ROLES, { 'x-aws-ec2-metadata-token': issued });

    // Assess
    expect(responses.map((response) => response.status)).toEqual([401, 401, 401, 401]);
    expect(asked).toBe(0);
    expect(stillValid.status).toBe(200);
  });

  it('refuses a forwarded token PUT (the hop limit), a TTL outside 1..21600, other hosts, paths and methods', async () => {
    // Prepare
    const valid = { 'x-aws-ec2-metadata-token': (await token()).text };

    // Act
    const forwarded = await token('60', { 'x-forwarded-for': '203.0.113.7' });
    const ttls = await Promise.all(['0', '21601', 'abc', '', '1e3'].map((ttl) => token(ttl)));
    const noTtl = await call(endpoint, 'PUT', '/latest/api/token');
    const rebound = await call(endpoint, 'GET', ROLES, { ...valid, host: `evil.example.com:${endpoint.port}` });
    const otherRole = await call(endpoint, 'GET', `${ROLES}admin`, valid);
    const otherPath = await call(endpoint, 'GET', '/latest/meta-data/instance-id', valid);
    const post = await call(endpoint, 'POST', ROLES, valid);

    // Assess
    expect(forwarded.status).toBe(403);
    expect(ttls.map((response) => response.status)).toEqual([400, 400, 400, 400, 400]);
    expect(noTtl.status).toBe(400);
    expect(rebound.status).toBe(403);
    expect(otherRole.status).toBe(404);
    expect(otherPath.status).toBe(404);
    expect(post.status).toBe(405);
    expect(asked).toBe(0);
  });

  it('passes on a failure to obtain credentials as {Code, Message}, never a credentials document', async () => {
    // Prepare
    const valid = { 'x-aws-ec2-metadata-token': (await token()).text };
    failure = new CliError('login_expired', 'your login has expired', EXIT.notLoggedIn);

    // Act
    const expired = await call(endpoint, 'GET', `${ROLES}photo-uploads`, valid);
    failure = new CliError('unavailable', 'the broker is unreachable', EXIT.unavailable);
    const down = await call(endpoint, 'GET', `${ROLES}photo-uploads`, valid);

    // Assess
    expect(expired.status).toBe(401);
    expect(JSON.parse(expired.text)).toEqual({ Code: 'login_expired', Message: 'your login has expired' });
    expect(down.status).toBe(503);
    expect(down.text).not.toContain('Success');
  });
});
