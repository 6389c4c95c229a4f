import * as v from 'valibot';
import { FEDERATION_TOKEN_MAX_DURATION_SECONDS, STS_MAX_ROLE_DURATION_SECONDS } from './duration.ts';
import { ENTITLEMENT_ID_PATTERN, ISSUER_ID_PATTERN, TAG_KEY_PATTERN } from './identifiers.ts';
import { plainIssues } from './plain-issues.ts';
import { VENDING_PATHS, type VendingPath } from './vending-path.ts';
import { broadStatements, type PolicyTemplate } from './session-policy.ts';

export type Output = 'credentials' | 'console';

/** The IAM user whose long-term keys sign GetFederationToken; the keys live in Secrets Manager. */
export interface FederationUser {
  /** Secrets Manager secret id (ARN or name) holding `{"AccessKeyId","SecretAccessKey"}`. */
  readonly secretId: string;
  /** The IAM user's ARN: the federated user's permissions are at most this user's. */
  readonly userArn: string;
}

export type SessionTagSource = { readonly key: string; readonly claim: string } | { readonly key: string; readonly value: string };

/** What a caller may be given, as stored in the entitlements table and written from YAML. */
export interface Entitlement {
  readonly id: string;
  readonly version: number;
  readonly description: string;
  /**
   * The role the credentials are for. For `federation-token` there is no role: this is then the IAM user's
   * ARN (`federationUser.userArn`), the identity whose permissions the federated session narrows.
   */
  readonly roleArn: string;
  /** Defaults to `keyvend-issuer`: the role trusts only tokens the broker mints (docs/vending-paths.md). */
  readonly vending: VendingPath;
  readonly federationUser?: FederationUser;
  readonly outputs: readonly Output[];
  readonly maxDurationSeconds: number;
  readonly defaultDurationSeconds?: number;
  /** IAM policy document with `{{userKey}}`-style placeholders; see session-policy.ts. */
  readonly sessionPolicy?: PolicyTemplate;
  readonly managedPolicyArns: readonly string[];
  readonly sessionTags: readonly SessionTagSource[];
  readonly transitiveTagKeys: readonly string[];
  readonly externalId?: string;
  /**
   * Acknowledges that, with no sessionPolicy, sessions get everything the role (or federation user) allows
   * within the managed policies, the same for every grantee. Present only when true.
   */
  readonly allowWholeRole?: true;
  /** Acknowledges Allow statements with NotAction/NotResource or `*` actions/resources. Present only when true. */
  readonly allowBroadStatements?: true;
}

export type GrantTarget = { readonly issuer: string; readonly subject: string } | { readonly issuer: string; readonly group: string };

export const ROLE_ARN_PATTERN = /^arn:(aws|aws-us-gov|aws-cn):iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
export const MANAGED_POLICY_ARN_PATTERN = /^arn:(aws|aws-us-gov|aws-cn):iam::(?:\d{12}|aws):policy\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,128}$/;
export const IAM_USER_ARN_PATTERN = /^arn:(aws|aws-us-gov|aws-cn):iam::\d{12}:user\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
/** A secret name (`[\w/+=.@-]`, 1-512) or a Secrets Manager secret ARN. */
export const SECRET_ID_PATTERN =
  /^(?:arn:(aws|aws-us-gov|aws-cn):secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]{1,512}|[\w/+=.@-]{1,512})$/;
const EXTERNAL_ID_PATTERN = /^[\w+=,.@:/-]{2,1224}$/;
/** Claim names are looked up with Object.hasOwn on the verified payload; these names could reach a prototype. */
const CLAIM_NAME = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_:./-]{1,128}$/),
  v.check((name) => !['__proto__', 'constructor', 'prototype'].includes(name), 'reserved claim name'),
);
const ANY_TAG_KEY = v.pipe(v.string(), v.regex(TAG_KEY_PATTERN, 'tag keys are 1-128 of [A-Za-z0-9_.:/=+@-] and must not start with aws:'));
const TAG_KEY = v.pipe(
  ANY_TAG_KEY,
  v.check((key) => !key.toLowerCase().startsWith('keyvend:'), 'the keyvend: tag prefix is reserved for the broker'),
);
/** The widest any API allows (GetFederationToken's 36 h); each path's own ceiling is checked below. */
const DURATION = v.pipe(v.number(), v.integer(), v.minValue(900), v.maxValue(FEDERATION_TOKEN_MAX_DURATION_SECONDS));

