import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveLogin, type LoginRecord } from '../../src/cli/login-store.ts';
import { runCli } from '../../src/cli/main.ts';
import type { CliContext } from '../../src/cli/settings.ts';
import { ROOT } from '../../infra/local/stack.ts';

/** The built executable, as `credential_process` lines name it (test/build-cli.setup.ts builds it first). */
export const SELF_COMMAND = [process.execPath, join(ROOT, 'dist/keyvend.mjs')] as const;

/** Temporary HOME, XDG folders and AWS config file, so no test touches the real ones. */
export function isolatedEnv(extra: Record<string, string> = {}): Record<string, string> {
  const home = mkdtempSync(join(tmpdir(), 'keyvend-cli-home-'));
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_STATE_HOME: join(home, 'state'),
    XDG_CACHE_HOME: join(home, 'cache'),
    AWS_CONFIG_FILE: join(home, 'aws', 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'aws', 'credentials'),
    ...extra,
  };
}

export interface CapturedRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process with a given environment and clock, capturing its output. */
export async function runInProcess(argv: string[], env: Record<string, string>, now: () => number = Date.now): Promise<CapturedRun> {
  let stdout = '';
  let stderr = '';
  const context: CliContext = {
    env,
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    selfCommand: SELF_COMMAND,
    now,
  };
  const code = await runCli(argv, context);
  return { code, stdout, stderr };
}

export function contextFor(env: Record<string, string>, now: () => number = Date.now): CliContext {
  return { env, stdout: () => {}, stderr: () => {}, selfCommand: SELF_COMMAND, now };
}

/** An unsigned JWT-shaped token: the CLI only reads `sub` and `exp` from it, the fake broker checks it byte for byte. */
export function fakeAccessToken(sub: string, expSeconds: number): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ sub, exp: expSeconds })}.sig`;
}

export function storeLogin(
  env: Record<string, string>,
  record: Partial<LoginRecord> & Pick<LoginRecord, 'issuer' | 'tokenEndpoint' | 'accessToken'>,
): LoginRecord {
  const full: LoginRecord = {
    version: 1,
    kind: 'user',
    clientId: 'keyvend-cli',
    subject: 'user-1',
    accessTokenExpiresAt: Date.now() + 600_000,
    loggedInAt: new Date().toISOString(),
    ...record,
  };
  saveLogin(contextFor(env), full);
  return full;
}

export interface FakeBroker {
  url: string;
  /** Requests seen, by "METHOD path". */
  calls: { method: string; path: string; authorization: string | undefined; body: string }[];
  /** Next answers to give, by "METHOD path"; when empty, the default answer. */
  answers: Map<string, Array<{ status: number; body: unknown }>>;
  close(): Promise<void>;
}

/**
 * A loopback stand-in for the broker and an identity provider's token endpoint, for unit tests of the CLI's
 * HTTP handling. Credentials it issues expire `lifetimeSeconds` after issue and carry a counter in their key id.
 */
export async function startFakeBroker(options: { lifetimeSeconds?: number; acceptedToken?: string } = {}): Promise<FakeBroker> {
  const calls: FakeBroker['calls'] = [];
  const answers: FakeBroker['answers'] = new Map();
  let issued = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      const key = `${req.method} ${path}`;
      calls.push({ method: req.method ?? '', path, authorization: req.headers.authorization, body });
      const queued = answers.get(key)?.shift();
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      };
      if (queued) return reply(queued.status, queued.body);
      if (
        options.acceptedToken !== undefined &&
        path.startsWith('/v1/') &&
        req.headers.authorization !== `Bearer ${options.acceptedToken}`
      ) {
        return reply(401, {
          error: 'invalid_token',
          message: 'The bearer token is missing, malformed, expired or not trusted.',
          requestId: 'req-401',
        });
      }
      if (key === 'POST /v1/credentials') {
        issued += 1;
        const expiration = new Date(Date.now() + (options.lifetimeSeconds ?? 900) * 1000).toISOString().replace(/\.\d{3}Z$/u, 'Z');
        return reply(200, {
          Version: 1,
          AccessKeyId: `ASIAFAKE${String(issued).padStart(12, '0')}`,
          SecretAccessKey: `secret-${issued}-${'s'.repeat(20)}`,
          SessionToken: `session-${issued}-${'t'.repeat(40)}`,
          Expiration: expiration,
          grantId: `grant-${issued}`,
          entitlement: JSON.parse(body || '{}').entitlement,
        });
      }
      if (key === 'GET /v1/entitlements') {
        return reply(200, {
          entitlements: [
            {
              id: 'photo-uploads',
              description: 'Photos\u001b[31m',
              outputs: ['credentials'],
              maxDurationSeconds: 3600,
              roleArn: 'arn:aws:iam::111111111111:role/x',
            },
          ],
        });
      }
      if (key === 'POST /v1/console') {
        return reply(200, {
          url: 'https://signin.aws.amazon.com/federation?Action=login&SigninToken=secret-signin-token',
          expiresAt: '2030-01-01T00:15:00Z',
        });
      }
      if (key === 'POST /token') return reply(400, { error: 'invalid_grant', error_description: 'grant request is invalid' });
      return reply(404, { error: 'not_found', message: 'no such route', requestId: 'req-404' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    answers,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
