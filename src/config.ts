import * as v from 'valibot';
import type { OidcIssuerSettings } from './domain/identity-providers.ts';
import { type DestinationRule, parseDestinationRules } from './domain/console-signin.ts';
import { type BrokerTokenSettings, MAX_TOKEN_LIFETIME_SECONDS, MIN_TOKEN_LIFETIME_SECONDS } from './domain/broker-token.ts';
import { ROLE_ARN_PATTERN, SECRET_ID_PATTERN } from './domain/entitlement.ts';
import type { AdminRule } from './domain/admins.ts';
import { DISPLAY_NAME_PATTERN, GROUP_PATTERN, ISSUER_ID_PATTERN } from './domain/identifiers.ts';
import { isSecureTransport } from './domain/transport.ts';
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
  readonly kmsEndpoint: string | undefined;
  /** The broker as the OIDC issuer target roles trust (keyvend-issuer); undefined when not configured. */
  readonly brokerIssuer: BrokerIssuerConfig | undefined;
  /** Secret ids (names or ARNs) of federation IAM users' keys; empty when no entitlement vends federation tokens. */
  readonly federationUserSecrets: readonly string[];
  readonly federationKeysCacheSeconds: number;
  /**
   * How long a container keeps each issuer's list of granted groups, so the entitlement read asks only for the
   * caller's groups that some grant names; 0 asks for every group (docs/adr/0018-granted-groups-list.md).
   */
  readonly grantedGroupsCacheSeconds: number;
  /**
   * The credential cache (docs/adr/0013-credential-cache.md): off unless KEYVEND_CREDENTIAL_CACHE=true. A kept
   * session is served while it has `minRemainingSeconds` left; at most `maxEntries` are kept per container.
   */
  readonly credentialCache: { readonly enabled: boolean; readonly minRemainingSeconds: number; readonly maxEntries: number };
  readonly allowedOrigins: readonly string[];
  readonly console: ConsoleConfig;
  readonly portal: PortalConfig | undefined;
  readonly saml: SamlConfig;
  /** KEYVEND_ADMINS: the groups, per identity provider, whose members may use the admin routes; empty: nobody. */
  readonly admins: readonly AdminRule[];
  /** KEYVEND_REVOKER_ROLE_ARNS: one revoker role per member account, which may only version `keyvend-revocations`. */
  readonly revokerRoleArns: readonly string[];
  /** KEYVEND_IAM_ENDPOINT: local mode only (the emulator's IAM actions). */
  readonly iamEndpoint: string | undefined;
  /** The function timeout in seconds (KEYVEND_FUNCTION_TIMEOUT_SECONDS): how long a request may still be in flight. */
  readonly functionTimeoutSeconds: number;
  /**
   * The time one request may spend on its dependencies, from the function's timeout (docs/operations.md,
   * "Deadlines"): calls are cut at `workMs`, and a call started later (recording a denial) at `recordMs`.
   */
  readonly requestBudget: { readonly workMs: number; readonly recordMs: number };
  /** Each authenticated caller's budget on the minting routes, per container (ADR 0015). */
  readonly rateLimit: { readonly perMinute: number; readonly burst: number };
  /**
   * Accepted but risky settings (an opt-out of a safety check), one sentence each with no secret in it;
   * the container logs them once at cold start.
   */
  readonly warnings: readonly string[];
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
  /** The explicit opt-out of authorizedParties: any client of the IdP that can get the audience is accepted. */
  anyAuthorizedParty: v.optional(v.literal(true)),
  /** The explicit opt-in to a subjectClaim other than `sub`, which the IdP may let people change. */
  allowMutableSubjectClaim: v.optional(v.literal(true)),
  maxTokenLifetimeSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(86_400)), 3600),
  clockToleranceSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(60)), 60),
  /** The portal's sign-in button label ("Sign in with Corp SSO"); the issuer's host without it. */
  displayName: v.optional(v.pipe(v.string(), v.trim(), v.regex(DISPLAY_NAME_PATTERN, 'displayName is 1-64 printable characters'))),
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
  const warnings: string[] = [];
  const issuers: OidcIssuerSettings[] = parsed.output.map((i) => {
    warnings.push(...issuerHazards(i));
    const {
      jwksUri,
      groupsClaim,
      authorizedParties,
      displayName,
      anyAuthorizedParty: _any,
      allowMutableSubjectClaim: _mutable,
      ...rest
    } = i;
    return {
      ...rest,
      ...(jwksUri === undefined ? {} : { jwksUri }),
      ...(displayName === undefined ? {} : { displayName }),
      ...(groupsClaim === undefined ? {} : { groupsClaim }),
      ...(authorizedParties === undefined ? {} : { authorizedParties }),
    };
  });
  const ids = new Set(issuers.map((i) => i.id));
  const names = new Set(issuers.map((i) => i.issuer));
  if (ids.size !== issuers.length || names.size !== issuers.length) throw new ConfigError('issuer ids and issuers must be unique');
  for (const i of issuers) {
    for (const url of [i.issuer, i.jwksUri].filter((u): u is string => u !== undefined)) {
      if (!isSecureTransport(new URL(url), { allowLoopbackHttp: localMode })) {
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

  const retention = Number(env['KEYVEND_AUDIT_RETENTION_DAYS'] ?? '30');
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
  const wholeNumber = (name: string, fallback: number, min: number, max: number, what: string): number => {
    const value = Number(env[name]?.trim() || String(fallback));
    if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError(`${name} must be ${what} between ${min} and ${max}`);
    return value;
  };
  const credentialCache = {
    enabled: flag('KEYVEND_CREDENTIAL_CACHE', false),
    // 900 s by default: botocore refreshes credential_process credentials 15 minutes before they expire, so a
    // session served with less left would send it straight back for another (docs/adr/0013-credential-cache.md).
    minRemainingSeconds: wholeNumber('KEYVEND_CREDENTIAL_CACHE_MIN_REMAINING_SECONDS', 900, 60, 43_200, 'a whole number of seconds'),
    maxEntries: wholeNumber('KEYVEND_CREDENTIAL_CACHE_MAX_ENTRIES', 1000, 1, 100_000, 'a whole number'),
  };
  const timeoutSeconds = Number(env['KEYVEND_FUNCTION_TIMEOUT_SECONDS'] ?? '10');
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 4 || timeoutSeconds > 900) {
    throw new ConfigError('KEYVEND_FUNCTION_TIMEOUT_SECONDS must be the function timeout, a whole number of seconds between 4 and 900');
  }
  const rateLimit = loadRateLimit(env);
  const saml = loadSamlConfig(env, { localMode, fail: (message) => new ConfigError(message), warn: (message) => warnings.push(message) });
  if (saml.idps.some((idp) => ids.has(idp.id))) throw new ConfigError('SAML IdP ids must differ from OIDC issuer ids');
  const admins = loadAdmins(env['KEYVEND_ADMINS'], new Set([...ids, ...saml.idps.map((idp) => idp.id)]));
  const revokerRoleArns = (env['KEYVEND_REVOKER_ROLE_ARNS'] ?? '')
    .split(',')
    .map((arn) => arn.trim())
    .filter(Boolean);
  for (const arn of revokerRoleArns) {
    if (!ROLE_ARN_PATTERN.test(arn)) throw new ConfigError(`KEYVEND_REVOKER_ROLE_ARNS: ${arn} is not a role ARN`);
  }
  if (new Set(revokerRoleArns.map((arn) => arn.split(':')[4])).size !== revokerRoleArns.length) {
    throw new ConfigError('KEYVEND_REVOKER_ROLE_ARNS: one revoker role per member account');
  }

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
    kmsEndpoint: endpoint('KEYVEND_KMS_ENDPOINT'),
    brokerIssuer: loadBrokerIssuerConfig(env, localMode),
    federationUserSecrets: Object.freeze(federationUserSecrets),
    federationKeysCacheSeconds,
    grantedGroupsCacheSeconds: wholeNumber('KEYVEND_GRANTED_GROUPS_CACHE_SECONDS', 60, 0, 3600, 'a whole number of seconds'),
    credentialCache: Object.freeze(credentialCache),
    allowedOrigins: Object.freeze(
      (env['KEYVEND_ALLOWED_ORIGINS'] ?? '')
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    ),
    console: loadConsoleConfig(env, localMode, endpoint),
    portal: loadPortalConfig(env, localMode, issuers),
    saml,
    admins,
    revokerRoleArns: Object.freeze(revokerRoleArns),
    iamEndpoint: endpoint('KEYVEND_IAM_ENDPOINT'),
    functionTimeoutSeconds: timeoutSeconds,
    requestBudget: Object.freeze(requestBudgetOf(timeoutSeconds)),
    rateLimit,
    warnings: Object.freeze(warnings),
  });
}

