import { spawn } from 'node:child_process';

/**
 * Opens a URL with `$KEYVEND_BROWSER` (a program given the URL as its one argument), else the
 * platform's opener. The URL goes in an argument, never through a shell.
 */
export function browserOpener(env: Readonly<Record<string, string | undefined>>): (url: string) => Promise<boolean> {
  return (url) =>
    new Promise((resolve) => {
      const custom = env['KEYVEND_BROWSER'];
      const [command, args] = custom
        ? [custom, [url]]
        : process.platform === 'darwin'
          ? ['open', [url]]
          : process.platform === 'win32'
            ? ['rundll32', ['url.dll,FileProtocolHandler', url]]
            : ['xdg-open', [url]];
      try {
        const child = spawn(command, args, { stdio: 'ignore', detached: true, env: env as NodeJS.ProcessEnv });
        child.once('error', () => resolve(false));
        child.once('spawn', () => {
          child.unref();
          resolve(true);
        });
      } catch {
        resolve(false);
      }
    });
}
