import { readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BROKER_FLAGS, parse, settingFlags } from '../args.ts';
import { browserOpener } from '../browser.ts';
import { help, type Command } from '../command.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { loginPath, loginRecordFrom, readLogin, saveLogin, workloadSecret } from '../login-store.ts';
import { browserFlow, clientCredentials, deviceFlow, discover, type Prompter } from '../oidc.ts';
import { readJsonIfPresent } from '../secure-file.ts';
import { cliPaths, requireIssuer, resolveSettings, type CliContext } from '../settings.ts';

export const login: Command = {
  name: 'login',
  summary: 'sign in with your OIDC identity provider (or as a workload with --client-credentials)',
  help: `Usage: keyvend login [--issuer URL] [--client-id ID] [--resource URI] [--scope SCOPES]
                     [--device | --browser] [--no-open] [--json]
       keyvend login --client-credentials [--client-id ID] [--client-secret-file PATH] [--resource URI] [--scope SCOPES]

Signs you in and keeps the tokens in a file only you can read (0600), refreshing them when they expire.
By default the authorization code flow with PKCE and a loopback redirect to 127.0.0.1 on a random port:
the sign-in can only complete in a browser on this machine. --device uses the device authorization
grant instead (you open a URL and type a code, in any browser on any machine: for SSH sessions), but
anyone who sends you a code can have you sign them in, so only enter a code you started yourself.

  --issuer URL            OIDC issuer (default: $KEYVEND_ISSUER, else "issuer" in the config file)
  --client-id ID          OAuth client (default: "clientId" in the config file, else keyvend-cli)
  --resource URI          resource indicator (RFC 8707) of the broker's API, e.g. urn:keyvend:api
  --scope SCOPES          scopes to ask for (default: "scope" in the config file, else "openid offline_access")
  --device                the device authorization grant (or "loginFlow": "device" in the config file)
  --browser               the browser flow, whatever the config file says
  --no-open               browser flow: do not open a browser, print the URL only
                          (the device flow never opens one: use any browser, on any machine)
  --client-credentials    sign a workload in with its client id and secret: the id from --client-id or
                          $KEYVEND_CLIENT_ID, the secret from --client-secret-file (re-read at every
                          renewal) or $KEYVEND_CLIENT_SECRET (read again from the environment at renewal).
                          The secret is never written anywhere by keyvend.
  --json                  print {"issuer","subject","kind","expiresAt"} on stdout`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      issuer: BROKER_FLAGS.issuer,
      'client-id': { type: 'string' },
      resource: { type: 'string' },
      scope: { type: 'string' },
      device: { type: 'boolean' },
      browser: { type: 'boolean' },
      'no-open': { type: 'boolean' },
      'client-credentials': { type: 'boolean' },
      'client-secret-file': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) return help(context, this.help);
    if (positionals.length > 0) throw usageError(`login takes no arguments, got "${positionals[0]}"`);
    if (values.device && values.browser) throw usageError('choose --device or --browser, not both');
    const settings = resolveSettings(context, settingFlags(values));
    const issuer = requireIssuer(settings);
    const discovery = await discover(issuer);

    let record;
    if (values['client-credentials']) {
      const clientId = values['client-id'] ?? context.env['KEYVEND_CLIENT_ID'];
      if (!clientId) throw usageError('--client-credentials needs --client-id or KEYVEND_CLIENT_ID');
      const clientSecretFile = values['client-secret-file'] === undefined ? undefined : resolve(values['client-secret-file']);
      const clientSecret = workloadSecret(context, { clientSecretFile, issuer });
      const scope = values.scope;
      const result = await clientCredentials(discovery, { clientId, clientSecret, scope, resource: settings.resource }, context.now);
      if (!result.ok) {
        if (result.error === 'invalid_client')
          throw new CliError('login_failed', `the identity provider refused the client credentials of "${clientId}"`, EXIT.notLoggedIn);
        throw result.failure;
      }
      record = loginRecordFrom(
        {
          kind: 'workload',
          issuer,
          tokenEndpoint: discovery.tokenEndpoint,
          clientId,
          scope,
          resource: settings.resource,
          clientSecretFile,
        },
        result.tokens,
        context.now(),
      );
    } else {
      const client = { clientId: settings.clientId, scope: settings.scope, resource: settings.resource };
      const prompter: Prompter = {
        say: (line) => context.stderr(`${line}\n`),
        open: values['no-open'] ? async () => false : browserOpener(context.env),
        now: context.now,
        sleep: (ms) => new Promise((done) => setTimeout(done, ms)),
      };
      // The device flow is phishable (an attacker starts it and sends the victim the code), so it is never
      // chosen for the user: only --device or the config file's loginFlow asks for it. It only prints its
      // URL: it is meant for any browser, on any machine.
      const useDevice = values.device || (!values.browser && settings.loginFlow === 'device');
      const tokens = useDevice ? await deviceFlow(discovery, client, prompter) : await browserFlow(discovery, client, prompter);
      record = loginRecordFrom(
        {
          kind: 'user',
          issuer,
          tokenEndpoint: discovery.tokenEndpoint,
          clientId: settings.clientId,
          scope: settings.scope,
          resource: settings.resource,
        },
        tokens,
        context.now(),
      );
    }
    saveLogin(context, record);
    const who = (record.displayName === undefined ? record.subject : `${record.displayName} (${record.subject})`).replace(
      /[\u0000-\u001f\u007f-\u009f]/gu,
      '?',
    );
    context.stderr(
      `Logged in to ${issuer} as ${who}.${record.refreshToken === undefined && record.kind === 'user' ? ' No refresh token was issued: log in again when the token expires.' : ''}\n`,
    );
    if (values.json) {
      context.stdout(
        `${JSON.stringify({ issuer, subject: record.subject, kind: record.kind, expiresAt: new Date(record.accessTokenExpiresAt).toISOString() })}\n`,
      );
    }
    return EXIT.ok;
  },
};

export const logout: Command = {
  name: 'logout',
  summary: 'forget your tokens and the credentials cached for you',
  help: `Usage: keyvend logout [--issuer URL]

Deletes the stored tokens for the issuer and every cached credential of that login.`,
  async run(args, context) {
    const { values, positionals } = parse(args, { issuer: BROKER_FLAGS.issuer });
    if (values.help) return help(context, this.help);
    if (positionals.length > 0) throw usageError('logout takes no arguments');
    const issuer = requireIssuer(resolveSettings(context, settingFlags(values)));
    const record = readLogin(context, issuer);
    rmSync(loginPath(context, issuer), { force: true });
    if (record !== undefined) removeCachedCredentials(context, issuer, record.subject);
    context.stderr(record === undefined ? `Not logged in to ${issuer}.\n` : `Logged out of ${issuer}.\n`);
    return EXIT.ok;
  },
};

function removeCachedCredentials(context: CliContext, issuer: string, subject: string): void {
  const dir = cliPaths(context.env).credentialsCacheDir;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names.filter((entry) => entry.endsWith('.json'))) {
    const entry = readJsonIfPresent(join(dir, name)) as { issuer?: unknown; subject?: unknown } | undefined;
    if (entry?.issuer === issuer && entry.subject === subject) rmSync(join(dir, name), { force: true });
  }
}
