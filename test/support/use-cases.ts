import { type IssueCredentialsDeps, makeIssueCredentials } from '../../src/app/issue-credentials.ts';
import type { Entitlement } from '../../src/domain/entitlement.ts';
import { KeyvendError } from '../../src/domain/errors.ts';
import type { Principal } from '../../src/domain/principal.ts';
import {
  entitlementFor,
  FakeAuditLog,
  FakeCredentialIssuer,
  FakeDecisionLog,
  FakeEntitlementStore,
  FakeVerifier,
  fixedClock,
  principalFor,
} from '../unit/fakes.ts';

export interface IssueCredentialsHarnessOptions {
  /** What the verifier returns (or throws). */
  readonly principal?: Principal | Error;
  /** What the store holds, granted to the default principal. */
  readonly entitlements?: Entitlement[];
  readonly roleChaining?: boolean;
  /** Which role ARNs the broker may assume: by default the test account's `role/keyvend/` roles. */
  readonly allowedRole?: (arn: string) => boolean;
}

/**
 * `issueCredentials` on the fakes of test/unit/fakes.ts, for the use-case tests: each fake is returned for the
 * test to arrange and inspect. `overrides` replaces any dependency a test needs its own of (a recording STS, a
 * signer, an audit log that also keeps a timeline).
 */
export function issueCredentialsHarness(options: IssueCredentialsHarnessOptions = {}, overrides: Partial<IssueCredentialsDeps> = {}) {
  const verifier = new FakeVerifier(options.principal ?? principalFor());
  const store = new FakeEntitlementStore(options.entitlements ?? [entitlementFor()]);
  const sts = new FakeCredentialIssuer();
  const audit = new FakeAuditLog();
  const log = new FakeDecisionLog();
  const issue = makeIssueCredentials({
    verifier,
    entitlements: store,
    credentials: sts,
    brokerIssuer: undefined,
    audit,
    log,
    clock: fixedClock(),
    settings: {
      roleChaining: options.roleChaining ?? true,
      isAllowedRole: options.allowedRole ?? ((arn) => arn.startsWith('arn:aws:iam::111111111111:role/keyvend/')),
    },
    ...overrides,
  });
  return { issue, verifier, store, sts, audit, log };
}

/** The KeyvendError a use case failed with; any other error, or none, fails the test. */
export async function failure(promise: Promise<unknown>): Promise<KeyvendError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof KeyvendError) return error;
    throw error;
  }
  throw new Error('expected the use case to fail');
}
