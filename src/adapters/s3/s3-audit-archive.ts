import { GetObjectCommand, ListObjectVersionsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { BATCH_PREFIX, type StoredBatch } from '../../domain/audit-chain.ts';
import type { AuditArchive } from '../../ports/index.ts';

/**
 * The export bucket: S3 with Object Lock. Each batch is written once (`If-None-Match: *`, so a racing writer gets 412
 * instead of a second version) in COMPLIANCE mode until its retain-until date, with its SHA-256 checksum (Object
 * Lock requires a content checksum). Nobody, the account root included, can delete or overwrite a locked version
 * before that date; a plain DELETE only adds a delete marker, so verify reads versions, not the latest key.
 */
export class S3AuditArchive implements AuditArchive {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly retentionDays: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async putBatch(key: string, bytes: Buffer): Promise<'written' | 'exists'> {
    const retainUntil = new Date(this.now().getTime() + this.retentionDays * 86_400_000);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes,
          ContentType: 'application/json',
          ChecksumSHA256: createHash('sha256').update(bytes).digest('base64'),
          IfNoneMatch: '*',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: retainUntil,
        }),
      );
      return 'written';
    } catch (error) {
      const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (name === 'PreconditionFailed' || $metadata?.httpStatusCode === 412) return 'exists';
      throw error;
    }
  }

  async getBatch(key: string, versionId?: string): Promise<Buffer | undefined> {
    try {
      const { Body } = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(versionId === undefined ? {} : { VersionId: versionId }) }),
      );
      return Body === undefined ? undefined : Buffer.from(await Body.transformToByteArray());
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  async listBatches(): Promise<StoredBatch[]> {
    const versions = new Map<string, { versionId: string; lastModified: number }[]>();
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectVersionsCommand({
          Bucket: this.bucket,
          Prefix: BATCH_PREFIX,
          ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
          ...(versionIdMarker === undefined ? {} : { VersionIdMarker: versionIdMarker }),
        }),
      );
      for (const version of page.Versions ?? []) {
        if (version.Key === undefined || version.VersionId === undefined) continue;
        const list = versions.get(version.Key) ?? [];
        list.push({ versionId: version.VersionId, lastModified: version.LastModified?.getTime() ?? 0 });
        versions.set(version.Key, list);
      }
      keyMarker = page.IsTruncated === true ? page.NextKeyMarker : undefined;
      versionIdMarker = page.IsTruncated === true ? page.NextVersionIdMarker : undefined;
    } while (keyMarker !== undefined);
    const batches: StoredBatch[] = [];
    for (const [key, list] of versions) {
      // The first version is the batch as exported; a later one could only be an overwrite (and is reported).
      // S3 lists a key's versions newest first: reversed, then a stable sort by time keeps that order on ties.
      const first = list.reverse().sort((a, b) => a.lastModified - b.lastModified)[0];
      const bytes = first === undefined ? undefined : await this.getBatch(key, first.versionId);
      if (bytes !== undefined) batches.push({ key, bytes, versions: list.length });
    }
    return batches;
  }
}
