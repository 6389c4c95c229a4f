import { BROKER_FLAGS, parse, settingFlags } from '../args.ts';
import { type AuditAnswer, brokerClient } from '../broker-client.ts';
import { help, type Command } from '../command.ts';
import { EXIT, usageError } from '../errors.ts';
import { currentAccessToken } from '../login-store.ts';
import { requireBrokerUrl, requireIssuer, resolveSettings } from '../settings.ts';
import { table } from './ls.ts';

type Json = Record<string, unknown>;
/** --all stops here: a runaway walk of the whole trail is a mistake, not a report. */
const MAX_PAGES = 1000;

export const audit: Command = {
  name: 'audit',
  summary: 'who got what: query the audit trail (admins)',
  help: `Usage: keyvend audit [--user <userKey> | --idp <id> --subject <subject>] [--entitlement <id>]
                     [--outcome granted|denied|minted_not_delivered|pending] [--from <time>] [--to <time>]
                     [--limit <n>] [--page-token <token> | --all] [--json]

Lists audit records, newest first: time, action, outcome (and reason), person, entitlement, session name and
AccessKeyId. --from and --to are ISO 8601 UTC (2026-11-29 or 2026-11-29T16:00:00Z); the default is the last 30 days.
Prints the next page token when there is one; --all fetches every page. Admins only (KEYVEND_ADMINS); every
query is itself audited.
  --json   print the broker's answer ({"records":[...],"nextPageToken"?}); with --all, all records in one answer`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      ...BROKER_FLAGS,
      json: { type: 'boolean' },
      user: { type: 'string' },
      idp: { type: 'string' },
      subject: { type: 'string' },
      entitlement: { type: 'string' },
      outcome: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      limit: { type: 'string' },
      'page-token': { type: 'string' },
      all: { type: 'boolean' },
    });
    if (values.help) return help(context, this.help);
    if (positionals.length > 0) throw usageError('audit takes no arguments');
    if (values.all && values['page-token'] !== undefined) throw usageError('--all and --page-token do not go together');
    const filters: Record<string, string> = {};
    for (const [flag, parameter] of [
      ['user', 'user'],
      ['idp', 'issuer'],
      ['subject', 'subject'],
      ['entitlement', 'entitlement'],
      ['outcome', 'outcome'],
      ['from', 'from'],
      ['to', 'to'],
      ['limit', 'limit'],
      ['page-token', 'pageToken'],
    ] as const) {
      const value = values[flag];
      if (value !== undefined) filters[parameter] = value;
    }
    const settings = resolveSettings(context, settingFlags(values));
    const brokerUrl = requireBrokerUrl(settings);
    const { accessToken } = await currentAccessToken(context, requireIssuer(settings));
    const client = brokerClient(brokerUrl, accessToken);
    let answer: AuditAnswer = await client.audit(filters);
    if (values.all) {
      const records = [...answer.records];
      for (let pages = 1; answer.nextPageToken !== undefined && pages < MAX_PAGES; pages++) {
        answer = await client.audit({ ...filters, pageToken: answer.nextPageToken });
        records.push(...answer.records);
      }
      answer = { records, ...(answer.nextPageToken === undefined ? {} : { nextPageToken: answer.nextPageToken }) };
    }
    if (values.json) {
      context.stdout(`${JSON.stringify(answer)}\n`);
      return EXIT.ok;
    }
    if (answer.records.length === 0) context.stderr('No audit records match.\n');
    else
      context.stdout(table([['TIME', 'ACTION', 'OUTCOME', 'PERSON', 'ENTITLEMENT', 'SESSION', 'ACCESS KEY'], ...answer.records.map(row)]));
    if (answer.nextPageToken !== undefined) context.stderr(`More: --page-token ${answer.nextPageToken}\n`);
    return EXIT.ok;
  },
};

const text = (value: unknown): string => (typeof value === 'string' || typeof value === 'number' ? String(value) : '');

function row(record: Json): string[] {
  const caller = (record['caller'] ?? {}) as Json;
  const entitlement = (record['entitlement'] ?? {}) as Json;
  const session = (record['session'] ?? {}) as Json;
  const outcome = text(record['outcome']) + (record['reason'] === undefined ? '' : ` (${text(record['reason'])})`);
  const person = caller['subject'] === undefined ? '-' : `${text(caller['issuerId'])}/${text(caller['subject'])}`;
  return [
    text(record['time']),
    text(record['action']),
    outcome,
    person,
    text(entitlement['id']),
    text(session['roleSessionName']),
    text(session['accessKeyId']),
  ];
}
