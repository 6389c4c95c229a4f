import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AwsCredentials } from './broker-client.ts';
import { CliError, EXIT } from './errors.ts';
import { containerCredentialsJson } from './formats.ts';

export interface ContainerEndpointOptions {
  readonly port: number;
  readonly entitlements: readonly string[];
  /** Fresh credentials for an entitlement (from the cache, refreshed when near expiry). */
  readonly credentialsFor: (entitlement: string) => Promise<AwsCredentials>;
  readonly log: (line: string) => void;
  /** Default: 32 random bytes, base64url. */
  readonly token?: string;
}

export interface ContainerEndpoint {
  readonly port: number;
  readonly token: string;
  uriFor(entitlement: string): string;
  close(): Promise<void>;
}

const PATH = /^\/creds\/([a-z0-9][a-z0-9-]{0,62})$/u;

/**
 * The container credentials provider every AWS SDK knows (`AWS_CONTAINER_CREDENTIALS_FULL_URI` with
 * `AWS_CONTAINER_AUTHORIZATION_TOKEN`), bound to 127.0.0.1 only. Each request must carry the random token
 * (compared in constant time) and a loopback Host header, which also defeats DNS rebinding from a web page.
 */
export async function startContainerEndpoint(options: ContainerEndpointOptions): Promise<ContainerEndpoint> {
  const token = options.token ?? randomBytes(32).toString('base64url');
  const expectedDigest = digest(token);
  const allowed = new Set(options.entitlements);
  async function handle(req: IncomingMessage, res: ServerResponse, port: number): Promise<void> {
    if (!isLoopbackHost(req, port)) {
      reply(res, 403, { Code: 'AccessDenied', Message: 'Requests must be addressed to 127.0.0.1.' });
      return;
    }
    const presented = req.headers.authorization ?? '';
    if (!timingSafeEqual(digest(presented), expectedDigest)) {
      reply(res, 401, { Code: 'AccessDenied', Message: 'Missing or wrong authorization token.' });
      return;
    }
    if (req.method !== 'GET') {
      reply(res, 405, { Code: 'MethodNotAllowed', Message: 'Use GET.' }, { allow: 'GET' });
      return;
    }
    const entitlement = PATH.exec(new URL(req.url ?? '/', 'http://127.0.0.1').pathname)?.[1];
    if (entitlement === undefined || !allowed.has(entitlement)) {
      reply(res, 404, { Code: 'NotFound', Message: `This endpoint serves /creds/<entitlement> for: ${[...allowed].join(', ')}.` });
      return;
    }
    try {
      const credentials = await options.credentialsFor(entitlement);
      send(res, 200, containerCredentialsJson(credentials));
      options.log(`served ${entitlement} (${credentials.AccessKeyId}, expires ${credentials.Expiration})`);
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      reply(res, refusalStatus(error), { Code: error.code, Message: error.message });
      options.log(`refused ${entitlement}: ${error.code}: ${error.message}`);
    }
  }

  const { port, close } = await startLoopbackServer(options.port, handle, options.log);
  return {
    port,
    token,
    uriFor: (entitlement) => `http://127.0.0.1:${port}/creds/${entitlement}`,
    close,
  };
}

/**
 * A server on 127.0.0.1 for `keyvend serve`'s endpoints (container credentials, IMDS): each request to `handle`, with
 * the port it listens on; a handler that throws answers 500 and is logged, never crashes the process.
 */
export async function startLoopbackServer(
  requestedPort: number,
  handle: (req: IncomingMessage, res: ServerResponse, port: number) => Promise<void>,
  log: (line: string) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  let port = 0;
  const server: Server = createServer((req, res) => {
    void handle(req, res, port).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 500, { Code: 'InternalError', Message: 'keyvend serve failed; see its output' });
      log(`keyvend serve: ${error instanceof Error ? error.message : String(error)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(requestedPort, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The Host header names this loopback server: a web page cannot reach it through DNS rebinding. */
export function isLoopbackHost(req: IncomingMessage, port: number): boolean {
  const host = (req.headers.host ?? '').toLowerCase();
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

/** A failure to obtain credentials as an HTTP status: refused 403, login expired 401, anything else 503. */
export function refusalStatus(error: CliError): number {
  return error.exitCode === EXIT.refused ? 403 : error.exitCode === EXIT.notLoggedIn ? 401 : 503;
}

export function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function reply(
  res: ServerResponse,
  status: number,
  body: { Code: string; Message: string },
  headers: Record<string, string> = {},
): void {
  send(res, status, JSON.stringify(body), headers);
}

export function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}
