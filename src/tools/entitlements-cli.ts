import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { applyEntitlements } from './dynamodb-entitlement-writer.ts';
import { checkEntitlementsFile } from './entitlements-file.ts';

const USAGE = `Usage:
  npm run entitlements -- validate <file.yaml>
  npm run entitlements -- apply <file.yaml> [--table NAME] [--endpoint URL] [--region REGION] [--prune]

validate  checks every entitlement and renders each session policy with the longest and strangest
          identifiers allowed; nothing is written. Prints a warning for each allowWholeRole or
          allowBroadStatements flag used.
apply     validates, then writes each entitlement: revoked grants, then the definition, then new grants.
          --table    defaults to $KEYVEND_ENTITLEMENTS_TABLE
          --endpoint defaults to $KEYVEND_DYNAMODB_ENDPOINT (DynamoDB Local); AWS otherwise
          --prune    also deletes entitlements that are in the table but not in the file
Exit codes: 0 ok, 1 the file is invalid, 2 usage error, 3 the write failed.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      table: { type: 'string' },
      endpoint: { type: 'string' },
      region: { type: 'string' },
      prune: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, file] = positionals;
  if (values.help || (command !== 'validate' && command !== 'apply') || file === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const check = checkEntitlementsFile(readFileSync(file, 'utf8'));
  if (!check.ok) {
    process.stderr.write(`${file}: ${check.problems.length} problem(s):\n${check.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  }
  for (const line of check.report) process.stdout.write(`ok  ${line}\n`);
  // Each breadth flag is a decision someone should see every time the file is checked, not only when written.
  for (const line of check.warnings) process.stderr.write(`warning  ${line}\n`);
  if (command === 'validate') return 0;

  const table = values.table ?? process.env['KEYVEND_ENTITLEMENTS_TABLE'];
  if (!table) {
    process.stderr.write('apply needs --table or KEYVEND_ENTITLEMENTS_TABLE\n');
    return 2;
  }
  const endpoint = values.endpoint ?? process.env['KEYVEND_DYNAMODB_ENDPOINT'];
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: values.region ?? process.env['AWS_REGION'] ?? 'us-east-1',
      ...(endpoint ? { endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  try {
    const summary = await applyEntitlements(client, table, check.entries, { prune: values.prune });
    process.stdout.write(
      `applied to ${table}: ${summary.written.length} written, ${summary.unchanged.length} unchanged, ` +
        `${summary.addedGrants} grant(s) added, ${summary.revokedGrants} revoked` +
        (values.prune ? `, ${summary.pruned.length} entitlement(s) pruned` : '') +
        '\n',
    );
    return 0;
  } catch (error) {
    process.stderr.write(`apply failed: ${(error as Error).name}: ${(error as Error).message}\n`);
    return 3;
  }
}

export { main as entitlementsCli };
