import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StsError } from './sts-emulator/errors.ts';

/**
 * What the local JSON 1.1 services (Secrets Manager, KMS) share: how a SigV4 failure of the STS emulator's verifier
 * is named by these services, the reply, and listening on loopback.
 */
const SIGNATURE_ERRORS: Readonly<Record<string, string>> = {
  SignatureDoesNotMatch: 'InvalidSignatureException',
  IncompleteSignature: 'IncompleteSignature',
  InvalidClientTokenId: 'UnrecognizedClientException',
  MissingAuthenticationToken: 'MissingAuthenticationTokenException',
  ExpiredToken: 'ExpiredTokenException',
};

export interface Json11Failure {
  readonly status: number;
  readonly type: string;
  readonly message: string;
}

/**
 * A thrown error as the service answers it: its own typed errors as they are, a SigV4 failure of the STS emulator's
 * verifier under the service's name (HTTP 400), anything else as the service's internal error (HTTP 500).
 */
export function json11Failure(
  error: unknown,
  isOwn: (e: unknown) => e is Json11Failure,
  internal: { type: string; message: string },
): Json11Failure {
  if (isOwn(error)) return { status: error.status, type: error.type, message: error.message };
  if (error instanceof StsError) return { status: 400, type: SIGNATURE_ERRORS[error.code] ?? error.code, message: error.message };
  return { status: 500, ...internal };
}

export function json11Reply(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Listens on loopback (or the given host) and returns the service's base URL. */
export async function listenLocal(server: Server, options: { port?: number | undefined; host?: string | undefined }): Promise<string> {
  server.keepAliveTimeout = 5000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
