/**
 * The smallest faithful local S3 for the audit export (dev/test only): path-style `/<bucket>/<key>`, a versioned
 * bucket with Object Lock, kept in a folder (the backing store) so a test can remove an object behind S3's back.
 * What it honours, as S3 documents it:
 *
 * - PutObject: a new version per write; `If-None-Match: *` refuses (412 PreconditionFailed) a key that has a current
 *   version; on a bucket with Object Lock a content checksum (`Content-MD5` or `x-amz-checksum-sha256`) is required
 *   and checked, `x-amz-object-lock-mode` / `x-amz-object-lock-retain-until-date` lock the version (the bucket's
 *   default retention applies when they are absent).
 * - DeleteObject without a version id adds a delete marker (allowed under Object Lock); with a version id it
 *   deletes that version, refused with 403 AccessDenied while a COMPLIANCE lock holds it (no bypass exists).
 * - GetObject / HeadObject (the latest version, or `?versionId=`), with the lock headers; ListObjectVersions
 *   (`?versions&prefix=`, one page).
 *
 * Not emulated: SigV4 signatures are not verified (the local stack's clients sign with dummy keys), no
 * GOVERNANCE bypass, no legal holds, no pagination, no multipart uploads.
 *
 *   GET /_emulator/objects   [{ bucket, key, versionId, deleteMarker, lockMode, retainUntil }]  (loopback only)
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { listenLocal } from '../json-protocol.ts';
import { isLoopback } from '../sts-emulator/admin.ts';
import { headerValue, readRequest } from '../sts-emulator/protocol/http-request.ts';

export interface LocalBucket {
  readonly name: string;
  /** Object Lock with this default retention (COMPLIANCE), as the export bucket in serverless.yml. */
  readonly objectLock?: { readonly defaultRetentionDays: number };
}

export interface S3EmulatorOptions {
  readonly port?: number;
  /** The backing store: one folder per bucket and key, one pair of files per version. */
  readonly root: string;
  readonly buckets: readonly LocalBucket[];
  readonly now?: () => Date;
}

export interface S3Emulator {
  readonly url: string;
  readonly root: string;
  /** The folder holding every version of a key (a test removes it to lose an object behind S3's back). */
  keyFolder(bucket: string, key: string): string;
  close(): Promise<void>;
}

interface VersionMeta {
  readonly versionId: string;
  readonly serial: number;
  readonly lastModified: string;
  readonly deleteMarker: boolean;
  readonly etag?: string;
  readonly size?: number;
  readonly lockMode?: 'COMPLIANCE' | 'GOVERNANCE';
  readonly retainUntil?: string;
}

