import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ACTIONS } from './actions/index.ts';
import { ADMIN_PREFIX, handleAdmin } from './admin.ts';
import { authenticate, type Caller } from './auth/authenticate.ts';
import { FEDERATION_PATH, handleFederation } from './federation.ts';
import { STS_API_VERSION, StsError, stsErrors } from './errors.ts';
import { BodyTooLargeError, headerValue, readRequest, splitUrl } from './protocol/http-request.ts';
import { QueryParams } from './protocol/query-params.ts';
import { errorXml, successXml } from './protocol/xml.ts';
import { EmulatorState } from './state.ts';
import type { StsCallRecord, StsEmulator, StsEmulatorOptions } from './types.ts';
import { isoSeconds } from './util.ts';
import { IAM_ACTIONS, IAM_API_VERSION, IAM_SIGNING_SERVICE, iamErrorXml, iamSuccessXml, runIamAction } from './iam.ts';

/** Larger bodies get 413 (STS requests are a few KiB at most). */
export const MAX_BODY_BYTES = 256 * 1024;

function send(res: ServerResponse, status: number, xml: string, requestId: string, now: Date, close = false): void {
  const headers: Record<string, string | number> = {
    'content-type': 'text/xml',
    'content-length': Buffer.byteLength(xml),
    'x-amzn-requestid': requestId,
    // The SDK corrects its clock from this header, so a test clock (`now`) is honoured by clients too.
    date: now.toUTCString(),
  };
  if (close) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(xml);
}

async function handleRequest(state: EmulatorState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  const { rawPath } = splitUrl(req.url ?? '/');
  const isAdmin = rawPath === ADMIN_PREFIX || rawPath.startsWith(`${ADMIN_PREFIX}/`);
  const record: StsCallRecord = { time: '', action: '', outcome: 'error', requestId, httpStatus: 0 };
  let now = state.now();
  let caller: Caller | undefined;
  let isIam = false;
  try {
    const request = await readRequest(req, MAX_BODY_BYTES);
    if (isAdmin) {
      await handleAdmin(request, res, state);
      return;
    }
    if (rawPath === FEDERATION_PATH) {
      handleFederation(request, res, state);
      return;
    }
    now = state.now();
    if (request.method !== 'GET' && request.method !== 'POST') throw stsErrors.methodNotAllowed(request.method);
    record.signed = headerValue(request, 'authorization') !== undefined || /(?:^|&)X-Amz-Signature=/.test(request.rawQuery);
    const params = QueryParams.fromRequest(request);
    record.action = params.get('Action') ?? '';
    const roleArn = params.get('RoleArn');
    const roleSessionName = params.get('RoleSessionName');
    if (roleArn !== undefined) record.roleArn = roleArn;
    if (roleSessionName !== undefined) record.roleSessionName = roleSessionName;

    const version = params.get('Version');
    if (version === IAM_API_VERSION && IAM_ACTIONS.has(record.action)) {
      isIam = true;
      caller = authenticate(request, state, IAM_SIGNING_SERVICE);
      record.callerAccessKeyId = caller.accessKeyId;
      record.callerArn = caller.arn;
      const result = runIamAction(record.action, { params, state, now, caller });
      send(res, 200, iamSuccessXml(record.action, result, requestId), requestId, now);
      record.outcome = 'ok';
      record.httpStatus = 200;
      record.time = isoSeconds(now);
      state.record(record);
      return;
    }
    const handler = ACTIONS.get(record.action);
    if (!handler || version !== STS_API_VERSION) throw stsErrors.invalidAction(record.action, version);
    if (handler.auth === 'sigv4') {
      caller = authenticate(request, state);
      record.callerAccessKeyId = caller.accessKeyId;
      record.callerArn = caller.arn;
    }
    const fault = state.faults.take(handler.name);
    if (fault) throw fault;
    const result = await handler.handle({ params, state, now, requestId, ...(caller ? { caller } : {}) });
    send(res, 200, successXml(handler.name, result, requestId), requestId, now);
    record.outcome = 'ok';
    record.httpStatus = 200;
  } catch (e) {
    let error: StsError;
    if (e instanceof StsError) error = e;
    else if (e instanceof BodyTooLargeError) error = stsErrors.requestTooLarge(e.limit);
    else {
      // Only the error's own message: never request data, which may hold credentials.
      process.stderr.write(`sts-emulator: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
      error = stsErrors.internalFailure();
    }
    if (isAdmin) {
      res.writeHead(error.httpStatus, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ error: error.code, message: error.message }));
      return;
    }
    send(
      res,
      error.httpStatus,
      isIam ? iamErrorXml(error, requestId) : errorXml(error, requestId),
      requestId,
      now,
      error.httpStatus === 413,
    );
    record.errorCode = error.code;
    record.httpStatus = error.httpStatus;
  }
  record.time = isoSeconds(now);
  if (!record.callerAccessKeyId && caller) record.callerAccessKeyId = caller.accessKeyId;
  state.record(record);
}

export async function startStsEmulator(opts: StsEmulatorOptions): Promise<StsEmulator> {
  const state = new EmulatorState(opts);
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    handleRequest(state, req, res).catch(() => {
      if (!res.headersSent) res.destroy();
    });
  });
  // Keep-alive sockets from SDK clients would otherwise hold close() open.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
    sessions: () => state.store.list(),
    calls: () => state.calls(),
    reset: () => state.reset(),
    injectFault: (f) => state.faults.add(f),
  };
}
