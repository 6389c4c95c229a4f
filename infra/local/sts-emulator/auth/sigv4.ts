/**
 * Server-side AWS Signature Version 4 verification (header and presigned-query forms), matching the canonicalisation
 * of the AWS SDK for JavaScript v3 (@smithy/signature-v4), botocore (boto3 / AWS CLI) and the AWS documentation.
 */
import { createHmac } from 'node:crypto';
import { stsErrors } from '../errors.ts';
import { headerValue, type EmulatorRequest } from '../protocol/http-request.ts';
import { amzDate, constantTimeEqual, parseAmzDate, sha256Hex } from '../util.ts';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
export const SIGNING_SERVICE = 'sts';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** Allowed difference between the request date and the server clock for header-signed requests. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_EXPIRES = 7 * 24 * 3600;

export interface ParsedSigV4 {
  location: 'header' | 'query';
  accessKeyId: string;
  /** YYYYMMDD from the credential scope. */
  scopeDate: string;
  region: string;
  service: string;
  credentialScope: string;
  signedHeaders: string[];
  signature: string;
  requestDate: Date;
  /** The timestamp as it enters the string to sign. */
  requestAmzDate: string;
  dateSource: string;
  securityToken: string | undefined;
  /** X-Amz-Expires of a presigned request. */
  expiresSeconds?: number;
}

const QUERY_AUTH_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'];

function rawQueryPairs(rawQuery: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const k = eq < 0 ? piece : piece.slice(0, eq);
    const v = eq < 0 ? '' : piece.slice(eq + 1);
    pairs.push([safeDecode(k), safeDecode(v)]);
  }
  return pairs;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** RFC 3986 encoding as SigV4 requires (unreserved characters kept, everything else %XX upper-case). */
export function sigv4Escape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Returns undefined when the request carries no SigV4 authentication at all (→ MissingAuthenticationToken).
 * Throws IncompleteSignature / SignatureDoesNotMatch for malformed authentication.
 */
/** `service` is the credential scope's service (`sts`, or `secretsmanager` for the local Secrets Manager). */
export function parseSigV4(req: EmulatorRequest, service: string = SIGNING_SERVICE): ParsedSigV4 | undefined {
  const authorization = headerValue(req, 'authorization');
  const query = new Map(rawQueryPairs(req.rawQuery));
  const hasQueryAuth = query.has('X-Amz-Algorithm') || query.has('X-Amz-Signature') || query.has('X-Amz-Credential');
  if (authorization !== undefined && hasQueryAuth) {
    throw stsErrors.incompleteSignature(
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    );
  }
  if (authorization !== undefined) return parseHeaderAuth(req, authorization, service);
  if (hasQueryAuth) return parseQueryAuth(req, query, service);
  return undefined;
}

function parseHeaderAuth(req: EmulatorRequest, authorization: string, service: string): ParsedSigV4 {
  const trimmed = authorization.trim();
  const space = trimmed.indexOf(' ');
  const algorithm = space < 0 ? trimmed : trimmed.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) {
    throw stsErrors.incompleteSignature(`Unsupported AWS 'algorithm': '${algorithm}'`);
  }
  const fields = new Map<string, string>();
  for (const part of (space < 0 ? '' : trimmed.slice(space + 1)).split(',')) {
    const p = part.trim();
    const eq = p.indexOf('=');
    if (eq > 0) fields.set(p.slice(0, eq), p.slice(eq + 1));
  }
  const amzDateHeader = headerValue(req, 'x-amz-date');
  const dateHeader = headerValue(req, 'date');
  const problems: string[] = [];
  if (!fields.get('Credential')) problems.push("Authorization header requires 'Credential' parameter.");
  if (!fields.get('Signature')) problems.push("Authorization header requires 'Signature' parameter.");
  if (!fields.get('SignedHeaders')) problems.push("Authorization header requires 'SignedHeaders' parameter.");
  if (amzDateHeader === undefined && dateHeader === undefined) {
    problems.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  if (problems.length > 0) throw stsErrors.incompleteSignature(problems.join(' '));

  let requestDate: Date | undefined;
  let dateSource: string;
  if (amzDateHeader !== undefined) {
    requestDate = parseAmzDate(amzDateHeader.trim());
    dateSource = 'x-amz-date';
    if (!requestDate) throw badDate(amzDateHeader);
  } else {
    const ms = Date.parse(dateHeader ?? '');
    dateSource = 'date';
    if (Number.isNaN(ms)) throw badDate(dateHeader ?? '');
    requestDate = new Date(ms);
  }
  return finishParse(
    {
      location: 'header',
      credential: fields.get('Credential') ?? '',
      signedHeaders: fields.get('SignedHeaders') ?? '',
      signature: fields.get('Signature') ?? '',
      requestDate,
      dateSource,
      securityToken: headerValue(req, 'x-amz-security-token'),
    },
    service,
  );
}

