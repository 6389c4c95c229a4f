import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OneShotRedirect {
  /** `http://127.0.0.1:<port>/<random>`: safe to put in a process's arguments, it leads nowhere once used. */
  readonly url: string;
  /** True once the URL has been followed (and the server closed), false when the time ran out first. */
  readonly followed: Promise<boolean>;
  readonly close: () => void;
}

/**
 * A secret URL handed to a browser without putting it in the browser's arguments, which any local user can
 * read (`ps`, /proc/<pid>/cmdline): a server on 127.0.0.1 answers one GET of a random 256-bit path with a
 * 302 to the secret, then closes. Anything else gets a 404 and does not use up the redirect.
 */
export function oneShotRedirect(target: string, timeoutMs: number): Promise<OneShotRedirect> {
  const path = `/${randomBytes(32).toString('base64url')}`;
  return new Promise((resolveServer, rejectServer) => {
    let settle: (followed: boolean) => void = () => {};
    const followed = new Promise<boolean>((resolve) => {
      settle = resolve;
    });
    let used = false;
    const server = createServer((req, res) => {
      if (used || req.method !== 'GET' || req.url !== path) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end('Not found.\n');
        return;
      }
      used = true;
      res.writeHead(302, { location: target, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', connection: 'close' });
      res.end(() => close(true));
    });
    const timer = setTimeout(() => close(false), timeoutMs);
    timer.unref();
    function close(wasFollowed: boolean): void {
      clearTimeout(timer);
      server.close();
      server.closeAllConnections();
      settle(wasFollowed);
    }
    server.once('error', rejectServer);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolveServer({ url: `http://127.0.0.1:${port}${path}`, followed, close: () => close(false) });
    });
  });
}
