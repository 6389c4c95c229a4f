import { BROKER_FLAGS, optionalDuration, parse, settingFlags } from '../args.ts';
import { help, type Command } from '../command.ts';
import { obtainCredentials } from '../credential-cache.ts';
import { EXIT, usageError } from '../errors.ts';
import { singleQuote } from '../formats.ts';
import { realTimers, startRefresher } from '../credential-refresher.ts';
import { startImdsEndpoint } from '../imds.ts';
import { startContainerEndpoint } from '../serve.ts';
import { requireBrokerUrl, requireIssuer, resolveSettings } from '../settings.ts';
import { ENTITLEMENT_ID_PATTERN } from '../../domain/identifiers.ts';

export const serve: Command = {
  name: 'serve',
  summary: 'serve credentials to any AWS SDK: a container-credentials (or, --imds, an IMDSv2) endpoint on 127.0.0.1',
  help: `Usage: keyvend serve <entitlement>... [--port PORT] [--min-remaining MIN] [--duration SECONDS] [--json]
       keyvend serve <entitlement> --imds [--port PORT] [--min-remaining MIN] [--duration SECONDS] [--json]

Starts an HTTP endpoint on 127.0.0.1 only (PORT, default a random free port) that answers
  GET /creds/<entitlement>   with {"AccessKeyId","SecretAccessKey","Token","Expiration"}
for each entitlement named, as the AWS SDKs' container credentials provider expects. Every request
must carry the random token printed at start-up in its Authorization header (compared in constant
time); a missing or wrong token gets 401 {"Code","Message"}.

Credentials are fetched at start-up and refreshed in the background when they have MIN minutes left
(default: "minRemainingMinutes" in the config file, else 5), a little earlier at random, so no request
waits for the broker; a failed refresh is retried after 1 s, 2 s, 4 s ... (at most 5 minutes). Expired
credentials are never served: once they expire, a request waits for a new attempt and gets its error
(403 refused, 401 login expired, 503 otherwise) if it fails. --duration asks the broker for longer
ones (the entitlement caps it).

It prints, for you to give the application (the token is a secret: keep it out of logs):
  export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/creds/<entitlement>
  export AWS_CONTAINER_AUTHORIZATION_TOKEN=<token>
  --json   print {"port","token","uris":{"<entitlement>":"<uri>"}} as one line instead

--imds serves one entitlement as the EC2 instance metadata service (IMDSv2) does, for tools that
read only that: PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds: 1-21600; refused with
403 when it carries X-Forwarded-For) returns a session token that every GET must carry in
X-aws-ec2-metadata-token (401 otherwise); GET /latest/meta-data/iam/security-credentials/ lists the
entitlement as the role name, and .../security-credentials/<entitlement> returns
{"Code":"Success","LastUpdated","Type":"AWS-HMAC","AccessKeyId","SecretAccessKey","Token","Expiration"}.
Tokens are random and kept in memory only. It prints
  export AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT/
  --json   print {"port","endpoint","role"} as one line instead
It runs until interrupted (SIGINT or SIGTERM).`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      ...BROKER_FLAGS,
      port: { type: 'string' },
      'min-remaining': { type: 'string' },
      duration: { type: 'string' },
      json: { type: 'boolean' },
      imds: { type: 'boolean' },
    });
    if (values.help) return help(context, this.help);
    if (positionals.length === 0) throw usageError('serve needs at least one entitlement');
    if (values.imds && positionals.length !== 1) throw usageError('serve --imds serves one entitlement (IMDS has one role)');
    const bad = positionals.find((entitlement) => !ENTITLEMENT_ID_PATTERN.test(entitlement));
    if (bad !== undefined) throw usageError(`"${bad}" is not an entitlement id (lower-case letters, digits and -)`);
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw usageError('--port takes a port number (0 for a random one)');
    const settings = resolveSettings(context, settingFlags(values));
    const brokerUrl = requireBrokerUrl(settings);
    const issuer = requireIssuer(settings);
    const durationSeconds = optionalDuration(values.duration);
    const log = (line: string) => context.stderr(`${line}\n`);

    const refreshers = new Map(
      positionals.map((entitlement) => [
        entitlement,
        startRefresher({
          minRemainingMs: settings.minRemainingMinutes * 60_000,
          timers: realTimers(context.now),
          log: (line) => log(`keyvend serve: ${entitlement}: ${line}`),
          fetch: async (minRemainingMs) =>
            (await obtainCredentials(context, { brokerUrl, issuer, entitlement, minRemainingMs, durationSeconds })).credentials,
        }),
      ]),
    );
    const held = (entitlement: string) => {
      const refresher = refreshers.get(entitlement);
      if (refresher === undefined) throw new Error(`no refresher for ${entitlement}`);
      return refresher.current();
    };
    // The first request should not wait for the broker (IMDS clients give up after a second).
    await Promise.all([...refreshers.values()].map((refresher) => refresher.ready));

    let close: () => Promise<void>;
    let listening: number;
    const [first, ...others] = positionals;
    if (values.imds) {
      const role = first ?? '';
      const endpoint = await startImdsEndpoint({ port, roleName: role, credentials: () => held(role), now: context.now, log });
      close = endpoint.close;
      listening = endpoint.port;
      context.stdout(
        values.json
          ? `${JSON.stringify({ port: endpoint.port, endpoint: endpoint.url, role })}\n`
          : `export AWS_EC2_METADATA_SERVICE_ENDPOINT=${singleQuote(endpoint.url)}\n`,
      );
    } else {
      const endpoint = await startContainerEndpoint({
        port,
        entitlements: positionals,
        log,
        credentialsFor: async (entitlement) => (await held(entitlement)).credentials,
      });
      close = endpoint.close;
      listening = endpoint.port;
      if (values.json) {
        const uris = Object.fromEntries(positionals.map((entitlement) => [entitlement, endpoint.uriFor(entitlement)]));
        context.stdout(`${JSON.stringify({ port: endpoint.port, token: endpoint.token, uris })}\n`);
      } else {
        context.stdout(`export AWS_CONTAINER_CREDENTIALS_FULL_URI=${singleQuote(endpoint.uriFor(first ?? ''))}\n`);
        context.stdout(`export AWS_CONTAINER_AUTHORIZATION_TOKEN=${singleQuote(endpoint.token)}\n`);
        for (const entitlement of others)
          context.stdout(`# for ${entitlement}: AWS_CONTAINER_CREDENTIALS_FULL_URI=${endpoint.uriFor(entitlement)}\n`);
      }
    }
    context.stderr(`keyvend serve: listening on 127.0.0.1:${listening}; Ctrl+C stops it.\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    for (const refresher of refreshers.values()) refresher.stop();
    await close();
    return EXIT.ok;
  },
};
