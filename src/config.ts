import * as v from 'valibot';
import type { OidcIssuerSettings } from './adapters/oidc/jose-identity-verifier.ts';
import { type DestinationRule, parseDestinationRules } from './domain/console-signin.ts';
import { SECRET_ID_PATTERN } from './domain/entitlement.ts';
import { ISSUER_ID_PATTERN } from './domain/identifiers.ts';
import { loadSamlConfig, type SamlConfig } from './config-saml.ts';

/**
 * The only reader of process.env. Parsed once at cold start; anything missing or unsafe stops the function
 * before it serves a request (an issuer without an audience would silently turn jose's check off).
 */
export interface Config {
  readonly region: string;
  readonly entitlementsTable: string;
  readonly auditTable: string;
  readonly auditRetentionDays: number;
  readonly issuers: readonly OidcIssuerSettings[];
  readonly allowedRoleArnPatterns: readonly string[];
  readonly roleChaining: boolean;
  readonly localMode: boolean;
  readonly stsEndpoint: string | undefined;
  readonly dynamoDbEndpoint: string | undefined;
  readonly secretsManagerEndpoint: string | undefined;
  /** Secret ids (names or ARNs) of federation IAM users' keys; empty when no entitlement vends federation tokens. */
  readonly federationUserSecrets: readonly string[];
  readonly federationKeysCacheSeconds: number;
  readonly allowedOrigins: readonly string[];
  readonly console: ConsoleConfig;
  readonly portal: PortalConfig | undefined;
  readonly saml: SamlConfig;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
const NON_EMPTY = v.pipe(v.string(), v.minLength(1));

const ISSUER_SCHEMA = v.strictObject({
  id: v.pipe(v.string(), v.regex(ISSUER_ID_PATTERN, 'issuer ids are 1-31 of [a-z0-9-]')),
  issuer: v.pipe(v.string(), v.url()),
  audiences: v.pipe(v.array(NON_EMPTY), v.minLength(1, 'an issuer needs at least one audience')),
  algorithms: v.optional(v.pipe(v.array(v.picklist(ALGORITHMS)), v.minLength(1)), ['RS256']),
  jwksUri: v.optional(v.pipe(v.string(), v.url())),
  tokenType: v.optional(v.picklist(['access', 'id']), 'access'),
  subjectClaim: v.optional(NON_EMPTY, 'sub'),
  groupsClaim: v.optional(NON_EMPTY),
  tagClaims: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_:./-]{1,128}$/))), []),
  authorizedParties: v.optional(v.pipe(v.array(NON_EMPTY), v.minLength(1))),
  maxTokenLifetimeSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(86_400)), 3600),
  clockToleranceSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(60)), 60),
});

