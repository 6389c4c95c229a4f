#!/usr/bin/env node
// The `keyvend` command. It runs the TypeScript sources through tsx's loader (already used for every
// tool of this repository), so a fresh clone works after `npm install` with no build step and can never
// run a stale build; see docs/cli.md "Why tsx and not a bundle".
import { register } from 'tsx/esm/api';

register();
const { processContext, runCli } = await import('../src/cli/main.ts');
const code = await runCli(process.argv.slice(2), processContext());
// Let stdout drain (credential_process output can exceed a pipe buffer) before exiting with the code.
process.exitCode = code;