const ADMINS_SCHEMA = v.array(
  v.strictObject({
    issuer: v.pipe(v.string(), v.regex(ISSUER_ID_PATTERN, 'issuer is the id of a configured OIDC issuer or SAML IdP')),
    groups: v.pipe(v.array(v.pipe(v.string(), v.regex(GROUP_PATTERN, 'groups are 1-128 characters of the group grammar'))), v.minLength(1)),
  }),
);

/** Admins are groups of configured identity providers only: a rule for an unknown issuer is a typo that would grant nothing. */
function loadAdmins(raw: string | undefined, identityProviderIds: ReadonlySet<string>): AdminRule[] {
  if (raw === undefined || raw.trim() === '') return [];
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError('KEYVEND_ADMINS must be a JSON array like [{"issuer":"corp","groups":["keyvend-admins"]}]');
  }
  const parsed = v.safeParse(ADMINS_SCHEMA, json);
  if (!parsed.success) throw new ConfigError(`KEYVEND_ADMINS: ${v.summarize(parsed.issues)}`);
  return parsed.output.map((rule) => {
    if (!identityProviderIds.has(rule.issuer))
      throw new ConfigError(`KEYVEND_ADMINS: ${rule.issuer} is not a configured issuer or SAML IdP id`);
    return Object.freeze({ issuerId: rule.issuer, groups: Object.freeze([...rule.groups]) });
  });
}

