// Prints an access token for a demo user, obtained through the real authorization-code + PKCE
// flow against an already running dev IdP:  tsx infra/local/dev-idp/token.ts alice [--idp URL]
// It imports neither oidc-provider nor the server, so stdout carries the token and nothing else.
import { parseArgs } from 'node:util';

import { DEFAULT_DEV_IDP_URL } from './constants.ts';
import { DEMO_USERS, findDemoUserByUsername } from './demo-users.ts';
import { DevIdpError } from './errors.ts';
import { fetchAccessToken } from './fetch-access-token.ts';

const USAGE = `usage: token.ts <username> [--idp <issuer url>] [--client <client id>]
  demo users: ${DEMO_USERS.map((user) => user.username).join(', ')}
  --idp defaults to $KEYVEND_DEV_IDP_URL, else ${DEFAULT_DEV_IDP_URL}`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        idp: { type: 'string' },
        client: { type: 'string', default: 'keyvend-demo-app' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [username, ...extra] = positionals;
  if (values.help || username === undefined || extra.length > 0) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const user = findDemoUserByUsername(username);
  if (!user) {
    process.stderr.write(`token: no demo user "${username}"\n${USAGE}\n`);
    return 1;
  }
  const issuer = values.idp ?? (process.env['KEYVEND_DEV_IDP_URL'] || DEFAULT_DEV_IDP_URL);
  try {
    const token = await fetchAccessToken({ issuer, clientId: values.client, username, password: user.password });
    process.stdout.write(`${token}\n`);
    return 0;
  } catch (error) {
    const message = error instanceof DevIdpError ? `${error.code}: ${error.message}` : String(error);
    process.stderr.write(`token: ${message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
