import { BROKER_FLAGS, parse, settingFlags } from '../args.ts';
import { brokerClient } from '../broker-client.ts';
import { help, type Command } from '../command.ts';
import { EXIT, usageError } from '../errors.ts';
import { currentAccessToken } from '../login-store.ts';
import { requireBrokerUrl, requireIssuer, resolveSettings } from '../settings.ts';

export const ls: Command = {
  name: 'ls',
  summary: 'list the entitlements you may ask for',
  help: `Usage: keyvend ls [--json]

Lists your entitlements: id, outputs (credentials, console), longest duration, description.
  --json   print the broker's answer: {"entitlements":[{"id","description","roleArn","outputs","maxDurationSeconds"}]}`,
  async run(args, context) {
    const { values, positionals } = parse(args, { ...BROKER_FLAGS, json: { type: 'boolean' } });
    if (values.help) return help(context, this.help);
    if (positionals.length > 0) throw usageError('ls takes no arguments');
    const settings = resolveSettings(context, settingFlags(values));
    const brokerUrl = requireBrokerUrl(settings);
    const { accessToken } = await currentAccessToken(context, requireIssuer(settings));
    const list = await brokerClient(brokerUrl, accessToken).listEntitlements();
    if (values.json) {
      context.stdout(`${JSON.stringify(list)}\n`);
      return EXIT.ok;
    }
    if (list.entitlements.length === 0) {
      context.stderr('You have no entitlements.\n');
      return EXIT.ok;
    }
    const rows = list.entitlements.map((entry) => [
      entry.id,
      (entry.outputs ?? []).join(','),
      entry.maxDurationSeconds === undefined ? '' : `${Math.round(entry.maxDurationSeconds / 60)}m`,
      entry.description ?? '',
    ]);
    context.stdout(table([['ENTITLEMENT', 'OUTPUTS', 'MAX', 'DESCRIPTION'], ...rows]));
    return EXIT.ok;
  },
};

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  // Descriptions come from the broker: no control character reaches the terminal.
  const clean = rows.map((row) => row.map((cell) => cell.replace(/[\u0000-\u001f\u007f-\u009f]/gu, '?')));
  return `${clean
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}
