/**
 * Role trust-policy evaluation, shared by every Assume* action.
 *
 * - Principal: `"*"`, or `{ "AWS": string | string[] }` matched against the caller's ARN, the role ARN behind a role
 *   session, the account id or `arn:…:iam::ACCT:root` (trusts every principal of that account), or `"*"`.
 *   `Federated` / `Service` entries are compared as plain strings with the principal of those types (for
 *   AssumeRoleWithWebIdentity/SAML later). Wildcards other than a lone `*` never match (IAM rejects them).
 * - Action / Condition: Action string or array with `*`/`?` wildcards (case-insensitive).
 *   Operators: String(Not)Equals, String(Not)EqualsIgnoreCase, String(Not)Like, Arn(Not)Equals, Arn(Not)Like (all
 *   with optional `IfExists` and `ForAllValues:` / `ForAnyValue:` prefixes) and `Null`. Keys: the ones the action
 *   declares in its ConditionContext (e.g. `sts:ExternalId`, `sts:SourceIdentity`, `aws:RequestTag/<key>`,
 *   `aws:TagKeys`), case-insensitive.
 * - Fail closed: an unknown operator, unknown condition key, policy variable (`${…}`), NotPrincipal, NotAction or a
 *   single-valued operator on a multi-valued key makes an Allow statement not match and makes a Deny statement apply
 *   (a Deny that cannot be evaluated still denies). Explicit Deny wins; no matching Allow is an implicit deny.
 */

export interface TrustPrincipal {
  type: 'AWS' | 'Federated' | 'Service';
  /** AWS: the caller's ARN (session ARN for role sessions); Federated: provider ARN or name; Service: service principal. */
  id: string;
  /** AWS principals: the caller's account. */
  account?: string;
  partition?: string;
  /** AWS role sessions: the IAM role ARN behind the session. */
  roleArn?: string;
}

interface ContextEntry {
  values: string[];
  multiValued: boolean;
}

/**
 * The request context for conditions. Every key listed at construction is "known" even when its value is
 * undefined (absent from the request); keys under a known prefix are known too. Names are case-insensitive.
 */
export class ConditionContext {
  private readonly entries = new Map<string, ContextEntry | undefined>();
  private readonly knownPrefixes: string[];

  constructor(values: Record<string, string | readonly string[] | undefined>, knownPrefixes: readonly string[] = []) {
    for (const [k, v] of Object.entries(values)) this.set(k, v);
    this.knownPrefixes = knownPrefixes.map((p) => p.toLowerCase());
  }

  set(key: string, value: string | readonly string[] | undefined): void {
    const k = key.toLowerCase();
    if (value === undefined) {
      if (!this.entries.has(k)) this.entries.set(k, undefined);
    } else if (typeof value === 'string') {
      this.entries.set(k, { values: [value], multiValued: false });
    } else {
      this.entries.set(k, { values: [...value], multiValued: true });
    }
  }

  isKnown(key: string): boolean {
    const k = key.toLowerCase();
    return this.entries.has(k) || this.knownPrefixes.some((p) => k.startsWith(p) && k.length > p.length);
  }

  get(key: string): ContextEntry | undefined {
    return this.entries.get(key.toLowerCase());
  }
}

export interface TrustRequest {
  principal: TrustPrincipal;
  /** Every action must be allowed, e.g. `sts:AssumeRole`, `sts:TagSession`, `sts:SetSourceIdentity`. */
  actions: readonly string[];
  context: ConditionContext;
}

export type TrustDecision = { allowed: true } | { allowed: false; deniedAction: string; explicitDeny: boolean };

type Match = 'match' | 'nomatch' | 'unsupported';

function combine(results: Match[]): Match {
  if (results.includes('nomatch')) return 'nomatch';
  if (results.includes('unsupported')) return 'unsupported';
  return 'match';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function globToRegExp(glob: string, flags: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, flags);
}

function asStrings(v: unknown): string[] | undefined {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v as string[];
  return undefined;
}

function matchAwsPrincipal(value: string, p: TrustPrincipal): boolean {
  if (value === '*') return true;
  if (/^\d{12}$/.test(value)) return p.account === value;
  const root = /^arn:(aws[a-z-]*):iam::(\d{12}):root$/.exec(value);
  if (root) return p.account === root[2] && (p.partition === undefined || p.partition === root[1]);
  if (/[*?]/.test(value)) return false;
  return value === p.id || (p.roleArn !== undefined && value === p.roleArn);
}

function matchPrincipal(principal: unknown, p: TrustPrincipal): Match {
  if (principal === undefined) return 'unsupported';
  if (principal === '*') return 'match';
  if (!isObject(principal)) return 'unsupported';
  for (const [type, raw] of Object.entries(principal)) {
    const values = asStrings(raw);
    if (!values) return 'unsupported';
    if (type !== p.type) continue;
    for (const v of values) {
      if (type === 'AWS' ? matchAwsPrincipal(v, p) : v === p.id) return 'match';
    }
  }
  return 'nomatch';
}

function matchAction(action: unknown, wanted: string): Match {
  const values = asStrings(action);
  if (!values) return 'unsupported';
  return values.some((v) => globToRegExp(v, 'i').test(wanted)) ? 'match' : 'nomatch';
}

type Comparator = (contextValue: string, policyValue: string) => boolean;

