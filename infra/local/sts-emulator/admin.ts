/**
 * Unsigned admin routes for tests in other processes, served on the STS port to loopback clients only:
 *   GET  /_emulator/health                 {"status":"ok",…}
 *   GET  /_emulator/sessions               IssuedSession[]
 *   GET  /_emulator/sessions/<accessKeyId> IssuedSession | 404
 *   GET  /_emulator/calls                  StsCallRecord[]
 *   GET  /_emulator/faults                 pending faults
 *   POST /_emulator/faults                 body as injectFault() → 201
 *   POST /_emulator/reset                  → 204
 *   GET  /_emulator/signin-events          SigninEvent[] (federation endpoint; no tokens)
 *   POST /_emulator/authorize              {accessKeyId, action, resource} → {decision, …}: may this session do it now?
 *                                          (session-authorization.ts: role, attached managed and session policies)
 * No route returns secret keys or session tokens (the store does not expose them).
 */
import type { ServerResponse } from 'node:http';
import type { EmulatorRequest } from './protocol/http-request.ts';
import { authorizeSession } from './session-authorization.ts';
import type { EmulatorState } from './state.ts';
import type { FaultSpec } from './types.ts';

export const ADMIN_PREFIX = '/_emulator';

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export async function handleAdmin(req: EmulatorRequest, res: ServerResponse, state: EmulatorState): Promise<void> {
  if (!isLoopback(req.remoteAddress)) {
    json(res, 403, { error: 'Forbidden', message: 'admin routes are served to loopback clients only' });
    return;
  }
  const route = req.rawPath.slice(ADMIN_PREFIX.length).replace(/\/+$/, '');
  const method = req.method;
  const notAllowed = () => json(res, 405, { error: 'MethodNotAllowed' });

  if (route === '/health') {
    if (method !== 'GET') return notAllowed();
    return json(res, 200, {
      status: 'ok',
      accountId: state.accountId,
      sessions: state.store.list().length,
      calls: state.calls().length,
    });
  }
  if (route === '/sessions') {
    if (method !== 'GET') return notAllowed();
    return json(res, 200, state.store.list());
  }
  if (route.startsWith('/sessions/')) {
    if (method !== 'GET') return notAllowed();
    const session = state.store.get(decodeURIComponent(route.slice('/sessions/'.length)));
    return session ? json(res, 200, session) : json(res, 404, { error: 'NotFound', message: 'no such session' });
  }
  if (route === '/calls') {
    if (method !== 'GET') return notAllowed();
    return json(res, 200, state.calls());
  }
  if (route === '/signin-events') {
    if (method !== 'GET') return notAllowed();
    return json(res, 200, state.federation.events());
  }
  if (route === '/authorize') {
    if (method !== 'POST') return notAllowed();
    let question: unknown;
    try {
      question = JSON.parse(req.body.toString('utf8'));
    } catch {
      return json(res, 400, { error: 'BadRequest', message: 'body must be JSON' });
    }
    const q = question as Record<string, unknown> | null;
    if (typeof q?.['accessKeyId'] !== 'string' || typeof q['action'] !== 'string' || typeof q['resource'] !== 'string') {
      return json(res, 400, { error: 'BadRequest', message: 'body must be {accessKeyId, action, resource}' });
    }
    return json(res, 200, await authorizeSession(state, { accessKeyId: q['accessKeyId'], action: q['action'], resource: q['resource'] }));
  }
  if (route === '/policies') {
    if (method !== 'GET') return notAllowed();
    return json(res, 200, state.managedPolicies.list());
  }
  if (route === '/reset') {
    if (method !== 'POST') return notAllowed();
    state.reset();
    return json(res, 204, undefined);
  }
  if (route === '/faults') {
    if (method === 'GET') return json(res, 200, state.faults.list());
    if (method !== 'POST') return notAllowed();
    let spec: unknown;
    try {
      spec = JSON.parse(req.body.toString('utf8'));
    } catch {
      return json(res, 400, { error: 'BadRequest', message: 'body must be JSON' });
    }
    try {
      state.faults.add(spec as FaultSpec);
    } catch (e) {
      return json(res, 400, { error: 'BadRequest', message: (e as Error).message });
    }
    return json(res, 201, { ok: true, pending: state.faults.list() });
  }
  return json(res, 404, { error: 'NotFound' });
}
