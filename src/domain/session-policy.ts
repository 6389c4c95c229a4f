import { PolicyTooLargeError } from './errors.ts';
import { sha256Hex } from './identifiers.ts';

/** An IAM policy document with `{{userKey}}`-style placeholders, as an entitlement stores it. */
export type PolicyTemplate = { readonly [key: string]: unknown };

/** STS refuses an inline session policy over 2,048 characters. */
export const MAX_POLICY_CHARS = 2048;
/** STS accepts only these characters in a policy (tab, LF, CR, and U+0020 to U+00FF). */
const POLICY_CHARSET = /^[\u0009\u000A\u000D\u0020-\u00FF]*$/;
const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const MAX_DEPTH = 8;

/** The values a template may use. Each is validated against a strict grammar before it gets here. */
export type PolicyVariables = Readonly<Record<PolicyVariableName, string | undefined>>;
export const POLICY_VARIABLE_NAMES = ['userKey', 'subject', 'issuerId'] as const;
export type PolicyVariableName = (typeof POLICY_VARIABLE_NAMES)[number];

export interface RenderedPolicy {
  /** The exact string sent to STS. */
  readonly json: string;
  readonly sha256: string;
}

export class PolicyTemplateError extends Error {
  override readonly name: string = 'PolicyTemplateError';
}

export class MissingPolicyVariableError extends PolicyTemplateError {
  override readonly name = 'MissingPolicyVariableError';
  constructor(readonly variable: string) {
    super(`no value for placeholder {{${variable}}}`);
  }
}

const isVariableName = (name: string): name is PolicyVariableName => (POLICY_VARIABLE_NAMES as readonly string[]).includes(name);

/**
 * Checks a template's shape and placeholders without rendering it: an IAM policy document whose
 * placeholders stand only in string values (never in keys), name a known variable, and each fill a whole
 * path segment: they start the string or follow `/` or `:`, and are followed by `/` or the end. So
 * `{{userKey}}` can never be a prefix of another user's folder (`home/ali*` matching `alice`) nor its
 * suffix (`home/*alice` matching `home/malice`), and no wildcard shares its segment. Returns the problems
 * found; none means valid.
 */
export function checkPolicyTemplate(template: PolicyTemplate): string[] {
  const problems: string[] = [];
  if (template['Version'] !== '2012-10-17') problems.push('Version must be "2012-10-17"');
  const statements = template['Statement'];
  if (!Array.isArray(statements) || statements.length === 0) {
    problems.push('Statement must be a non-empty array');
  } else {
    statements.forEach((statement, index) => {
      if (typeof statement !== 'object' || statement === null || Array.isArray(statement)) {
        problems.push(`Statement[${index}] must be an object`);
        return;
      }
      const s = statement as Record<string, unknown>;
      if (s['Effect'] !== 'Allow' && s['Effect'] !== 'Deny') problems.push(`Statement[${index}].Effect must be Allow or Deny`);
      if (!('Action' in s) && !('NotAction' in s)) problems.push(`Statement[${index}] needs Action or NotAction`);
      if (!('Resource' in s) && !('NotResource' in s)) problems.push(`Statement[${index}] needs Resource or NotResource`);
      if ('Principal' in s || 'NotPrincipal' in s) problems.push(`Statement[${index}]: session policies take no Principal`);
    });
  }
  walk(template, 0, '$', {
    key(key, path) {
      if (key.includes('{{')) problems.push(`${path}: placeholders are not allowed in keys`);
    },
    string(value, path) {
      for (const match of value.matchAll(PLACEHOLDER)) {
        const name = (match[1] ?? '').trim();
        if (!isVariableName(name)) {
          problems.push(`${path}: unknown placeholder {{${name}}} (known: ${POLICY_VARIABLE_NAMES.join(', ')})`);
          continue;
        }
        const next = value[(match.index ?? 0) + match[0].length];
        if (next !== undefined && next !== '/') {
          problems.push(`${path}: {{${name}}} must be followed by "/" or end the string`);
        }
        const previous = match.index === 0 ? undefined : value[(match.index ?? 0) - 1];
        if (previous !== undefined && previous !== '/' && previous !== ':') {
          // `bucket/*{{userKey}}/*` matches `bucket/<anything><userKey>/`: the wildcard reaches other users' folders.
          problems.push(`${path}: {{${name}}} must start its path segment (follow "/", ":" or start the string)`);
        }
      }
      const names = [...value.matchAll(PLACEHOLDER)].map((m) => (m[1] ?? '').trim());
      if (names.includes('subject') && !names.includes('issuerId') && !names.includes('userKey')) {
        // OIDC Core §2: a subject is unique only within its issuer, so alone it could name another issuer's user.
        problems.push(`${path}: {{subject}} is unique only per issuer: use it with {{issuerId}} or {{userKey}} in the same value`);
      }
      const rest = value.replace(PLACEHOLDER, '');
      if (rest.includes('{{') || rest.includes('}}')) problems.push(`${path}: unbalanced placeholder braces`);
    },
    tooDeep(path) {
      problems.push(`${path}: nested deeper than ${MAX_DEPTH} levels`);
    },
  });
  return problems;
}

