import { isSecureTransport } from '../../domain/transport.ts';
import { withDeadline } from '../deadline/request-deadline.ts';
import { readAtMost } from '../shared/read-at-most.ts';

const withSignal = (signal: AbortSignal | undefined) => (signal === undefined ? {} : { signal });

/** Largest JWKS or discovery document we read: real ones are a few KiB; a huge one is an attack (J-11). */
export const MAX_DOCUMENT_BYTES = 64 * 1024;

export class UntrustedUrlError extends Error {
  override readonly name: string = 'UntrustedUrlError';
}

/** A document (or a token response) larger than MAX_DOCUMENT_BYTES: refused before it is all read. */
export class DocumentTooLargeError extends UntrustedUrlError {
  override readonly name: string = 'DocumentTooLargeError';
}

/**
 * HTTPS only. Plain HTTP is allowed solely to a loopback host and only when the broker runs in local
 * mode, for the dev identity provider. No other scheme (file:, data:) is ever fetched.
 */
export function assertFetchableUrl(raw: string, allowLoopbackHttp: boolean): URL {
  const url = new URL(raw);
  if (isSecureTransport(url, { allowLoopbackHttp })) return url;
  throw new UntrustedUrlError(`refusing to fetch ${url.protocol}//${url.host}: https is required`);
}

export type BoundedFetch = ReturnType<typeof makeBoundedFetch>;

/**
 * A fetch for jose's `customFetch`, for discovery and for the portal's token endpoint (a form POST): refuses
 * untrusted URLs, never follows redirects, and stops reading at MAX_DOCUMENT_BYTES instead of buffering
 * whatever the server sends.
 */
export function makeBoundedFetch(allowLoopbackHttp: boolean) {
  return async function boundedFetch(
    url: string,
    options: { headers?: HeadersInit; signal?: AbortSignal; method?: 'GET' | 'POST'; redirect?: 'manual'; body?: URLSearchParams },
  ): Promise<Response> {
    assertFetchableUrl(url, allowLoopbackHttp);
    const response = await fetch(url, {
      method: options.method ?? 'GET',
      redirect: 'manual',
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.body === undefined ? {} : { body: options.body }),
      ...withSignal(withDeadline(options.signal)),
    });
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > MAX_DOCUMENT_BYTES) {
      await response.body?.cancel();
      throw new DocumentTooLargeError(`document at ${new URL(url).host} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
    }
    const bytes = await readAtMost(response.body, MAX_DOCUMENT_BYTES);
    if (bytes === undefined) throw new DocumentTooLargeError(`document at ${new URL(url).host} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
    return new Response(new Uint8Array(bytes), { status: response.status, headers: response.headers });
  };
}
