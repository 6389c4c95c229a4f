import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { BROKER_FLAGS, exactlyOne, optionalDuration, parse, settingFlags } from '../args.ts';
import { help, type Command } from '../command.ts';
import { obtainCredentials, type ObtainedCredentials } from '../credential-cache.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { credentialEnvironment, credentialProcessJson, shellExports } from '../formats.ts';
import { requireBrokerUrl, requireIssuer, resolveSettings, type CliContext } from '../settings.ts';
import { ENTITLEMENT_ID_PATTERN } from '../../domain/identifiers.ts';

const CREDENTIAL_FLAGS = {
  ...BROKER_FLAGS,
  'min-remaining': { type: 'string' },
  duration: { type: 'string' },
} as const;

const CREDENTIAL_FLAGS_HELP = `  --min-remaining MIN  use cached credentials only while they have more than MIN minutes left
                       (default: "minRemainingMinutes" in the config file, else 5)
  --duration SECONDS   ask the broker for this lifetime (900-43200; the entitlement may cap it)
  --broker-url URL     the broker (default: $KEYVEND_URL, else "brokerUrl" in the config file)
  --issuer URL         the login to use (default: $KEYVEND_ISSUER, else "issuer" in the config file)`;

/** env and exec also hand the AWS tools a region, so they do not ask for one. */
const REGION_FLAGS = { ...CREDENTIAL_FLAGS, region: { type: 'string' } } as const;

const REGION_FLAG_HELP = `  --region REGION      also set AWS_REGION and AWS_DEFAULT_REGION (default: $AWS_REGION, else
                       $AWS_DEFAULT_REGION, else "region" in the config file; none: not set)`;

/** Parses the flags shared by credentials, env and exec, and fetches (or reads from the cache). */
async function credentialsFor(
  context: CliContext,
  values: Record<string, unknown>,
  entitlement: string,
): Promise<ObtainedCredentials & { region: string | undefined }> {
  if (!ENTITLEMENT_ID_PATTERN.test(entitlement))
    throw usageError(`"${entitlement}" is not an entitlement id (lower-case letters, digits and -)`);
  const settings = resolveSettings(context, settingFlags(values));
  const minRemainingMs = settings.minRemainingMinutes * 60_000;
  const obtained = await obtainCredentials(context, {
    brokerUrl: requireBrokerUrl(settings),
    issuer: requireIssuer(settings),
    entitlement,
    minRemainingMs,
    durationSeconds: optionalDuration(values['duration']),
  });
  if (obtained.source === 'broker' && Date.parse(obtained.credentials.Expiration) - context.now() <= minRemainingMs) {
    context.stderr(
      `keyvend: warning: these credentials last less than ${settings.minRemainingMinutes} minutes, so the cache cannot serve them; lower --min-remaining or ask for a longer --duration\n`,
    );
  }
  return { ...obtained, region: settings.region };
}

/** The credential variables, and the region under both names the AWS tools read when there is one. */
function environmentFor(obtained: ObtainedCredentials & { region: string | undefined }): Record<string, string> {
  const region = obtained.region === undefined ? {} : { AWS_REGION: obtained.region, AWS_DEFAULT_REGION: obtained.region };
  return { ...credentialEnvironment(obtained.credentials), ...region };
}

export const credentials: Command = {
  name: 'credentials',
  summary: 'print credential_process JSON for an entitlement (cached)',
  help: `Usage: keyvend credentials <entitlement> [--min-remaining MIN] [--duration SECONDS]

Prints credential_process v1 JSON: {"Version":1,"AccessKeyId","SecretAccessKey","SessionToken","Expiration"}.
This is what \`keyvend configure\` puts behind credential_process in ~/.aws/config. Credentials come
from the cache while they have more than --min-remaining minutes left, else from the broker.

${CREDENTIAL_FLAGS_HELP}`,
  async run(args, context) {
    const { values, positionals } = parse(args, CREDENTIAL_FLAGS);
    if (values.help) return help(context, this.help);
    const obtained = await credentialsFor(context, values, exactlyOne(positionals, 'entitlement'));
    context.stdout(`${credentialProcessJson(obtained.credentials)}\n`);
    return EXIT.ok;
  },
};

