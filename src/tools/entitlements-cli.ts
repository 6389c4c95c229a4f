import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parseArgs } from 'node:util';
import { applyEntitlements } from './dynamodb-entitlement-writer.ts';
import { checkEntitlementsFile } from './entitlements-file.ts';
import { ENTITLEMENTS_FILE_HINT, InputFileError, readInputFile } from './input-file.ts';
import { findLocalStack, localStackStatePath } from './local-stack-state.ts';

const USAGE = `Usage:
  npm run entitlements -- validate <file.yaml>
  npm run entitlements -- apply <file.yaml> [--table NAME] [--endpoint URL] [--region REGION] [--prune]
  npm run entitlements -- apply --local <file.yaml> [--prune]

validate  checks every entitlement and renders each session policy with the longest and strangest
          identifiers allowed; nothing is written. Prints a warning for each allowWholeRole or
          allowBroadStatements flag used.
apply     validates, then writes each entitlement: revoked grants, then the definition, then new grants.
          --table    defaults to $KEYVEND_ENTITLEMENTS_TABLE
          --endpoint defaults to $KEYVEND_DYNAMODB_ENDPOINT (DynamoDB Local); AWS otherwise
          --local    the stack \`npm start\` runs: its DynamoDB endpoint and table are read from
                     .local/stack.json (or $KEYVEND_LOCAL_STATE), which npm start writes
          --prune    also deletes entitlements that are in the table but not in the file
Example: npm run entitlements -- apply --local examples/my-entitlements.yaml
Exit codes: 0 ok, 1 the file is invalid, 2 usage error or no such file, 3 the write failed (or no local stack).`;

function parseCommandLine(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      table: { type: 'string' },
      endpoint: { type: 'string' },
      region: { type: 'string' },
      local: { type: 'boolean', default: false },
      prune: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, file] = positionals;
  if (values.help || (command !== 'validate' && command !== 'apply') || file === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (values.local && (command !== 'apply' || values.table !== undefined || values.endpoint !== undefined)) {
    process.stderr.write('--local is for apply, and finds the table and endpoint itself: drop --table and --endpoint\n');
    return 2;
  }
  let text: string;
  try {
    text = readInputFile(file, 'entitlements file', ENTITLEMENTS_FILE_HINT);
  } catch (error) {
    if (!(error instanceof InputFileError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const check = checkEntitlementsFile(text);
  if (!check.ok) {
    process.stderr.write(`${file}: ${check.problems.length} problem(s):\n${check.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  }
  for (const line of check.report) process.stdout.write(`ok  ${line}\n`);
  // Each breadth flag is a decision someone should see every time the file is checked, not only when written.
  for (const line of check.warnings) process.stderr.write(`warning  ${line}\n`);
  if (command === 'validate') return 0;

  let local: { table: string; endpoint: string; region: string } | undefined;
  if (values.local) {
    const found = findLocalStack(localStackStatePath());
    if (!found.ok) {
      process.stderr.write(`apply --local: ${found.problem}\n`);
      return 3;
    }
    local = { table: found.state.tables.entitlements, endpoint: found.state.dynamodbEndpoint, region: found.state.region };
  }
  const table = local?.table ?? values.table ?? process.env['KEYVEND_ENTITLEMENTS_TABLE'];
  if (!table) {
    process.stderr.write('apply needs --table or KEYVEND_ENTITLEMENTS_TABLE (or --local for the stack npm start runs)\n');
    return 2;
  }
  const endpoint = local?.endpoint ?? values.endpoint ?? process.env['KEYVEND_DYNAMODB_ENDPOINT'];
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: local?.region ?? values.region ?? process.env['AWS_REGION'] ?? 'us-east-1',
      ...(endpoint ? { endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  try {
    const summary = await applyEntitlements(client, table, check.entries, { prune: values.prune });
    process.stdout.write(
      `applied to ${table}${local === undefined ? '' : ` (the local stack, DynamoDB at ${local.endpoint})`}: ${summary.written.length} written, ${summary.unchanged.length} unchanged, ` +
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
