import type { IncomingMessage } from 'node:http';

/** A fully read HTTP request, in the shape the SigV4 verifier and the query parser need. */
export interface EmulatorRequest {
  method: string;
  /** Path as sent on the wire (still percent-encoded), e.g. `/`. */
  rawPath: string;
  /** Query string as sent on the wire, without `?`. */
  rawQuery: string;
  /** Lower-cased header name → each value in arrival order (from rawHeaders, so duplicates are kept apart). */
  headers: ReadonlyMap<string, readonly string[]>;
  body: Buffer;
  remoteAddress: string | undefined;
}

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`Request body exceeds ${limit} bytes`);
  }
}

export function headerValue(req: Pick<EmulatorRequest, 'headers'>, name: string): string | undefined {
  const values = req.headers.get(name.toLowerCase());
  return values === undefined ? undefined : values.join(',');
}

export function splitUrl(url: string): { rawPath: string; rawQuery: string } {
  const q = url.indexOf('?');
  return q < 0 ? { rawPath: url, rawQuery: '' } : { rawPath: url.slice(0, q), rawQuery: url.slice(q + 1) };
}

function collectHeaders(raw: string[]): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    const list = headers.get(name) ?? [];
    list.push(raw[i + 1] ?? '');
    headers.set(name, list);
  }
  return headers;
}

/** Reads the whole body, failing with BodyTooLargeError beyond `limit` bytes (checked before reading when possible). */
export async function readRequest(req: IncomingMessage, limit: number): Promise<EmulatorRequest> {
  const { rawPath, rawQuery } = splitUrl(req.url ?? '/');
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new BodyTooLargeError(limit);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > limit) {
      tooLarge = true;
      break;
    }
    chunks.push(buf);
  }
  if (tooLarge) {
    req.resume();
    throw new BodyTooLargeError(limit);
  }
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    rawPath,
    rawQuery,
    headers: collectHeaders(req.rawHeaders),
    body: Buffer.concat(chunks),
    remoteAddress: req.socket.remoteAddress,
  };
}
