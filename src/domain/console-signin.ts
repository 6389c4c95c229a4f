import { InvalidRequestError } from './errors.ts';
import type { VendingPath } from './vending-path.ts';

/**
 * Console sign-in through the AWS federation endpoint (aws-facts §7.6): pure rules, no I/O.
 * The adapter in src/adapters/signin/ does the HTTP; everything it needs to decide comes from here.
 */

export type Partition = 'aws' | 'aws-us-gov' | 'aws-cn';

interface PartitionHosts {
  /** The federation endpoint's host (`getSigninToken` and `login`). */
  readonly signin: string;
  /** The console's own host; destinations may be it or one label below it (a region). */
  readonly console: string;
}

export const PARTITION_HOSTS: Readonly<Record<Partition, PartitionHosts>> = Object.freeze({
  aws: { signin: 'signin.aws.amazon.com', console: 'console.aws.amazon.com' },
  'aws-us-gov': { signin: 'signin.amazonaws-us-gov.com', console: 'console.amazonaws-us-gov.com' },
  'aws-cn': { signin: 'signin.amazonaws.cn', console: 'console.amazonaws.cn' },
});

/** AWS accepts a sign-in URL for 15 minutes after the token was issued. */
export const SIGNIN_URL_LIFETIME_SECONDS = 15 * 60;

export function partitionOf(roleArn: string): Partition {
  const partition = roleArn.split(':')[1];
  if (partition === 'aws' || partition === 'aws-us-gov' || partition === 'aws-cn') return partition;
  throw new InvalidRequestError('The role is in a partition the console sign-in does not know.', { reason: 'unknown_partition' });
}

export function federationEndpointFor(partition: Partition): string {
  return `https://${PARTITION_HOSTS[partition].signin}/federation`;
}

export function defaultDestinationFor(partition: Partition): string {
  return `https://${PARTITION_HOSTS[partition].console}/`;
}

/**
 * How the credentials that go to the federation endpoint were obtained. The broker's AssumeRole from a
 * Lambda role session is chained; AssumeRoleWithWebIdentity with the broker's token is unsigned (not
 * chained); GetFederationToken sessions take their console lifetime from the token itself.
 */
export type CredentialOrigin = 'assume_role' | 'assume_role_chained' | 'assume_role_with_web_identity' | 'federation_token';

/** How an entitlement's credentials are obtained, from its vending path and whether the broker is a role session. */
export function credentialOriginOf(vending: VendingPath, roleChaining: boolean): CredentialOrigin {
  switch (vending) {
    case 'assume-role':
      return roleChaining ? 'assume_role_chained' : 'assume_role';
    case 'keyvend-issuer':
      return 'assume_role_with_web_identity';
    case 'federation-token':
      return 'federation_token';
  }
}

/**
 * `SessionDuration` for getSigninToken, or undefined to omit it. The federation endpoint answers 400 when
 * it is sent with chained credentials, and GetFederationToken credentials must not carry it either (their
 * console session lasts as long as the token). Only credentials obtained without chaining may set it,
 * and then it is the session's own duration, within the endpoint's 900..43200 seconds.
 */
export function sessionDurationFor(origin: CredentialOrigin, durationSeconds: number): number | undefined {
  if (origin === 'assume_role_chained' || origin === 'federation_token') return undefined;
  return Math.min(43_200, Math.max(900, Math.floor(durationSeconds)));
}

/** A narrowed destination: an https origin of the partition's console and a path prefix under it. */
export interface DestinationRule {
  readonly origin: string;
  readonly pathPrefix: string;
}

const MAX_DESTINATION_CHARS = 2048;
const REGION_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const FORBIDDEN_CHARACTERS = /[\u0000-\u0020\u007f\\]/;

