import { BROKER_FLAGS, exactlyOne, optionalDuration, parse, settingFlags } from '../args.ts';
import { brokerClient } from '../broker-client.ts';
import { browserOpener } from '../browser.ts';
import { help, type Command } from '../command.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { currentAccessToken } from '../login-store.ts';
import { oneShotRedirect } from '../one-shot-redirect.ts';
import { requireBrokerUrl, requireIssuer, resolveSettings } from '../settings.ts';
import { ENTITLEMENT_ID_PATTERN } from '../../domain/identifiers.ts';

const OPEN_TIMEOUT_MS = 120_000;

export const consoleCommand: Command = {
  name: 'console',
  summary: 'print (or open) an AWS console sign-in URL for an entitlement',
  help: `Usage: keyvend console <entitlement> [--open] [--destination URL] [--duration SECONDS] [--json]

Asks the broker for a console sign-in URL (POST /v1/console). The URL signs whoever opens it in, for
15 minutes: treat it as a secret. By default it is printed on stdout; with --open it is opened in your
browser ($KEYVEND_BROWSER, else the system's opener) and not printed: the browser is given a one-use
http://127.0.0.1 link that redirects to the sign-in URL, so the URL is never in a process's arguments.
keyvend waits (up to 2 minutes) until the browser has followed that link.
  --destination URL    the console page to land on (the broker accepts console URLs only)
  --duration SECONDS   console session length (the entitlement may cap it)
  --json               print {"url","expiresAt"}`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      ...BROKER_FLAGS,
      open: { type: 'boolean' },
      destination: { type: 'string' },
      duration: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) return help(context, this.help);
    const entitlement = exactlyOne(positionals, 'entitlement');
    if (!ENTITLEMENT_ID_PATTERN.test(entitlement))
      throw usageError(`"${entitlement}" is not an entitlement id (lower-case letters, digits and -)`);
    if (values.open && values.json) throw usageError('choose --open or --json, not both');
    const durationSeconds = optionalDuration(values.duration);
    const settings = resolveSettings(context, settingFlags(values));
    const brokerUrl = requireBrokerUrl(settings);
    const { accessToken } = await currentAccessToken(context, requireIssuer(settings));
    const signIn = await brokerClient(brokerUrl, accessToken).consoleSignIn({
      entitlement,
      ...(values.destination === undefined ? {} : { destination: values.destination }),
      ...(durationSeconds === undefined ? {} : { durationSeconds }),
    });
    if (values.open) {
      // Any local user can read a process's arguments, and the sign-in URL is a bearer secret: the browser
      // gets a loopback link that redirects to it once instead.
      const redirect = await oneShotRedirect(signIn.url, OPEN_TIMEOUT_MS);
      if (!(await browserOpener(context.env)(redirect.url))) {
        redirect.close();
        throw new CliError('browser_unavailable', 'could not open a browser; run without --open to print the URL', EXIT.failure);
      }
      if (!(await redirect.followed)) {
        throw new CliError(
          'browser_timeout',
          'the browser did not open the sign-in link within 2 minutes; run without --open to print the URL',
          EXIT.failure,
        );
      }
      context.stderr(`Opened the console sign-in in your browser (the link expires at ${signIn.expiresAt}).\n`);
      return EXIT.ok;
    }
    context.stdout(values.json ? `${JSON.stringify({ url: signIn.url, expiresAt: signIn.expiresAt })}\n` : `${signIn.url}\n`);
    return EXIT.ok;
  },
};