export const env: Command = {
  name: 'env',
  summary: 'print shell exports of credentials for an entitlement',
  help: `Usage: keyvend env <entitlement> [--region REGION] [--min-remaining MIN] [--duration SECONDS]

Prints export lines for POSIX shells, each value single-quoted:
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_CREDENTIAL_EXPIRATION,
  and AWS_REGION and AWS_DEFAULT_REGION when a region is known (without one, a note on stderr)
Use it as:  eval "$(keyvend env <entitlement>)"

${REGION_FLAG_HELP}
${CREDENTIAL_FLAGS_HELP}`,
  async run(args, context) {
    const { values, positionals } = parse(args, REGION_FLAGS);
    if (values.help) return help(context, this.help);
    const obtained = await credentialsFor(context, values, exactlyOne(positionals, 'entitlement'));
    context.stdout(shellExports(environmentFor(obtained)));
    if (obtained.region === undefined) {
      context.stderr(
        'keyvend: note: no region exported; pass --region REGION or run `keyvend config set region REGION`, or the AWS tools will ask for one\n',
      );
    }
    return EXIT.ok;
  },
};

export const exec: Command = {
  name: 'exec',
  summary: 'run a command with credentials for an entitlement in its environment',
  help: `Usage: keyvend exec <entitlement> [--region REGION] [--min-remaining MIN] [--duration SECONDS] -- <command> [args...]

Runs the command with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
AWS_CREDENTIAL_EXPIRATION set, AWS_REGION and AWS_DEFAULT_REGION when a region is known (see
--region), and AWS_PROFILE unset, so no profile overrides them. keyvend exits with
the command's exit code; if the command dies of a signal, keyvend dies of the same signal. SIGTERM and
SIGHUP sent to keyvend are passed on to the command, and SIGINT too unless keyvend runs in a terminal
(where Ctrl+C already reaches the command). If keyvend itself fails before the
command starts, its own exit codes apply (see keyvend --help); 127 means the command was not found.

${REGION_FLAG_HELP}
${CREDENTIAL_FLAGS_HELP}`,
  async run(args, context) {
    const separator = args.indexOf('--');
    const own = separator === -1 ? args : args.slice(0, separator);
    const { values, positionals } = parse(own, REGION_FLAGS);
    if (values.help) return help(context, this.help);
    const command = separator === -1 ? [] : args.slice(separator + 1);
    const [program, ...programArgs] = command;
    if (program === undefined) throw usageError('exec needs a command after --');
    const obtained = await credentialsFor(context, values, exactlyOne(positionals, 'entitlement'));
    const childEnv: Record<string, string | undefined> = { ...context.env, ...environmentFor(obtained) };
    delete childEnv['AWS_PROFILE'];
    return runChild(program, programArgs, childEnv);
  },
};

function runChild(program: string, args: string[], env: Record<string, string | undefined>): Promise<number> {
  return new Promise((resolve, reject) => {
    // Ctrl+C in a terminal reaches the command directly (same process group): passing it on as well would
    // make it a double interrupt, which some tools (terraform) take as "abort now". keyvend just outlives it.
    const fromTerminal = process.stdin.isTTY === true;
    const forwarded: NodeJS.Signals[] = fromTerminal ? ['SIGTERM', 'SIGHUP'] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
    // Handlers go in before the command starts: it may print, and be signalled through keyvend, at once.
    const early: NodeJS.Signals[] = [];
    let child: ChildProcess | undefined;
    const forward = (signal: NodeJS.Signals) => (child ? child.kill(signal) : early.push(signal));
    const ignore = () => {};
    for (const signal of forwarded) process.on(signal, forward);
    if (fromTerminal) process.on('SIGINT', ignore);
    const cleanUp = () => {
      for (const signal of forwarded) process.off(signal, forward);
      process.off('SIGINT', ignore);
    };
    child = spawn(program, args, { stdio: 'inherit', env: env as NodeJS.ProcessEnv });
    for (const signal of early) child.kill(signal);
    child.once('error', (error: NodeJS.ErrnoException) => {
      cleanUp();
      if (error.code === 'ENOENT') reject(new CliError('command_not_found', `${program}: command not found`, 127));
      else if (error.code === 'EACCES') reject(new CliError('command_not_executable', `${program}: permission denied`, 126));
      else reject(error);
    });
    child.once('exit', (code, signal) => {
      cleanUp();
      if (signal !== null) {
        // Die of the same signal, so a shell or supervisor sees what really happened.
        process.kill(process.pid, signal);
        setTimeout(() => resolve(128 + (constants.signals[signal] ?? 0)), 1000).unref();
        return;
      }
      resolve(code ?? EXIT.failure);
    });
  });
}
