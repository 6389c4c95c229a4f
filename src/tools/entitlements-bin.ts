import { entitlementsCli } from './entitlements-cli.ts';

// The `keyvend-entitlements` executable (built to dist/keyvend-entitlements.mjs).
process.exitCode = await entitlementsCli(process.argv.slice(2));
