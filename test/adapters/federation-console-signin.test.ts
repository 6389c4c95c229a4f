import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederationConsoleSignin } from '../../src/adapters/signin/federation-console-signin.ts';
import { Secret } from '../../src/domain/secret.ts';

interface Seen {
  method: string;
  url: string;
  contentType: string;
  body: string;
}

describe('FederationConsoleSignin', () => {
  let server: Server;
  let endpoint: string;
  const seen: Seen[] = [];
  let reply: { status: number; body: string } = { status: 200, body: '{"SigninToken":"token-abcdefghijklmnop"}' };

  beforeAll(async () => {
    server = createServer(async (req: IncomingMessage, res) => {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      seen.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'] ?? '', body });
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/federation`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const credentials = {
    accessKeyId: 'ASIAFAKE000000000001',
    secretAccessKey: new Secret('the-secret-key'),
    sessionToken: new Secret('the-session-token'),
  };

  it('POSTs the credentials as a form body, never in the URL', async () => {
    // Prepare
    reply = { status: 200, body: '{"SigninToken":"token-abcdefghijklmnop"}' };

    // Act
    const token = await new FederationConsoleSignin().getSigninToken({ endpoint, credentials, sessionDuration: 3600 });

    // Assess
    expect(token.reveal()).toBe('token-abcdefghijklmnop');
    expect(String(token)).toBe('[redacted]');
    const request = seen.at(-1);
    expect(request).toMatchObject({ method: 'POST', url: '/federation', contentType: 'application/x-www-form-urlencoded' });
    const form = new URLSearchParams(request?.body);
    expect(form.get('Action')).toBe('getSigninToken');
    expect(form.get('SessionDuration')).toBe('3600');
    expect(JSON.parse(form.get('Session') ?? '')).toEqual({
      sessionId: 'ASIAFAKE000000000001',
      sessionKey: 'the-secret-key',
      sessionToken: 'the-session-token',
    });
  });

  it.each([
    [{ status: 400, body: 'Invalid credentials parameter' }, 'signin_token_http_400'],
    [{ status: 200, body: 'not json' }, 'signin_token_malformed'],
    [{ status: 200, body: '{"SigninToken":"bad token with spaces"}' }, 'signin_token_malformed'],
  ])('turns %j into an upstream error that holds no secret', async (answer, reason) => {
    // Prepare
    reply = answer;

    // Act
    const error = await new FederationConsoleSignin()
      .getSigninToken({ endpoint, credentials, sessionDuration: undefined })
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ code: 'upstream_unavailable', reason });
    const text = `${String(error)} ${JSON.stringify(error)} ${(error as Error).stack ?? ''}`;
    expect(text).not.toContain('the-secret-key');
    expect(text).not.toContain('the-session-token');
  });

  it('reports an unreachable endpoint without its request', async () => {
    // Act
    const error = await new FederationConsoleSignin({ timeoutMs: 2000 })
      .getSigninToken({ endpoint: 'http://127.0.0.1:1/federation', credentials, sessionDuration: undefined })
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ code: 'upstream_unavailable', reason: 'signin_endpoint_unreachable' });
  });
});