const ROLE_PATTERN = /^arn:(aws|aws-us-gov|aws-cn):iam::(\d{12}|\*):role\/[\w+=,.@/*-]+$/;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new ConfigError(`${name} is required`);
    return value;
  };
  const flag = (name: string, fallback: boolean): boolean => {
    const value = env[name]?.trim().toLowerCase();
    if (value === undefined || value === '') return fallback;
    if (value === 'true' || value === 'false') return value === 'true';
    throw new ConfigError(`${name} must be true or false`);
  };
  const localMode = flag('KEYVEND_LOCAL_MODE', false);

  let issuersJson: unknown;
  try {
    issuersJson = JSON.parse(required('KEYVEND_ISSUERS'));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError('KEYVEND_ISSUERS must be a JSON array of issuer settings');
  }
  const parsed = v.safeParse(v.pipe(v.array(ISSUER_SCHEMA), v.minLength(1, 'at least one issuer is required')), issuersJson);
  if (!parsed.success) throw new ConfigError(`KEYVEND_ISSUERS: ${v.summarize(parsed.issues)}`);
  const issuers: OidcIssuerSettings[] = parsed.output.map((i) => {
    const { jwksUri, groupsClaim, authorizedParties, ...rest } = i;
    return {
      ...rest,
      ...(jwksUri === undefined ? {} : { jwksUri }),
      ...(groupsClaim === undefined ? {} : { groupsClaim }),
      ...(authorizedParties === undefined ? {} : { authorizedParties }),
    };
  });
  const ids = new Set(issuers.map((i) => i.id));
  const names = new Set(issuers.map((i) => i.issuer));
  if (ids.size !== issuers.length || names.size !== issuers.length) throw new ConfigError('issuer ids and issuers must be unique');
  for (const i of issuers) {
    for (const url of [i.issuer, i.jwksUri].filter((u): u is string => u !== undefined)) {
      const { protocol, hostname } = new URL(url);
      const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
      if (protocol !== 'https:' && !(localMode && protocol === 'http:' && loopback)) {
        throw new ConfigError(`issuer ${i.id}: ${url} must be https (plain http only to loopback in local mode)`);
      }
    }
  }

  const allowedRoleArnPatterns = required('KEYVEND_ALLOWED_ROLE_ARNS')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  for (const pattern of allowedRoleArnPatterns) {
    if (!ROLE_PATTERN.test(pattern)) throw new ConfigError(`KEYVEND_ALLOWED_ROLE_ARNS: ${pattern} is not a role ARN pattern`);
  }

  const retention = Number(env['KEYVEND_AUDIT_RETENTION_DAYS'] ?? '400');
  if (!Number.isInteger(retention) || retention < 1 || retention > 3650) {
    throw new ConfigError('KEYVEND_AUDIT_RETENTION_DAYS must be a whole number of days between 1 and 3650');
  }
  const endpoint = (name: string): string | undefined => {
    const value = env[name]?.trim();
    if (!value) return undefined;
    if (!localMode) throw new ConfigError(`${name} is for local mode only`);
    return new URL(value).toString();
  };

  const federationUserSecrets = (env['KEYVEND_FEDERATION_USER_SECRETS'] ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  for (const id of federationUserSecrets) {
    if (!SECRET_ID_PATTERN.test(id)) throw new ConfigError(`KEYVEND_FEDERATION_USER_SECRETS: ${id} is not a secret name or ARN`);
  }
  const federationKeysCacheSeconds = Number(env['KEYVEND_FEDERATION_KEYS_CACHE_SECONDS'] ?? '300');
  if (!Number.isInteger(federationKeysCacheSeconds) || federationKeysCacheSeconds < 0 || federationKeysCacheSeconds > 3600) {
    throw new ConfigError('KEYVEND_FEDERATION_KEYS_CACHE_SECONDS must be a whole number of seconds between 0 and 3600');
  }
  const saml = loadSamlConfig(env, { localMode, fail: (message) => new ConfigError(message) });
  if (saml.idps.some((idp) => ids.has(idp.id))) throw new ConfigError('SAML IdP ids must differ from OIDC issuer ids');

  return Object.freeze({
    region: env['AWS_REGION']?.trim() || 'us-east-1',
    entitlementsTable: required('KEYVEND_ENTITLEMENTS_TABLE'),
    auditTable: required('KEYVEND_AUDIT_TABLE'),
    auditRetentionDays: retention,
    issuers: Object.freeze(issuers),
    allowedRoleArnPatterns: Object.freeze(allowedRoleArnPatterns),
    roleChaining: flag('KEYVEND_ROLE_CHAINING', true),
    localMode,
    stsEndpoint: endpoint('KEYVEND_STS_ENDPOINT'),
    dynamoDbEndpoint: endpoint('KEYVEND_DYNAMODB_ENDPOINT'),
    secretsManagerEndpoint: endpoint('KEYVEND_SECRETS_MANAGER_ENDPOINT'),
    federationUserSecrets: Object.freeze(federationUserSecrets),
    federationKeysCacheSeconds,
    allowedOrigins: Object.freeze(
      (env['KEYVEND_ALLOWED_ORIGINS'] ?? '')
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    ),
    console: loadConsoleConfig(env, localMode, endpoint),
    portal: loadPortalConfig(env, localMode, issuers),
    saml,
  });
}

/** `*` in a configured pattern matches within one ARN segment part, never across `:`. */
export function roleArnMatcher(patterns: readonly string[]): (roleArn: string) => boolean {
  const regexes = patterns.map(
    (p) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('[^:]*')}$`),
  );
  return (roleArn) => regexes.some((r) => r.test(roleArn));
}

export interface ConsoleConfig {
  /** The fixed `Issuer` of sign-in URLs (where the console's sign-out sends people); KEYVEND_CONSOLE_ISSUER_URL. */
  readonly issuerUrl: string | undefined;
  /** KEYVEND_CONSOLE_DESTINATIONS narrows the default (any page of the partition's console). */
  readonly destinationRules: readonly DestinationRule[];
  /** Local mode only: the emulator's federation endpoint instead of the partition's signin host. */
  readonly federationEndpoint: string | undefined;
}

export interface PortalConfig {
  /** The broker's public base URL, e.g. https://keyvend.example.com; the OIDC redirect URI is below it. */
  readonly publicUrl: string;
  /** The configured issuer people sign in with; its id is the one entitlements grant to. */
  readonly issuerId: string;
  readonly clientId: string;
  /** Secrets Manager secret holding `{"clientSecret", "sessionKey"}` (AWS). */
  readonly secretId: string | undefined;
  /** Local mode only, instead of secretId. */
  readonly clientSecret: string | undefined;
  readonly sessionKey: string | undefined;
  readonly sessionSeconds: number;
}

function loadConsoleConfig(
  env: Record<string, string | undefined>,
  localMode: boolean,
  endpoint: (name: string) => string | undefined,
): ConsoleConfig {
  const base = portalBase(env);
  const issuerUrl = env['KEYVEND_CONSOLE_ISSUER_URL']?.trim() || (base === undefined ? undefined : `${base.replace(/\/+$/, '')}/portal`);
  if (issuerUrl !== undefined) assertWebUrl('KEYVEND_CONSOLE_ISSUER_URL', issuerUrl, localMode);
  let destinationRules: DestinationRule[];
  try {
    destinationRules = parseDestinationRules(
      (env['KEYVEND_CONSOLE_DESTINATIONS'] ?? '').split(',').map((d) => d.trim()).filter(Boolean),
    );
  } catch (error) {
    throw new ConfigError(`KEYVEND_CONSOLE_DESTINATIONS: ${(error as Error).message}`);
  }
  return Object.freeze({
    issuerUrl,
    destinationRules: Object.freeze(destinationRules),
    federationEndpoint: endpoint('KEYVEND_FEDERATION_ENDPOINT'),
  });
}

const portalBase = (env: Record<string, string | undefined>): string | undefined => env['KEYVEND_PORTAL_URL']?.trim() || undefined;

function assertWebUrl(name: string, value: string, localMode: boolean): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be a URL`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(localMode && url.protocol === 'http:' && loopback)) {
    throw new ConfigError(`${name} must be https (plain http only to loopback in local mode)`);
  }
}

