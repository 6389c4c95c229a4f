import { describePrincipalArn, parseRoleArn, roleIdFor, type PrincipalInfo, type RoleArnParts } from './arn.ts';
import { FaultQueue } from './faults.ts';
import { FederationState } from './federation.ts';
import { ManagedPolicies } from './iam.ts';
import { SessionStore } from './session-store.ts';
import type { LocalOidcProvider, LocalPrincipal, LocalRole, LocalSamlProvider, StsCallRecord, StsEmulatorOptions } from './types.ts';

export const DEFAULT_ACCOUNT_ID = '000000000000';
export const DEFAULT_MAX_SESSION_DURATION = 3600;

export interface ConfiguredPrincipal {
  readonly principal: LocalPrincipal;
  readonly info: PrincipalInfo;
}

export interface ConfiguredRole {
  readonly role: LocalRole;
  readonly parts: RoleArnParts;
  readonly roleId: string;
  readonly maxSessionDuration: number;
}

/** Everything the actions share: configuration, issued sessions, faults and the call log. */
export class EmulatorState {
  readonly accountId: string;
  readonly principals = new Map<string, ConfiguredPrincipal>();
  readonly roles = new Map<string, ConfiguredRole>();
  readonly oidcProviders: readonly LocalOidcProvider[];
  readonly samlProviders: readonly LocalSamlProvider[];
  readonly store = new SessionStore();
  readonly faults = new FaultQueue();
  readonly federation = new FederationState();
  readonly managedPolicies: ManagedPolicies;
  readonly now: () => Date;
  private readonly callLog: StsCallRecord[] = [];
  private readonly onCall: ((call: StsCallRecord) => void) | undefined;

  constructor(opts: StsEmulatorOptions) {
    this.accountId = opts.accountId ?? DEFAULT_ACCOUNT_ID;
    if (!/^\d{12}$/.test(this.accountId)) throw new TypeError(`accountId must be 12 digits, got '${this.accountId}'`);
    this.now = opts.now ?? (() => new Date());
    this.onCall = opts.onCall;
    this.managedPolicies = new ManagedPolicies(opts.managedPolicies ?? [], this.now());
    this.oidcProviders = structuredClone(opts.oidcProviders ?? []);
    this.samlProviders = structuredClone(opts.samlProviders ?? []);
    for (const p of this.oidcProviders) {
      if (!/^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/.+$/.test(p.arn)) throw new TypeError(`invalid OIDC provider ARN '${p.arn}'`);
      if (p.clientIds.length === 0) throw new TypeError(`OIDC provider ${p.arn} needs at least one client id`);
    }
    for (const p of this.samlProviders) {
      if (!/^arn:aws[a-z-]*:iam::\d{12}:saml-provider\/[\w+=,.@-]+$/.test(p.arn))
        throw new TypeError(`invalid SAML provider ARN '${p.arn}'`);
      if (p.certificates.length === 0) throw new TypeError(`SAML provider ${p.arn} needs a certificate`);
    }
    for (const principal of opts.principals) {
      if (!principal.accessKeyId || !principal.secretAccessKey) throw new TypeError('each principal needs accessKeyId and secretAccessKey');
      if (this.principals.has(principal.accessKeyId)) throw new TypeError(`duplicate principal access key id ${principal.accessKeyId}`);
      const info = describePrincipalArn(principal.arn);
      if (!info) throw new TypeError(`unsupported principal ARN '${principal.arn}' (user, root, assumed-role or federated-user ARNs)`);
      this.principals.set(principal.accessKeyId, { principal: structuredClone(principal), info });
    }
    for (const role of opts.roles) {
      const parts = parseRoleArn(role.arn);
      if (!parts) throw new TypeError(`invalid role ARN '${role.arn}'`);
      if (this.roles.has(role.arn)) throw new TypeError(`duplicate role ${role.arn}`);
      const max = role.maxSessionDuration ?? DEFAULT_MAX_SESSION_DURATION;
      if (!Number.isInteger(max) || max < 3600 || max > 43200) {
        throw new TypeError(`role ${role.arn}: maxSessionDuration must be an integer in 3600..43200`);
      }
      if (typeof role.trustPolicy !== 'object' || role.trustPolicy === null)
        throw new TypeError(`role ${role.arn}: trustPolicy must be an object`);
      this.roles.set(role.arn, { role: structuredClone(role), parts, roleId: roleIdFor(role.arn), maxSessionDuration: max });
    }
  }

  /** Role of an IAM role ARN, or of the role behind a principal's assumed-role ARN (matched by account and name). */
  findRoleByName(partition: string, account: string, name: string): ConfiguredRole | undefined {
    for (const r of this.roles.values()) {
      if (r.parts.partition === partition && r.parts.account === account && r.parts.name === name) return r;
    }
    return undefined;
  }

  record(call: StsCallRecord): void {
    this.callLog.push(call);
    try {
      this.onCall?.(structuredClone(call));
    } catch {
      // A failing observer must not break the emulator.
    }
  }

  calls(): StsCallRecord[] {
    return this.callLog.map((c) => structuredClone(c));
  }

  reset(): void {
    this.store.clear();
    this.faults.clear();
    this.federation.clear();
    this.managedPolicies.reset(this.now());
    this.callLog.length = 0;
  }
}
