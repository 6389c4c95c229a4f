import * as v from 'valibot';
import { ROLE_CHAINING_MAX_DURATION_SECONDS, STS_MAX_ROLE_DURATION_SECONDS } from '../domain/duration.ts';
import { PolicyTooLargeError } from '../domain/errors.ts';
import { parse as parseYaml } from 'yaml';
import {
  BROKER_TAG_KEYS,
  type Entitlement,
  GRANT_TARGET_SCHEMA,
  type GrantTarget,
  parseEntitlement,
  reviewBreadth,
} from '../domain/entitlement.ts';
import { plainIssues } from '../domain/plain-issues.ts';
import { GROUP_PATTERN, SUBJECT_PATTERN } from '../domain/identifiers.ts';
import { estimatePackedPercent, PACKED_ESTIMATE_WRITE_LIMIT_PERCENT, type SessionTag } from '../domain/session-identity.ts';
import { checkPolicyTemplate, MAX_POLICY_CHARS, type PolicyVariables, renderSessionPolicy } from '../domain/session-policy.ts';

export interface EntitlementWithGrants {
  readonly entitlement: Entitlement;
  readonly grants: readonly GrantTarget[];
}

export type FileCheck =
  | { ok: true; entries: EntitlementWithGrants[]; report: string[]; warnings: string[] }
  | { ok: false; problems: string[] };

/**
 * The longest and strangest values each placeholder can take at run time. A template is accepted only if
 * every combination renders to valid JSON of the same shape, within STS's 2,048 characters, and under
 * the packed-size estimate with the longest tag values.
 */
const EXTREME_VARIABLES: readonly PolicyVariables[] = [
  { userKey: 'z'.repeat(26), subject: 'W'.repeat(64), issuerId: 'x'.repeat(31) },
  { userKey: '2'.repeat(26), subject: '-_'.repeat(32), issuerId: `${'a-'.repeat(15)}a` },
  { userKey: 'a'.repeat(26), subject: 'a', issuerId: 'a' },
];
const LONGEST_CLAIM_TAG_VALUE = 'W'.repeat(256);

/** Parses and validates an entitlements YAML file without touching any table. */
export function checkEntitlementsFile(text: string): FileCheck {
  let document: unknown;
  try {
    document = parseYaml(text, { uniqueKeys: true, maxAliasCount: 0 });
  } catch (error) {
    return { ok: false, problems: [`not valid YAML: ${(error as Error).message.split('\n')[0]}`] };
  }
  if (typeof document !== 'object' || document === null || !Array.isArray((document as Record<string, unknown>)['entitlements'])) {
    return { ok: false, problems: ['the file must have a top-level "entitlements:" list'] };
  }
  const problems: string[] = [];
  const report: string[] = [];
  const warnings: string[] = [];
  const entries: EntitlementWithGrants[] = [];
  const seen = new Set<string>();
  for (const [index, raw] of (document as { entitlements: unknown[] }).entitlements.entries()) {
    const label =
      typeof raw === 'object' && raw !== null && typeof (raw as Record<string, unknown>)['id'] === 'string'
        ? String((raw as Record<string, unknown>)['id'])
        : `#${index + 1}`;
    const { grants: rawGrants, ...definition } = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const parsed = parseEntitlement(definition);
    // The grants are checked even when the definition is not, so one run lists every problem of the entry.
    const grantProblems: string[] = [];
    const grants = checkGrants(rawGrants, label, grantProblems);
    if (!parsed.ok) {
      problems.push(...parsed.problems.map((p) => `${label}: ${withGrantsAllowed(p)}`), ...grantProblems);
      continue;
    }
    problems.push(...grantProblems);
    const entitlement = parsed.entitlement;
    if (seen.has(entitlement.id)) problems.push(`${label}: duplicate entitlement id`);
    seen.add(entitlement.id);

    const breadth = reviewBreadth(entitlement);
    problems.push(...breadth.problems.map((p) => `${label}: ${p}`));
    warnings.push(...breadth.warnings.map((w) => `${label}: ${w}`));

    const sizing = checkSizing(entitlement, label, problems);
    if (sizing !== undefined)
      report.push(`${entitlement.id}: longest policy ${sizing.chars}/${MAX_POLICY_CHARS} chars, packed estimate ${sizing.packed}%`);
    if (entitlement.vending === 'assume-role' && entitlement.maxDurationSeconds > ROLE_CHAINING_MAX_DURATION_SECONDS) {
      report.push(
        `${entitlement.id}: assume-role sessions are capped at ${ROLE_CHAINING_MAX_DURATION_SECONDS} s while the broker runs as a role (role chaining); keyvend-issuer allows up to ${STS_MAX_ROLE_DURATION_SECONDS} s`,
      );
    }
    entries.push({ entitlement, grants });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, entries, report, warnings };
}

