import { BROKER_FLAGS, optionalDuration, parse, settingFlags } from '../args.ts';
import { help, type Command } from '../command.ts';
import { obtainCredentials } from '../credential-cache.ts';
import { EXIT, usageError } from '../errors.ts';
import { singleQuote } from '../formats.ts';
import { startContainerEndpoint } from '../serve.ts';
import { requireBrokerUrl, requireIssuer, resolveSettings } from '../settings.ts';
import { ENTITLEMENT_ID_PATTERN } from '../../domain/identifiers.ts';

export const serve: Command = {
  name: 'serve',
  summary: 'serve credentials to any AWS SDK as a container-credentials endpoint on 127.0.0.1',
  help: `Usage: keyvend serve <entitlement>... [--port PORT] [--min-remaining MIN] [--duration SECONDS] [--json]

Starts an HTTP endpoint on 127.0.0.1 only (PORT, default a random free port) that answers
  GET /creds/<entitlement>   with {"AccessKeyId","SecretAccessKey","Token","Expiration"}
for each entitlement named, as the AWS SDKs' container credentials provider expects. Every request
must carry the random token printed at start-up in its Authorization header (compared in constant
time); a missing or wrong token gets 401 {"Code","Message"}. Credentials come from the cache and are
replaced by new ones from the broker when they have fewer than MIN minutes left (default 5).
SDKs refresh on their own schedule (boto3 from 15 minutes before expiry): with short credentials they
simply ask this endpoint more often. --duration asks the broker for longer ones (the entitlement caps it).

It prints, for you to give the application (the token is a secret: keep it out of logs):
  export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/creds/<entitlement>
  export AWS_CONTAINER_AUTHORIZATION_TOKEN=<token>
  --json   print {"port","token","uris":{"<entitlement>":"<uri>"}} as one line instead
It runs until interrupted (SIGINT or SIGTERM).`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      ...BROKER_FLAGS,
      port: { type: 'string' },
      'min-remaining': { type: 'string' },
      duration: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) return help(context, this.help);
    if (positionals.length === 0) throw usageError('serve needs at least one entitlement');
    const bad = positionals.find((entitlement) => !ENTITLEMENT_ID_PATTERN.test(entitlement));
    if (bad !== undefined) throw usageError(`"${bad}" is not an entitlement id (lower-case letters, digits and -)`);
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw usageError('--port takes a port number (0 for a random one)');
    const settings = resolveSettings(context, settingFlags(values));
    const brokerUrl = requireBrokerUrl(settings);
    const issuer = requireIssuer(settings);
    const durationSeconds = optionalDuration(values.duration);

    const endpoint = await startContainerEndpoint({
      port,
      entitlements: positionals,
      log: (line) => context.stderr(`${line}\n`),
      credentialsFor: async (entitlement) =>
        (await obtainCredentials(context, { brokerUrl, issuer, entitlement, minRemainingMs: settings.minRemainingMinutes * 60_000, durationSeconds })).credentials,
    });
    if (values.json) {
      const uris = Object.fromEntries(positionals.map((entitlement) => [entitlement, endpoint.uriFor(entitlement)]));
      context.stdout(`${JSON.stringify({ port: endpoint.port, token: endpoint.token, uris })}\n`);
    } else {
      const [first, ...others] = positionals;
      context.stdout(`export AWS_CONTAINER_CREDENTIALS_FULL_URI=${singleQuote(endpoint.uriFor(first ?? ''))}\n`);
      context.stdout(`export AWS_CONTAINER_AUTHORIZATION_TOKEN=${singleQuote(endpoint.token)}\n`);
      for (const entitlement of others) context.stdout(`# for ${entitlement}: AWS_CONTAINER_CREDENTIALS_FULL_URI=${endpoint.uriFor(entitlement)}\n`);
    }
    context.stderr(`keyvend serve: listening on 127.0.0.1:${endpoint.port}; Ctrl+C stops it.\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await endpoint.close();
    return EXIT.ok;
  },
};
