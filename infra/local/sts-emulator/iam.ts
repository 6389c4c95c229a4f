/**
 * The IAM actions on customer-managed policies that Keyvend's revoker uses (`CreatePolicyVersion`,
 * `DeletePolicyVersion`, `ListPolicyVersions`, `GetPolicyVersion`), over IAM's query protocol (Version 2010-05-08,
 * SigV4 with service `iam`). The caller must be a session the emulator issued (or a configured principal) whose role's
 * permission policy allows the action on the policy ARN. IAM's rules as documented: at most five versions, the
 * default version cannot be deleted, `SetAsDefault` makes the new version the one in effect, documents are returned
 * URL-encoded (RFC 3986).
 */
import type { Caller } from './auth/authenticate.ts';
import { StsError } from './errors.ts';
import type { QueryParams } from './protocol/query-params.ts';
import { escapeXml, type XmlTree } from './protocol/xml.ts';
import type { EmulatorState } from './state.ts';
import { ConditionContext, evaluateIdentityPolicy } from './trust-policy.ts';
import type { LocalManagedPolicy } from './types.ts';
import { isoSeconds } from './util.ts';

export const IAM_API_VERSION = '2010-05-08';
export const IAM_XMLNS = `https://iam.amazonaws.com/doc/${IAM_API_VERSION}/`;
export const IAM_SIGNING_SERVICE = 'iam';
const MAX_VERSIONS = 5;
/** IAM's limit on a customer-managed policy, counted without whitespace. */
const MAX_POLICY_CHARS = 6144;

interface PolicyVersion {
  readonly versionId: string;
  readonly document: string;
  readonly createDate: Date;
}

interface ManagedPolicy {
  readonly arn: string;
  versions: PolicyVersion[];
  defaultVersionId: string;
  nextVersion: number;
}

export const iamErrors = {
  noSuchEntity: (message: string) => new StsError('NoSuchEntity', message, 404),
  limitExceeded: (message: string) => new StsError('LimitExceeded', message, 409),
  deleteConflict: (message: string) => new StsError('DeleteConflict', message, 409),
  malformedPolicy: (message: string) => new StsError('MalformedPolicyDocument', message, 400),
  invalidInput: (message: string) => new StsError('InvalidInput', message, 400),
};

/** The managed policies of the emulated account and their versions. */
export class ManagedPolicies {
  private readonly byArn = new Map<string, ManagedPolicy>();
  private readonly initial: readonly LocalManagedPolicy[];

  constructor(policies: readonly LocalManagedPolicy[], now: Date) {
    this.initial = structuredClone([...policies]);
    this.load(now);
  }

  private load(now: Date): void {
    this.byArn.clear();
    for (const p of this.initial) {
      if (!/^arn:aws[a-z-]*:iam::\d{12}:policy\/.+$/.test(p.arn)) throw new TypeError(`invalid managed policy ARN '${p.arn}'`);
      this.byArn.set(p.arn, {
        arn: p.arn,
        versions: [{ versionId: 'v1', document: JSON.stringify(p.document), createDate: now }],
        defaultVersionId: 'v1',
        nextVersion: 2,
      });
    }
  }

  /** The document of the version in effect, parsed; undefined for an unknown policy. */
  defaultDocument(arn: string): unknown {
    const policy = this.byArn.get(arn);
    const version = policy?.versions.find((v) => v.versionId === policy.defaultVersionId);
    return version === undefined ? undefined : JSON.parse(version.document);
  }

  get(arn: string): ManagedPolicy {
    const policy = this.byArn.get(arn);
    if (policy === undefined) throw iamErrors.noSuchEntity(`Policy ${arn} does not exist or is not attachable.`);
    return policy;
  }

  /** Every policy with its versions, newest first, and which one is in effect (for the admin route and tests). */
  list(): { arn: string; defaultVersionId: string; versions: { versionId: string; document: unknown; createDate: string }[] }[] {
    return [...this.byArn.values()].map((p) => ({
      arn: p.arn,
      defaultVersionId: p.defaultVersionId,
      versions: [...p.versions]
        .reverse()
        .map((v) => ({ versionId: v.versionId, document: JSON.parse(v.document), createDate: isoSeconds(v.createDate) })),
    }));
  }

  reset(now: Date): void {
    this.load(now);
  }
}

export interface IamActionContext {
  readonly params: QueryParams;
  readonly state: EmulatorState;
  readonly now: Date;
  readonly caller: Caller;
}

interface IamAction {
  readonly name: string;
  handle(ctx: IamActionContext, policy: ManagedPolicy): XmlTree;
}

const versionXml = (v: PolicyVersion, policy: ManagedPolicy, withDocument: boolean): XmlTree => [
  ['Document', withDocument ? encodeURIComponent(v.document) : undefined],
  ['VersionId', v.versionId],
  ['IsDefaultVersion', String(v.versionId === policy.defaultVersionId)],
  ['CreateDate', isoSeconds(v.createDate)],
];

