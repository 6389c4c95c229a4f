import { BROKER_FLAGS, exactlyOne, optionalDuration, parse, settingFlags } from '../args.ts';
import { help, type Command } from '../command.ts';
import { awsConfigFilePath, writeProfile } from '../aws-config-file.ts';
import { EXIT, usageError } from '../errors.ts';
import { quoteWordIfNeeded } from '../formats.ts';
import { cliPaths, readConfigFile, requireBrokerUrl, requireIssuer, resolveSettings } from '../settings.ts';
import { ENTITLEMENT_ID_PATTERN } from '../../domain/identifiers.ts';
import { isLoopbackHost } from '../../domain/transport.ts';

export const configure: Command = {
  name: 'configure',
  summary: 'write an AWS profile whose credential_process is keyvend',
  help: `Usage: keyvend configure <entitlement> --profile NAME [--region REGION] [--min-remaining MIN] [--duration SECONDS]

Writes (or updates) the section [profile NAME] ([default] for NAME=default) of the AWS config file
($AWS_CONFIG_FILE, else ~/.aws/config) so that the AWS CLI and SDKs get credentials from
  credential_process = <node> <absolute path of keyvend> credentials <entitlement> --broker-url URL --issuer URL
Only that section's credential_process (and region, when given) change: every other line, profile and
comment is kept as it was. A new file is created readable by you only (0600).
It ends with a command to try; when the config file sets "stsEndpointUrl" (a local stack's STS
emulator), that command sends the AWS CLI there with --endpoint-url.

  --profile NAME       the AWS profile to write (required)
  --region REGION      also set the profile's region (default: "region" in the config file, if any)
  --min-remaining MIN, --duration SECONDS   passed on to \`keyvend credentials\`
  --broker-url URL, --issuer URL            written into the profile (default: as for every command)`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      ...BROKER_FLAGS,
      profile: { type: 'string' },
      region: { type: 'string' },
      'min-remaining': { type: 'string' },
      duration: { type: 'string' },
    });
    if (values.help) return help(context, this.help);
    const entitlement = exactlyOne(positionals, 'entitlement');
    if (!ENTITLEMENT_ID_PATTERN.test(entitlement))
      throw usageError(`"${entitlement}" is not an entitlement id (lower-case letters, digits and -)`);
    if (values.profile === undefined) throw usageError('configure needs --profile NAME');
    const settings = resolveSettings(context, settingFlags(values));
    const duration = optionalDuration(values.duration);
    const command = [
      ...context.selfCommand,
      'credentials',
      entitlement,
      '--broker-url',
      requireBrokerUrl(settings),
      '--issuer',
      requireIssuer(settings),
      ...(values['min-remaining'] === undefined ? [] : ['--min-remaining', String(settings.minRemainingMinutes)]),
      ...(duration === undefined ? [] : ['--duration', String(duration)]),
    ];
    const path = awsConfigFilePath(context.env);
    // Not the environment's region: a profile outlives the shell it was written from.
    const region = values.region ?? readConfigFile(cliPaths(context.env).configFile).region;
    const update = writeProfile(path, values.profile, {
      credential_process: command.map(quoteWordIfNeeded).join(' '),
      region,
    });
    context.stderr(`${update.created ? 'Added' : 'Updated'} profile ${values.profile} in ${path}.\n`);
    if (update.conflicts.length > 0) {
      context.stderr(
        `warning: the profile also sets ${update.conflicts.join(', ')}, which the AWS tools use before credential_process; remove them.\n`,
      );
    }
    const endpoint = settings.stsEndpointUrl === undefined ? '' : ` --endpoint-url ${settings.stsEndpointUrl}`;
    context.stderr(`Try: aws sts get-caller-identity --profile ${values.profile}${endpoint}\n`);
    if (settings.stsEndpointUrl === undefined && isLoopbackHost(new URL(requireBrokerUrl(settings)).hostname)) {
      context.stderr(
        'Against a local stack, the AWS CLI must be sent to its STS emulator: add --endpoint-url with its URL (npm start prints it, http://127.0.0.1:4020 by default), or run `keyvend config set stsEndpointUrl URL` to have it in this line.\n',
      );
    }
    return EXIT.ok;
  },
};
