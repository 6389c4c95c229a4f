/**
 * CLI: start the STS emulator from a config file.
 *
 *   tsx infra/local/sts-emulator/main.ts <config.(json|yaml)> [port] [--host 127.0.0.1] [--quiet]
 *   tsx infra/local/sts-emulator/main.ts --config <file> --port 4599
 *
 * Prints `STS emulator listening on <url>` (and `STS_ENDPOINT=<url>` for scripts), logs one secret-free line per
 * STS call unless --quiet, and stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { loadEmulatorConfig } from './config.ts';
import { startStsEmulator } from './server.ts';
import type { StsCallRecord } from './types.ts';

function usage(): never {
  process.stderr.write('usage: main.ts <config.json|config.yaml> [port] [--host HOST] [--quiet]\n');
  process.exit(2);
}

function logCall(c: StsCallRecord): void {
  const parts = [
    c.time,
    c.action || '-',
    c.outcome,
    c.errorCode ?? '',
    c.callerArn ?? c.callerAccessKeyId ?? '',
    c.roleArn ?? '',
    c.roleSessionName ?? '',
  ];
  process.stdout.write(`${parts.filter((p) => p !== '').join(' ')}\n`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) usage();
  const configPath = values.config ?? positionals[0];
  if (!configPath) usage();
  const rawPort = values.port ?? positionals[1];
  const config = await loadEmulatorConfig(configPath);
  const port = rawPort !== undefined ? Number(rawPort) : (config.port ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage();

  const emulator = await startStsEmulator({
    principals: config.principals,
    roles: config.roles,
    ...(config.oidcProviders !== undefined ? { oidcProviders: config.oidcProviders } : {}),
    ...(config.samlProviders !== undefined ? { samlProviders: config.samlProviders } : {}),
    ...(config.managedPolicies !== undefined ? { managedPolicies: config.managedPolicies } : {}),
    port,
    ...(config.accountId !== undefined ? { accountId: config.accountId } : {}),
    ...((values.host ?? config.host) !== undefined ? { host: values.host ?? config.host ?? '127.0.0.1' } : {}),
    ...(values.quiet ? {} : { onCall: logCall }),
  });
  process.stdout.write(`STS emulator listening on ${emulator.url}\nSTS_ENDPOINT=${emulator.url}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: stopping STS emulator\n`);
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  process.stderr.write(`sts-emulator: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
