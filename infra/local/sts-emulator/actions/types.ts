import type { Caller } from '../auth/authenticate.ts';
import type { QueryParams } from '../protocol/query-params.ts';
import type { XmlTree } from '../protocol/xml.ts';
import type { EmulatorState } from '../state.ts';

export interface ActionContext {
  params: QueryParams;
  state: EmulatorState;
  /** The clock reading for this request. */
  now: Date;
  requestId: string;
  /** Set for actions with `auth: 'sigv4'`. */
  caller?: Caller;
}

export interface ActionHandler {
  name: string;
  /**
   * `sigv4`: the request must be signed (AssumeRole, GetCallerIdentity, GetFederationToken).
   * `none`: unsigned calls (AssumeRoleWithWebIdentity, AssumeRoleWithSAML) — the token/assertion authenticates.
   */
  auth: 'sigv4' | 'none';
  /** Returns the content of `<{Action}Result>`. Throws StsError. */
  handle(ctx: ActionContext): XmlTree | Promise<XmlTree>;
}
