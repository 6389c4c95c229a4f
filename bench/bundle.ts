import { type BuildOptions, build } from 'esbuild';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { CFN_TAGS } from '../infra/local/dynamodb.ts';
import { ROOT } from '../infra/local/stack.ts';
import type { FunctionName } from './protocol.ts';

/** serverless-esbuild's own settings, which it removes before handing the rest to esbuild. */
const PLUGIN_ONLY_OPTIONS = new Set([
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
  'plugins',
]);

interface ServerlessYml {
  functions: Record<string, { handler: string }>;
  custom: { esbuild: Record<string, unknown> & { exclude?: string[]; outputFileExtension?: string; plugins?: string } };
}

const serverlessYml = (): ServerlessYml =>
  JSON.parse(JSON.stringify(parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8'), { customTags: CFN_TAGS as never }))) as ServerlessYml;

export const functionNames = (): FunctionName[] => Object.keys(serverlessYml().functions) as FunctionName[];

export interface Bundle<N extends string = FunctionName> {
  readonly name: N;
  readonly path: string;
  /** The entry file alone. */
  readonly bytes: number;
  /** The entry and every chunk it imports statically: what Node loads before the handler runs (the 600 KiB aim). */
  readonly loadedBytes: number;
  /** Every file of the function's package: the entry and all its chunks, lazily loaded ones included. */
  readonly packageBytes: number;
  /** Bytes in the bundle per npm package (or per source folder), largest first, from esbuild's metafile. */
  readonly composition: readonly { readonly part: string; readonly bytes: number }[];
}

/** `node_modules/a/node_modules/b/x.js` counts for `a`, which is what brought it in; `src/app/x.ts` for `src/app`. */
const partOf = (input: string): string => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input.split('/').slice(0, 2).join('/');

/** `custom.esbuild.plugins`: a file exporting esbuild plugins, which serverless-esbuild `require`s from the service folder. */
const esbuildPlugins = (file: string | undefined): NonNullable<BuildOptions['plugins']> =>
  file === undefined ? [] : (createRequire(join(ROOT, 'package.json'))(join(ROOT, file)) as NonNullable<BuildOptions['plugins']>);

/**
 * Bundles one function the way serverless-esbuild does for `serverless package`: the `custom.esbuild` block of
 * serverless.yml without the plugin's own keys, its esbuild plugins file, `exclude` as esbuild externals, and
 * its output extension.
 */
export async function bundleFunction(name: FunctionName, outdir: string): Promise<Bundle> {
  const handler = serverlessYml().functions[name]?.handler;
  if (handler === undefined) throw new Error(`serverless.yml has no function ${name}`);
  return bundleEntry(name, join(ROOT, `${handler.slice(0, handler.lastIndexOf('.'))}.ts`), outdir);
}

/** Any entry (the cold-start floor, bench/floor-handler.ts) bundled exactly as a function is. */
export async function bundleEntry<N extends string>(name: N, entry: string, outdir: string): Promise<Bundle<N>> {
  const yml = serverlessYml();
  const settings = yml.custom.esbuild;
  const options = Object.fromEntries(Object.entries(settings).filter(([key]) => !PLUGIN_ONLY_OPTIONS.has(key))) as BuildOptions;
  const extension = settings.outputFileExtension ?? '.js';
  const result = await build({
    ...options,
    metafile: true,
    // BENCH_READABLE=1: unminified, for profiling; the sizes reported are then not those of the deployment.
    ...(process.env['BENCH_READABLE'] === '1' ? { minify: false } : {}),
    plugins: esbuildPlugins(settings.plugins),
    external: [...(settings.exclude ?? [])],
    ...(extension === '.js' ? {} : { outExtension: { '.js': extension } }),
    entryPoints: [entry],
    outdir,
    absWorkingDir: ROOT,
    logLevel: 'warning',
  });
  const path = join(outdir, `${basename(entry, '.ts')}${extension}`);
  const parts = new Map<string, number>();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs))
      parts.set(partOf(input), (parts.get(partOf(input)) ?? 0) + bytesInOutput);
  }
  const composition = [...parts].map(([part, bytes]) => ({ part, bytes })).sort((a, b) => b.bytes - a.bytes);
  if (process.env['BENCH_METAFILE_DIR'] !== undefined) {
    writeFileSync(join(process.env['BENCH_METAFILE_DIR'], `meta-${basename(entry, '.ts')}.json`), JSON.stringify(result.metafile));
  }
  const outputs = result.metafile.outputs;
  const entryOutput = Object.keys(outputs).find((key) => join(ROOT, key) === path);
  if (entryOutput === undefined) throw new Error(`esbuild wrote no ${path}`);
  const loaded = new Set<string>();
  const visit = (key: string): void => {
    if (loaded.has(key)) return;
    loaded.add(key);
    for (const imported of outputs[key]?.imports ?? [])
      if (imported.kind === 'import-statement' && imported.path in outputs) visit(imported.path);
  };
  visit(entryOutput);
  const sizeOf = (keys: Iterable<string>) => [...keys].reduce((sum, key) => sum + (outputs[key]?.bytes ?? 0), 0);
  return { name, path, bytes: statSync(path).size, loadedBytes: sizeOf(loaded), packageBytes: sizeOf(Object.keys(outputs)), composition };
}

/** A bench child process as one self-contained ESM file, so it runs on plain `node` with no loader. */
export async function bundleChild(entry: string, outfile: string): Promise<void> {
  const banner = serverlessYml().custom.esbuild['banner'] as { js: string };
  await build({
    entryPoints: [join(ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner,
    absWorkingDir: ROOT,
    logLevel: 'warning',
  });
}