function parseQueryAuth(req: EmulatorRequest, query: Map<string, string>, service: string): ParsedSigV4 {
  const missing = QUERY_AUTH_PARAMS.filter((p) => !query.get(p));
  if (missing.length > 0) {
    throw stsErrors.incompleteSignature(
      `AWS query-string parameters must include ${QUERY_AUTH_PARAMS.map((p) => `'${p}'`).join(', ')}. Re-examine the query-string parameters.`,
    );
  }
  const algorithm = query.get('X-Amz-Algorithm') ?? '';
  if (algorithm !== SIGV4_ALGORITHM) throw stsErrors.incompleteSignature(`Unsupported AWS 'algorithm': '${algorithm}'`);
  const rawDate = query.get('X-Amz-Date') ?? '';
  const requestDate = parseAmzDate(rawDate);
  if (!requestDate) throw badDate(rawDate);
  let expiresSeconds: number | undefined;
  const rawExpires = query.get('X-Amz-Expires');
  if (rawExpires !== undefined) {
    expiresSeconds = /^\d+$/.test(rawExpires) ? Number(rawExpires) : Number.NaN;
    if (!Number.isInteger(expiresSeconds) || expiresSeconds < 1 || expiresSeconds > MAX_PRESIGN_EXPIRES) {
      throw stsErrors.incompleteSignature(
        `X-Amz-Expires must be an integer between 1 and ${MAX_PRESIGN_EXPIRES} seconds, got '${rawExpires}'.`,
      );
    }
  }
  const parsed = finishParse(
    {
      location: 'query',
      credential: query.get('X-Amz-Credential') ?? '',
      signedHeaders: query.get('X-Amz-SignedHeaders') ?? '',
      signature: query.get('X-Amz-Signature') ?? '',
      requestDate,
      dateSource: 'X-Amz-Date',
      securityToken: query.get('X-Amz-Security-Token') ?? headerValue(req, 'x-amz-security-token'),
    },
    service,
  );
  if (expiresSeconds !== undefined) parsed.expiresSeconds = expiresSeconds;
  return parsed;
}

function badDate(value: string) {
  return stsErrors.incompleteSignature(
    `Date must be in ISO-8601 'basic format'. Got '${value}'. See http://en.wikipedia.org/wiki/ISO_8601`,
  );
}

interface RawAuth {
  location: 'header' | 'query';
  credential: string;
  signedHeaders: string;
  signature: string;
  requestDate: Date;
  dateSource: string;
  securityToken: string | undefined;
}