/** KEYVEND_RATE_LIMIT requests a minute per caller (default 60) with bursts of KEYVEND_RATE_LIMIT_BURST (default 20). */
function loadRateLimit(env: Record<string, string | undefined>): { readonly perMinute: number; readonly burst: number } {
  const perMinute = Number(env['KEYVEND_RATE_LIMIT']?.trim() || '60');
  const burst = Number(env['KEYVEND_RATE_LIMIT_BURST']?.trim() || '20');
  if (!Number.isInteger(perMinute) || perMinute < 1 || perMinute > 60_000) {
    throw new ConfigError('KEYVEND_RATE_LIMIT must be a whole number of requests a minute per caller, between 1 and 60000');
  }
  if (!Number.isInteger(burst) || burst < 1 || burst > 10_000) {
    throw new ConfigError('KEYVEND_RATE_LIMIT_BURST must be a whole number of requests between 1 and 10000');
  }
  return Object.freeze({ perMinute, burst });
}

/**
 * The last second is left for the response and the log lines; the 1.5 s before it for writing down what
 * happened (a denial, or closing the record) after a dependency hung until the work deadline.
 */
function requestBudgetOf(timeoutSeconds: number): { workMs: number; recordMs: number } {
  const recordMs = timeoutSeconds * 1000 - 1000;
  return { workMs: recordMs - 1500, recordMs };
}

/**
 * Two identity settings that let one person pass for another, refused unless the issuer says explicitly
 * that it means them. Without `authorizedParties`, any client registered at the IdP that can get a token
 * for the broker's audience (a third-party app, a test client) is accepted. A subject claim other than
 * `sub` (`email`, `preferred_username`) is often editable by users or reassigned when someone leaves, so
 * grants and user keys could move to someone else; OIDC Core §5.7 says only `sub` with `iss` is stable.
 */
function issuerHazards(i: v.InferOutput<typeof ISSUER_SCHEMA>): string[] {
  const warnings: string[] = [];
  if (i.authorizedParties === undefined && i.anyAuthorizedParty !== true) {
    throw new ConfigError(
      `issuer ${i.id}: authorizedParties is required (the azp/client_id values of the clients that may call the broker); set anyAuthorizedParty: true to accept any client of the IdP`,
    );
  }
  if (i.authorizedParties !== undefined && i.anyAuthorizedParty === true) {
    throw new ConfigError(`issuer ${i.id}: authorizedParties and anyAuthorizedParty exclude each other`);
  }
  if (i.anyAuthorizedParty === true) {
    warnings.push(
      `issuer ${i.id}: anyAuthorizedParty is set, so a token from any client of ${i.issuer} with the broker's audience is accepted`,
    );
  }
  if (i.subjectClaim !== 'sub' && i.allowMutableSubjectClaim !== true) {
    throw new ConfigError(
      `issuer ${i.id}: subjectClaim "${i.subjectClaim}" may be changed or reassigned at the IdP, letting people become each other; use sub, or set allowMutableSubjectClaim: true`,
    );
  }
  if (i.subjectClaim === 'sub' && i.allowMutableSubjectClaim === true) {
    throw new ConfigError(`issuer ${i.id}: allowMutableSubjectClaim is set but subjectClaim is sub: remove it`);
  }
  if (i.allowMutableSubjectClaim === true) {
    warnings.push(
      `issuer ${i.id}: subjectClaim "${i.subjectClaim}" is not sub; if the IdP lets it change or reuses it, one person can take over another's grants`,
    );
  }
  return warnings;
}

