import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from './command.ts';
import { config } from './commands/config.ts';
import { configure } from './commands/configure.ts';
import { consoleCommand } from './commands/console.ts';
import { credentials, env, exec } from './commands/credentials.ts';
import { login, logout } from './commands/login.ts';
import { ls } from './commands/ls.ts';
import { explain } from './commands/explain.ts';
import { audit } from './commands/audit.ts';
import { revocations, revoke, unrevoke } from './commands/revocations.ts';
import { serve } from './commands/serve.ts';
import { whoami } from './commands/whoami.ts';
import { describeFailure, EXIT } from './errors.ts';
import type { CliContext } from './settings.ts';

export const COMMANDS: readonly Command[] = [
  login,
  logout,
  whoami,
  ls,
  explain,
  credentials,
  env,
  exec,
  configure,
  serve,
  consoleCommand,
  audit,
  config,
  revoke,
  unrevoke,
  revocations,
];

/** Set by the build (build/build-cli.mjs); absent when the sources run directly (the tests). */
declare const __KEYVEND_VERSION__: string | undefined;

/**
 * The program that runs this CLI again, as `credential_process` must name it: node and the running executable, by
 * absolute path (the installed `keyvend`, whatever directory the AWS CLI runs it from).
 */
const selfCommand = (): readonly [string, string] => [process.execPath, realpathSync(process.argv[1] ?? '')];

const USAGE = `Usage: keyvend <command> [options]     (keyvend <command> --help for each command)

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(12)} ${command.summary}`).join('\n')}

Common options: --broker-url URL (or $KEYVEND_URL), --issuer URL (or $KEYVEND_ISSUER), --help. keyvend --version.
Defaults come from ~/.config/keyvend/config.json (see keyvend config --help and docs/cli.md).

Exit codes:
  0  success
  1  failure (unexpected answer, local error)
  2  usage error (bad flags or arguments, missing setting, invalid config file)
  3  not logged in, or the login expired or was refused: run \`keyvend login\`
  4  the broker refused the request (not_entitled, invalid_request, ...)
  5  the broker or the identity provider is unreachable, throttled or failing: retry later
  exec: the command's own exit code once it has started`;

/** Runs one invocation and resolves to its exit code; errors become one line on stderr. */
export async function runCli(argv: readonly string[], context: CliContext): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    context.stderr(`${USAGE}\n`);
    return EXIT.usage;
  }
  if (name === '--version' || name === '-V') {
    context.stdout(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((command) => command.name === args[0]) : undefined;
    context.stdout(`${topic?.help ?? USAGE}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) {
    context.stderr(`keyvend: usage: unknown command "${name}"\n${USAGE}\n`);
    return EXIT.usage;
  }
  try {
    return await command.run(args, context);
  } catch (error) {
    const failure = describeFailure(error);
    context.stderr(`${failure.line}\n`);
    if (failure.exitCode === EXIT.usage) context.stderr(`Run \`keyvend ${command.name} --help\` for usage.\n`);
    return failure.exitCode;
  }
}

export function processContext(): CliContext {
  return {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    selfCommand: selfCommand(),
    now: () => Date.now(),
  };
}

function packageVersion(): string {
  if (typeof __KEYVEND_VERSION__ === 'string') return `keyvend ${__KEYVEND_VERSION__}`;
  const manifest = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../package.json'), 'utf8')) as {
    version?: unknown;
  };
  return `keyvend ${String(manifest.version)}`;
}
