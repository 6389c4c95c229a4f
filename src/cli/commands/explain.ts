import { BROKER_FLAGS, parse, settingFlags } from '../args.ts';
import { brokerClient } from '../broker-client.ts';
import { help, type Command } from '../command.ts';
import { EXIT, usageError } from '../errors.ts';
import { currentAccessToken } from '../login-store.ts';
import { requireBrokerUrl, requireIssuer, resolveSettings } from '../settings.ts';

type Json = Record<string, unknown>;

export const explain: Command = {
  name: 'explain',
  summary: 'what you would get for an entitlement, and why',
  help: `Usage: keyvend explain <entitlement> [--output credentials|console] [--json]
       keyvend explain <entitlement> --idp <id> --subject <subject> [--group <group>]...   (admins)

Says, without asking AWS for anything, exactly what a grant would give: which grant entitles you (your subject or
which group), the role, the vending path, the duration and what caps it, the session name, SourceIdentity, tags,
the session policy as it would be sent, and for keyvend-issuer the token's subject. When you are not entitled,
it says why. An admin names someone else with --idp (an identity provider's id), --subject and --group.
  --json   print the broker's answer as it is`,
  async run(args, context) {
    const { values, positionals } = parse(args, {
      ...BROKER_FLAGS,
      json: { type: 'boolean' },
      output: { type: 'string' },
      idp: { type: 'string' },
      subject: { type: 'string' },
      group: { type: 'string', multiple: true },
    });
    if (values.help) return help(context, this.help);
    const [entitlement, ...rest] = positionals;
    if (entitlement === undefined || rest.length > 0) throw usageError('explain takes one entitlement id');
    if ((values.idp === undefined) !== (values.subject === undefined)) throw usageError('--idp and --subject go together');
    if (values.group !== undefined && values.idp === undefined) throw usageError('--group needs --idp and --subject');
    const settings = resolveSettings(context, settingFlags(values));
    const brokerUrl = requireBrokerUrl(settings);
    const { accessToken } = await currentAccessToken(context, requireIssuer(settings));
    const answer = await brokerClient(brokerUrl, accessToken).explain({
      entitlement,
      ...(values.output === undefined ? {} : { output: values.output }),
      ...(values.idp === undefined || values.subject === undefined
        ? {}
        : { for: { issuer: values.idp, subject: values.subject, groups: values.group ?? [] } }),
    });
    if (values.json) {
      context.stdout(`${JSON.stringify(answer)}\n`);
      return EXIT.ok;
    }
    context.stdout(describe(answer));
    return answer['entitled'] === true ? EXIT.ok : EXIT.refused;
  },
};

const text = (value: unknown): string => (typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value));
// Values come from the broker: no control character reaches the terminal.
const clean = (value: string): string => value.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/gu, '?');
const grantOf = (match: unknown): string => {
  const m = (match ?? {}) as Json;
  return m['subject'] !== undefined ? `your subject (${text(m['subject'])})` : `group ${text(m['group'])}`;
};
const hours = (seconds: unknown): string => (typeof seconds === 'number' ? `${seconds} s (${+(seconds / 3600).toFixed(2)} h)` : '');

/** The explanation as a person reads it. */
export function describe(answer: Json): string {
  const principal = (answer['principal'] ?? {}) as Json;
  const who = `${text(principal['subject'])} (${text(principal['issuerId'])}, user key ${text(principal['userKey'])})`;
  const lines: string[] = [];
  if (answer['entitled'] !== true) {
    lines.push(`${who} is NOT entitled to ${text(answer['entitlement'])} (${text(answer['output'])}): ${text(answer['reason'])}`);
    lines.push(`  ${text(answer['why'])}`);
    const grantedBy = (answer['grantedBy'] ?? []) as unknown[];
    if (grantedBy.length > 0) lines.push(`  Granted by: ${grantedBy.map(grantOf).join(', ')}`);
    return `${clean(lines.join('\n'))}\n`;
  }
  const s = (answer['session'] ?? {}) as Json;
  const tags = ((s['tags'] ?? []) as Json[]).map((tag) => `${text(tag['Key'])}=${text(tag['Value'])}`);
  lines.push(`${who} is entitled to ${text(answer['entitlement'])} (${text(answer['output'])}): ${text(answer['description'])}`);
  lines.push(`  Granted by:      ${((answer['grantedBy'] ?? []) as unknown[]).map(grantOf).join(', ')}`);
  lines.push(`  Role:            ${text(s['roleArn'])}`);
  lines.push(`  Vending path:    ${text(s['vending'])}`);
  lines.push(
    `  Duration:        ${hours(s['durationSeconds'])} by default; at most ${hours(s['maxDurationSeconds'])}, set by ${text(s['maxDurationLimitedBy'])}`,
  );
  lines.push(
    `                   (entitlement maximum ${hours(s['entitlementMaxDurationSeconds'])}, vending path maximum ${hours(s['vendingPathMaxDurationSeconds'])})`,
  );
  lines.push(`  Session name:    ${text(s['roleSessionName'])}`);
  if (s['sourceIdentity'] !== undefined) lines.push(`  SourceIdentity:  ${text(s['sourceIdentity'])}`);
  if (s['tokenSubject'] !== undefined) lines.push(`  Token subject:   ${text(s['tokenSubject'])}`);
  lines.push(`  Tags:            ${tags.join(', ')}`);
  lines.push(`                   (keyvend:grant is each grant's own id, shown as ${text(answer['grantIdPlaceholder'])})`);
  if (((s['transitiveTagKeys'] ?? []) as unknown[]).length > 0)
    lines.push(`  Transitive tags: ${((s['transitiveTagKeys'] ?? []) as string[]).join(', ')}`);
  if (((s['managedPolicyArns'] ?? []) as unknown[]).length > 0)
    lines.push(`  Managed policies: ${((s['managedPolicyArns'] ?? []) as string[]).join(', ')}`);
  if (typeof s['sessionPolicy'] === 'string') {
    lines.push('  Session policy:');
    lines.push(
      JSON.stringify(JSON.parse(s['sessionPolicy']) as unknown, null, 2)
        .split('\n')
        .map((line) => `    ${line}`)
        .join('\n'),
    );
  }
  lines.push(`  ${text(answer['note'])}`);
  return `${clean(lines.join('\n'))}\n`;
}