const OPERATORS: Record<string, { cmp: Comparator; negated: boolean }> = {
  StringEquals: { cmp: (a, b) => a === b, negated: false },
  StringNotEquals: { cmp: (a, b) => a === b, negated: true },
  StringEqualsIgnoreCase: { cmp: (a, b) => a.toLowerCase() === b.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { cmp: (a, b) => a.toLowerCase() === b.toLowerCase(), negated: true },
  StringLike: { cmp: (a, b) => globToRegExp(b, 's').test(a), negated: false },
  StringNotLike: { cmp: (a, b) => globToRegExp(b, 's').test(a), negated: true },
  ArnEquals: { cmp: (a, b) => globToRegExp(b, 's').test(a), negated: false },
  ArnLike: { cmp: (a, b) => globToRegExp(b, 's').test(a), negated: false },
  ArnNotEquals: { cmp: (a, b) => globToRegExp(b, 's').test(a), negated: true },
  ArnNotLike: { cmp: (a, b) => globToRegExp(b, 's').test(a), negated: true },
};

function policyValues(v: unknown): string[] | undefined {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) return undefined;
  const out: string[] = [];
  for (const x of list) {
    if (typeof x === 'string') out.push(x);
    else if (typeof x === 'number' || typeof x === 'boolean') out.push(String(x));
    else return undefined;
  }
  // Policy variables are not substituted by the emulator.
  return out.some((s) => s.includes('${')) ? undefined : out;
}

function evalCondition(operator: string, key: string, rawValues: unknown, ctx: ConditionContext): Match {
  const m = /^(ForAllValues:|ForAnyValue:)?([A-Za-z]+?)(IfExists)?$/.exec(operator);
  if (!m) return 'unsupported';
  const [, setPrefix, base = '', ifExists] = m;
  if (!ctx.isKnown(key)) return 'unsupported';
  const values = policyValues(rawValues);
  if (!values) return 'unsupported';
  const entry = ctx.get(key);
  const present = entry !== undefined && entry.values.length > 0;

  if (base === 'Null') {
    if (setPrefix || ifExists || values.length !== 1 || (values[0] !== 'true' && values[0] !== 'false')) return 'unsupported';
    return (values[0] === 'true') === !present ? 'match' : 'nomatch';
  }
  const op = OPERATORS[base];
  if (!op) return 'unsupported';
  const matchesAny = (v: string) => values.some((p) => op.cmp(v, p));
  const test = (v: string) => (op.negated ? !matchesAny(v) : matchesAny(v));
  const bool = (b: boolean): Match => (b ? 'match' : 'nomatch');

  if (setPrefix === 'ForAllValues:') {
    return bool((entry?.values ?? []).every(test));
  }
  if (setPrefix === 'ForAnyValue:') {
    if (!present) return bool(ifExists !== undefined);
    return bool(entry.values.some(test));
  }
  if (!present) return bool(ifExists !== undefined || op.negated);
  if (entry.multiValued) return 'unsupported';
  return bool(test(entry.values[0] ?? ''));
}

function matchConditions(condition: unknown, ctx: ConditionContext): Match {
  if (condition === undefined) return 'match';
  if (!isObject(condition)) return 'unsupported';
  const results: Match[] = [];
  for (const [operator, block] of Object.entries(condition)) {
    if (!isObject(block)) return 'unsupported';
    for (const [key, values] of Object.entries(block)) results.push(evalCondition(operator, key, values, ctx));
  }
  return combine(results);
}

function statementApplies(s: Record<string, unknown>, action: string, req: TrustRequest): Match {
  if ('NotPrincipal' in s || 'NotAction' in s) return 'unsupported';
  return combine([matchPrincipal(s.Principal, req.principal), matchAction(s.Action, action), matchConditions(s.Condition, req.context)]);
}

export function evaluateTrustPolicy(policy: unknown, req: TrustRequest): TrustDecision {
  const first = req.actions[0] ?? 'sts:AssumeRole';
  if (!isObject(policy)) return { allowed: false, deniedAction: first, explicitDeny: false };
  const raw = policy.Statement;
  const statements = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  for (const action of req.actions) {
    let allowed = false;
    for (const s of statements) {
      if (!isObject(s)) continue;
      const result = statementApplies(s, action, req);
      if (s.Effect === 'Deny' && result !== 'nomatch') return { allowed: false, deniedAction: action, explicitDeny: true };
      if (s.Effect === 'Allow' && result === 'match') allowed = true;
    }
    if (!allowed) return { allowed: false, deniedAction: action, explicitDeny: false };
  }
  return { allowed: true };
}

/**
 * An IAM user's identity policy (for GetFederationToken): statements apply when their Resource matches; then the same
 * evaluation as a trust policy, with every principal matching. NotResource fails closed like NotAction.
 */
export function evaluateIdentityPolicy(policy: unknown, resource: string, req: Omit<TrustRequest, 'principal'>): TrustDecision {
  const first = req.actions[0] ?? '';
  if (!isObject(policy)) return { allowed: false, deniedAction: first, explicitDeny: false };
  const raw = policy.Statement;
  const statements = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter(isObject);
  const applicable = statements.flatMap((s) => {
    if ('NotResource' in s) return s.Effect === 'Deny' ? [{ ...s, Principal: '*' }] : [];
    const resources = asStrings(s.Resource);
    if (!resources) return s.Effect === 'Deny' ? [{ ...s, Principal: '*' }] : [];
    return resources.some((r) => globToRegExp(r, 's').test(resource)) ? [{ ...s, Principal: '*', Resource: undefined }] : [];
  });
  return evaluateTrustPolicy({ Statement: applicable }, { ...req, principal: { type: 'AWS', id: '*' } });
}