/** Parses `KEYVEND_CONSOLE_DESTINATIONS` entries: each an https URL prefix on a console host. */
export function parseDestinationRules(entries: readonly string[]): DestinationRule[] {
  return entries.map((entry) => {
    const url = strictHttpsUrl(entry);
    if (url === undefined || consolePartitionOfHost(url.hostname) === undefined) {
      throw new Error(`console destination ${entry} is not an https URL on an AWS console host`);
    }
    const pathPrefix = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
    return { origin: url.origin, pathPrefix };
  });
}

/**
 * The Destination for the login URL: the caller's choice when it is an https URL on the role's partition's
 * console (its apex or one region label below it) and, when rules are configured, under one of them;
 * otherwise invalid_request. Userinfo, ports, backslashes, spaces and control characters are refused, not
 * cleaned up, so `https://console.aws.amazon.com@evil.example/` or `https://evil.example/?x=.console.aws.amazon.com`
 * can never become a phishing return.
 */
export function resolveDestination(requested: unknown, partition: Partition, rules: readonly DestinationRule[]): string {
  if (requested === undefined) {
    const fallback = defaultDestinationFor(partition);
    const first = rules[0];
    if (first === undefined || isUnderRules(new URL(fallback), rules)) return fallback;
    return `${first.origin}${first.pathPrefix}`;
  }
  if (typeof requested !== 'string') throw destinationError();
  const url = strictHttpsUrl(requested);
  if (url === undefined || consolePartitionOfHost(url.hostname) !== partition) throw destinationError();
  if (rules.length > 0 && !isUnderRules(url, rules)) throw destinationError();
  return url.href;
}

function isUnderRules(url: URL, rules: readonly DestinationRule[]): boolean {
  const path = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
  return rules.some((rule) => rule.origin === url.origin && path.startsWith(rule.pathPrefix));
}

function destinationError(): InvalidRequestError {
  return new InvalidRequestError("destination must be an https URL of the AWS console for the role's partition.", {
    reason: 'destination_not_allowed',
  });
}

function strictHttpsUrl(raw: string): URL | undefined {
  if (raw.length > MAX_DESTINATION_CHARS || FORBIDDEN_CHARACTERS.test(raw) || !raw.toLowerCase().startsWith('https://')) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.port !== '') return undefined;
  // The authority as written must be exactly the parsed host: no `@`, no percent-encoded or dotted tricks.
  const authority = raw.slice('https://'.length).split(/[/?#]/, 1)[0]?.toLowerCase();
  if (authority !== url.hostname) return undefined;
  return url;
}

function consolePartitionOfHost(hostname: string): Partition | undefined {
  for (const [partition, hosts] of Object.entries(PARTITION_HOSTS) as [Partition, PartitionHosts][]) {
    if (hostname === hosts.console) return partition;
    const suffix = `.${hosts.console}`;
    if (hostname.endsWith(suffix) && REGION_LABEL.test(hostname.slice(0, -suffix.length))) return partition;
  }
  return undefined;
}

/** The `Session` parameter of getSigninToken: the credentials as the endpoint expects them. */
export function signinSessionJson(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string }): string {
  return JSON.stringify({
    sessionId: credentials.accessKeyId,
    sessionKey: credentials.secretAccessKey,
    sessionToken: credentials.sessionToken,
  });
}

/** The form body of getSigninToken. POSTed, so the credentials never appear in a URL or an access log. */
export function signinTokenRequestBody(sessionJson: string, sessionDuration: number | undefined): string {
  const form = new URLSearchParams({ Action: 'getSigninToken' });
  if (sessionDuration !== undefined) form.set('SessionDuration', String(sessionDuration));
  form.set('Session', sessionJson);
  return form.toString();
}

/** The `login` URL that signs the browser in. It is a bearer secret for its 15 minutes. */
export function loginUrl(input: { endpoint: string; issuer: string; destination: string; signinToken: string }): string {
  const url = new URL(input.endpoint);
  url.search = new URLSearchParams({
    Action: 'login',
    Issuer: input.issuer,
    Destination: input.destination,
    SigninToken: input.signinToken,
  }).toString();
  return url.toString();
}
