import { DeleteObjectCommand, HeadObjectCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_AWS_CREDENTIALS } from '../../infra/local/dynamodb.ts';
import { type LocalStack, LOCAL_TABLES, ROOT, startLocalStack } from '../../infra/local/stack.ts';
import { S3AuditArchive } from '../../src/adapters/s3/s3-audit-archive.ts';
import { batchKey } from '../../src/domain/audit-chain.ts';
import { verifyAudit } from '../../src/tools/audit-verify.ts';

/**
 * Issue 13 item 2, end to end on a stack of its own (the test tampers with the trail, which the shared stack's other
 * tests must not see): grants through the real handlers, the audit table's stream exported by the auditExport
 * function's exporter into the local S3 with Object Lock, `npm run audit:verify`, and three kinds of tampering.
 */
const STATE_FILE = join(ROOT, 'test-output/audit-trail-stack.json');
const FROM = '2020-01-01T00:00:00.000Z';
const TO = '2100-01-01T00:00:00.000Z';

let stack: LocalStack;
let exported: NonNullable<LocalStack['auditExport']>;
let s3: S3Client;

const verify = () =>
  verifyAudit(
    {
      documentClient: stack.documentClient,
      archive: new S3AuditArchive(s3, exported.bucket, 1),
      auditTable: LOCAL_TABLES.audit,
      exportHeadTable: exported.exportHeadTable,
    },
    { from: FROM, to: TO },
  );

async function grant(entitlement: string): Promise<{ status: number; grantId?: string }> {
  const token = await stack.idp?.tokenFor('alice');
  const response = await fetch(`${stack.apiUrl}/v1/credentials`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ entitlement }),
  });
  const body = (await response.json()) as { grantId?: string };
  return { status: response.status, ...(body.grantId === undefined ? {} : { grantId: body.grantId }) };
}

beforeAll(async () => {
  stack = await startLocalStack({ stateFile: STATE_FILE });
  if (stack.auditExport === undefined) throw new Error('the audit export needs DynamoDB Local (Java 17)');
  exported = stack.auditExport;
  s3 = new S3Client({ endpoint: exported.s3.url, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS, forcePathStyle: true });
});

afterAll(async () => {
  s3?.destroy();
  await stack?.close();
});

describe('the audit trail: append-only, exported hash-chained to S3 Object Lock, verified', () => {
  let grantId: string;

  it('exports every decision to the archive, each batch object locked in COMPLIANCE mode, and verify passes', async () => {
    // Prepare
    const first = await grant('photo-uploads');
    const second = await grant('photo-uploads');
    const refused = await grant('no-such-entitlement');
    expect([first.status, second.status, refused.status]).toEqual([200, 200, 403]);
    grantId = first.grantId ?? '';

    // Act
    await exported.drain();
    const result = await verify();

    // Assess
    expect(result).toMatchObject({ ok: true, problems: [] });
    expect(result.itemsChecked).toBeGreaterThanOrEqual(3);
    expect(result.batches).toBeGreaterThanOrEqual(1);
    const head = await s3.send(new HeadObjectCommand({ Bucket: exported.bucket, Key: batchKey(1) }));
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
    expect(head.ObjectLockRetainUntilDate?.getTime()).toBeGreaterThan(Date.now());
  });

  it('verifies from the command line too: npm run audit:verify -- --local', async () => {
    // Act: not spawnSync, since the local S3 answers from this very process
    const child = spawn(
      process.execPath,
      [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'src/tools/audit-bin.ts', 'verify', '--local', '--from', FROM],
      {
        cwd: ROOT,
        env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', KEYVEND_LOCAL_STATE: STATE_FILE },
      },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));

    // Assess
    expect(stdout).toMatch(/^audit verified: \d+ batch\(es\)/);
    expect(status).toBe(0);
  });

  it('refuses to delete a locked batch version; a plain delete only hides the key, and verify still reads the batch', async () => {
    // Prepare
    const { Versions } = await s3.send(new ListObjectVersionsCommand({ Bucket: exported.bucket, Prefix: batchKey(1) }));
    const versionId = Versions?.[0]?.VersionId;

    // Act
    const refusal = await s3
      .send(new DeleteObjectCommand({ Bucket: exported.bucket, Key: batchKey(1), VersionId: versionId }))
      .catch((e: unknown) => e);
    const marker = await s3.send(new DeleteObjectCommand({ Bucket: exported.bucket, Key: batchKey(1) }));

    // Assess
    expect(refusal).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    expect(marker.DeleteMarker).toBe(true);
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('fails verify when a record is altered in DynamoDB (as a break-glass principal could)', async () => {
    // Prepare: a direct client, past the broker, turns a grant into a denial
    await stack.documentClient.send(
      new UpdateCommand({
        TableName: LOCAL_TABLES.audit,
        Key: { eventId: grantId },
        UpdateExpression: 'SET outcome = :denied',
        ExpressionAttributeValues: { ':denied': 'denied' },
      }),
    );

    // Act
    const beforeExport = await verify();
    await exported.drain();
    const afterExport = await verify();

    // Assess: before the change is exported the item differs from its image; after, the change itself is in the chain
    expect(beforeExport.ok).toBe(false);
    expect(beforeExport.problems).toContain(`audit item ${grantId} differs from its exported image`);
    expect(afterExport.ok).toBe(false);
    expect(afterExport.problems).toContain(`audit item ${grantId} was changed after it was written`);
  });

  it('fails verify when a batch object disappears from the store behind S3 (a missing link in the chain)', async () => {
    // Prepare: more batches, then batch 1 vanishes from the backing store
    expect((await grant('photo-uploads')).status).toBe(200);
    await exported.drain();
    rmSync(exported.s3.keyFolder(exported.bucket, batchKey(1)), { recursive: true, force: true });

    // Act
    const result = await verify();

    // Assess
    expect(result.ok).toBe(false);
    expect(result.problems).toContain(`batch 1 (${batchKey(1)}) is missing`);
  });
});
