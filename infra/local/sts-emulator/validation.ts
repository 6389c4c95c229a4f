/**
 * Shared STS parameter validation: the model constraints of botocore's `sts/2011-06-15/service-2.json` (reported as
 * STS does, "N validation error(s) detected: Value '…' at 'member' failed to satisfy constraint: …") and the semantic
 * rules on tags, transitive keys and source identity that every Assume* action and GetFederationToken share.
 */
import { stsErrors } from './errors.ts';
import type { QueryParams } from './protocol/query-params.ts';
import type { SessionTag } from './types.ts';

export interface StringConstraint {
  min?: number;
  max?: number;
  pattern?: RegExp;
  /** The pattern as STS prints it. */
  patternText?: string;
}

export const C = {
  arn: {
    min: 20,
    max: 2048,
    pattern: /^[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]+$/u,
    patternText: '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+',
  },
  roleSessionName: { min: 2, max: 64, pattern: /^[\w+=,.@-]*$/, patternText: '[\\w+=,.@-]*' },
  sourceIdentity: { min: 2, max: 64, pattern: /^[\w+=,.@-]*$/, patternText: '[\\w+=,.@-]*' },
  externalId: { min: 2, max: 1224, pattern: /^[\w+=,.@:/-]*$/, patternText: '[\\w+=,.@:\\/-]*' },
  sessionPolicy: {
    min: 1,
    max: 2048,
    pattern: /^[\u0009\u000A\u000D\u0020-\u00FF]+$/,
    patternText: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+',
  },
  tagKey: { min: 1, max: 128, pattern: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u, patternText: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+' },
  tagValue: { min: 0, max: 256, pattern: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u, patternText: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*' },
  serialNumber: { min: 9, max: 256, pattern: /^[\w+=/:,.@-]*$/, patternText: '[\\w+=/:,.@-]*' },
  tokenCode: { min: 6, max: 6, pattern: /^\d*$/, patternText: '[\\d]*' },
  // For the actions to come:
  federationName: { min: 2, max: 32, pattern: /^[\w+=,.@-]*$/, patternText: '[\\w+=,.@-]*' },
  webIdentityToken: { min: 4, max: 20000 },
  samlAssertion: { min: 4, max: 100000 },
  providerId: { min: 4, max: 2048 },
} satisfies Record<string, StringConstraint>;

export const LIMITS = {
  roleDuration: { min: 900, max: 43200 },
  federationDuration: { min: 900, max: 129600 },
  /** Role chaining caps sessions at one hour. */
  chainedMaxDuration: 3600,
  defaultRoleDuration: 3600,
  maxPolicyArns: 10,
  maxTags: 50,
  maxTransitiveTagKeys: 50,
} as const;

/** Collects model-constraint violations and throws one ValidationError listing them all. */
export class ModelValidator {
  private readonly violations: string[] = [];

  private add(value: string | null, member: string, constraint: string): void {
    const shown = value === null ? 'null' : `'${value}'`;
    this.violations.push(`Value ${shown} at '${member}' failed to satisfy constraint: ${constraint}`);
  }

  string(member: string, value: string | undefined, c: StringConstraint, required = false): void {
    if (value === undefined) {
      if (required) this.add(null, member, 'Member must not be null');
      return;
    }
    if (c.pattern && !c.pattern.test(value)) {
      this.add(value, member, `Member must satisfy regular expression pattern: ${c.patternText ?? c.pattern.source}`);
    }
    if (c.min !== undefined && value.length < c.min) this.add(value, member, `Member must have length greater than or equal to ${c.min}`);
    if (c.max !== undefined && value.length > c.max) this.add(value, member, `Member must have length less than or equal to ${c.max}`);
  }

  /** Integer parameters arrive as strings; returns the number when it is one. */
  integer(member: string, raw: string | undefined, range: { min: number; max: number }): number | undefined {
    if (raw === undefined) return undefined;
    if (!/^-?\d+$/.test(raw.trim())) {
      this.add(raw, member, 'Member must be an integer');
      return undefined;
    }
    const n = Number(raw.trim());
    if (n < range.min) this.add(raw.trim(), member, `Member must have value greater than or equal to ${range.min}`);
    if (n > range.max) this.add(raw.trim(), member, `Member must have value less than or equal to ${range.max}`);
    return n;
  }

  listLength(member: string, items: readonly unknown[], shown: string, max: number): void {
    if (items.length > max) this.add(shown, member, `Member must have length less than or equal to ${max}`);
  }

  throwIfAny(): void {
    const n = this.violations.length;
    if (n === 0) return;
    throw stsErrors.validation(`${n} validation error${n === 1 ? '' : 's'} detected: ${this.violations.join('; ')}`);
  }
}

export interface SessionPolicyParams {
  policy?: string;
  policyArns: string[];
}

/** `Policy` and `PolicyArns.member.N.arn` (AssumeRole*, GetFederationToken). */
export function readSessionPolicyParams(params: QueryParams, v: ModelValidator): SessionPolicyParams {
  const policy = params.get('Policy');
  v.string('policy', policy, C.sessionPolicy);
  const arns = params.structList('PolicyArns', ['arn'] as const);
  v.listLength('policyArns', arns, `[${arns.map((a) => a.arn ?? 'null').join(', ')}]`, LIMITS.maxPolicyArns);
  const policyArns: string[] = [];
  arns.forEach((a, i) => {
    v.string(`policyArns.${i + 1}.member.arn`, a.arn, C.arn, true);
    if (a.arn !== undefined) policyArns.push(a.arn);
  });
  return policy === undefined ? { policyArns } : { policy, policyArns };
}

export interface TagParams {
  tags: SessionTag[];
  transitiveTagKeys: string[];
}

/** `Tags.member.N.Key/Value` and `TransitiveTagKeys.member.N` (AssumeRole, GetFederationToken). */
export function readTagParams(params: QueryParams, v: ModelValidator): TagParams {
  const raw = params.structList('Tags', ['Key', 'Value'] as const);
  v.listLength('tags', raw, `[${raw.map((t) => `Tag(key=${t.Key ?? 'null'}, value=${t.Value ?? 'null'})`).join(', ')}]`, LIMITS.maxTags);
  const tags: SessionTag[] = [];
  raw.forEach((t, i) => {
    v.string(`tags.${i + 1}.member.key`, t.Key, C.tagKey, true);
    v.string(`tags.${i + 1}.member.value`, t.Value, C.tagValue, true);
    if (t.Key !== undefined && t.Value !== undefined) tags.push({ Key: t.Key, Value: t.Value });
  });
  const transitiveTagKeys = params.list('TransitiveTagKeys');
  v.listLength('transitiveTagKeys', transitiveTagKeys, `[${transitiveTagKeys.join(', ')}]`, LIMITS.maxTransitiveTagKeys);
  for (const [i, k] of transitiveTagKeys.entries()) v.string(`transitiveTagKeys.${i + 1}.member`, k, C.tagKey);
  return { tags, transitiveTagKeys };
}

/** Rules beyond the model: reserved prefix, case-insensitive uniqueness, transitive keys ⊆ tag keys. */
export function checkTagSemantics({ tags, transitiveTagKeys }: TagParams): void {
  const reserved = tags.find((t) => t.Key.toLowerCase().startsWith('aws:'));
  if (reserved) {
    // emulator wording
    throw stsErrors.validation(`Tag keys cannot start with the reserved prefix 'aws:': ${reserved.Key}`);
  }
  const seen = new Set<string>();
  for (const t of tags) {
    const k = t.Key.toLowerCase();
    if (seen.has(k)) throw stsErrors.validation('Duplicate tag keys found. Please note that Tag keys are case insensitive.');
    seen.add(k);
  }
  for (const key of transitiveTagKeys) {
    if (!seen.has(key.toLowerCase())) {
      throw stsErrors.validation('The specified transitive tag key must be included in the requested tags.');
    }
  }
}

export function checkSourceIdentity(sourceIdentity: string | undefined): void {
  if (sourceIdentity?.toLowerCase().startsWith('aws:')) {
    // emulator wording (the model pattern already excludes ':', so this only documents the rule)
    throw stsErrors.validation("SourceIdentity cannot start with the reserved prefix 'aws:'");
  }
}
