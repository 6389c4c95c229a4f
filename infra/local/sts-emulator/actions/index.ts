import { assumeRole } from './assume-role.ts';
import { assumeRoleWithSaml } from './assume-role-with-saml.ts';
import { assumeRoleWithWebIdentity } from './assume-role-with-web-identity.ts';
import { getFederationToken } from './get-federation-token.ts';
import { getCallerIdentity } from './get-caller-identity.ts';
import type { ActionHandler } from './types.ts';

/**
 * Supported actions. To add one (AssumeRoleWithWebIdentity, AssumeRoleWithSAML, GetFederationToken): write a module
 * exporting an ActionHandler (reusing validation.ts, trust-policy.ts via role-session.ts, and the session store) and
 * list it here.
 */
export const ACTIONS: ReadonlyMap<string, ActionHandler> = new Map(
  [assumeRole, assumeRoleWithWebIdentity, assumeRoleWithSaml, getFederationToken, getCallerIdentity].map((handler) => [
    handler.name,
    handler,
  ]),
);

export type { ActionContext, ActionHandler } from './types.ts';
