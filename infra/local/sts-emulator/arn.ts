import { stableId } from './util.ts';

export interface ParsedArn {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
}

export function parseArn(arn: string): ParsedArn | undefined {
  const m = /^arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|aws)?:(.+)$/.exec(arn);
  if (!m) return undefined;
  const [, partition = '', service = '', region = '', account = '', resource = ''] = m;
  return { partition, service, region, account, resource };
}

const IAM_NAME = /^[\w+=,.@-]{1,128}$/;

export interface RoleArnParts {
  arn: string;
  partition: string;
  account: string;
  /** `/` or `/some/path/`. */
  path: string;
  name: string;
}

/** `arn:aws:iam::123456789012:role/optional/path/Name`; anything else is undefined. */
export function parseRoleArn(arn: string): RoleArnParts | undefined {
  const p = parseArn(arn);
  if (p?.service !== 'iam' || p.region !== '' || !/^\d{12}$/.test(p.account)) return undefined;
  if (!p.resource.startsWith('role/')) return undefined;
  const segments = p.resource.slice('role/'.length).split('/');
  const name = segments.pop() ?? '';
  if (name.length > 64 || !IAM_NAME.test(name)) return undefined;
  if (segments.some((s) => s === '' || !/^[\u0021-\u007E]+$/.test(s))) return undefined;
  const path = segments.length === 0 ? '/' : `/${segments.join('/')}/`;
  return { arn, partition: p.partition, account: p.account, path, name };
}

export type PrincipalKind = 'root' | 'user' | 'assumed-role' | 'federated-user';

export interface PrincipalInfo {
  arn: string;
  partition: string;
  account: string;
  kind: PrincipalKind;
  /** For assumed-role principals: the role name and session name. */
  roleName?: string;
  sessionName?: string;
  /** Unique id as GetCallerIdentity reports it (UserId). */
  userId: string;
}

/** Understands the principal ARN shapes a LocalPrincipal may have. */
export function describePrincipalArn(arn: string): PrincipalInfo | undefined {
  const p = parseArn(arn);
  if (!p || !/^\d{12}$/.test(p.account)) return undefined;
  const base = { arn, partition: p.partition, account: p.account };
  if (p.service === 'iam' && p.resource === 'root') return { ...base, kind: 'root', userId: p.account };
  if (p.service === 'iam' && p.resource.startsWith('user/')) {
    const name = p.resource.split('/').pop() ?? '';
    if (!IAM_NAME.test(name)) return undefined;
    return { ...base, kind: 'user', userId: stableId('AIDA', arn) };
  }
  if (p.service === 'sts' && p.resource.startsWith('assumed-role/')) {
    const parts = p.resource.split('/');
    const [, roleName, sessionName] = parts;
    if (parts.length !== 3 || !roleName || !sessionName) return undefined;
    const roleArn = `arn:${p.partition}:iam::${p.account}:role/${roleName}`;
    return { ...base, kind: 'assumed-role', roleName, sessionName, userId: `${roleIdFor(roleArn)}:${sessionName}` };
  }
  if (p.service === 'sts' && p.resource.startsWith('federated-user/')) {
    const name = p.resource.slice('federated-user/'.length);
    if (!name) return undefined;
    return { ...base, kind: 'federated-user', userId: `${p.account}:${name}` };
  }
  return undefined;
}

/** Deterministic `AROA…` role id, stable across restarts for the same role ARN. */
export function roleIdFor(roleArn: string): string {
  const parsed = parseRoleArn(roleArn);
  // The path is not part of a role's identity for id purposes.
  const seed = parsed ? `arn:${parsed.partition}:iam::${parsed.account}:role/${parsed.name}` : roleArn;
  return stableId('AROA', seed);
}

/** `arn:aws:sts::ACCT:assumed-role/NAME/SESSION` (STS drops the role path). */
export function assumedRoleArn(role: RoleArnParts, sessionName: string): string {
  return `arn:${role.partition}:sts::${role.account}:assumed-role/${role.name}/${sessionName}`;
}