const ENTITLEMENT_SCHEMA = v.pipe(
  v.strictObject({
    id: v.pipe(v.string(), v.regex(ENTITLEMENT_ID_PATTERN, 'ids are 1-63 of [a-z0-9-], starting alphanumeric')),
    version: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 1),
    description: v.pipe(v.string(), v.maxLength(512)),
    // An IAM user ARN only as the stored form of a federation-token entitlement (see vendingProblems).
    roleArn: v.optional(
      v.pipe(
        v.string(),
        v.check((arn) => ROLE_ARN_PATTERN.test(arn) || IAM_USER_ARN_PATTERN.test(arn), 'not an IAM role ARN'),
      ),
    ),
    vending: v.optional(
      v.picklist(
        VENDING_PATHS,
        `vending is one of ${VENDING_PATHS.join(', ')} (web-identity and saml pass-through were removed: docs/adr/0001)`,
      ),
      'keyvend-issuer',
    ),
    federationUser: v.optional(
      v.strictObject({
        secretId: v.pipe(v.string(), v.regex(SECRET_ID_PATTERN, 'not a Secrets Manager secret name or ARN')),
        userArn: v.pipe(v.string(), v.regex(IAM_USER_ARN_PATTERN, 'not an IAM user ARN')),
      }),
    ),
    outputs: v.pipe(v.array(v.picklist(['credentials', 'console'])), v.minLength(1)),
    maxDurationSeconds: DURATION,
    defaultDurationSeconds: v.optional(DURATION),
    sessionPolicy: v.optional(v.record(v.string(), v.unknown())),
    managedPolicyArns: v.optional(
      v.pipe(v.array(v.pipe(v.string(), v.regex(MANAGED_POLICY_ARN_PATTERN, 'not a managed policy ARN'))), v.maxLength(10)),
      [],
    ),
    sessionTags: v.optional(
      v.pipe(
        v.array(
          v.union([
            v.strictObject({ key: TAG_KEY, claim: CLAIM_NAME }),
            v.strictObject({
              key: TAG_KEY,
              value: v.pipe(v.string(), v.regex(/^[A-Za-z0-9 _.:/=+@-]{0,256}$/, 'tag values are ASCII tag characters')),
            }),
          ]),
        ),
        v.maxLength(40),
      ),
      [],
    ),
    // Broker tags may be made transitive (checked below against the tags this entitlement has).
    transitiveTagKeys: v.optional(v.pipe(v.array(ANY_TAG_KEY), v.maxLength(50)), []),
    externalId: v.optional(v.pipe(v.string(), v.regex(EXTERNAL_ID_PATTERN, 'ExternalId is 2-1224 of [\\w+=,.@:/-]'))),
    allowWholeRole: v.optional(v.boolean()),
    allowBroadStatements: v.optional(v.boolean()),
  }),
  v.check(
    (e) => e.sessionPolicy !== undefined || e.managedPolicyArns.length > 0,
    'an entitlement needs a sessionPolicy or managedPolicyArns: without either STS would grant the whole role',
  ),
  v.rawCheck(({ dataset, addIssue }) => {
    if (dataset.typed) for (const problem of vendingProblems(dataset.value)) addIssue({ message: problem });
  }),
  v.check(
    (e) => e.defaultDurationSeconds === undefined || e.defaultDurationSeconds <= e.maxDurationSeconds,
    'defaultDurationSeconds exceeds maxDurationSeconds',
  ),
  v.check((e) => {
    const keys = new Set(e.sessionTags.map((t) => t.key.toLowerCase()));
    return keys.size === e.sessionTags.length;
  }, 'session tag keys must be unique (case-insensitively)'),
  v.check((e) => {
    const keys = new Set([...e.sessionTags.map((t) => t.key.toLowerCase()), ...BROKER_TAG_KEYS]);
    return e.transitiveTagKeys.every((k) => keys.has(k.toLowerCase()));
  }, 'transitiveTagKeys must name session tags of this entitlement'),
);

/** Tags the broker always sets; entitlements may make them transitive but not define them. */
export const BROKER_TAG_KEYS = ['keyvend:user', 'keyvend:issuer', 'keyvend:entitlement', 'keyvend:grant'] as const;

export const GRANT_TARGET_SCHEMA = v.union([
  v.strictObject({ issuer: v.pipe(v.string(), v.regex(ISSUER_ID_PATTERN)), subject: v.pipe(v.string(), v.minLength(1)) }),
  v.strictObject({ issuer: v.pipe(v.string(), v.regex(ISSUER_ID_PATTERN)), group: v.pipe(v.string(), v.minLength(1)) }),
]);

interface VendingFields {
  readonly vending: VendingPath;
  readonly roleArn?: string | undefined;
  readonly federationUser?: FederationUser | undefined;
  readonly externalId?: string | undefined;
  readonly sessionTags: readonly SessionTagSource[];
  readonly transitiveTagKeys: readonly string[];
  readonly maxDurationSeconds: number;
}

