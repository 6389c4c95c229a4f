export {
  API_SCOPE,
  CLIENT_IDS,
  DEFAULT_API_AUDIENCE,
  DEFAULT_DEV_IDP_URL,
  DEFAULT_PORTAL_REDIRECT_URI,
  DEFAULT_USER_SCOPE,
  DEV_PORTAL_CLIENT_SECRET,
  DEV_WORKLOAD_CLIENT_SECRET,
  LOOPBACK_REDIRECT_URI,
} from './constants.ts';
export { ALICE_SUB, BOB_SUB, DEMO_USERS, findDemoUserBySub, findDemoUserByUsername } from './demo-users.ts';
export type { DemoUser } from './demo-users.ts';
export { DevIdpError } from './errors.ts';
export type { DevIdpErrorCode } from './errors.ts';
export { fetchAccessToken, fetchClientCredentialsToken, fetchTokens } from './fetch-access-token.ts';
export type { FetchTokensOptions, TokenSet } from './fetch-access-token.ts';
export { startDevIdp } from './start-dev-idp.ts';
export type { DevIdp, DevIdpOptions, ExtraClient } from './start-dev-idp.ts';
