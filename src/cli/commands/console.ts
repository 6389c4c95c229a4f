import { BROKER_FLAGS, exactlyOne, optionalDuration, parse, settingFlags } from '../args.ts';
import { brokerClient } from '../broker-client.ts';
import { browserOpener } from '../browser.ts';
import { help, type Command } from '../command.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { currentAccessToken } from '../login-store.ts';
import { requireBrokerUrl, requireIssuer, resolveSettings } from '../settings.ts';
import { ENTITLEMENT_ID_PATTERN } from '../../domain/identifiers.ts';

export const consoleCommand: Command = {
  name: 'console',
  summary: 'print (or open) an AWS console sign-in URL for an entitlement',
  help: `Usage: keyvend console <entitlement> [--open] [--destination URL] [--duration SECONDS] [--json]

Asks the broker for a console sign-in URL (POST /v1/console). The URL signs whoever opens it in, for
15 minutes: treat it as a secret. By default it is printed on stdout; with --open it is opened in your
browser ($KEYVEND_BROWSER, else the system's opener) and not printed.
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
    if (!ENTITLEMENT_ID_PATTERN.test(entitlement)) throw usageError(`"${entitlement}" is not an entitlement id (lower-case letters, digits and -)`);
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
      if (!(await browserOpener(context.env)(signIn.url))) {
        throw new CliError('browser_unavailable', 'could not open a browser; run without --open to print the URL', EXIT.failure);
      }
      context.stderr(`Opened the console sign-in in your browser (the link expires at ${signIn.expiresAt}).\n`);
      return EXIT.ok;
    }
    context.stdout(values.json ? `${JSON.stringify({ url: signIn.url, expiresAt: signIn.expiresAt })}\n` : `${signIn.url}\n`);
    return EXIT.ok;
  },
};
