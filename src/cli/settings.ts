import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import * as v from 'valibot';
import { isSecureTransport } from '../domain/transport.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import { readTextIfPresent } from './secure-file.ts';

/**
 * The CLI's view of its surroundings. Commands receive it instead of reading `process.env` (only
 * `processContext` in main.ts does), so tests run them with temporary HOME and XDG folders and a clock.
 */
export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Absolute path of the executable that re-runs this CLI (for `credential_process`). */
  readonly selfCommand: readonly string[];
  readonly now: () => number;
}

export interface CliPaths {
  readonly configFile: string;
  readonly loginsDir: string;
  readonly credentialsCacheDir: string;
}

export function cliPaths(env: CliContext['env']): CliPaths {
  const home = env['HOME'] || homedir();
  const xdg = (name: string, fallback: string) => {
    const value = env[name];
    return value !== undefined && isAbsolute(value) ? value : join(home, fallback);
  };
  return {
    configFile: env['KEYVEND_CONFIG'] || join(xdg('XDG_CONFIG_HOME', '.config'), 'keyvend', 'config.json'),
    loginsDir: join(xdg('XDG_STATE_HOME', '.local/state'), 'keyvend', 'logins'),
    credentialsCacheDir: join(xdg('XDG_CACHE_HOME', '.cache'), 'keyvend', 'credentials'),
  };
}

// 'auto' once meant "device when offered"; it is kept so existing config files still load, and now means browser.
const LOGIN_FLOWS = ['browser', 'device', 'auto'] as const;
export type LoginFlow = (typeof LOGIN_FLOWS)[number];

export const CONFIG_KEYS = [
  'brokerUrl',
  'issuer',
  'clientId',
  'resource',
  'scope',
  'minRemainingMinutes',
  'loginFlow',
  'region',
  'stsEndpointUrl',
] as const;

/** AWS region names (us-east-1, us-gov-west-1, eu-central-2, ...): lower-case letters, digits and hyphens. */
export const REGION_PATTERN = /^[a-z0-9-]{2,32}$/u;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

const CONFIG_SCHEMA = v.strictObject({
  brokerUrl: v.optional(v.string()),
  issuer: v.optional(v.string()),
  clientId: v.optional(v.pipe(v.string(), v.minLength(1))),
  resource: v.optional(v.pipe(v.string(), v.minLength(1))),
  scope: v.optional(v.pipe(v.string(), v.minLength(1))),
  minRemainingMinutes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(720))),
  loginFlow: v.optional(v.picklist(LOGIN_FLOWS)),
  region: v.optional(v.pipe(v.string(), v.regex(REGION_PATTERN, 'not an AWS region name'))),
  /** Where the AWS tools reach STS, when not AWS itself (the local stack's emulator): `configure` names it in its "Try" line. */
  stsEndpointUrl: v.optional(v.string()),
});
export type ConfigFile = v.InferOutput<typeof CONFIG_SCHEMA>;

export const DEFAULT_CLIENT_ID = 'keyvend-cli';
export const DEFAULT_SCOPE = 'openid offline_access';
export const DEFAULT_MIN_REMAINING_MINUTES = 5;

export function readConfigFile(path: string): ConfigFile {
  const text = readTextIfPresent(path);
  if (text === undefined) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CliError('invalid_config', `${path} is not valid JSON`, EXIT.usage);
  }
  const parsed = v.safeParse(CONFIG_SCHEMA, raw);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const key = issue?.path?.map((item) => String(item.key)).join('.') ?? '';
    throw new CliError('invalid_config', `${path}: ${key ? `${key}: ` : ''}${issue?.message ?? 'invalid'}`, EXIT.usage);
  }
  return parsed.output;
}

/** Validates one `keyvend config set` value the way the file is validated when read. */
export function parseConfigValue(key: ConfigKey, value: string): string | number {
  const candidate = key === 'minRemainingMinutes' ? Number(value) : value;
  const parsed = v.safeParse(CONFIG_SCHEMA, { [key]: candidate });
  if (!parsed.success) throw usageError(`${key}: ${parsed.issues[0]?.message ?? 'invalid'}`);
  if (key === 'brokerUrl' || key === 'issuer' || key === 'stsEndpointUrl') return normaliseServiceUrl(key, value);
  return candidate;
}

