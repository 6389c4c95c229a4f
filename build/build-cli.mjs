#!/usr/bin/env node
// Builds the command-line tools to plain JavaScript, so the package installs and runs without TypeScript or any
// dev dependency: `dist/keyvend.mjs` (the keyvend client) and `dist/keyvend-entitlements.mjs` (the entitlements
// tool). Each is one self-contained ESM file (its libraries bundled in), so an installed package needs no
// dependency of its own at run time. Run by `npm run build`, by `prepare` on every install, and by the tests'
// global setup (so tests never run a stale build).
import { build } from 'esbuild';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Writes each file under a temporary name and renames it into place, so two builds at once never leave a torn file. */
export async function buildCli() {
  const result = await build({
    write: false,
    absWorkingDir: root,
    entryPoints: { keyvend: 'src/cli/bin.ts', 'keyvend-entitlements': 'src/tools/entitlements-bin.ts' },
    outdir: 'dist',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Some bundled libraries (the AWS SDK) still call require() for Node built-ins.
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __keyvendRequire } from 'node:module'; const require = __keyvendRequire(import.meta.url);",
    },
    define: { __KEYVEND_VERSION__: JSON.stringify(version) },
    legalComments: 'inline',
    logLevel: 'warning',
  });
  mkdirSync(join(root, 'dist'), { recursive: true });
  for (const file of result.outputFiles) {
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents, { mode: 0o755 });
    renameSync(temporary, file.path);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildCli();
