import { processContext, runCli } from './main.ts';

// The `keyvend` executable (built to dist/keyvend.mjs). Setting exitCode (not calling exit) lets stdout drain when
// it is a pipe.
process.exitCode = await runCli(process.argv.slice(2), processContext());
