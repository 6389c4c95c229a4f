import { BROKER_FLAGS, parse, settingFlags } from '../args.ts';
import { help, type Command } from '../command.ts';
import { EXIT, loginExpired, usageError } from '../errors.ts';
import { requireLogin } from '../login-store.ts';
import { unverifiedClaims } from '../oidc.ts';
import { requireIssuer, resolveSettings } from '../settings.ts';
import { table } from './ls.ts';

export const whoami: Command = {
  name: 'whoami',
  summary: 'show who the saved login is, and until when it lasts',
  help: `Usage: keyvend whoami [--issuer URL] [--json]

Prints the saved login for the issuer: issuer, subject, display name (from the token's name,
preferred_username or email claim: for display only, the broker decides on the subject and groups),
whether it is a person or a workload, and when its access token expires and whether keyvend can renew
it. It reads the login file only: it asks neither the identity provider nor the broker.

Exit codes: 0 logged in; 3 not logged in, or the access token has expired and cannot be renewed.
  --json   print {"issuer","subject","displayName","kind","clientId","accessTokenExpiresAt","renewable","loggedInAt"}`,
  async run(args, context) {
    const { values, positionals } = parse(args, { issuer: BROKER_FLAGS.issuer, json: { type: 'boolean' } });
    if (values.help) return help(context, this.help);
    if (positionals.length > 0) throw usageError('whoami takes no arguments');
    const issuer = requireIssuer(resolveSettings(context, settingFlags(values)));
    const record = requireLogin(context, issuer);
    const renewable = record.kind === 'workload' || record.refreshToken !== undefined;
    const remainingMs = record.accessTokenExpiresAt - context.now();
    if (remainingMs <= 0 && !renewable) throw loginExpired(issuer, 'the access token expired and there is no refresh token');
    const claims = unverifiedClaims(record.accessToken);
    const displayName =
      record.displayName ??
      [claims['preferred_username'], claims['name'], claims['email']].find(
        (value): value is string => typeof value === 'string' && value !== '',
      );
    const expiresAt = new Date(record.accessTokenExpiresAt).toISOString();
    if (values.json) {
      context.stdout(
        `${JSON.stringify({ issuer, subject: record.subject, displayName: displayName ?? null, kind: record.kind, clientId: record.clientId, accessTokenExpiresAt: expiresAt, renewable, loggedInAt: record.loggedInAt })}\n`,
      );
      return EXIT.ok;
    }
    const left = remainingMs > 0 ? `${formatDuration(remainingMs)} left` : 'expired';
    const renewal =
      record.kind === 'workload' ? 'renewed with the client secret' : renewable ? 'renewed with the refresh token' : 'log in again then';
    context.stdout(
      table([
        ['issuer', issuer],
        ['subject', record.subject],
        ...(displayName === undefined ? [] : [['name', displayName]]),
        ['kind', record.kind === 'workload' ? `workload (client ${record.clientId})` : `person (client ${record.clientId})`],
        ['logged in', record.loggedInAt],
        ['token', `expires ${expiresAt} (${left}); ${renewal}`],
      ]),
    );
    return EXIT.ok;
  },
};

function formatDuration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'less than a minute';
  if (minutes < 120) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