/** `*` in a configured pattern matches within one ARN segment part, never across `:`. */
export function roleArnMatcher(patterns: readonly string[]): (roleArn: string) => boolean {
  const regexes = patterns.map(
    (p) =>
      new RegExp(
        `^${p
          .split('*')
          .map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
          .join('[^:]*')}$`,
      ),
  );
  return (roleArn) => regexes.some((r) => r.test(roleArn));
}

export interface BrokerIssuerConfig {
  readonly token: BrokerTokenSettings;
  /** The KMS key that signs (key id, key ARN, alias name or alias ARN). */
  readonly signingKeyId: string;
  /** KMS keys published in the JWKS beside it: the next key before a switch, the previous one after. */
  readonly publishedKeyIds: readonly string[];
}

const KMS_KEY_ID_PATTERN =
  /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias\/[\w/-]{1,250}|arn:(aws|aws-us-gov|aws-cn):kms:[a-z0-9-]+:\d{12}:(?:key\/(?:[0-9a-f-]{36}|mrk-[0-9a-f]{32})|alias\/[\w/-]{1,250}))$/;
/** What an IAM OIDC provider accepts as a client id (aud): no wildcards, no spaces. */
const AUDIENCE_PATTERN = /^[\w.:/@-]{1,255}$/;

/**
 * KEYVEND_TOKEN_ISSUER turns the issuer on: it must equal, character for character, the Url of the IAM
 * OIDC provider in each member account, and AWS fetches `<issuer>/.well-known/openid-configuration` from
 * it, so https with no query, fragment or trailing slash (plain http to loopback only locally).
 */
