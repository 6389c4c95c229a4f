#!/usr/bin/env node
// The `keyvend` command. It runs the TypeScript sources through tsx's loader (already used for every
// tool of this repository), so a fresh clone works after `npm install` with no build step and can never
// run a stale build; see docs/cli.md ("Why tsx and not a bundle"). The loader is scoped to this import
// and pinned to the repository's tsconfig.json, so the tsconfig of whatever directory the AWS CLI runs
// `credential_process` in has no say.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

const loader = register({ namespace: 'keyvend-cli', tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
const { processContext, runCli } = await loader.import('../src/cli/main.ts', import.meta.url);
// Setting exitCode (not calling exit) lets stdout drain when it is a pipe.
process.exitCode = await runCli(process.argv.slice(2), processContext());