/**
 * What makes an `Allow` statement reach beyond anything the template names: `NotAction` or `NotResource`
 * (everything except a list), an action that is `*` or wildcards the service (`*:Get*`), a resource that is
 * `*`, wildcards the ARN's service, or is nothing but wildcards after the account (`arn:aws:s3:::*`).
 * Such a template is written only with `allowBroadStatements` (entitlement.ts). Deny statements only narrow.
 */
export function broadStatements(template: PolicyTemplate): string[] {
  const statements = Array.isArray(template['Statement']) ? (template['Statement'] as unknown[]) : [];
  const found: string[] = [];
  statements.forEach((statement, index) => {
    if (typeof statement !== 'object' || statement === null) return;
    const s = statement as Record<string, unknown>;
    if (s['Effect'] !== 'Allow') return;
    const at = `Statement[${index}]`;
    if ('NotAction' in s) found.push(`${at}: Allow with NotAction allows every action not listed`);
    if ('NotResource' in s) found.push(`${at}: Allow with NotResource allows every resource not listed`);
    for (const action of valuesOf(s['Action'])) {
      if (isBroadAction(action)) found.push(`${at}: Action "${action}" allows every service's actions`);
    }
    for (const resource of valuesOf(s['Resource'])) {
      if (isBroadResource(resource)) found.push(`${at}: Resource "${resource}" matches every resource`);
    }
  });
  return found;
}

const WILDCARD = /[*?]/;
const valuesOf = (value: unknown): string[] => (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
const isBroadAction = (action: string): boolean => WILDCARD.test(action.split(':')[0] ?? '');
function isBroadResource(resource: string): boolean {
  if (!resource.startsWith('arn:')) return /^[*?]+$/.test(resource);
  const [, partition = '', service = '', , , ...rest] = resource.split(':');
  return WILDCARD.test(partition) || WILDCARD.test(service) || /^[*?/]+$/.test(rest.join(':'));
}

/**
 * Renders a template into the exact policy string for STS. The document is built as objects and
 * serialised once with JSON.stringify, so no value can change its structure; values come from strict
 * grammars (see identifiers.ts), so none can widen a Resource either. Any failure throws: a caller must
 * never fall back to calling STS without the policy.
 */
export function renderSessionPolicy(template: PolicyTemplate, variables: PolicyVariables): RenderedPolicy {
  const problems = checkPolicyTemplate(template);
  if (problems.length > 0) throw new PolicyTemplateError(`invalid session policy template: ${problems.join('; ')}`);
  const rendered = substitute(template, variables, 0);
  const json = JSON.stringify(rendered);
  if (!POLICY_CHARSET.test(json)) throw new PolicyTemplateError('rendered policy has characters STS does not accept');
  if (json.length > MAX_POLICY_CHARS) {
    throw new PolicyTooLargeError('policy_over_2048_chars', {
      cause: new PolicyTemplateError(`rendered policy is ${json.length} characters; STS accepts ${MAX_POLICY_CHARS}`),
    });
  }
  return { json, sha256: sha256Hex(json) };
}

function substitute(node: unknown, variables: PolicyVariables, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new PolicyTemplateError('template nested too deeply');
  if (typeof node === 'string') {
    return node.replace(PLACEHOLDER, (_match, raw: string) => {
      const name = raw.trim();
      const value = isVariableName(name) ? variables[name] : undefined;
      if (value === undefined) throw new MissingPolicyVariableError(name);
      return value;
    });
  }
  if (Array.isArray(node)) return node.map((item) => substitute(item, variables, depth + 1));
  if (typeof node === 'object' && node !== null) {
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [key, value] of Object.entries(node)) out[key] = substitute(value, variables, depth + 1);
    return out;
  }
  if (typeof node === 'number' || typeof node === 'boolean') return node;
  throw new PolicyTemplateError(`unsupported value in template: ${typeof node}`);
}

interface Visitor {
  key(key: string, path: string): void;
  string(value: string, path: string): void;
  tooDeep(path: string): void;
}

function walk(node: unknown, depth: number, path: string, visitor: Visitor): void {
  if (depth > MAX_DEPTH) {
    visitor.tooDeep(path);
    return;
  }
  if (typeof node === 'string') visitor.string(node, path);
  else if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) walk(item, depth + 1, `${path}[${i}]`, visitor);
  } else if (typeof node === 'object' && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      visitor.key(key, `${path}.${key}`);
      walk(value, depth + 1, `${path}.${key}`, visitor);
    }
  }
}
