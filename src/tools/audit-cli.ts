import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parseArgs } from 'node:util';
import { S3AuditArchive } from '../adapters/s3/s3-audit-archive.ts';
import { verifyAudit } from './audit-verify.ts';
import { findLocalStack, localStackStatePath } from './local-stack-state.ts';

const USAGE = `Usage:
  npm run audit:verify -- [--from <time>] [--to <time>] [--local]

  Checks the audit export: every batch object in the archive bucket is present once and unaltered (each names the
  SHA-256 of the one before, the export head names the last), no audit item was changed or deleted after it was
  written, and every item of the audit table whose time is in [from, to) is in the export, unchanged.
          --from, --to  ISO 8601 times or dates (default: the last 30 days, to now)
          --local       the stack \`npm start\` runs (.local/stack.json, or $KEYVEND_LOCAL_STATE)
  Without --local: KEYVEND_AUDIT_TABLE, KEYVEND_AUDIT_EXPORT_HEAD_TABLE, KEYVEND_AUDIT_ARCHIVE_BUCKET, AWS_REGION
  and the usual AWS credentials (read-only: dynamodb:Scan, dynamodb:GetItem, s3:ListBucketVersions, s3:GetObjectVersion).
Exit codes: 0 verified, 1 problems found (listed), 2 usage error, 3 the stores could not be read.`;

interface Targets {
  region: string;
  auditTable: string;
  exportHeadTable: string;
  bucket: string;
  dynamoDbEndpoint?: string;
  s3Endpoint?: string;
}

function targetsOf(local: boolean, env: NodeJS.ProcessEnv): Targets | string {
  if (local) {
    const found = findLocalStack(localStackStatePath(env));
    if (!found.ok) return found.problem;
    const audit = found.state.audit;
    if (audit === undefined) return 'the local stack runs no audit export (it needs DynamoDB Local, with Java)';
    return {
      region: found.state.region,
      auditTable: found.state.tables.audit,
      exportHeadTable: audit.exportHeadTable,
      bucket: audit.bucket,
      dynamoDbEndpoint: found.state.dynamodbEndpoint,
      s3Endpoint: audit.s3Endpoint,
    };
  }
  const [auditTable, exportHeadTable, bucket] = [
    'KEYVEND_AUDIT_TABLE',
    'KEYVEND_AUDIT_EXPORT_HEAD_TABLE',
    'KEYVEND_AUDIT_ARCHIVE_BUCKET',
  ].map((n) => env[n]?.trim());
  if (!auditTable || !exportHeadTable || !bucket) {
    return 'set KEYVEND_AUDIT_TABLE, KEYVEND_AUDIT_EXPORT_HEAD_TABLE and KEYVEND_AUDIT_ARCHIVE_BUCKET (or use --local)';
  }
  return { region: env['AWS_REGION'] ?? 'us-east-1', auditTable, exportHeadTable, bucket };
}

const instant = (value: string, name: string): string => {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new Error(`${name} must be an ISO 8601 time or date, not ${value}`);
  return new Date(time).toISOString();
};

/** The `audit` tool: `verify` only. Writes its findings to stdout, and returns the exit code. */
export async function auditCli(argv: string[], env: NodeJS.ProcessEnv = process.env, now = new Date()): Promise<number> {
  let range: { from: string; to: string };
  let local: boolean;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { from: { type: 'string' }, to: { type: 'string' }, local: { type: 'boolean', default: false } },
    });
    if (positionals.length !== 1 || positionals[0] !== 'verify') throw new Error('the one command is verify');
    range = {
      from: values.from === undefined ? new Date(now.getTime() - 30 * 86_400_000).toISOString() : instant(values.from, '--from'),
      to: values.to === undefined ? now.toISOString() : instant(values.to, '--to'),
    };
    local = values.local;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const targets = targetsOf(local, env);
  if (typeof targets === 'string') {
    process.stderr.write(`audit verify: ${targets}\n`);
    return 3;
  }
  const credentials = local ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {};
  const dynamo = new DynamoDBClient({
    region: targets.region,
    ...credentials,
    ...(targets.dynamoDbEndpoint === undefined ? {} : { endpoint: targets.dynamoDbEndpoint }),
  });
  const s3 = new S3Client({
    region: targets.region,
    ...credentials,
    ...(targets.s3Endpoint === undefined ? {} : { endpoint: targets.s3Endpoint, forcePathStyle: true }),
  });
  try {
    const result = await verifyAudit(
      {
        documentClient: DynamoDBDocumentClient.from(dynamo),
        archive: new S3AuditArchive(s3, targets.bucket, 1),
        auditTable: targets.auditTable,
        exportHeadTable: targets.exportHeadTable,
      },
      range,
    );
    const summary = `${result.batches} batch(es), ${result.changes} exported change(s), ${result.itemsChecked} item(s) from ${range.from} to ${range.to}`;
    if (result.ok) {
      process.stdout.write(`audit verified: ${summary}\n`);
      return 0;
    }
    process.stdout.write(`audit verification FAILED: ${summary}\n${result.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  } catch (error) {
    process.stderr.write(`audit verify: could not read the stores: ${(error as Error).message}\n`);
    return 3;
  } finally {
    dynamo.destroy();
    s3.destroy();
  }
}
