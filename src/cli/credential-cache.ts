import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as v from 'valibot';
import { brokerClient, CREDENTIALS_SCHEMA, type AwsCredentials } from './broker-client.ts';
import { currentAccessToken, requireLogin } from './login-store.ts';
import { ensurePrivateDir, readJsonIfPresent, withFileLock, writeFileAtomic } from './secure-file.ts';
import { cliPaths, type CliContext } from './settings.ts';

const CACHE_SCHEMA = v.object({
  version: v.literal(1),
  brokerUrl: v.string(),
  issuer: v.string(),
  subject: v.string(),
  entitlement: v.string(),
  credentials: CREDENTIALS_SCHEMA,
});

export interface CredentialRequest {
  readonly brokerUrl: string;
  readonly issuer: string;
  readonly entitlement: string;
  /** Cached credentials with less than this left are replaced by new ones from the broker. */
  readonly minRemainingMs: number;
  readonly durationSeconds?: number | undefined;
}

export interface ObtainedCredentials {
  readonly credentials: AwsCredentials;
  readonly source: 'cache' | 'broker';
}

/** One cache file per (broker, issuer, subject, entitlement): users and brokers never share an entry. */
export function cachePath(context: CliContext, key: { brokerUrl: string; issuer: string; subject: string; entitlement: string }): string {
  const name = createHash('sha256').update([key.brokerUrl, key.issuer, key.subject, key.entitlement].join('\n')).digest('hex').slice(0, 40);
  return join(cliPaths(context.env).credentialsCacheDir, `${name}.json`);
}

/**
 * Credentials from the cache while they have more than `minRemainingMs` left, else from the broker.
 * Concurrent callers for the same entry queue on a lock and the later ones find the fresh entry, so the
 * broker is asked once. A cache file that does not parse, or belongs to another key, is ignored and replaced.
 */
export async function obtainCredentials(context: CliContext, input: CredentialRequest): Promise<ObtainedCredentials> {
  const login = requireLogin(context, input.issuer);
  const key = { brokerUrl: input.brokerUrl, issuer: input.issuer, subject: login.subject, entitlement: input.entitlement };
  const path = cachePath(context, key);
  const cached = readFresh(context, path, key, input.minRemainingMs);
  if (cached !== undefined) return { credentials: cached, source: 'cache' };

  ensurePrivateDir(cliPaths(context.env).credentialsCacheDir);
  return withFileLock(path, async () => {
    const filled = readFresh(context, path, key, input.minRemainingMs);
    if (filled !== undefined) return { credentials: filled, source: 'cache' };
    const { accessToken } = await currentAccessToken(context, input.issuer);
    const credentials = await brokerClient(input.brokerUrl, accessToken).credentials(input.entitlement, input.durationSeconds);
    writeFileAtomic(path, `${JSON.stringify({ version: 1, ...key, credentials })}\n`);
    return { credentials, source: 'broker' };
  });
}

function readFresh(context: CliContext, path: string, key: Record<string, string>, minRemainingMs: number): AwsCredentials | undefined {
  const parsed = v.safeParse(CACHE_SCHEMA, readJsonIfPresent(path));
  if (!parsed.success) return undefined;
  const entry = parsed.output;
  if (Object.entries(key).some(([name, value]) => entry[name as keyof typeof entry] !== value)) return undefined;
  const remaining = Date.parse(entry.credentials.Expiration) - context.now();
  return remaining > minRemainingMs ? entry.credentials : undefined;
}