const GRANTS_SCHEMA = v.array(GRANT_TARGET_SCHEMA);

/** In the file, an entitlement's fields are the stored definition's plus `grants`. */
const withGrantsAllowed = (problem: string): string => problem.replace(/^([\w-]+: unknown field \(allowed: .*)\)$/, '$1, grants)');

function checkGrants(raw: unknown, label: string, problems: string[]): GrantTarget[] {
  const parsed = v.safeParse(GRANTS_SCHEMA, raw ?? []);
  if (!parsed.success) {
    problems.push(...plainIssues(GRANTS_SCHEMA, parsed.issues).map((p) => `${label}: grants${p.startsWith('[') ? '' : ': '}${p}`));
    return [];
  }
  for (const grant of parsed.output) {
    if ('subject' in grant && !SUBJECT_PATTERN.test(grant.subject))
      problems.push(`${label}: subject "${grant.subject}" is outside the subject grammar`);
    if ('group' in grant && !GROUP_PATTERN.test(grant.group))
      problems.push(`${label}: group "${grant.group}" is outside the group grammar`);
  }
  return parsed.output;
}

function checkSizing(entitlement: Entitlement, label: string, problems: string[]): { chars: number; packed: number } | undefined {
  const tags: SessionTag[] = [
    { Key: BROKER_TAG_KEYS[0], Value: 'z'.repeat(26) },
    { Key: BROKER_TAG_KEYS[1], Value: 'x'.repeat(31) },
    { Key: BROKER_TAG_KEYS[2], Value: entitlement.id },
    // A grant id is a UUID.
    { Key: BROKER_TAG_KEYS[3], Value: '0'.repeat(36) },
    ...entitlement.sessionTags.map((t) => ({ Key: t.key, Value: 'value' in t ? t.value : LONGEST_CLAIM_TAG_VALUE })),
  ];
  if (tags.length > 50) {
    problems.push(`${label}: ${tags.length} session tags; STS accepts 50`);
    return undefined;
  }
  if (entitlement.sessionPolicy === undefined) {
    const packed = estimatePackedPercent(0, tags);
    if (packed > PACKED_ESTIMATE_WRITE_LIMIT_PERCENT) problems.push(`${label}: tags alone reach ${packed}% of the packed-size estimate`);
    return { chars: 0, packed };
  }
  const templateProblems = checkPolicyTemplate(entitlement.sessionPolicy);
  if (templateProblems.length > 0) {
    problems.push(...templateProblems.map((p) => `${label}: sessionPolicy ${p}`));
    return undefined;
  }
  let longest = 0;
  const shape = JSON.stringify(shapeOf(entitlement.sessionPolicy));
  for (const variables of EXTREME_VARIABLES) {
    let json: string;
    try {
      json = renderSessionPolicy(entitlement.sessionPolicy, variables).json;
    } catch (error) {
      problems.push(
        error instanceof PolicyTooLargeError
          ? `${label}: sessionPolicy renders to more than ${MAX_POLICY_CHARS} characters for the longest identifiers`
          : `${label}: sessionPolicy cannot be rendered for the longest identifiers: ${(error as Error).message}`,
      );
      return undefined;
    }
    let reparsed: unknown;
    try {
      reparsed = JSON.parse(json);
    } catch {
      problems.push(`${label}: sessionPolicy renders to invalid JSON`);
      return undefined;
    }
    if (JSON.stringify(shapeOf(reparsed)) !== shape) problems.push(`${label}: sessionPolicy changes shape when rendered`);
    longest = Math.max(longest, json.length);
  }
  const packed = estimatePackedPercent(longest, tags);
  if (packed > PACKED_ESTIMATE_WRITE_LIMIT_PERCENT) {
    problems.push(
      `${label}: policy (${longest} chars) and tags reach ${packed}% of the conservative packed-size estimate; the limit is ${PACKED_ESTIMATE_WRITE_LIMIT_PERCENT}%`,
    );
  }
  return { chars: longest, packed };
}

/** The document's structure with every string replaced, to compare a template with its rendering. */
function shapeOf(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(shapeOf);
  if (typeof node === 'object' && node !== null) return Object.fromEntries(Object.entries(node).map(([k, val]) => [k, shapeOf(val)]));
  return typeof node;
}
