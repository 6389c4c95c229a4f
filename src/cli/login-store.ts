import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as v from 'valibot';
import { CliError, EXIT, loginExpired, notLoggedIn } from './errors.ts';
import { clientCredentials, refreshTokens, unverifiedClaims, type TokenResponse } from './oidc.ts';
import { ensurePrivateDir, readJsonIfPresent, readTextIfPresent, withFileLock, writeFileAtomic } from './secure-file.ts';
import { cliPaths, type CliContext } from './settings.ts';

/** An access token with less than this left is refreshed before use. */
const ACCESS_TOKEN_MARGIN_MS = 60_000;

const LOGIN_SCHEMA = v.object({
  version: v.literal(1),
  kind: v.picklist(['user', 'workload']),
  issuer: v.string(),
  tokenEndpoint: v.string(),
  clientId: v.string(),
  scope: v.optional(v.string()),
  resource: v.optional(v.string()),
  subject: v.string(),
  displayName: v.optional(v.string()),
  accessToken: v.string(),
  accessTokenExpiresAt: v.number(),
  refreshToken: v.optional(v.string()),
  /** Workloads that read their secret from a file re-read it there; the secret itself is never stored. */
  clientSecretFile: v.optional(v.string()),
  loggedInAt: v.string(),
});
export type LoginRecord = v.InferOutput<typeof LOGIN_SCHEMA>;

export function loginPath(context: CliContext, issuer: string): string {
  const name = createHash('sha256').update(issuer).digest('hex').slice(0, 32);
  return join(cliPaths(context.env).loginsDir, `${name}.json`);
}

export function readLogin(context: CliContext, issuer: string): LoginRecord | undefined {
  const parsed = v.safeParse(LOGIN_SCHEMA, readJsonIfPresent(loginPath(context, issuer)));
  return parsed.success && parsed.output.issuer === issuer ? parsed.output : undefined;
}

export function saveLogin(context: CliContext, record: LoginRecord): void {
  const path = loginPath(context, record.issuer);
  ensurePrivateDir(join(path, '..'));
  writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
}

/** Builds the record of a fresh login from what the token endpoint answered. */
export function loginRecordFrom(
  base: Pick<LoginRecord, 'kind' | 'issuer' | 'tokenEndpoint' | 'clientId'> & {
    scope?: string | undefined;
    resource?: string | undefined;
    clientSecretFile?: string | undefined;
  },
  tokens: TokenResponse,
  now: number,
): LoginRecord {
  const access = unverifiedClaims(tokens.accessToken);
  const id = unverifiedClaims(tokens.idToken);
  const subject = [access['sub'], id['sub']].find((value): value is string => typeof value === 'string' && value !== '') ?? base.clientId;
  const displayName = [
    id['preferred_username'],
    id['name'],
    id['email'],
    access['preferred_username'],
    access['name'],
    access['email'],
  ].find((value): value is string => typeof value === 'string' && value !== '');
  return {
    version: 1,
    kind: base.kind,
    issuer: base.issuer,
    tokenEndpoint: base.tokenEndpoint,
    clientId: base.clientId,
    ...(base.scope === undefined ? {} : { scope: base.scope }),
    ...(base.resource === undefined ? {} : { resource: base.resource }),
    ...(base.clientSecretFile === undefined ? {} : { clientSecretFile: base.clientSecretFile }),
    subject,
    ...(displayName === undefined ? {} : { displayName }),
    accessToken: tokens.accessToken,
    accessTokenExpiresAt: tokens.expiresAt,
    ...(tokens.refreshToken === undefined ? {} : { refreshToken: tokens.refreshToken }),
    loggedInAt: new Date(now).toISOString(),
  };
}

/** The login for `issuer`, or exit 3 telling the user to log in. */
export function requireLogin(context: CliContext, issuer: string): LoginRecord {
  const record = readLogin(context, issuer);
  if (record === undefined) throw notLoggedIn(issuer);
  return record;
}

/**
 * A current access token: the stored one while it has a minute left, else a refreshed one. Refreshing
 * happens under a lock, because identity providers rotate refresh tokens and treat a second use of the
 * old one as theft (oidc-provider revokes the whole grant).
 */
export async function currentAccessToken(context: CliContext, issuer: string): Promise<LoginRecord> {
  const record = requireLogin(context, issuer);
  if (record.accessTokenExpiresAt - context.now() > ACCESS_TOKEN_MARGIN_MS) return record;
  const path = loginPath(context, issuer);
  return withFileLock(path, async () => {
    const latest = requireLogin(context, issuer);
    if (latest.accessTokenExpiresAt - context.now() > ACCESS_TOKEN_MARGIN_MS) return latest;
    const tokens = await renew(context, latest);
    const renewed: LoginRecord = {
      ...latest,
      accessToken: tokens.accessToken,
      accessTokenExpiresAt: tokens.expiresAt,
      ...(tokens.refreshToken === undefined ? {} : { refreshToken: tokens.refreshToken }),
    };
    saveLogin(context, renewed);
    return renewed;
  });
}

async function renew(context: CliContext, record: LoginRecord): Promise<TokenResponse> {
  if (record.kind === 'workload') {
    const clientSecret = workloadSecret(context, record);
    const result = await clientCredentials(
      record,
      { clientId: record.clientId, clientSecret, scope: record.scope, resource: record.resource },
      context.now,
    );
    if (result.ok) return result.tokens;
    if (result.error === 'invalid_client' || result.error === 'unauthorized_client')
      throw loginExpired(record.issuer, 'the client secret was refused');
    throw result.failure;
  }
  if (record.refreshToken === undefined) throw loginExpired(record.issuer, 'the access token expired and there is no refresh token');
  const result = await refreshTokens(record, record.clientId, record.refreshToken, record.resource, context.now);
  if (result.ok) return result.tokens;
  if (result.error === 'invalid_grant' || result.error === 'invalid_client' || result.error === 'unauthorized_client') {
    throw loginExpired(record.issuer, 'the identity provider no longer accepts the refresh token');
  }
  throw result.failure;
}

/** `--client-secret-file`, else `KEYVEND_CLIENT_SECRET`: the secret is read each time, never stored. */
export function workloadSecret(context: CliContext, source: { clientSecretFile?: string | undefined; issuer: string }): string {
  if (source.clientSecretFile !== undefined) {
    const text = readTextIfPresent(source.clientSecretFile)?.trim();
    if (!text)
      throw new CliError(
        'client_secret_missing',
        `the client secret file ${source.clientSecretFile} is missing or empty`,
        EXIT.notLoggedIn,
      );
    return text;
  }
  const fromEnv = context.env['KEYVEND_CLIENT_SECRET'];
  if (!fromEnv) throw loginExpired(source.issuer, 'KEYVEND_CLIENT_SECRET is not set to renew the workload token');
  return fromEnv;
}
