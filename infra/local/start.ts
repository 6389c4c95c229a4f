import { rmSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { ENTITLEMENTS_FILE_HINT, InputFileError, readInputFile } from '../../src/tools/input-file.ts';
import { localStackStatePath } from '../../src/tools/local-stack-state.ts';
import { type DevSamlIdp, startDevSamlIdp } from './saml-idp.ts';
import { type LocalStack, startLocalStack } from './stack.ts';

/**
 * `npm start`: the local stack on fixed ports, so the printed commands work as written.
 * KEYVEND_LOCAL_ISSUERS (a JSON array of issuer settings, or @file.json) replaces the dev IdP;
 * KEYVEND_LOCAL_ENTITLEMENTS and KEYVEND_LOCAL_ROLES point at other seed files. While it runs, .local/stack.json
 * (KEYVEND_LOCAL_STATE) tells tools where it is, and .local/broker.log (KEYVEND_LOCAL_BROKER_LOG) holds the broker's log.
 */
const env = process.env;

/** Stops `npm start` with one readable line (a missing or broken file is a slip, not a crash to debug). */
function fail(error: unknown): never {
  const expected = error instanceof InputFileError || error instanceof SyntaxError;
  const message = error instanceof Error ? (expected || !env['KEYVEND_LOCAL_DEBUG'] ? error.message : String(error.stack)) : String(error);
  const more = expected || env['KEYVEND_LOCAL_DEBUG'] ? '' : '\n(KEYVEND_LOCAL_DEBUG=1 npm start prints the stack trace)';
  process.stderr.write(`\nnpm start: the local stack did not start.\n${message}${more}\n`);
  process.exit(1);
}

/** A JSON array of settings, written inline or as @file.json. */
function jsonSetting(name: string, value: string): Record<string, unknown>[] {
  const text = value.startsWith('@') ? readInputFile(value.slice(1), `${name} file`) : value;
  try {
    return JSON.parse(text) as Record<string, unknown>[];
  } catch (error) {
    throw new SyntaxError(`${name} is not valid JSON: ${(error as Error).message}`);
  }
}

const issuersOverride = env['KEYVEND_LOCAL_ISSUERS']?.trim();
let issuers: Record<string, unknown>[] | undefined;
let samlIdpsOverride: Record<string, unknown>[] | undefined;
try {
  issuers = issuersOverride ? jsonSetting('KEYVEND_LOCAL_ISSUERS', issuersOverride) : undefined;
  const samlSetting = env['KEYVEND_LOCAL_SAML_IDPS']?.trim();
  samlIdpsOverride = samlSetting ? jsonSetting('KEYVEND_LOCAL_SAML_IDPS', samlSetting) : undefined;
  // Checked before anything starts, so a wrong path costs a second, not a minute of start-up.
  const entitlementsFile = env['KEYVEND_LOCAL_ENTITLEMENTS'];
  if (entitlementsFile) readInputFile(entitlementsFile, 'KEYVEND_LOCAL_ENTITLEMENTS: entitlements file', ENTITLEMENTS_FILE_HINT);
  const rolesFile = env['KEYVEND_LOCAL_ROLES'];
  if (rolesFile) readInputFile(rolesFile, 'KEYVEND_LOCAL_ROLES: roles file', 'Start from a copy of infra/local/roles.yaml.');
} catch (error) {
  fail(error);
}

// KEYVEND_LOCAL_SAML_IDPS: SAML IdPs to trust (KEYVEND_SAML_IDPS entries, JSON or @file.json) instead of
// the dev SAML IdP; see docs/saml.md.
const samlOverride = samlIdpsOverride;
const httpPort = Number(env['KEYVEND_HTTP_PORT'] ?? 3000);
const devSamlIdp: DevSamlIdp | undefined = samlOverride
  ? undefined
  : await startDevSamlIdp({
      port: Number(env['KEYVEND_DEV_SAML_IDP_PORT'] ?? 4030),
      acsUrl: `http://127.0.0.1:${httpPort}/v1/credentials`,
      audience: 'urn:keyvend:local',
      portalAcsUrl: `http://127.0.0.1:${httpPort}/portal/saml/acs`,
    });
const samlIdps = samlOverride ?? [devSamlIdp?.settings ?? {}];

const stateFile = localStackStatePath();
// The broker's own output: its redacted JSON decision and error lines, and serverless-offline's.
const brokerLogFile = resolve(env['KEYVEND_LOCAL_BROKER_LOG'] || '.local/broker.log');
rmSync(brokerLogFile, { force: true });
const fromHere = relative(process.cwd(), brokerLogFile);
const shownLogPath = fromHere.startsWith('..') ? brokerLogFile : fromHere;
let stack: LocalStack;
try {
  stack = await startLocalStack({
    httpPort,
    idpPort: Number(env['KEYVEND_DEV_IDP_PORT'] ?? 4010),
    stsPort: Number(env['KEYVEND_STS_PORT'] ?? 4020),
    ...(issuers === undefined ? {} : { issuers }),
    samlIdps,
    ...(env['KEYVEND_LOCAL_ENTITLEMENTS'] ? { entitlementsFile: env['KEYVEND_LOCAL_ENTITLEMENTS'] } : {}),
    ...(env['KEYVEND_LOCAL_ROLES'] ? { rolesFile: env['KEYVEND_LOCAL_ROLES'] } : {}),
    log: (line) => process.stdout.write(`[keyvend] ${line}\n`),
    stateFile,
    brokerLogFile,
  });
} catch (error) {
  await devSamlIdp?.close();
  fail(error);
}

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
${
  stack.idp
    ? `  Portal:        ${api}/portal   (open it in a browser; sign in as alice or bob)
`
    : ''
}  Issuer:        ${api}/.well-known/openid-configuration   (the demo roles trust only the tokens Keyvend mints)
  STS emulator:  ${stack.sts.url}   (sessions it issued: ${stack.sts.url}/_emulator/sessions)
  KMS emulator:  ${stack.kms.url}   (holds the signing key)
  DynamoDB:      ${stack.dynamo.endpoint} (${stack.dynamo.engine})
  Broker log:    ${shownLogPath}   (its JSON log lines, secrets redacted: tail -f ${shownLogPath})

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

Apply your own entitlements to this stack (start from the example; docs/entitlements.md):
  npm run entitlements -- apply --local examples/my-entitlements.yaml

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
