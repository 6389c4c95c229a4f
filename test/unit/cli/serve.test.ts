import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../../../src/cli/errors.ts';
import { startContainerEndpoint, type ContainerEndpoint } from '../../../src/cli/serve.ts';

const CREDENTIALS = {
  AccessKeyId: 'ASIAEXAMPLE000000001',
  SecretAccessKey: 'secret',
  SessionToken: 'session',
  Expiration: '2030-01-01T00:15:00Z',
};

/** Raw node:http, so the test controls the Host header. */
function get(
  endpoint: ContainerEndpoint,
  path: string,
  headers: Record<string, string>,
  method = 'GET',
): Promise<{ status: number; headers: Record<string, unknown>; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: endpoint.port, path, method, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as Record<string, unknown> }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('keyvend serve: the container credentials endpoint', () => {
  let endpoint: ContainerEndpoint;
  const asked: string[] = [];
  let host: string;

  beforeAll(async () => {
    endpoint = await startContainerEndpoint({
      port: 0,
      entitlements: ['photo-uploads', 'withheld'],
      log: () => {},
      credentialsFor: async (entitlement) => {
        asked.push(entitlement);
        if (entitlement === 'withheld') throw new CliError('not_entitled', 'You are not entitled.', 4);
        return CREDENTIALS;
      },
    });
    host = `127.0.0.1:${endpoint.port}`;
  });
  afterAll(async () => {
    await endpoint.close();
  });

  it('answers the right token with the container provider shape, uncacheable', async () => {
    // Act
    const response = await get(endpoint, '/creds/photo-uploads', { host, authorization: endpoint.token });

    // Assess
    expect(endpoint.uriFor('photo-uploads')).toBe(`http://${host}/creds/photo-uploads`);
    expect(endpoint.token).toMatch(/^[A-Za-z0-9_-]{43}$/u);
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toEqual({
      AccessKeyId: CREDENTIALS.AccessKeyId,
      SecretAccessKey: 'secret',
      Token: 'session',
      Expiration: CREDENTIALS.Expiration,
    });
  });

  it('refuses a wrong, missing or prefixed token with 401 {Code, Message} and fetches nothing', async () => {
    // Prepare
    asked.length = 0;

    // Act
    const responses = await Promise.all([
      get(endpoint, '/creds/photo-uploads', { host, authorization: `${endpoint.token}x` }),
      get(endpoint, '/creds/photo-uploads', { host }),
      get(endpoint, '/creds/photo-uploads', { host, authorization: `Bearer ${endpoint.token}` }),
      get(endpoint, '/creds/photo-uploads', { host, authorization: endpoint.token.slice(0, -1) }),
    ]);

    // Assess
    for (const response of responses) {
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ Code: 'AccessDenied', Message: 'Missing or wrong authorization token.' });
    }
    expect(asked).toEqual([]);
  });

  it('refuses another Host (DNS rebinding), other paths and methods, and passes on a broker refusal', async () => {
    // Act
    const rebound = await get(endpoint, '/creds/photo-uploads', {
      host: `evil.example.com:${endpoint.port}`,
      authorization: endpoint.token,
    });
    const unknown = await get(endpoint, '/creds/admin', { host, authorization: endpoint.token });
    const post = await get(endpoint, '/creds/photo-uploads', { host, authorization: endpoint.token }, 'POST');
    const withheld = await get(endpoint, '/creds/withheld', { host, authorization: endpoint.token });

    // Assess
    expect(rebound.status).toBe(403);
    expect(unknown).toMatchObject({ status: 404, body: { Code: 'NotFound' } });
    expect(post).toMatchObject({ status: 405, body: { Code: 'MethodNotAllowed' } });
    expect(withheld).toMatchObject({ status: 403, body: { Code: 'not_entitled', Message: 'You are not entitled.' } });
  });
});
