import { readFileSync } from 'node:fs';
import { type DevSamlIdp, startDevSamlIdp } from './saml-idp.ts';
import { startLocalStack } from './stack.ts';

/**
 * `npm start`: the local stack on fixed ports, so the printed commands work as written.
 * KEYVEND_LOCAL_ISSUERS (a JSON array of issuer settings, or @file.json) replaces the dev IdP;
 * KEYVEND_LOCAL_ENTITLEMENTS and KEYVEND_LOCAL_ROLES point at other seed files.
 */
const env = process.env;
const issuersOverride = env['KEYVEND_LOCAL_ISSUERS']?.trim();
const issuers = issuersOverride
  ? (JSON.parse(issuersOverride.startsWith('@') ? readFileSync(issuersOverride.slice(1), 'utf8') : issuersOverride) as Record<string, unknown>[])
  : undefined;

// KEYVEND_LOCAL_SAML_IDPS: SAML IdPs to trust (KEYVEND_SAML_IDPS entries, JSON or @file.json) instead of
// the dev SAML IdP; see docs/saml.md.
const samlOverride = env['KEYVEND_LOCAL_SAML_IDPS']?.trim();
const httpPort = Number(env['KEYVEND_HTTP_PORT'] ?? 3000);
const devSamlIdp: DevSamlIdp | undefined = samlOverride
  ? undefined
  : await startDevSamlIdp({
      port: Number(env['KEYVEND_DEV_SAML_IDP_PORT'] ?? 4030),
      acsUrl: `http://127.0.0.1:${httpPort}/v1/credentials`,
      audience: 'urn:keyvend:local',
      portalAcsUrl: `http://127.0.0.1:${httpPort}/portal/saml/acs`,
    });
const samlIdps = samlOverride
  ? (JSON.parse(samlOverride.startsWith('@') ? readFileSync(samlOverride.slice(1), 'utf8') : samlOverride) as Record<string, unknown>[])
  : [devSamlIdp?.settings ?? {}];

const stack = await startLocalStack({
  httpPort,
  idpPort: Number(env['KEYVEND_DEV_IDP_PORT'] ?? 4010),
  stsPort: Number(env['KEYVEND_STS_PORT'] ?? 4020),
  ...(issuers === undefined ? {} : { issuers }),
  samlIdps,
  ...(env['KEYVEND_LOCAL_ENTITLEMENTS'] ? { entitlementsFile: env['KEYVEND_LOCAL_ENTITLEMENTS'] } : {}),
  ...(env['KEYVEND_LOCAL_ROLES'] ? { rolesFile: env['KEYVEND_LOCAL_ROLES'] } : {}),
  log: (line) => process.stdout.write(`[keyvend] ${line}\n`),
});

const api = stack.apiUrl;
const idpLine = stack.idp
  ? `Demo users of the dev IdP (${stack.idp.issuer}): alice / alice-password, bob / bob-password.

Get a token for alice (a real authorization-code + PKCE sign-in, driven for you):
  TOKEN=$(npm run -s token -- alice)`
  : `Trusted issuers: ${(issuers ?? []).map((i) => String(i['issuer'])).join(', ')}
Get a token from your identity provider for the audience you configured, then:
  TOKEN=<your token>`;
process.stdout.write(`
Keyvend is running locally (no AWS account involved).
  API:           ${api}
${stack.idp ? `  Portal:        ${api}/portal   (open it in a browser; sign in as alice or bob)
` : ''}  Issuer:        ${api}/.well-known/openid-configuration   (the demo roles trust only the tokens Keyvend mints)
  STS emulator:  ${stack.sts.url}   (sessions it issued: ${stack.sts.url}/_emulator/sessions)
  KMS emulator:  ${stack.kms.url}   (holds the signing key)
  DynamoDB:      ${stack.dynamo.endpoint} (${stack.dynamo.engine})

${idpLine}

What may I ask for?
  curl -s -H "Authorization: Bearer $TOKEN" ${api}/v1/entitlements

Credentials for your own folder of the demo bucket (credential_process v1 JSON):
  curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{"entitlement":"photo-uploads","durationSeconds":900}' ${api}/v1/credentials

The same for 12 hours (no role chaining: the role trusts Keyvend's own token, minted for this grant):
  curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{"entitlement":"photo-uploads","durationSeconds":43200}' ${api}/v1/credentials

A 12-hour console sign-in URL (open it in a browser: it lands on the emulator's console page):
  curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{"entitlement":"console-readonly","durationSeconds":43200}' ${api}/v1/console

${
  devSamlIdp
    ? `Or sign in with SAML at the dev SAML IdP (${devSamlIdp.url}, same demo users) and post the signed response:
  SAML=$(curl -s -d username=alice -d password=alice-password ${devSamlIdp.url}/sso)
  curl -s -X POST --data-urlencode "SAMLResponse=$SAML" -d entitlement=photo-uploads ${api}/v1/credentials

`
    : ''
}Press Ctrl+C to stop.
`);

const shutdown = async () => {
  process.stdout.write('\n[keyvend] stopping\n');
  await stack.close();
  await devSamlIdp?.close();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