class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const BODY_LIMIT = 16 * 1024 * 1024;
const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export async function startS3Emulator(options: S3EmulatorOptions): Promise<S3Emulator> {
  const now = options.now ?? (() => new Date());
  const buckets = new Map(options.buckets.map((b) => [b.name, b]));
  for (const bucket of options.buckets) mkdirSync(join(options.root, bucket.name), { recursive: true });
  let serial = 0;
  const keyFolder = (bucket: string, key: string) => join(options.root, bucket, encodeURIComponent(key));

  const versionsOf = (bucket: string, key: string): VersionMeta[] => {
    let names: string[];
    try {
      names = readdirSync(keyFolder(bucket, key)).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    return names
      .map((n) => JSON.parse(readFileSync(join(keyFolder(bucket, key), n), 'utf8')) as VersionMeta)
      .sort((a, b) => b.serial - a.serial);
  };
  const keysOf = (bucket: string): string[] => {
    try {
      return readdirSync(join(options.root, bucket)).map((n) => decodeURIComponent(n));
    } catch {
      return [];
    }
  };
  const writeVersion = (bucket: string, key: string, meta: VersionMeta, body?: Buffer) => {
    mkdirSync(keyFolder(bucket, key), { recursive: true });
    if (body !== undefined) writeFileSync(join(keyFolder(bucket, key), `${meta.versionId}.body`), body);
    writeFileSync(join(keyFolder(bucket, key), `${meta.versionId}.json`), JSON.stringify(meta));
  };
  const newVersionId = () => {
    serial = Math.max(serial + 1, Date.now() * 1000);
    return { versionId: randomBytes(16).toString('base64url'), serial };
  };
  const lockHeaders = (meta: VersionMeta): Record<string, string> => ({
    'x-amz-version-id': meta.versionId,
    'last-modified': new Date(meta.lastModified).toUTCString(),
    ...(meta.etag === undefined ? {} : { etag: meta.etag }),
    ...(meta.lockMode === undefined ? {} : { 'x-amz-object-lock-mode': meta.lockMode }),
    ...(meta.retainUntil === undefined ? {} : { 'x-amz-object-lock-retain-until-date': meta.retainUntil }),
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const request = await readRequest(req, BODY_LIMIT);
    const query = new URLSearchParams(request.rawQuery);
    if (request.rawPath === '/_emulator/objects') {
      if (!isLoopback(request.remoteAddress)) throw new S3Error(403, 'AccessDenied', 'loopback only');
      const all = [...buckets.keys()].flatMap((bucket) =>
        keysOf(bucket).flatMap((key) => versionsOf(bucket, key).map((v) => ({ bucket, key, ...v }))),
      );
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(all));
      return;
    }
    const [, bucketName = '', ...keyParts] = request.rawPath.split('/');
    const bucket = buckets.get(decodeURIComponent(bucketName));
    if (bucket === undefined) throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist');
    const key = decodeURIComponent(keyParts.join('/'));

    if (key === '') {
      if (request.method === 'GET' && query.has('versions')) return listVersions(res, bucket.name, query.get('prefix') ?? '');
      if (request.method === 'GET' && query.has('object-lock')) return objectLockConfiguration(res, bucket);
      throw new S3Error(501, 'NotImplemented', `${request.method} on a bucket is not emulated`);
    }
    if (request.method === 'PUT') return put(res, bucket, key, request.body, (name) => headerValue(request, name));
    if (request.method === 'GET' || request.method === 'HEAD')
      return get(res, bucket.name, key, query.get('versionId'), request.method === 'HEAD');
    if (request.method === 'DELETE') return remove(res, bucket.name, key, query.get('versionId'));
    throw new S3Error(405, 'MethodNotAllowed', `${request.method} is not allowed`);
  };

  const put = (res: ServerResponse, bucket: LocalBucket, key: string, raw: Buffer, header: (name: string) => string | undefined) => {
    const body = header('content-encoding')?.includes('aws-chunked') ? decodeAwsChunked(raw) : raw;
    const current = versionsOf(bucket.name, key)[0];
    if (header('if-none-match') === '*' && current !== undefined && !current.deleteMarker) {
      throw new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
    }
    const md5 = header('content-md5');
    const sha256 = header('x-amz-checksum-sha256');
    if (md5 !== undefined && md5 !== createHash('md5').update(body).digest('base64'))
      throw new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match');
    if (sha256 !== undefined && sha256 !== createHash('sha256').update(body).digest('base64')) {
      throw new S3Error(400, 'BadDigest', 'The SHA256 you specified did not match the calculated checksum');
    }
    let lockMode = header('x-amz-object-lock-mode') as VersionMeta['lockMode'] | undefined;
    let retainUntil = header('x-amz-object-lock-retain-until-date');
    if ((lockMode === undefined) !== (retainUntil === undefined)) {
      throw new S3Error(400, 'InvalidArgument', 'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied');
    }
    if (lockMode !== undefined || bucket.objectLock !== undefined) {
      if (bucket.objectLock === undefined) throw new S3Error(400, 'InvalidRequest', 'Bucket is missing Object Lock Configuration');
      if (md5 === undefined && sha256 === undefined && header('x-amz-checksum-crc32') === undefined) {
        throw new S3Error(
          400,
          'InvalidRequest',
          'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters',
        );
      }
      if (lockMode === undefined) {
        lockMode = 'COMPLIANCE';
        retainUntil = new Date(now().getTime() + bucket.objectLock.defaultRetentionDays * 86_400_000).toISOString();
      }
      if (lockMode !== 'COMPLIANCE' && lockMode !== 'GOVERNANCE') throw new S3Error(400, 'InvalidArgument', 'Unknown wormMode directive');
      if (Number.isNaN(Date.parse(retainUntil ?? '')) || Date.parse(retainUntil ?? '') <= now().getTime()) {
        throw new S3Error(400, 'InvalidArgument', 'The retain until date must be in the future');
      }
    }
    const meta: VersionMeta = {
      ...newVersionId(),
      lastModified: now().toISOString(),
      deleteMarker: false,
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      size: body.length,
      ...(lockMode === undefined ? {} : { lockMode, retainUntil: new Date(retainUntil ?? '').toISOString() }),
    };
    writeVersion(bucket.name, key, meta, body);
    res.writeHead(200, lockHeaders(meta)).end();
  };

  const get = (res: ServerResponse, bucket: string, key: string, versionId: string | null, head: boolean) => {
    const versions = versionsOf(bucket, key);
    const meta = versionId === null ? versions[0] : versions.find((v) => v.versionId === versionId);
    if (meta === undefined || (versionId === null && meta.deleteMarker))
      throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.');
    if (meta.deleteMarker) throw new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    const body = readFileSync(join(keyFolder(bucket, key), `${meta.versionId}.body`));
    res.writeHead(200, { ...lockHeaders(meta), 'content-type': 'application/json', 'content-length': String(body.length) });
    res.end(head ? undefined : body);
  };

  const remove = (res: ServerResponse, bucket: string, key: string, versionId: string | null) => {
    if (versionId === null) {
      const marker: VersionMeta = { ...newVersionId(), lastModified: now().toISOString(), deleteMarker: true };
      writeVersion(bucket, key, marker);
      res.writeHead(204, { 'x-amz-delete-marker': 'true', 'x-amz-version-id': marker.versionId }).end();
      return;
    }
    const meta = versionsOf(bucket, key).find((v) => v.versionId === versionId);
    if (meta === undefined) {
      res.writeHead(204).end();
      return;
    }
    if (meta.lockMode !== undefined && Date.parse(meta.retainUntil ?? '') > now().getTime()) {
      throw new S3Error(403, 'AccessDenied', 'Access Denied because object protected by object lock.');
    }
    rmSync(join(keyFolder(bucket, key), `${meta.versionId}.json`), { force: true });
    rmSync(join(keyFolder(bucket, key), `${meta.versionId}.body`), { force: true });
    res.writeHead(204, { 'x-amz-version-id': meta.versionId }).end();
  };

  const listVersions = (res: ServerResponse, bucket: string, prefix: string) => {
    const entries = keysOf(bucket)
      .filter((key) => key.startsWith(prefix))
      .sort()
      .flatMap((key) =>
        versionsOf(bucket, key).map((v, index) => {
          const common = `<Key>${xmlEscape(key)}</Key><VersionId>${v.versionId}</VersionId><IsLatest>${index === 0}</IsLatest><LastModified>${v.lastModified}</LastModified>`;
          return v.deleteMarker
            ? `<DeleteMarker>${common}</DeleteMarker>`
            : `<Version>${common}<ETag>${xmlEscape(v.etag ?? '')}</ETag><Size>${v.size ?? 0}</Size><StorageClass>STANDARD</StorageClass></Version>`;
        }),
      );
    xml(
      res,
      200,
      `<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${entries.join('')}</ListVersionsResult>`,
    );
  };

  const objectLockConfiguration = (res: ServerResponse, bucket: LocalBucket) => {
    if (bucket.objectLock === undefined)
      throw new S3Error(404, 'ObjectLockConfigurationNotFoundError', 'Object Lock configuration does not exist for this bucket');
    xml(
      res,
      200,
      `<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>${bucket.objectLock.defaultRetentionDays}</Days></DefaultRetention></Rule></ObjectLockConfiguration>`,
    );
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const failure = error instanceof S3Error ? error : new S3Error(500, 'InternalError', 'We encountered an internal error.');
      if (req.method === 'HEAD') res.writeHead(failure.status).end();
      else xml(res, failure.status, `<Error><Code>${failure.code}</Code><Message>${xmlEscape(failure.message)}</Message></Error>`);
    });
  });
  const url = await listenLocal(server, { port: options.port });
  return {
    url,
    root: options.root,
    keyFolder,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function xml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
}

/** The `aws-chunked` content encoding the SDK uses for streamed bodies with trailing checksums: `<hex size>[;ext]\r\n<data>\r\n`… `0`. */
function decodeAwsChunked(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', offset);
    if (lineEnd < 0) throw new S3Error(400, 'IncompleteBody', 'aws-chunked body ends early');
    const size = Number.parseInt(raw.subarray(offset, lineEnd).toString('latin1').split(';')[0] ?? '', 16);
    if (!Number.isInteger(size) || size < 0) throw new S3Error(400, 'InvalidRequest', 'bad aws-chunked size');
    if (size === 0) return Buffer.concat(parts);
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
}
