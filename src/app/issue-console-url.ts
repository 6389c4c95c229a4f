import {
  credentialOriginOf,
  type DestinationRule,
  loginUrl,
  type Partition,
  partitionOf,
  resolveDestination,
  SIGNIN_URL_LIFETIME_SECONDS,
  sessionDurationFor,
} from '../domain/console-signin.ts';
import type { KeyvendError } from '../domain/errors.ts';
import { Secret } from '../domain/secret.ts';
import type { Clock, ConsoleSignin } from '../ports/index.ts';
import type { Caller, makeIssueCredentials } from './issue-credentials.ts';
import type { RequestContext } from '../domain/request-context.ts';

export interface IssueConsoleUrlDeps {
  readonly issueCredentials: ReturnType<typeof makeIssueCredentials>;
  readonly signin: ConsoleSignin;
  readonly clock: Clock;
  readonly settings: {
    /** The fixed broker URL the console sends people back to when they sign out; never from a request. */
    readonly issuerUrl: string;
    readonly destinationRules: readonly DestinationRule[];
    readonly federationEndpointFor: (partition: Partition) => string;
    /** The broker's AssumeRole is chained when the broker itself runs as a role session (Lambda). */
    readonly roleChaining: boolean;
  };
}

/** A bearer token (POST /v1/console) or a portal session's principal: console sign-in takes no SAML response. */
export type ConsoleCaller = Extract<Caller, { readonly kind: 'bearer' | 'verified' }>;

export interface IssueConsoleUrlInput {
  readonly caller: ConsoleCaller;
  readonly entitlement: unknown;
  readonly destination: unknown;
  readonly durationSeconds: unknown;
  readonly context: RequestContext;
  /** A problem found in the request. A console request always names one caller, so it is audited with that caller, verified. */
  readonly requestProblem?: KeyvendError;
}

export interface ConsoleUrlGrant {
  readonly grantId: string;
  readonly entitlementId: string;
  readonly url: Secret;
  /** When AWS stops accepting the URL (15 minutes after the sign-in token was issued). */
  readonly expiresAt: Date;
}

/**
 * A console sign-in URL for one entitlement: the same grant as issueCredentials (entitlement check, session
 * policy, audit record) with output `console`, then getSigninToken and the login URL. The destination is
 * checked against the role's partition before STS is called; the URL exists only in a Secret, and a
 * getSigninToken failure after minting delivers nothing (security catalog F-06).
 */
export function makeIssueConsoleUrl(deps: IssueConsoleUrlDeps) {
  return async function issueConsoleUrl(input: IssueConsoleUrlInput): Promise<ConsoleUrlGrant> {
    let destination = '';
    let partition: Partition = 'aws';
    const grant = await deps.issueCredentials({
      caller: input.caller,
      entitlement: input.entitlement,
      durationSeconds: input.durationSeconds,
      output: 'console',
      context: input.context,
      ...(input.requestProblem === undefined ? {} : { requestProblem: { error: input.requestProblem, audited: 'with-verified-caller' } }),
      delivery: {
        check(entitlement) {
          partition = partitionOf(entitlement.roleArn);
          destination = resolveDestination(input.destination, partition, deps.settings.destinationRules);
        },
        async deliver({ credentials, entitlement, durationSeconds }) {
          const endpoint = deps.settings.federationEndpointFor(partition);
          const token = await deps.signin.getSigninToken({
            endpoint,
            credentials,
            sessionDuration: sessionDurationFor(credentialOriginOf(entitlement.vending, deps.settings.roleChaining), durationSeconds),
          });
          return new Secret(loginUrl({ endpoint, issuer: deps.settings.issuerUrl, destination, signinToken: token.reveal() }));
        },
      },
    });
    if (grant.delivered === undefined) throw new Error('issueCredentials returned no delivery');
    return {
      grantId: grant.grantId,
      entitlementId: grant.entitlement.id,
      url: grant.delivered,
      expiresAt: new Date(deps.clock.now().getTime() + SIGNIN_URL_LIFETIME_SECONDS * 1000),
    };
  };
}
