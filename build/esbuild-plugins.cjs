'use strict';
/**
 * esbuild plugins for `serverless package` (serverless.yml `custom.esbuild.plugins`) and bench/bundle.ts.
 * They keep out of the bundles what the broker can never run; docs/bundle-size.md says why each is safe.
 */
const { basename, dirname } = require('node:path');

const STUB_NAMESPACE = 'keyvend-unreachable';

/**
 * Modules @node-saml/node-saml loads at start but the broker never calls: it only verifies responses, with
 * no decryption key (so node-saml refuses an EncryptedAssertion before decrypting, and xml-guard refuses it
 * before that), and never builds requests or metadata (node-saml's xmlbuilder). The stub throws if called.
 */
const UNREACHABLE = {
  'xml-encryption': ['decrypt', 'encrypt', 'decryptKeyInfo', 'encryptKeyInfo', 'createCertificate'],
  xmlbuilder: ['create', 'begin', 'stringWriter', 'streamWriter', 'implementation', 'nodeType', 'writerState'],
};
const NODE_SAML_DIR = /[\\/]node_modules[\\/]@node-saml[\\/]node-saml[\\/]/;

const unreachableSamlModules = {
  name: 'keyvend-unreachable-saml-modules',
  setup(build) {
    build.onResolve({ filter: /^(xml-encryption|xmlbuilder)$/ }, (args) =>
      NODE_SAML_DIR.test(args.importer) ? { path: args.path, namespace: STUB_NAMESPACE } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: STUB_NAMESPACE }, (args) => {
      const names = UNREACHABLE[args.path];
      const body = names
        .map(
          (name) =>
            `exports.${name} = function () { throw new Error(${JSON.stringify(`${args.path}.${name} is not bundled: the broker never decrypts assertions or builds SAML messages`)}); };`,
        )
        .join('\n');
      return { contents: body, loader: 'js', resolveDir: dirname(__filename) };
    });
  },
};

/**
 * @xmldom/xmldom has no side effects at load; saying so lets functions without SAML (entitlements, console,
 * portal) drop it with the SAML verifier that imports it, instead of carrying 69 KB they never run.
 */
const xmldomWithoutSideEffects = {
  name: 'keyvend-xmldom-side-effect-free',
  setup(build) {
    build.onResolve({ filter: /^@xmldom\/xmldom$/ }, async (args) => {
      if (args.pluginData === 'keyvend-resolving') return undefined;
      const resolved = await build.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: 'keyvend-resolving',
      });
      return resolved.errors.length > 0 ? undefined : { path: resolved.path, sideEffects: false };
    });
  },
};

/**
 * With code splitting (`splitting: true`), what a function imports lazily (the SAML verifier, the SDK's credential
 * providers) becomes chunks beside the entry. serverless-esbuild builds every function into one folder and zips every
 * file of it into every function, so each entry's chunks go to `chunks/<entry>/`, and each function's
 * `package.patterns` in serverless.yml leaves out the other entries' folders (docs/bundle-size.md).
 */
const chunksPerEntry = {
  name: 'keyvend-chunks-per-entry',
  setup(build) {
    const options = build.initialOptions;
    if (options.splitting !== true) return;
    const entry = entryNameOf(options);
    if (entry === undefined) throw new Error('keyvend-chunks-per-entry: one entry point per build, as serverless-esbuild builds');
    options.chunkNames = `chunks/${entry}/[name]-[hash]`;
  },
};

/**
 * esbuild makes a chunk of every dynamic `import()` in any file it reaches, even where the code around it is dropped.
 * The functions that never verify SAML (all but these entries) get a stub of the SAML verifier's lazy loader that
 * throws if called, so their packages carry no chunk of node-saml and the XML stack (test/e2e/package.test.ts).
 */
const SAML_ENTRIES = new Set(['credentials', 'portal-saml']);
const LAZY_SAML = /^\.\/adapters\/saml\/lazy-saml-verifier\.ts$/;
const lazySamlOnlyWhereVerified = {
  name: 'keyvend-lazy-saml-only-where-verified',
  setup(build) {
    const entry = entryNameOf(build.initialOptions);
    if (entry === undefined || SAML_ENTRIES.has(entry)) return;
    build.onResolve({ filter: LAZY_SAML }, (args) => ({ path: args.path, namespace: 'keyvend-no-saml' }));
    build.onLoad({ filter: /.*/, namespace: 'keyvend-no-saml' }, () => ({
      contents: `export function lazyNodeSamlVerifier() { throw new Error(${JSON.stringify(`the ${entry} function does not verify SAML responses`)}); }`,
      loader: 'js',
    }));
  },
};

/** The name of a build's one entry point without its extension (`credentials`), or undefined. */
function entryNameOf(options) {
  const entries = Array.isArray(options.entryPoints) ? options.entryPoints : Object.values(options.entryPoints ?? {});
  if (entries.length !== 1) return undefined;
  const entry = typeof entries[0] === 'string' ? entries[0] : entries[0].in;
  return basename(entry).replace(/\.[^.]+$/, '');
}

module.exports = [unreachableSamlModules, xmldomWithoutSideEffects, lazySamlOnlyWhereVerified, chunksPerEntry];