/**
 * What each STS API can carry, so an entitlement never promises what its path cannot deliver: the
 * broker's own token carries tags and SourceIdentity as claims but AssumeRoleWithWebIdentity has no
 * ExternalId; GetFederationToken has no role, no ExternalId, no transitive keys.
 */
export function vendingProblems(e: VendingFields): string[] {
  const problems: string[] = [];
  const path = e.vending;
  if (path === 'federation-token') {
    if (e.federationUser === undefined) problems.push('federation-token needs federationUser: {secretId, userArn}');
    // Parsing is idempotent: the parsed form carries the user's ARN as roleArn, and is stored and read again.
    if (e.roleArn !== undefined && e.roleArn !== e.federationUser?.userArn) {
      problems.push('federation-token vends no role: remove roleArn (the IAM user is federationUser.userArn)');
    }
    if (e.transitiveTagKeys.length > 0) problems.push('GetFederationToken has no transitive tag keys: remove transitiveTagKeys');
  } else {
    if (e.roleArn === undefined) problems.push(`${path} needs roleArn`);
    else if (!ROLE_ARN_PATTERN.test(e.roleArn)) problems.push('roleArn: not an IAM role ARN');
    if (e.federationUser !== undefined) problems.push('federationUser is for vending: federation-token only');
    if (e.maxDurationSeconds > STS_MAX_ROLE_DURATION_SECONDS) {
      problems.push(`maxDurationSeconds: ${path} sessions last at most ${STS_MAX_ROLE_DURATION_SECONDS} s (the role maximum)`);
    }
  }
  if (path !== 'assume-role' && e.externalId !== undefined)
    problems.push(`externalId is for vending: assume-role only (${path} has no ExternalId)`);
  return problems;
}

export type EntitlementParseResult = { ok: true; entitlement: Entitlement } | { ok: false; problems: string[] };

/** Parses an entitlement from untrusted or stored data; used at write time and on every read (fail closed). */
export function parseEntitlement(input: unknown): EntitlementParseResult {
  const result = v.safeParse(ENTITLEMENT_SCHEMA, input);
  if (!result.success) {
    return { ok: false, problems: plainIssues(ENTITLEMENT_SCHEMA, result.issues) };
  }
  const { defaultDurationSeconds, sessionPolicy, externalId, roleArn, federationUser, allowWholeRole, allowBroadStatements, ...rest } =
    result.output;
  return {
    ok: true,
    entitlement: {
      ...rest,
      roleArn: roleArn ?? federationUser?.userArn ?? '',
      ...(federationUser === undefined ? {} : { federationUser }),
      ...(defaultDurationSeconds === undefined ? {} : { defaultDurationSeconds }),
      ...(sessionPolicy === undefined ? {} : { sessionPolicy }),
      ...(externalId === undefined ? {} : { externalId }),
      // A flag left false is stored as absent, so writing `false` and omitting it are the same entitlement.
      ...(allowWholeRole === true ? { allowWholeRole } : {}),
      ...(allowBroadStatements === true ? { allowBroadStatements } : {}),
    },
  };
}

/**
 * What an entitlement grants beyond a per-user scope, checked when it is written (not on every read, so a
 * table written before these checks keeps serving until the file is applied again). Each breadth needs its
 * flag (`problems` otherwise); each flag used is a `warning` the operator sees; a flag with nothing to
 * acknowledge is a problem, so it cannot silently cover a later widening.
 */
export function reviewBreadth(e: Entitlement): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (e.sessionPolicy === undefined) {
    const what = `no sessionPolicy: every grantee gets all that ${e.vending === 'federation-token' ? 'the federation user' : 'the role'} allows within managedPolicyArns (${e.managedPolicyArns.join(', ')})`;
    if (e.allowWholeRole === true) warnings.push(`allowWholeRole: ${what}`);
    else problems.push(`${what}; add a sessionPolicy, or set allowWholeRole: true to accept that`);
  } else if (e.allowWholeRole === true) {
    problems.push('allowWholeRole is set but a sessionPolicy scopes the sessions: remove it');
  }
  const broad = e.sessionPolicy === undefined ? [] : broadStatements(e.sessionPolicy);
  if (broad.length > 0) {
    if (e.allowBroadStatements === true) warnings.push(`allowBroadStatements: ${broad.join('; ')}`);
    else problems.push(...broad.map((b) => `sessionPolicy ${b}; narrow it, or set allowBroadStatements: true to accept that`));
  } else if (e.allowBroadStatements === true) {
    problems.push('allowBroadStatements is set but no Allow statement is broad: remove it');
  }
  return { problems, warnings };
}

export const partitionOfArn = (arn: string): string => arn.split(':')[1] ?? 'aws';
export const accountOfArn = (arn: string): string => arn.split(':')[4] ?? '';
