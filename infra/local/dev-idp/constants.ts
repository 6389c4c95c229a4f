/** Resource indicator of the Keyvend API: the `aud` of every access token the dev IdP issues. */
export const DEFAULT_API_AUDIENCE = 'urn:keyvend:api';

/** The one scope the Keyvend API resource server defines. */
export const API_SCOPE = 'keyvend';

export const DEFAULT_DEV_IDP_URL = 'http://127.0.0.1:4010';

/**
 * Loopback redirect URI registered for the CLI and the demo app. The CLI may use any port
 * (RFC 8252 §7.3); the flow driver never follows it, it only reads the code from it.
 */
export const LOOPBACK_REDIRECT_URI = 'http://127.0.0.1/callback';

export const DEFAULT_PORTAL_REDIRECT_URI = 'http://127.0.0.1:3000/portal/callback';

export const CLIENT_IDS = Object.freeze({
  cli: 'keyvend-cli',
  portal: 'keyvend-portal',
  demoApp: 'keyvend-demo-app',
  workload: 'keyvend-workload',
} as const);

/** Development-only secrets; override them through the options of `startDevIdp`. */
export const DEV_PORTAL_CLIENT_SECRET = 'keyvend-portal-dev-secret';
export const DEV_WORKLOAD_CLIENT_SECRET = 'keyvend-workload-dev-secret';

/** Scopes a first-party sign-in asks for: an ID token with profile, email and groups, and the API. */
export const DEFAULT_USER_SCOPE = `openid profile email groups ${API_SCOPE}`;