const createPolicyVersion: IamAction = {
  name: 'CreatePolicyVersion',
  handle({ params, now }, policy) {
    const document = params.get('PolicyDocument');
    if (document === undefined) throw iamErrors.invalidInput('PolicyDocument is required');
    let parsed: unknown;
    try {
      parsed = JSON.parse(document);
    } catch {
      throw iamErrors.malformedPolicy('Syntax errors in policy.');
    }
    if (typeof parsed !== 'object' || parsed === null || !('Statement' in parsed))
      throw iamErrors.malformedPolicy('Policy document must have a Statement.');
    if (document.replace(/\s/g, '').length > MAX_POLICY_CHARS) {
      throw iamErrors.limitExceeded(`Cannot exceed quota for PolicySize: ${MAX_POLICY_CHARS}`);
    }
    if (policy.versions.length >= MAX_VERSIONS) {
      throw iamErrors.limitExceeded(
        `A managed policy can have up to ${MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version.`,
      );
    }
    const version: PolicyVersion = { versionId: `v${policy.nextVersion}`, document, createDate: now };
    policy.nextVersion += 1;
    policy.versions.push(version);
    if (params.get('SetAsDefault') === 'true') policy.defaultVersionId = version.versionId;
    return [['PolicyVersion', versionXml(version, policy, false)]];
  },
};

const deletePolicyVersion: IamAction = {
  name: 'DeletePolicyVersion',
  handle({ params }, policy) {
    const versionId = params.get('VersionId');
    const version = policy.versions.find((v) => v.versionId === versionId);
    if (version === undefined) throw iamErrors.noSuchEntity(`Policy ${policy.arn} version ${versionId ?? ''} does not exist.`);
    if (version.versionId === policy.defaultVersionId) throw iamErrors.deleteConflict('Cannot delete the default version of a policy.');
    policy.versions = policy.versions.filter((v) => v !== version);
    return [];
  },
};

const listPolicyVersions: IamAction = {
  name: 'ListPolicyVersions',
  handle(_ctx, policy) {
    const newestFirst = [...policy.versions].reverse();
    return [
      ['Versions', newestFirst.map((v) => ['member', versionXml(v, policy, false)] as const)],
      ['IsTruncated', 'false'],
    ];
  },
};

const getPolicyVersion: IamAction = {
  name: 'GetPolicyVersion',
  handle({ params }, policy) {
    const versionId = params.get('VersionId');
    const version = policy.versions.find((v) => v.versionId === versionId);
    if (version === undefined) throw iamErrors.noSuchEntity(`Policy ${policy.arn} version ${versionId ?? ''} does not exist.`);
    return [['PolicyVersion', versionXml(version, policy, true)]];
  },
};

export const IAM_ACTIONS: ReadonlyMap<string, IamAction> = new Map(
  [createPolicyVersion, deletePolicyVersion, listPolicyVersions, getPolicyVersion].map((a) => [a.name, a]),
);

/**
 * Runs one IAM action: the caller's role (or IAM user) must allow `iam:<Action>` on the policy ARN in its permission
 * policy; the emulator's own evaluator decides (explicit deny wins, nothing allowed is a deny).
 */
export function runIamAction(name: string, ctx: IamActionContext): XmlTree {
  const action = IAM_ACTIONS.get(name);
  if (action === undefined) throw new StsError('InvalidAction', `Could not find operation ${name} for version ${IAM_API_VERSION}`, 400);
  const policyArn = ctx.params.get('PolicyArn');
  if (policyArn === undefined) throw iamErrors.invalidInput('PolicyArn is required');
  const permissions = permissionPolicyOf(ctx.state, ctx.caller);
  const decision = evaluateIdentityPolicy(permissions, policyArn, { actions: [`iam:${name}`], context: new ConditionContext({}, []) });
  if (!decision.allowed) {
    throw new StsError('AccessDenied', `User: ${ctx.caller.arn} is not authorized to perform: iam:${name} on resource: ${policyArn}`, 403);
  }
  return action.handle(ctx, ctx.state.managedPolicies.get(policyArn));
}

function permissionPolicyOf(state: EmulatorState, caller: Caller): unknown {
  if (caller.roleArn !== undefined) return state.roles.get(caller.roleArn)?.role.permissionPolicy;
  return state.principals.get(caller.accessKeyId)?.principal.identityPolicy;
}

/** `<{Action}Response xmlns="https://iam.amazonaws.com/doc/2010-05-08/">…`, as IAM sends it. */
export function iamSuccessXml(action: string, result: XmlTree, requestId: string): string {
  const render = (tree: XmlTree, indent: string): string =>
    tree
      .map(([name, value]) => {
        if (value === undefined) return '';
        if (typeof value === 'string' || typeof value === 'number') return `${indent}<${name}>${escapeXml(String(value))}</${name}>\n`;
        return `${indent}<${name}>\n${render(value, `${indent}  `)}${indent}</${name}>\n`;
      })
      .join('');
  return `<${action}Response xmlns="${IAM_XMLNS}">\n${render(
    [
      [`${action}Result`, result],
      ['ResponseMetadata', [['RequestId', requestId]]],
    ],
    '  ',
  )}</${action}Response>\n`;
}

/** `<ErrorResponse xmlns=…><Error><Type/><Code/><Message/></Error><RequestId/>`, IAM's error shape. */
export function iamErrorXml(error: StsError, requestId: string): string {
  return `<ErrorResponse xmlns="${IAM_XMLNS}">\n  <Error>\n    <Type>${error.type}</Type>\n    <Code>${escapeXml(error.code)}</Code>\n    <Message>${escapeXml(error.message)}</Message>\n  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`;
}
