import { InvalidRequestError, InvalidTokenError } from '../domain/errors.ts';
import { openSession, type PortalSession, tokensMatch } from '../domain/portal-session.ts';
import type { RequestContext } from '../domain/request-context.ts';
import type { Clock, PortalSecrets } from '../ports/index.ts';
import type { AdminCaller, RevocationList, Revocations, RevokeResult, UnrevokeResult } from './revocations.ts';

export interface RevocationsPortalDeps {
  readonly revocations: Revocations;
  readonly secrets: PortalSecrets;
  readonly clock: Clock;
}

/**
 * The admin revocations page of the portal (`/portal/admin/revocations`), on the portal's signed session cookie: the
 * same use cases as the API, with the session's principal as the verified caller. A form without the session's CSRF
 * token is a request problem, audited with the caller; a request whose session does not open is refused and audited
 * without one. Reading the page is the audited `revocations_list`.
 */
export function makeRevocationsPortal(deps: RevocationsPortalDeps) {
  const callerOf = async (cookie: string | undefined): Promise<{ caller: AdminCaller; session?: PortalSession }> => {
    const { sessionKey } = await deps.secrets.load();
    const check = openSession(cookie, sessionKey, Math.floor(deps.clock.now().getTime() / 1000));
    if (!check.ok) return { caller: { kind: 'refused', error: new InvalidTokenError(check.reason) } };
    return { caller: { kind: 'verified', principal: check.session.principal }, session: check.session };
  };
  const csrfProblem = (session: PortalSession | undefined, form: Record<string, string>) =>
    session !== undefined && !tokensMatch(session.csrfToken, form['csrf'])
      ? { requestProblem: new InvalidRequestError('The form has expired; reload the page.', { reason: 'csrf_token_invalid' }) }
      : {};

  return {
    /** undefined when there is no session to show the page to (the browser is sent to sign in). */
    async page(cookie: string | undefined, context: RequestContext): Promise<{ session: PortalSession; list: RevocationList } | undefined> {
      const { caller, session } = await callerOf(cookie);
      if (session === undefined) return undefined;
      return { session, list: await deps.revocations.list({ caller, context }) };
    },

    async revoke(cookie: string | undefined, form: Record<string, string>, context: RequestContext): Promise<RevokeResult> {
      const { caller, session } = await callerOf(cookie);
      const { csrf: _csrf, ...fields } = form;
      const body = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== ''));
      return deps.revocations.revoke({ caller, context, body, ...csrfProblem(session, form) });
    },

    async unrevoke(cookie: string | undefined, form: Record<string, string>, context: RequestContext): Promise<UnrevokeResult> {
      const { caller, session } = await callerOf(cookie);
      return deps.revocations.unrevoke({ caller, context, id: form['id'], reason: form['reason'], ...csrfProblem(session, form) });
    },
  };
}

export type RevocationsPortal = ReturnType<typeof makeRevocationsPortal>;
