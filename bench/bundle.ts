import { type BuildOptions, build } from 'esbuild';
import { readFileSync, statSync } from 'node:fs';
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

export interface Bundle {
  readonly name: FunctionName;
  readonly path: string;
  readonly bytes: number;
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
  const yml = serverlessYml();
  const handler = yml.functions[name]?.handler;
  if (handler === undefined) throw new Error(`serverless.yml has no function ${name}`);
  const entry = join(ROOT, `${handler.slice(0, handler.lastIndexOf('.'))}.ts`);
  const settings = yml.custom.esbuild;
  const options = Object.fromEntries(Object.entries(settings).filter(([key]) => !PLUGIN_ONLY_OPTIONS.has(key))) as BuildOptions;
  const extension = settings.outputFileExtension ?? '.js';
  const result = await build({
    ...options,
    metafile: true,
    // BENCH_READABLE=1 keeps names for profiling; the sizes reported are then not those of the deployment.
    ...(process.env['BENCH_READABLE'] === '1' ? { minify: false, keepNames: true } : {}),
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
  return { name, path, bytes: statSync(path).size, composition };
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