function loadPortalConfig(
  env: Record<string, string | undefined>,
  localMode: boolean,
  issuers: readonly OidcIssuerSettings[],
): PortalConfig | undefined {
  const publicUrl = portalBase(env);
  if (publicUrl === undefined) return undefined;
  assertWebUrl('KEYVEND_PORTAL_URL', publicUrl, localMode);
  const issuerId = env['KEYVEND_PORTAL_ISSUER_ID']?.trim() || issuers[0]?.id || '';
  if (!issuers.some((i) => i.id === issuerId)) throw new ConfigError('KEYVEND_PORTAL_ISSUER_ID must name a configured issuer');
  const clientId = env['KEYVEND_PORTAL_CLIENT_ID']?.trim();
  if (!clientId) throw new ConfigError('KEYVEND_PORTAL_CLIENT_ID is required with KEYVEND_PORTAL_URL');
  const secretId = env['KEYVEND_PORTAL_SECRET_ID']?.trim() || undefined;
  const clientSecret = env['KEYVEND_PORTAL_CLIENT_SECRET']?.trim() || undefined;
  const sessionKey = env['KEYVEND_PORTAL_SESSION_KEY']?.trim() || undefined;
  if ((clientSecret !== undefined || sessionKey !== undefined) && !localMode) {
    throw new ConfigError('KEYVEND_PORTAL_CLIENT_SECRET and KEYVEND_PORTAL_SESSION_KEY are for local mode only; use KEYVEND_PORTAL_SECRET_ID');
  }
  if (secretId === undefined && (clientSecret === undefined || sessionKey === undefined)) {
    throw new ConfigError('the portal needs KEYVEND_PORTAL_SECRET_ID (or, locally, KEYVEND_PORTAL_CLIENT_SECRET and KEYVEND_PORTAL_SESSION_KEY)');
  }
  if (sessionKey !== undefined && Buffer.from(sessionKey, 'base64url').length < 32) {
    throw new ConfigError('KEYVEND_PORTAL_SESSION_KEY must be at least 32 random bytes, base64url');
  }
  const sessionSeconds = Number(env['KEYVEND_PORTAL_SESSION_SECONDS'] ?? '1800');
  if (!Number.isInteger(sessionSeconds) || sessionSeconds < 60 || sessionSeconds > 43_200) {
    throw new ConfigError('KEYVEND_PORTAL_SESSION_SECONDS must be a whole number of seconds between 60 and 43200');
  }
  return Object.freeze({ publicUrl: publicUrl.replace(/\/+$/, ''), issuerId, clientId, secretId, clientSecret, sessionKey, sessionSeconds });
}