function loadBrokerIssuerConfig(env: Record<string, string | undefined>, localMode: boolean): BrokerIssuerConfig | undefined {
  const issuer = env['KEYVEND_TOKEN_ISSUER']?.trim();
  if (!issuer) return undefined;
  assertWebUrl('KEYVEND_TOKEN_ISSUER', issuer, localMode);
  const url = new URL(issuer);
  if (url.search !== '' || url.hash !== '' || issuer.endsWith('/') || url.username !== '' || url.password !== '') {
    throw new ConfigError('KEYVEND_TOKEN_ISSUER must be a plain https URL without query, fragment or trailing slash');
  }
  const audience = env['KEYVEND_TOKEN_AUDIENCE']?.trim() || 'sts.amazonaws.com';
  if (!AUDIENCE_PATTERN.test(audience)) throw new ConfigError('KEYVEND_TOKEN_AUDIENCE must be 1-255 of [A-Za-z0-9_.:/@-]');
  const signingKeyId = env['KEYVEND_SIGNING_KEY_ID']?.trim();
  if (!signingKeyId) throw new ConfigError('KEYVEND_SIGNING_KEY_ID is required with KEYVEND_TOKEN_ISSUER');
  const publishedKeyIds = (env['KEYVEND_PUBLISHED_KEY_IDS'] ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  for (const id of [signingKeyId, ...publishedKeyIds]) {
    if (!KMS_KEY_ID_PATTERN.test(id)) throw new ConfigError(`${id} is not a KMS key id, key ARN or alias`);
  }
  if (publishedKeyIds.length > 3) throw new ConfigError('KEYVEND_PUBLISHED_KEY_IDS: at most 3 keys besides the signing key');
  const lifetimeSeconds = Number(env['KEYVEND_TOKEN_LIFETIME_SECONDS'] ?? '300');
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds < MIN_TOKEN_LIFETIME_SECONDS || lifetimeSeconds > MAX_TOKEN_LIFETIME_SECONDS) {
    throw new ConfigError(
      `KEYVEND_TOKEN_LIFETIME_SECONDS must be a whole number between ${MIN_TOKEN_LIFETIME_SECONDS} and ${MAX_TOKEN_LIFETIME_SECONDS}`,
    );
  }
  return Object.freeze({
    token: Object.freeze({ issuer, audience, lifetimeSeconds }),
    signingKeyId,
    publishedKeyIds: Object.freeze(publishedKeyIds.filter((id) => id !== signingKeyId)),
  });
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
      (env['KEYVEND_CONSOLE_DESTINATIONS'] ?? '')
        .split(',')
        .map((d) => d.trim())
        .filter(Boolean),
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
  if (!isSecureTransport(url, { allowLoopbackHttp: localMode })) {
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
    throw new ConfigError(
      'KEYVEND_PORTAL_CLIENT_SECRET and KEYVEND_PORTAL_SESSION_KEY are for local mode only; use KEYVEND_PORTAL_SECRET_ID',
    );
  }
  if (secretId === undefined && (clientSecret === undefined || sessionKey === undefined)) {
    throw new ConfigError(
      'the portal needs KEYVEND_PORTAL_SECRET_ID (or, locally, KEYVEND_PORTAL_CLIENT_SECRET and KEYVEND_PORTAL_SESSION_KEY)',
    );
  }
  if (sessionKey !== undefined && Buffer.from(sessionKey, 'base64url').length < 32) {
    throw new ConfigError('KEYVEND_PORTAL_SESSION_KEY must be at least 32 random bytes, base64url');
  }
  const sessionSeconds = Number(env['KEYVEND_PORTAL_SESSION_SECONDS'] ?? '1800');
  if (!Number.isInteger(sessionSeconds) || sessionSeconds < 60 || sessionSeconds > 43_200) {
    throw new ConfigError('KEYVEND_PORTAL_SESSION_SECONDS must be a whole number of seconds between 60 and 43200');
  }
  return Object.freeze({
    publicUrl: publicUrl.replace(/\/+$/, ''),
    issuerId,
    clientId,
    secretId,
    clientSecret,
    sessionKey,
    sessionSeconds,
  });
}

/** What the audit export function (and `keyvend audit verify`) needs: the table, the export head and the archive bucket. */
export interface AuditExportConfig {
  readonly region: string;
  readonly auditTable: string;
  readonly exportHeadTable: string;
  readonly archiveBucket: string;
  /** How long each batch object is locked (S3 Object Lock, compliance mode): the long-term retention. */
  readonly archiveRetentionDays: number;
  readonly localMode: boolean;
  readonly dynamoDbEndpoint: string | undefined;
  readonly s3Endpoint: string | undefined;
}

/**
 * The audit export's own configuration: it reads no issuer, role or key setting, so it refuses to start only for
 * what it uses. Endpoints are for local mode only, as for the other functions.
 */
export function loadAuditExportConfig(env: Record<string, string | undefined> = process.env): AuditExportConfig {
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new ConfigError(`${name} is required`);
    return value;
  };
  const localMode = env['KEYVEND_LOCAL_MODE']?.trim().toLowerCase() === 'true';
  const endpoint = (name: string): string | undefined => {
    const value = env[name]?.trim();
    if (!value) return undefined;
    if (!localMode) throw new ConfigError(`${name} is for local mode only`);
    return new URL(value).toString();
  };
  const retention = Number(env['KEYVEND_AUDIT_ARCHIVE_RETENTION_DAYS'] ?? '2557');
  if (!Number.isInteger(retention) || retention < 1 || retention > 36_500) {
    throw new ConfigError('KEYVEND_AUDIT_ARCHIVE_RETENTION_DAYS must be a whole number of days between 1 and 36500');
  }
  return Object.freeze({
    region: env['AWS_REGION']?.trim() || 'us-east-1',
    auditTable: required('KEYVEND_AUDIT_TABLE'),
    exportHeadTable: required('KEYVEND_AUDIT_EXPORT_HEAD_TABLE'),
    archiveBucket: required('KEYVEND_AUDIT_ARCHIVE_BUCKET'),
    archiveRetentionDays: retention,
    localMode,
    dynamoDbEndpoint: endpoint('KEYVEND_DYNAMODB_ENDPOINT'),
    s3Endpoint: endpoint('KEYVEND_S3_ENDPOINT'),
  });
}
