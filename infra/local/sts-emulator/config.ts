/**
 * Config file for main.ts (JSON or YAML):
 *
 *   accountId: "000000000000"        # optional
 *   port: 4599                       # optional (the CLI's --port wins)
 *   host: 127.0.0.1                  # optional
 *   principals:
 *     - { accessKeyId: AKIA…, secretAccessKey: …, arn: "arn:aws:sts::000000000000:assumed-role/keyvend-broker/local" }
 *   roles:
 *     - arn: arn:aws:iam::000000000000:role/keyvend-target
 *       maxSessionDuration: 3600     # optional
 *       trustPolicy: { … }           # object, or a JSON string
 *       permissionPolicy: { … }      # optional, not enforced
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { LocalManagedPolicy, LocalOidcProvider, LocalPrincipal, LocalRole, LocalSamlProvider } from './types.ts';

export interface EmulatorConfig {
  accountId?: string;
  port?: number;
  host?: string;
  principals: LocalPrincipal[];
  roles: LocalRole[];
  oidcProviders?: LocalOidcProvider[];
  samlProviders?: LocalSamlProvider[];
  managedPolicies?: LocalManagedPolicy[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function policyObject(v: unknown, where: string): object {
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      throw new TypeError(`${where} is not valid JSON`);
    }
  }
  if (!isObject(v)) throw new TypeError(`${where} must be an object (an IAM policy document)`);
  return v;
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') throw new TypeError(`${where} must be a non-empty string`);
  return v;
}

/** Validates a parsed config document. Error messages never include secret values. */
export function parseEmulatorConfig(doc: unknown): EmulatorConfig {
  if (!isObject(doc)) throw new TypeError('config must be an object');
  if (!Array.isArray(doc.principals)) throw new TypeError('config.principals must be a list');
  if (!Array.isArray(doc.roles)) throw new TypeError('config.roles must be a list');
  const principals = doc.principals.map((p: unknown, i: number): LocalPrincipal => {
    if (!isObject(p)) throw new TypeError(`principals[${i}] must be an object`);
    const principal: LocalPrincipal = {
      accessKeyId: str(p.accessKeyId, `principals[${i}].accessKeyId`),
      secretAccessKey: str(p.secretAccessKey, `principals[${i}].secretAccessKey`),
      arn: str(p.arn, `principals[${i}].arn`),
    };
    if (p.identityPolicy !== undefined) principal.identityPolicy = policyObject(p.identityPolicy, `principals[${i}].identityPolicy`);
    return principal;
  });
  const strings = (v: unknown, where: string): string[] => {
    if (!Array.isArray(v)) throw new TypeError(`${where} must be a list`);
    return v.map((x, j) => str(x, `${where}[${j}]`));
  };
  const roles = doc.roles.map((r: unknown, i: number): LocalRole => {
    if (!isObject(r)) throw new TypeError(`roles[${i}] must be an object`);
    const role: LocalRole = { arn: str(r.arn, `roles[${i}].arn`), trustPolicy: policyObject(r.trustPolicy, `roles[${i}].trustPolicy`) };
    if (r.maxSessionDuration !== undefined) {
      if (typeof r.maxSessionDuration !== 'number') throw new TypeError(`roles[${i}].maxSessionDuration must be a number`);
      role.maxSessionDuration = r.maxSessionDuration;
    }
    if (r.permissionPolicy !== undefined) role.permissionPolicy = policyObject(r.permissionPolicy, `roles[${i}].permissionPolicy`);
    if (r.attachedPolicyArns !== undefined) role.attachedPolicyArns = strings(r.attachedPolicyArns, `roles[${i}].attachedPolicyArns`);
    return role;
  });
  const config: EmulatorConfig = { principals, roles };
  if (doc.oidcProviders !== undefined) {
    if (!Array.isArray(doc.oidcProviders)) throw new TypeError('config.oidcProviders must be a list');
    config.oidcProviders = doc.oidcProviders.map((p: unknown, i: number): LocalOidcProvider => {
      if (!isObject(p)) throw new TypeError(`oidcProviders[${i}] must be an object`);
      return {
        arn: str(p.arn, `oidcProviders[${i}].arn`),
        issuer: str(p.issuer, `oidcProviders[${i}].issuer`),
        clientIds: strings(p.clientIds, `oidcProviders[${i}].clientIds`),
        ...(p.jwksUri === undefined ? {} : { jwksUri: str(p.jwksUri, `oidcProviders[${i}].jwksUri`) }),
      };
    });
  }
  if (doc.samlProviders !== undefined) {
    if (!Array.isArray(doc.samlProviders)) throw new TypeError('config.samlProviders must be a list');
    config.samlProviders = doc.samlProviders.map((p: unknown, i: number): LocalSamlProvider => {
      if (!isObject(p)) throw new TypeError(`samlProviders[${i}] must be an object`);
      return { arn: str(p.arn, `samlProviders[${i}].arn`), certificates: strings(p.certificates, `samlProviders[${i}].certificates`) };
    });
  }
  if (doc.managedPolicies !== undefined) {
    if (!Array.isArray(doc.managedPolicies)) throw new TypeError('config.managedPolicies must be a list');
    config.managedPolicies = doc.managedPolicies.map((p: unknown, i: number): LocalManagedPolicy => {
      if (!isObject(p)) throw new TypeError(`managedPolicies[${i}] must be an object`);
      return { arn: str(p.arn, `managedPolicies[${i}].arn`), document: policyObject(p.document, `managedPolicies[${i}].document`) };
    });
  }
  if (doc.accountId !== undefined) config.accountId = str(String(doc.accountId), 'accountId');
  if (doc.port !== undefined) {
    if (!Number.isInteger(doc.port)) throw new TypeError('port must be an integer');
    config.port = doc.port as number;
  }
  if (doc.host !== undefined) config.host = str(doc.host, 'host');
  return config;
}

/** Parse errors are reported by position only: JSON and YAML error messages quote source text, which holds secrets. */
function parseText(path: string, text: string): unknown {
  const json = extname(path).toLowerCase() === '.json';
  try {
    return json ? JSON.parse(text) : parseYaml(text, { prettyErrors: false });
  } catch (e) {
    const pos = (e as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
    const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
    throw new TypeError(`${path}: not valid ${json ? 'JSON' : 'YAML'}${where}`);
  }
}

export async function loadEmulatorConfig(path: string): Promise<EmulatorConfig> {
  return parseEmulatorConfig(parseText(path, await readFile(path, 'utf8')));
}