function finishParse(raw: RawAuth, expectedService: string): ParsedSigV4 {
  const parts = raw.credential.split('/');
  if (parts.length !== 5) {
    throw stsErrors.incompleteSignature(
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${raw.credential}'`,
    );
  }
  const [accessKeyId = '', scopeDate = '', region = '', service = '', terminator = ''] = parts;
  const signedHeaders = raw.signedHeaders.split(';').map((h) => h.trim().toLowerCase());
  if (!signedHeaders.includes('host')) {
    throw stsErrors.incompleteSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (service !== expectedService) {
    throw stsErrors.signatureDoesNotMatch(`Credential should be scoped to correct service: '${expectedService}'. `);
  }
  if (terminator !== 'aws4_request') {
    throw stsErrors.signatureDoesNotMatch(`Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'. `);
  }
  if (!/^[a-z0-9-]+$/.test(region)) {
    throw stsErrors.signatureDoesNotMatch('Credential should be scoped to a valid region. ');
  }
  const requestAmzDate = amzDate(raw.requestDate);
  if (scopeDate !== requestAmzDate.slice(0, 8)) {
    throw stsErrors.signatureDoesNotMatch(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${requestAmzDate.slice(0, 8)}', from '${raw.dateSource}'.`,
    );
  }
  return {
    location: raw.location,
    accessKeyId,
    scopeDate,
    region,
    service,
    credentialScope: `${scopeDate}/${region}/${service}/aws4_request`,
    signedHeaders,
    signature: raw.signature.trim().toLowerCase(),
    requestDate: raw.requestDate,
    requestAmzDate,
    dateSource: raw.dateSource,
    securityToken: raw.securityToken,
  };
}

/** Rejects requests signed more than 15 minutes away from `now` (presigned: outside their validity window). */
export function checkRequestTime(parsed: ParsedSigV4, now: Date): void {
  const t = parsed.requestDate.getTime();
  const n = now.getTime();
  if (t > n + MAX_CLOCK_SKEW_MS) {
    throw stsErrors.signatureDoesNotMatch(
      `Signature not yet current: ${parsed.requestAmzDate} is still later than ${amzDate(new Date(n + MAX_CLOCK_SKEW_MS))} (${amzDate(now)} + 15 min.)`,
    );
  }
  if (parsed.location === 'query') {
    const expires = parsed.expiresSeconds ?? MAX_CLOCK_SKEW_MS / 1000;
    if (t + expires * 1000 < n) {
      throw stsErrors.signatureDoesNotMatch(
        `Signature expired: ${parsed.requestAmzDate} is now earlier than ${amzDate(new Date(n - expires * 1000))} (${amzDate(now)} - ${expires} sec.)`,
      );
    }
    return;
  }
  if (t < n - MAX_CLOCK_SKEW_MS) {
    throw stsErrors.signatureDoesNotMatch(
      `Signature expired: ${parsed.requestAmzDate} is now earlier than ${amzDate(new Date(n - MAX_CLOCK_SKEW_MS))} (${amzDate(now)} - 15 min.)`,
    );
  }
}

/** Canonical URI: each segment of the (already encoded) wire path is normalised and encoded again (non-S3 rule). */
function canonicalUri(rawPath: string): string {
  const out: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(sigv4Escape(segment));
  }
  const joined = `/${out.join('/')}`;
  return rawPath.endsWith('/') && joined !== '/' ? `${joined}/` : joined;
}

function canonicalQuery(rawQuery: string, location: 'header' | 'query'): string {
  return rawQueryPairs(rawQuery)
    .filter(([k]) => !(location === 'query' && k === 'X-Amz-Signature'))
    .map(([k, v]) => [sigv4Escape(k), sigv4Escape(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function canonicalHeaderValue(values: readonly string[] | undefined): string {
  return (values ?? [])
    .map((v) =>
      v
        .replace(/[\r\n]/g, ' ')
        .replace(/[ \t]+/g, ' ')
        .trim(),
    )
    .join(',');
}

export function canonicalRequest(req: EmulatorRequest, parsed: ParsedSigV4, payloadHash: string): string {
  const headers = parsed.signedHeaders.map((name) => `${name}:${canonicalHeaderValue(req.headers.get(name))}\n`).join('');
  return [
    req.method,
    canonicalUri(req.rawPath),
    canonicalQuery(req.rawQuery, parsed.location),
    headers,
    parsed.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
}

export function stringToSign(parsed: ParsedSigV4, canonical: string): string {
  return [SIGV4_ALGORITHM, parsed.requestAmzDate, parsed.credentialScope, sha256Hex(canonical)].join('\n');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

export function computeSignature(parsed: ParsedSigV4, secretAccessKey: string, canonical: string): string {
  const kDate = hmac(`AWS4${secretAccessKey}`, parsed.scopeDate);
  const kRegion = hmac(kDate, parsed.region);
  const kService = hmac(kRegion, parsed.service);
  const kSigning = hmac(kService, 'aws4_request');
  return createHmac('sha256', kSigning).update(stringToSign(parsed, canonical), 'utf8').digest('hex');
}

/**
 * Recomputes the signature and compares it in constant time. Header-signed requests always hash the body that
 * actually arrived (a body changed after signing, or a lying x-amz-content-sha256, cannot verify). Presigned requests
 * may also use UNSIGNED-PAYLOAD, which botocore's presigner does.
 */
export function verifySigV4(req: EmulatorRequest, parsed: ParsedSigV4, secretAccessKey: string): void {
  const bodyHash = sha256Hex(req.body);
  const candidates = parsed.location === 'query' ? [bodyHash, UNSIGNED_PAYLOAD] : [bodyHash];
  let ok = false;
  for (const payloadHash of candidates) {
    const expected = computeSignature(parsed, secretAccessKey, canonicalRequest(req, parsed, payloadHash));
    // Evaluate every candidate (no early exit) to keep timing independent of which one matched.
    ok = constantTimeEqual(expected, parsed.signature) || ok;
  }
  if (!ok) throw stsErrors.signatureDoesNotMatch();
}
