import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HeldCredentials } from './credential-refresher.ts';
import { CliError } from './errors.ts';
import { digest, isLoopbackHost, refusalStatus, reply, send, startLoopbackServer } from './serve.ts';

export interface ImdsEndpointOptions {
  readonly port: number;
  /** The one role name it lists: the entitlement id. */
  readonly roleName: string;
  readonly credentials: () => Promise<HeldCredentials>;
  readonly now: () => number;
  readonly log: (line: string) => void;
}

export interface ImdsEndpoint {
  readonly port: number;
  /** What `AWS_EC2_METADATA_SERVICE_ENDPOINT` is set to. */
  readonly url: string;
  close(): Promise<void>;
}

const TOKEN_PATH = '/latest/api/token';
const ROLES_PATH = '/latest/meta-data/iam/security-credentials/';
const TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
const MAX_TTL_SECONDS = 21_600;
/** Tokens kept at most; beyond it the oldest go first (an SDK asks for a new one when its token is refused). */
const MAX_TOKENS = 10_000;

/**
 * The credential paths of the EC2 instance metadata service, version 2 only, on 127.0.0.1: a session token from
 * `PUT /latest/api/token` (refused when forwarded, as IMDS's hop limit would), then GETs that carry it. Tokens are
 * 32 random bytes, held in memory as SHA-256 digests with their expiry, and die with the process.
 */
export async function startImdsEndpoint(options: ImdsEndpointOptions): Promise<ImdsEndpoint> {
  const tokens = new Map<string, number>();
  async function handle(req: IncomingMessage, res: ServerResponse, port: number): Promise<void> {
    if (!isLoopbackHost(req, port)) return text(res, 403, 'Forbidden');
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (req.method === 'PUT' && path === TOKEN_PATH) return issueToken(req, res);
    if (req.method !== 'GET') return text(res, 405, 'Method Not Allowed', { allow: 'GET' });
    if (!validToken(req.headers['x-aws-ec2-metadata-token'])) return text(res, 401, 'Unauthorized');
    if (path === ROLES_PATH) return text(res, 200, options.roleName);
    if (path !== `${ROLES_PATH}${options.roleName}`) return text(res, 404, 'Not Found');
    try {
      const { credentials, updatedAt } = await options.credentials();
      send(
        res,
        200,
        JSON.stringify({
          Code: 'Success',
          LastUpdated: isoSeconds(updatedAt),
          Type: 'AWS-HMAC',
          AccessKeyId: credentials.AccessKeyId,
          SecretAccessKey: credentials.SecretAccessKey,
          Token: credentials.SessionToken,
          Expiration: credentials.Expiration,
        }),
      );
      options.log(`served ${options.roleName} over IMDS (${credentials.AccessKeyId}, expires ${credentials.Expiration})`);
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      reply(res, refusalStatus(error), { Code: error.code, Message: error.message });
      options.log(`refused ${options.roleName}: ${error.code}: ${error.message}`);
    }
  }

  function issueToken(req: IncomingMessage, res: ServerResponse): void {
    if (req.headers['x-forwarded-for'] !== undefined) return text(res, 403, 'Forbidden');
    const ttlText = req.headers[TTL_HEADER];
    const ttl = typeof ttlText === 'string' && /^\d{1,5}$/u.test(ttlText) ? Number(ttlText) : Number.NaN;
    if (!(ttl >= 1 && ttl <= MAX_TTL_SECONDS)) return text(res, 400, 'Bad Request');
    const now = options.now();
    for (const [key, expiresAt] of tokens) if (expiresAt <= now) tokens.delete(key);
    while (tokens.size >= MAX_TOKENS) tokens.delete(tokens.keys().next().value as string);
    const token = randomBytes(32).toString('base64url');
    tokens.set(digest(token).toString('hex'), now + ttl * 1000);
    text(res, 200, token, { [TTL_HEADER]: String(ttl) });
  }

  function validToken(presented: string | string[] | undefined): boolean {
    if (typeof presented !== 'string') return false;
    const expiresAt = tokens.get(digest(presented).toString('hex'));
    return expiresAt !== undefined && expiresAt > options.now();
  }

  const { port, close } = await startLoopbackServer(options.port, handle, options.log);
  return {
    port,
    url: `http://127.0.0.1:${port}/`,
    close,
  };
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/u, 'Z');
}

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}
