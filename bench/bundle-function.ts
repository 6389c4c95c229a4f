import { bundleFunction, functionNames } from './bundle.ts';
import type { FunctionName } from './protocol.ts';

/**
 * `npx tsx bench/bundle-function.ts <function> <dir>`: one function bundled as `npm run bench` bundles it, for
 * `BENCH_AB_HANDLER` (README, "Benchmarks"). Prints the entry's path.
 */
const [name, dir] = process.argv.slice(2);
if (name === undefined || dir === undefined || !functionNames().includes(name as FunctionName)) {
  throw new Error(`usage: bench/bundle-function.ts <${functionNames().join('|')}> <dir>`);
}
console.log((await bundleFunction(name as FunctionName, dir)).path);