export interface ResolvedSettings {
  readonly brokerUrl: string | undefined;
  readonly issuer: string | undefined;
  readonly clientId: string;
  readonly resource: string | undefined;
  readonly scope: string;
  readonly minRemainingMinutes: number;
  readonly loginFlow: LoginFlow;
  /** For the AWS tools: flag, then `AWS_REGION`, then `AWS_DEFAULT_REGION`, then the config file. */
  readonly region: string | undefined;
  readonly stsEndpointUrl: string | undefined;
}

export interface SettingFlags {
  readonly brokerUrl?: string | undefined;
  readonly issuer?: string | undefined;
  readonly clientId?: string | undefined;
  readonly resource?: string | undefined;
  readonly scope?: string | undefined;
  readonly minRemainingMinutes?: string | undefined;
  readonly region?: string | undefined;
}

/** Flags win over the environment (`KEYVEND_URL`, `KEYVEND_ISSUER`), which wins over the config file. */
export function resolveSettings(context: CliContext, flags: SettingFlags): ResolvedSettings {
  const file = readConfigFile(cliPaths(context.env).configFile);
  const brokerUrl = flags.brokerUrl ?? (context.env['KEYVEND_URL'] || undefined) ?? file.brokerUrl;
  const issuer = flags.issuer ?? (context.env['KEYVEND_ISSUER'] || undefined) ?? file.issuer;
  let minRemainingMinutes = file.minRemainingMinutes ?? DEFAULT_MIN_REMAINING_MINUTES;
  if (flags.minRemainingMinutes !== undefined) {
    const value = Number(flags.minRemainingMinutes);
    if (!Number.isInteger(value) || value < 0 || value > 720) throw usageError('--min-remaining takes whole minutes from 0 to 720');
    minRemainingMinutes = value;
  }
  if (flags.region !== undefined && !REGION_PATTERN.test(flags.region)) throw usageError(`"${flags.region}" is not an AWS region name`);
  // The environment's region is the user's own setting, passed on as it is (the config file's is validated when read).
  const region =
    flags.region ?? (context.env['AWS_REGION'] || undefined) ?? (context.env['AWS_DEFAULT_REGION'] || undefined) ?? file.region;
  return {
    brokerUrl: brokerUrl === undefined ? undefined : normaliseServiceUrl('broker URL', brokerUrl),
    issuer: issuer === undefined ? undefined : normaliseServiceUrl('issuer', issuer),
    clientId: flags.clientId ?? file.clientId ?? DEFAULT_CLIENT_ID,
    resource: flags.resource ?? file.resource,
    scope: flags.scope ?? file.scope ?? DEFAULT_SCOPE,
    minRemainingMinutes,
    loginFlow: file.loginFlow ?? 'browser',
    region,
    stsEndpointUrl: file.stsEndpointUrl === undefined ? undefined : normaliseServiceUrl('stsEndpointUrl', file.stsEndpointUrl),
  };
}

export function requireBrokerUrl(settings: ResolvedSettings): string {
  if (settings.brokerUrl === undefined) {
    throw usageError('no broker URL: pass --broker-url, set KEYVEND_URL, or run `keyvend config set brokerUrl <url>`');
  }
  return settings.brokerUrl;
}

export function requireIssuer(settings: ResolvedSettings): string {
  if (settings.issuer === undefined) {
    throw usageError('no OIDC issuer: pass --issuer, set KEYVEND_ISSUER, or run `keyvend config set issuer <url>`');
  }
  return settings.issuer;
}

/**
 * Bearer tokens and credentials travel to these URLs, so plain http is allowed to loopback only.
 * The result has no trailing slash; an issuer keeps its path, since OIDC issuers may have one.
 */
export function normaliseServiceUrl(what: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw usageError(`${what} "${value}" is not a URL`);
  }
  if (!isSecureTransport(url, { allowLoopbackHttp: true })) {
    throw usageError(`${what} must use https (plain http is allowed to 127.0.0.1 and localhost only): ${value}`);
  }
  if (url.search || url.hash || url.username || url.password)
    throw usageError(`${what} must have no query, fragment or credentials: ${value}`);
  return url.href.replace(/\/+$/u, '');
}
