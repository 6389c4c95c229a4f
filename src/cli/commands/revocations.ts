import { BROKER_FLAGS, parse, settingFlags } from '../args.ts';
import { brokerClient, type RevokeAnswer } from '../broker-client.ts';
import { help, type Command } from '../command.ts';
import { EXIT, usageError } from '../errors.ts';
import { currentAccessToken } from '../login-store.ts';
import { requireBrokerUrl, requireIssuer, resolveSettings } from '../settings.ts';
import { table } from './ls.ts';

const ADMIN_FLAGS = { ...BROKER_FLAGS, reason: { type: 'string' }, json: { type: 'boolean' } } as const;

async function adminClient(context: Parameters<Command['run']>[1], values: Record<string, unknown>) {
  const settings = resolveSettings(context, settingFlags(values));
  const brokerUrl = requireBrokerUrl(settings);
  const { accessToken } = await currentAccessToken(context, requireIssuer(settings));
  return brokerClient(brokerUrl, accessToken);
}

function requireReason(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw usageError('--reason "..." is required: it goes to the audit trail');
  return value;
}

function targetText(target: RevokeAnswer['revocation']['target']): string {
  switch (target.kind) {
    case 'person':
      return `person ${target.issuerId ?? ''}/${target.subject ?? ''}`;
    case 'grant':
      return `grant ${target.grantId ?? ''} (${target.issuerId ?? ''}/${target.subject ?? ''}, ${target.entitlementId ?? ''})`;
    case 'entitlement':
      return `entitlement ${target.entitlementId ?? ''}`;
  }
}

function liveSessionsText(answer: RevokeAnswer): string {
  const { mode, accounts, cutoff } = answer.liveSessions;
  return mode === 'role-wide-cutoff'
    ? `live sessions: role-wide cutoff, every Keyvend session issued before ${cutoff ?? '?'} is denied (${accounts.join(', ')})`
    : `live sessions: denied in ${accounts.length === 0 ? 'no member account (none configured)' : accounts.join(', ')}`;
}

export const revoke: Command = {
  name: 'revoke',
  summary: 'admin: revoke a person, one grant or an entitlement (next request refused, live sessions denied)',
  help: `Usage: keyvend revoke person <issuer id> <subject> --reason TEXT [--json]
       keyvend revoke grant <grant id> --reason TEXT [--json]
       keyvend revoke entitlement <entitlement> --reason TEXT [--json]

Admins only (KEYVEND_ADMINS). The next request of the person (or for the entitlement) is refused, and sessions
already issued are denied by AWS through each member account's keyvend-revocations policy. A grant id is the
grantId of a credentials or console answer (one session). Audited. docs/revocation.md.
  --reason TEXT   why (one line, required; it goes to the audit trail)
  --json          print the broker's answer`,
  async run(args, context) {
    const { values, positionals } = parse(args, ADMIN_FLAGS);
    if (values.help) return help(context, this.help);
    const reason = requireReason(values.reason);
    const [kind, ...rest] = positionals;
    let body: Record<string, string>;
    if (kind === 'person' && rest.length === 2) body = { kind, issuer: rest[0] ?? '', subject: rest[1] ?? '', reason };
    else if (kind === 'grant' && rest.length === 1) body = { kind, grantId: rest[0] ?? '', reason };
    else if (kind === 'entitlement' && rest.length === 1) body = { kind, entitlement: rest[0] ?? '', reason };
    else throw usageError('revoke person <issuer id> <subject> | grant <grant id> | entitlement <entitlement>');
    const answer = await (await adminClient(context, values)).revoke(body);
    if (values.json) {
      context.stdout(`${JSON.stringify(answer)}\n`);
      return EXIT.ok;
    }
    const verb = answer.created === false ? 'Already revoked' : 'Revoked';
    context.stdout(`${verb}: ${targetText(answer.revocation.target)} (revocation ${answer.revocation.id}); ${liveSessionsText(answer)}\n`);
    return EXIT.ok;
  },
};

export const unrevoke: Command = {
  name: 'unrevoke',
  summary: 'admin: lift a revocation by its id',
  help: `Usage: keyvend unrevoke <revocation id> --reason TEXT [--json]

Admins only. The person or entitlement is served again from the next request, and the live-session deny is
removed. Audited. The ids are in \`keyvend revocations\`.
  --reason TEXT   why (one line, required)
  --json          print the broker's answer`,
  async run(args, context) {
    const { values, positionals } = parse(args, ADMIN_FLAGS);
    if (values.help) return help(context, this.help);
    const reason = requireReason(values.reason);
    if (positionals.length !== 1) throw usageError('unrevoke takes one revocation id');
    const answer = await (await adminClient(context, values)).unrevoke(positionals[0] ?? '', reason);
    if (values.json) {
      context.stdout(`${JSON.stringify(answer)}\n`);
      return EXIT.ok;
    }
    context.stdout(`Lifted: ${targetText(answer.revocation.target)} (revocation ${answer.revocation.id})\n`);
    return EXIT.ok;
  },
};

export const revocations: Command = {
  name: 'revocations',
  summary: 'admin: list the revocations in force',
  help: `Usage: keyvend revocations [--json]

Admins only. The revocations in force, newest first: id, target, when, by whom, why, and whether live sessions are
still denied (LIVE: yes until every session it could match has expired). Audited.
  --json   print the broker's answer: {"revocations":[...],"policyInSync":true}`,
  async run(args, context) {
    const { values, positionals } = parse(args, { ...BROKER_FLAGS, json: { type: 'boolean' } });
    if (values.help) return help(context, this.help);
    if (positionals.length > 0) throw usageError('revocations takes no arguments');
    const list = await (await adminClient(context, values)).revocations();
    if (values.json) {
      context.stdout(`${JSON.stringify(list)}\n`);
      return EXIT.ok;
    }
    if (!list.policyInSync) context.stderr('The member accounts do not hold the latest state yet (a rewrite failed or is running).\n');
    if (list.revocations.length === 0) {
      context.stderr('Nothing is revoked.\n');
      return EXIT.ok;
    }
    const rows = list.revocations.map((r) => [
      r.id,
      targetText(r.target),
      r.revokedAt,
      `${r.revokedBy.issuerId}/${r.revokedBy.subject}`,
      r.liveSessionDeny ? 'yes' : 'no',
      r.reason,
    ]);
    context.stdout(table([['ID', 'TARGET', 'REVOKED', 'BY', 'LIVE', 'REASON'], ...rows]));
    return EXIT.ok;
  },
};
