import { auditCli } from './audit-cli.ts';

// `npm run audit:verify -- [--from] [--to] [--local]`.
process.exitCode = await auditCli(process.argv.slice(2));
